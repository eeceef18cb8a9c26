"""The container image (Dockerfile) and README's `docker run` line.

No container engine runs on this machine (the Docker client is installed, no daemon), so the image
is tested as far as that allows: what the Dockerfile installs, and its entry point run the way the
image runs it (its files as `COPY . ./` with .dockerignore leaves them, its ENV, its WORKDIR) with
the arguments and mounts of README's line."""

import fnmatch
import json
import re
import shlex
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat
import pytest
from test_grade import NB, handin

from coursework import config

DOCKERFILE = (config.ROOT / "Dockerfile").read_text()
IMAGE = "autograd-grader"


def instruction(name: str) -> list[str]:
    """Every argument text of a Dockerfile instruction, continuation lines joined."""
    text = DOCKERFILE.replace("\\\n", " ")
    return [m.group(1).strip() for m in re.finditer(rf"^{name}\s+(.*)$", text, re.MULTILINE)]


def test_the_image_has_the_grader_and_its_dependencies():
    assert re.fullmatch(r"python:3\.11-slim-bookworm", instruction("FROM")[0])  # Debian, Python 3.11
    run = " ".join(instruction("RUN"))
    assert re.search(r"apt-get install -y --no-install-recommends graphviz bubblewrap", run)
    torch_pin = next(line for line in (config.ROOT / "requirements.txt").read_text().splitlines() if "torch=" in line)
    assert f"--index-url https://download.pytorch.org/whl/cpu {torch_pin}" in run  # the CPU build
    assert "pip install --no-cache-dir -r requirements.txt" in run
    assert instruction("ENTRYPOINT") == ['["python", "-m", "grading"]']
    assert instruction("USER") and not instruction("USER")[0].startswith("0")


def docker_run_line() -> list[str]:
    """README's `docker run` command, as words."""
    readme = config.README.read_text()
    command = re.search(r"^docker run .*?" + IMAGE + r" [^\n]*", readme, re.MULTILINE | re.DOTALL).group(0)
    return shlex.split(command.replace("\\\n", " "))


def copied_into_image(destination: Path) -> Path:
    """The repository as `COPY . ./` puts it in the image: without what .dockerignore names."""
    patterns = [
        line.strip() for line in (config.ROOT / ".dockerignore").read_text().splitlines() if line.strip()[:1] not in "#"
    ]

    def ignored(folder: str, names: list[str]) -> set[str]:
        relative = Path(folder).relative_to(config.ROOT)
        return {
            name
            for name in names
            for pattern in patterns
            if fnmatch.fnmatch(str(relative / name), pattern.removeprefix("**/"))
            or (pattern.startswith("**/") and fnmatch.fnmatch(name, pattern[3:]))
        }

    return shutil.copytree(config.ROOT, destination, ignore=ignored)


@pytest.mark.kernel
def test_the_entry_point_grades_with_the_readme_line(tmp_path):
    words = docker_run_line()
    assert words[:2] == ["docker", "run"] and IMAGE in words
    options, arguments = words[2 : words.index(IMAGE)], words[words.index(IMAGE) + 1 :]
    for option in ("seccomp=unconfined", "apparmor=unconfined", "systempaths=unconfined"):
        assert option in options  # each is explained in README next to the line
    assert "--network" in options and options[options.index("--network") + 1] == "none"

    image = copied_into_image(tmp_path / "opt-course")
    assert not (image / ".venv").exists() and (image / "solutions").is_dir()
    # The mounts: what the container sees at each path is a folder here.
    inside = {}
    for i, word in enumerate(options):
        if word == "-v":
            host, container = options[i + 1].split(":")[:2]
            inside[container] = tmp_path / Path(host).name
    (inside["/submissions"] / "honest").mkdir(parents=True)
    nbformat.write(handin(), inside["/submissions"] / "honest" / f"{NB}.ipynb")
    inside["/out"].mkdir()  # README: mkdir -p OUT first
    env = dict(line.split("=", 1) for line in instruction("ENV")[0].split())
    assert env["PYTHONPATH"] == instruction("WORKDIR")[0] == "/opt/course"
    env |= {"PYTHONPATH": str(image), "HOME": str(tmp_path / "home"), "PATH": "/usr/bin:/bin"}
    (tmp_path / "home").mkdir()
    before = sorted(p.relative_to(image) for p in image.rglob("*"))

    entry = [sys.executable if word == "python" else word for word in json.loads(instruction("ENTRYPOINT")[0])]
    mapped = [str(inside.get(word, word)) for word in arguments]
    graded = subprocess.run([*entry, *mapped], cwd=image, env=env, capture_output=True, text=True)

    assert graded.returncode == 0, graded.stderr
    assert "WARNING" not in graded.stderr  # --sandbox require: the sandbox was on
    assert f"honest,{NB},5,5,graded" in (inside["/out"] / "grades.csv").read_text()
    assert sorted(p.relative_to(image) for p in image.rglob("*")) == before  # nothing written beside the code
