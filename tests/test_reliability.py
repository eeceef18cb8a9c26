"""OUT is sacred: bad arguments, hostile input and killed graders never hang a run, never confuse
input with output, and never lose what was graded (docs/grading-contract.md, 'What it survives')."""

import csv
import os
import random
import shutil
import signal
import subprocess
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import nbformat
import pytest

from coursework import samples
from grading.state import locked

pytestmark = pytest.mark.kernel

NB = "02_single_chain"
RIGHT = nbformat.writes(samples.hand_in(NB, samples.Sample("right", {}))).encode()


def run_cli(*args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "grading", *args], capture_output=True, text=True, **kwargs)


def submissions(root: Path, students: list[str], content: bytes = RIGHT) -> Path:
    for student in students:
        (root / student).mkdir(parents=True)
        (root / student / f"{NB}.ipynb").write_bytes(content)
    return root


def rows(out: Path) -> dict[tuple[str, str], dict]:
    with open(out / "grades.csv") as f:
        return {(r["student"], r["notebook"]): r for r in csv.DictReader(f)}


@pytest.mark.parametrize(
    "argument",
    [
        ["--timeout", "0"],
        ["--timeout", "-5"],
        ["--timeout", "inf"],
        ["--cell-timeout", "0"],
        ["--workers", "0"],
        ["--workers", "-2"],
        ["--max-file-mb", "0"],
    ],
)
def test_an_argument_that_would_lift_a_limit_is_refused(tmp_path, argument):
    subs = submissions(tmp_path / "subs", ["ann"])
    refused = run_cli("grade", str(subs), "--out", str(tmp_path / "out"), *argument)
    assert refused.returncode == 2 and argument[0] in refused.stderr
    assert not (tmp_path / "out").exists()


def test_too_many_workers_are_capped_and_said_so(tmp_path):
    subs = submissions(tmp_path / "subs", ["ann"])
    run = run_cli("grade", str(subs), "--out", str(tmp_path / "out"), "--workers", "999")
    assert run.returncode == 0, run.stderr
    assert "instead of 999" in run.stderr
    assert rows(tmp_path / "out")[("ann", NB)]["score"] == "5"


@pytest.mark.parametrize("inside", [".", "out", "deeper/out"])
def test_out_inside_submissions_is_refused_before_anything_is_written(tmp_path, inside):
    subs = submissions(tmp_path / "subs", ["ann"])
    before = sorted(p.relative_to(subs) for p in subs.rglob("*"))
    refused = run_cli("grade", str(subs), "--out", str(subs / inside))
    assert refused.returncode == 2 and "inside SUBMISSIONS" in refused.stderr and refused.stderr.count("\n") == 1
    assert sorted(p.relative_to(subs) for p in subs.rglob("*")) == before


def test_a_file_collect_rejects_is_unreadable_with_its_reason(tmp_path):
    subs = submissions(tmp_path / "subs", ["ann", "bob"])
    (subs / "bob" / f"{NB}.ipynb").write_bytes(RIGHT + b" " * (2 << 20))  # 2 MB of trailing blanks
    run = run_cli("grade", str(subs), "--out", str(tmp_path / "out"), "--max-file-mb", "1")
    assert run.returncode == 0, run.stderr
    bob = rows(tmp_path / "out")[("bob", NB)]
    assert bob["status"] == "unreadable" and "too large" in bob["message"], bob
    assert rows(tmp_path / "out")[("ann", NB)]["status"] == "graded"


def test_a_second_grader_into_the_same_out_refuses_in_one_line(tmp_path):
    subs = submissions(tmp_path / "subs", ["ann"])
    out = tmp_path / "out"
    out.mkdir()
    with locked(out):
        refused = run_cli("grade", str(subs), "--out", str(out))
        report = run_cli("report", str(out))
    assert refused.returncode == 2 and "another grader" in refused.stderr and refused.stderr.count("\n") == 1
    assert f"pid {os.getpid()}" in refused.stderr
    assert report.returncode == 2
    assert run_cli("grade", str(subs), "--out", str(out)).returncode == 0  # the lock went with its holder


def test_an_empty_batch_warns_and_a_corrupt_zip_writes_nothing(tmp_path):
    (tmp_path / "empty").mkdir()
    empty = run_cli("grade", str(tmp_path / "empty"), "--out", str(tmp_path / "out1"))
    assert empty.returncode == 0 and "No hand-in was found" in empty.stderr
    assert "No hand-in was found" in (tmp_path / "out1" / "report.html").read_text()
    broken = tmp_path / "broken.zip"
    with zipfile.ZipFile(broken, "w") as archive:
        archive.writestr(f"ann/{NB}.ipynb", RIGHT)
    broken.write_bytes(broken.read_bytes()[:-40])
    refused = run_cli("grade", str(broken), "--out", str(tmp_path / "out2"))
    assert refused.returncode == 2 and "broken.zip" in refused.stderr
    assert not (tmp_path / "out2").exists()


def test_student_ids_that_differ_only_by_case_are_warned_of(tmp_path):
    subs = submissions(tmp_path / "subs", ["Ann", "ann"])
    run = run_cli("grade", str(subs), "--out", str(tmp_path / "out"))
    assert run.returncode == 0, run.stderr
    assert "differ only by case: Ann, ann" in run.stderr
    assert "differ only by case" in (tmp_path / "out" / "report.html").read_text()
    assert {s for s, _ in rows(tmp_path / "out")} == {"Ann", "ann"}


