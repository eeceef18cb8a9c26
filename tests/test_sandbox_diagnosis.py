"""When bubblewrap cannot start: the cause and its one fix, in the terminal and in report.html;
`--sandbox require` refuses (exit 2); `auto` grades with kernels confined without namespaces, and
the protections the report says were on hold (docs/grading-contract.md, 'What student code cannot
do').

A fake `bwrap` on PATH fails exactly as the real one does on Ubuntu 24.04 (AppArmor) and under
Docker's default seccomp profile; everything else is real."""

import shlex
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
from pathlib import Path

import nbformat
import pytest
from test_grade import NB, WRONG, handin, probe

from coursework import config
from grading.kernel.confine import Confinement
from grading.kernel.diagnose import Cause, System, diagnose

# What bwrap 0.8-0.11 prints, word for word.
UBUNTU_UID_MAP = "bwrap: setting up uid map: Permission denied"
UBUNTU_LOOPBACK = "bwrap: loopback: Failed RTM_NEWADDR: Operation not permitted"
DOCKER_SECCOMP = (
    "bwrap: No permissions to creating new namespace, likely because the kernel does not allow non-privileged "
    "user namespaces. On e.g. debian this can be enabled with 'sysctl kernel.unprivileged_userns_clone=1'."
)
DOCKER_SECCOMP_AS_ROOT = "bwrap: Creating new namespace failed: Operation not permitted"
APPARMOR_WHY = "AppArmor restricts unprivileged user namespaces"
APPARMOR_FIX = "run ./course setup: it gives"
SECCOMP_WHY = "a seccomp filter forbids creating user namespaces"
SECCOMP_FIX = "run the container with --security-opt seccomp=unconfined"


@pytest.fixture(scope="module")
def fake_bwrap():
    """fake_bwrap(message) -> an environment whose `bwrap` fails with `message`, as the real one does
    there. In a folder all can read: as root, the grader starts bwrap as an unprivileged user (who
    would otherwise find the real one further on PATH)."""
    folders = []

    def make(message: str) -> dict[str, str]:
        folder = Path(tempfile.mkdtemp(prefix="fake-bwrap-"))
        folder.chmod(0o755)
        folders.append(folder)
        script = folder / "bwrap"
        script.write_text(f"#!/bin/sh\necho {shlex.quote(message)} >&2\nexit 1\n")
        script.chmod(0o755)
        return {"PATH": f"{folder}:{Path(sys.executable).parent}:/usr/bin:/bin"}

    yield make
    for folder in folders:
        shutil.rmtree(folder)


