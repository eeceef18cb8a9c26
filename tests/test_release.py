"""The student notebooks are generated from solutions/, and hold nothing that gives answers away."""

import json
import re

import nbformat
import pytest

from coursework import config, release

NAMES = config.notebook_names()


def test_committed_files_equal_what_release_produces():
    drifted = [
        str(path.relative_to(config.ROOT))
        for path, content in release.released_files().items()
        if not path.exists() or path.read_bytes() != content
    ]
    assert not drifted, f"run `python -m grading release`: {drifted} differ from what it produces"


def test_every_solution_has_its_student_version():
    assert NAMES and NAMES == sorted(p.stem for p in config.NOTEBOOKS.glob("*.ipynb"))


@pytest.mark.parametrize("folder", [config.SOLUTIONS, config.NOTEBOOKS])
def test_notebooks_are_committed_without_outputs(folder):
    for path in folder.glob("*.ipynb"):
        for cell in nbformat.read(path, as_version=4).cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, f"{path.name}: {cell.id}"


def solution_lines(source) -> set[str]:
    """Substantial lines of code that appear only between the solution markers of a source
    notebook (a fix-the-bug exercise shows some of its lines outside them, on purpose)."""
    inside, outside = set(), set()
    for cell in source.cells:
        within = False
        for line in cell.source.splitlines():
            if line.strip() in ("### BEGIN SOLUTION", "### END SOLUTION"):
                within = line.strip() == "### BEGIN SOLUTION"
            elif len(line.strip()) > 12:
                (inside if within else outside).add(line.strip())
    return inside - outside


@pytest.mark.parametrize("name", NAMES)
def test_student_version_holds_no_solution_or_hidden_test(name, sources, students):
    text = json.dumps(students[name].cells)
    for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
        assert marker not in text
    student_lines = {line.strip() for cell in students[name].cells for line in cell.source.splitlines()}
    assert not solution_lines(sources[name]) & student_lines
    for cell in sources[name].cells:
        hidden = re.findall(r"### BEGIN HIDDEN TESTS\n(.*?)### END HIDDEN TESTS", cell.source, re.S)
        for block in hidden:
            for line in block.splitlines():
                if len(line.strip()) > 12:
                    assert line.strip() not in student_lines, f"hidden test line in {name}: {line}"


@pytest.mark.parametrize("name", NAMES)
def test_badge_opens_this_notebook_in_colab(name, students):
    pub = config.publication()
    first = students[name].cells[0]
    assert first.cell_type == "markdown"
    urls = re.findall(r'href="(https://colab\.research\.google\.com/github/[^"]+)"', first.source)
    assert urls == [pub.colab_url(name)]
    path = urls[0].split(f"/blob/{pub.branch}/", 1)[1]
    assert (config.ROOT / path).is_file()
    assert pub.colab_url(name) in config.README.read_text()


def test_badges_follow_the_configured_repository(tmp_path):
    fork = config.Publication("someone/fork", "teaching")
    files = release.released_files(fork)
    nb = nbformat.reads(files[config.NOTEBOOKS / f"{NAMES[0]}.ipynb"].decode(), as_version=4)
    assert fork.colab_url(NAMES[0]) in nb.cells[0].source
    readme = files[config.README].decode()
    assert fork.colab_url(NAMES[0]) in readme
    assert config.publication().colab_url(NAMES[0]) not in readme


def test_release_is_deterministic():
    assert release.released_files() == release.released_files()