def test_a_hand_in_the_grader_fails_on_makes_the_exit_status_non_zero(tmp_path):
    """Every worker that takes the hand-in is killed: it ends as `error`, and the run says so."""
    subs = submissions(tmp_path / "subs", ["ann"])
    me = Path("/proc/self/cmdline").read_bytes()
    stop = False

    def kill_workers() -> None:  # workers are this process's forked children, with its command line
        for entry in Path("/proc").iterdir():
            try:
                stat = (entry / "stat").read_text()
                if int(stat.rsplit(")", 1)[1].split()[1]) == os.getpid() and (entry / "cmdline").read_bytes() == me:
                    os.kill(int(entry.name), signal.SIGKILL)
            except (OSError, ValueError, IndexError):
                continue

    import threading

    def killer() -> None:
        while not stop:
            time.sleep(1.0)
            kill_workers()

    thread = threading.Thread(target=killer, daemon=True)
    thread.start()
    from grading import cli

    try:
        status = cli.main(["grade", str(subs), "--out", str(tmp_path / "out"), "--workers", "1"])
    finally:
        stop = True
        thread.join()
    assert status == 1
    ann = rows(tmp_path / "out")[("ann", NB)]
    assert ann["status"] == "error" and "died" in ann["message"]


@pytest.mark.parametrize("where", ["building the course", "installing it in OUT", "grading"])
def test_a_full_disk_is_one_line_naming_the_file_and_leaves_no_partial_file(tmp_path, course_dir, where):
    """A disk that fills while the course is built (half its size), while it is copied into
    OUT/course (room for one copy), or while hand-ins are graded (room for both copies)."""
    subs = submissions(tmp_path / "subs", ["ann", "bob"])
    course = sum(p.stat().st_size for p in course_dir.rglob("*") if p.is_file())
    size = {"building the course": course // 2, "installing it in OUT": course + 200_000}.get(
        where, 2 * course + 300_000
    )
    disk = tmp_path / "disk"
    disk.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(disk)], check=True)
    try:
        run = run_cli("grade", str(subs), "--out", str(disk / "out"))
        assert run.returncode == 2, run.stdout + run.stderr
        full = ("No space left on device", "disk is full")  # the system's words, or SQLite's
        assert run.stderr.count("\n") == 1 and any(words in run.stderr for words in full), run.stderr
        assert str(disk / "out") in run.stderr
        partial = [p for p in disk.rglob("*") if p.name.endswith((".partial", ".tmp"))]
        assert not partial
    finally:
        subprocess.run(["umount", str(disk)], check=True)


def test_killed_at_ten_moments_nothing_graded_is_lost(tmp_path):
    """Kill the grader (SIGKILL or SIGTERM) at ten random moments, grading again each time: every
    result once recorded stays as it was (never graded again), the last run grades only what was
    left, the final grades equal a clean run's, and no temporary folder is left behind."""
    students = [f"s{n:02d}" for n in range(10)]
    subs = submissions(tmp_path / "subs", students)
    (subs / "s03" / f"{NB}.ipynb").write_bytes(nbformat.writes(samples.hand_in(NB, samples.samples(NB)[1])).encode())
    clean, out = tmp_path / "clean", tmp_path / "out"
    assert run_cli("grade", str(subs), "--out", str(clean)).returncode == 0
    temporary = Path(tempfile.mkdtemp(prefix="grading-test-"))
    temporary.chmod(0o755)
    env = {**os.environ, "TMPDIR": str(temporary)}
    rng = random.Random(1)
    recorded: dict[str, dict] = {}
    for kill in range(10):
        grader = subprocess.Popen(
            [sys.executable, "-m", "grading", "grade", str(subs), "--out", str(out)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            env=env,
        )
        time.sleep(rng.uniform(1, 12))
        grader.send_signal(signal.SIGTERM if kill % 2 else signal.SIGKILL)
        grader.wait()
        now = results_in(out)
        for key, result in recorded.items():
            assert now[key] == result, f"{key} changed after kill {kill}"
        recorded = now
    last = run_cli("grade", str(subs), "--out", str(out), env=env)
    assert last.returncode == 0, last.stderr
    left = len(students) - len(recorded)
    assert f"graded {left} hand-ins" in last.stdout
    final = results_in(out)
    assert all(final[key] == result for key, result in recorded.items())
    assert {k: (r["score"], r["status"]) for k, r in rows(out).items()} == {
        k: (r["score"], r["status"]) for k, r in rows(clean).items()
    }
    exported = [sorted((folder / "nbgrader-export.csv").read_text().splitlines()) for folder in (out, clean)]
    assert exported[0] == exported[1]  # the gradebook agrees too, whatever order students were added in
    assert list(temporary.iterdir()) == []
    shutil.rmtree(temporary)


def results_in(out: Path) -> dict[str, dict]:
    """The results OUT holds (its snapshot and journal), as the next run would load them."""
    from grading.state import State

    return State.load(out).results if out.exists() else {}