def run_cli(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grading", *args], capture_output=True, text=True, env=env)


# --- the diagnosis: which cause, which fix --------------------------------------------------------

UBUNTU = System(distribution="ubuntu", version="24.04", apparmor_restricts_userns=True)
DEBIAN = System(distribution="debian", version="12")
IN_DOCKER = System(distribution="debian", version="12", seccomp_filter=True, container="docker")
IN_PODMAN = System(distribution="debian", version="12", seccomp_filter=True, container="podman")


@pytest.mark.parametrize(
    "failure, system, name, fix",
    [
        (UBUNTU_UID_MAP, UBUNTU, "apparmor", APPARMOR_FIX),
        (UBUNTU_LOOPBACK, UBUNTU, "apparmor", APPARMOR_FIX),
        (UBUNTU_UID_MAP, DEBIAN, "apparmor", APPARMOR_FIX),  # bwrap's words alone say it
        ("bwrap: Failed to make / slave: Permission denied", UBUNTU, "apparmor", APPARMOR_FIX),
        (UBUNTU_UID_MAP, System(apparmor_restricts_userns=True, container="docker"), "apparmor", "on the host"),
        (DOCKER_SECCOMP, IN_DOCKER, "seccomp", SECCOMP_FIX),
        (DOCKER_SECCOMP_AS_ROOT, IN_DOCKER, "seccomp", SECCOMP_FIX),
        (DOCKER_SECCOMP, DEBIAN, "seccomp", SECCOMP_FIX),  # no filter seen: most likely Docker's
        (DOCKER_SECCOMP, IN_PODMAN, "seccomp", "--security-opt seccomp=unconfined"),
        (DOCKER_SECCOMP, System(seccomp_filter=True), "seccomp", "outside that filter"),
        (DOCKER_SECCOMP, System(userns_clone_off=True), "sysctl", "kernel.unprivileged_userns_clone=1"),
        (
            "bwrap: Creating new namespace failed: nesting depth or /proc/sys/user/max_*_namespaces exceeded (ENOSPC)",
            System(max_user_namespaces=0),
            "sysctl",
            "user.max_user_namespaces=15000",
        ),
        (
            "bwrap: Can't mount proc on /newroot/proc: Operation not permitted",
            IN_DOCKER,
            "proc",
            "systempaths=unconfined",
        ),
        ("bwrap: Can't mount proc on /newroot/proc: Operation not permitted", IN_PODMAN, "proc", "unmask=ALL"),
        ("bwrap: Failed to make / slave: Permission denied", IN_DOCKER, "container-lsm", "apparmor=unconfined"),
        ("bwrap: Failed to mount tmpfs: Permission denied", IN_PODMAN, "container-lsm", "label=disable"),
        ("bubblewrap failed to start: Exception occurred in preexec_fn.", DEBIAN, "root", "as an ordinary user"),
        ("", System(bwrap=None, distribution="ubuntu"), "missing", "sudo apt-get install bubblewrap"),
        ("", System(bwrap=None, distribution="fedora"), "missing", "sudo dnf install bubblewrap"),
        ("", System(bwrap=None, container="docker"), "missing", "the course's image"),
        ("", System(bwrap=None, platform="darwin"), "platform", "the course's container"),
        ("bwrap: something new", DEBIAN, "unknown", "The sandbox on your system"),
    ],
)
def test_each_cause_gets_its_fix(failure, system, name, fix):
    cause = diagnose(failure, system)
    assert isinstance(cause, Cause) and cause.name == name, cause
    assert fix in cause.fix and "\n" not in cause.why + cause.fix


def test_the_system_is_read_from_its_files(tmp_path):
    (tmp_path / "etc").mkdir()
    (tmp_path / "etc/os-release").write_text('NAME="Ubuntu"\nID=ubuntu\nVERSION_ID="24.04"\n')
    (tmp_path / "proc/sys/kernel").mkdir(parents=True)
    (tmp_path / "proc/sys/user").mkdir(parents=True)
    (tmp_path / "proc/sys/kernel/apparmor_restrict_unprivileged_userns").write_text("1\n")
    (tmp_path / "proc/sys/user/max_user_namespaces").write_text("63329\n")
    (tmp_path / "proc/self").mkdir(parents=True)
    (tmp_path / "proc/self/status").write_text("Name:\tpython\nSeccomp:\t2\nSeccomp_filters:\t1\n")
    (tmp_path / "proc/self/mountinfo").write_text("500 400 0:52 / / rw,relatime - overlay overlay rw,lowerdir=/x\n")
    (tmp_path / ".dockerenv").touch()
    system = System.read(tmp_path, environ={"PATH": str(tmp_path)})
    assert system == System(
        platform=sys.platform,
        distribution="ubuntu",
        version="24.04",
        bwrap=None,
        apparmor_restricts_userns=True,
        max_user_namespaces=63329,
        seccomp_filter=True,
        container="docker",
    )
    # A machine made from a Docker image keeps /.dockerenv on a disk of its own: not a container.
    (tmp_path / "proc/self/mountinfo").write_text("27 1 254:0 / / rw,relatime - ext4 /dev/vda rw\n")
    assert System.read(tmp_path, environ={}).container is None
    (tmp_path / "run").mkdir()
    (tmp_path / "run/.containerenv").touch()
    assert System.read(tmp_path, environ={}).container == "podman"


# --- --sandbox require refuses -----------------------------------------------------------------------


@pytest.mark.parametrize(
    "message, why, fix",
    [
        (UBUNTU_UID_MAP, APPARMOR_WHY, APPARMOR_FIX),
        (UBUNTU_LOOPBACK, APPARMOR_WHY, APPARMOR_FIX),
        (DOCKER_SECCOMP, SECCOMP_WHY, SECCOMP_FIX),
    ],
)
def test_require_refuses_with_the_cause_and_the_fix(tmp_path, fake_bwrap, message, why, fix):
    (tmp_path / "subs").mkdir()
    env = fake_bwrap(message)
    refused = run_cli("grade", str(tmp_path / "subs"), "--out", str(tmp_path / "out"), "--sandbox", "require", env=env)
    assert refused.returncode == 2
    reason, fix_line = refused.stderr.strip().splitlines()
    assert reason.startswith("error: the sandbox cannot start: ") and why in reason
    assert fix_line.startswith("fix: ") and fix in fix_line
    assert not (tmp_path / "out").exists()


# --- auto grades, confined without namespaces, and says so ----------------------------------------


@pytest.fixture(scope="module")
def listener():
    """A TCP server on the host's loopback that records whether anyone connected."""
    server = socket.create_server(("127.0.0.1", 0))
    server.settimeout(0.2)
    connected, stop = [], threading.Event()

    def serve():
        while not stop.is_set():
            try:
                connected.append(server.accept())
            except TimeoutError:
                pass

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    yield server.getsockname()[1], connected
    stop.set()
    thread.join()
    server.close()


@pytest.fixture(scope="module")
def graded(tmp_path_factory, listener, fake_bwrap):
    """`grade` under Docker's seccomp (a batch with attacks), then under Ubuntu's AppArmor (one late
    hand-in more, into the same OUT)."""
    port, connected = listener
    root = tmp_path_factory.mktemp("nosandbox")
    submissions, late, out = root / "submissions", root / "late", root / "out"
    secret = root / "secret.txt"
    secret.write_text("the instructor's eyes only")
    notebooks = {
        "honest": handin(),
        "reads-course": handin(
            before=probe(
                [
                    str(config.SOLUTIONS / f"{NB}.ipynb"),
                    str(out / "course" / "gradebook.db"),
                    str(secret),
                    str(submissions / "honest" / f"{NB}.ipynb"),
                ]
            )
        ),
        "writes-outside": handin(
            before=f"for _p in [{str(root / 'pwned')!r}, {str(config.ROOT / 'pwned')!r}, '/tmp/pwned']:\n"
            "    try:\n        open(_p, 'w').write('x')\n        print('WROTE', _p)\n"
            "    except OSError as _e:\n        print('DENIED', _p)"
        ),
        "network": handin(
            before=f"import socket\ntry:\n    socket.create_connection(('127.0.0.1', {port}), timeout=2)\n"
            "    print('CONNECTED')\nexcept OSError as _e:\n    print('NO NETWORK', type(_e).__name__)"
        ),
        "memory-bomb": handin(
            before="try:\n    _big = bytearray(16 * 2**30)\nexcept MemoryError:\n    print('no memory')"
        ),
    }
    for student, nb in notebooks.items():
        (submissions / student).mkdir(parents=True)
        nbformat.write(nb, submissions / student / f"{NB}.ipynb")
    (late / "latecomer").mkdir(parents=True)
    nbformat.write(handin(WRONG), late / "latecomer" / f"{NB}.ipynb")
    docker = run_cli(
        "grade",
        str(submissions),
        "--out",
        str(out),
        "--workers",
        "2",
        env=fake_bwrap(DOCKER_SECCOMP),
    )
    docker_report = (out / "report.html").read_text()
    ubuntu = run_cli("grade", str(late), "--out", str(out), "--workers", "1", env=fake_bwrap(UBUNTU_UID_MAP))
    return {
        "docker": docker,
        "docker_report": docker_report,
        "ubuntu": ubuntu,
        "ubuntu_report": (out / "report.html").read_text(),
        "out": out,
        "root": root,
        "connected": connected,
    }


def output_of(out: Path, student: str) -> str:
    nb = nbformat.read(out / "course" / "autograded" / student / NB / f"{NB}.ipynb", as_version=4)
    cell = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == "dz_dx")
    return "".join(o.get("text", "") + o.get("evalue", "") for o in cell.outputs)


def scores(out: Path) -> dict[str, str]:
    lines = (out / "grades.csv").read_text().splitlines()[1:]
    return {line.split(",")[0]: line.split(",")[2] for line in lines if f",{NB}," in line}


@pytest.mark.kernel
@pytest.mark.parametrize(
    "run, why, fix", [("docker", SECCOMP_WHY, SECCOMP_FIX), ("ubuntu", APPARMOR_WHY, APPARMOR_FIX)]
)
def test_auto_grades_and_names_the_cause_and_the_fix(graded, run, why, fix):
    done, page = graded[run], graded[f"{run}_report"]
    assert done.returncode == 0, done.stderr
    for shown in (done.stderr, page.replace("&#x27;", "'")):
        assert f"NO SANDBOX: bubblewrap cannot start here: {why}" in shown
        assert f"To fix it: {fix}" in shown
        assert "Protections ON: " in shown and "Protections OFF: own PID, mount and network namespaces" in shown
    assert "report: " in done.stdout


@pytest.mark.kernel
def test_auto_grades_every_hand_in(graded):
    assert scores(graded["out"]) == {
        "honest": "5",
        "reads-course": "5",
        "writes-outside": "5",
        "network": "5",
        "memory-bomb": "5",
        "latecomer": "3",
    }


@pytest.mark.kernel
def test_the_protections_said_to_be_on_hold(graded):
    """On this machine (Landlock ABI 4 or later) the report says files and TCP are out of reach."""
    page, out = graded["docker_report"], graded["out"]
    assert "course files, gradebook, OUT and other hand-ins out of reach (Landlock)" in page.split("Protections OFF")[0]
    assert "no TCP network" in page.split("Protections OFF")[0]
    text = output_of(out, "reads-course")
    assert "READ" not in text and text.count("DENIED") == 4, text
    text = output_of(out, "writes-outside")
    assert "WROTE" not in text and text.count("DENIED") == 3, text
    assert not (graded["root"] / "pwned").exists() and not (config.ROOT / "pwned").exists()
    assert "NO NETWORK PermissionError" in output_of(out, "network") and graded["connected"] == []
    assert "no memory" in output_of(out, "memory-bomb")


@pytest.mark.parametrize(
    "confinement, on, off",
    [
        (Confinement(), [], ["out of reach", "no TCP", "no signals", "a process cap"]),
        (Confinement(landlock_abi=4, process_cap=True), ["out of reach", "no TCP", "counted with"], ["no signals"]),
        (Confinement(landlock_abi=6, own_uid=True, process_cap=True), ["no signals", "processes capped"], []),
    ],
)
def test_the_report_names_each_protection_on_or_off(confinement, on, off):
    shown_on, shown_off = ("; ".join(part) for part in confinement.protections())
    assert "limited per kernel" in shown_on and "namespaces" in shown_off
    assert all(words in shown_on and words not in shown_off for words in on)
    assert all(words in shown_off and words not in shown_on for words in off)
