"""Benchmark: `python -m grading grade` against plain `nbgrader autograde`, same hand-ins, same run.

    .venv/bin/python benchmarks/grading_speed.py --students 20

Builds N students x every notebook of hand-ins from the course's samples (right answers written
differently and the classic mistakes), grades them with plain nbgrader (`nbgrader autograde`,
one command per notebook, as an instructor would run it) and with `python -m grading grade`
(sandbox on), checks that every score is identical, and prints wall time, notebooks per second,
the ratio, peak memory of each process tree, and where one notebook's time goes.
"""

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import nbformat

from coursework import build, config, samples

ROOT = config.ROOT


def make_handins(folder: Path, students: int) -> list[tuple[str, str]]:
    """N students, each with every notebook; student i hands in sample (i + k) of notebook k."""
    pairs = []
    for k, name in enumerate(config.notebook_names()):
        variants = samples.samples(name)
        for i in range(students):
            student = f"s{i:03d}"
            (folder / student).mkdir(parents=True, exist_ok=True)
            sample = variants[(i + k) % len(variants)]
            nbformat.write(samples.hand_in(name, sample), folder / student / f"{name}.ipynb")
            pairs.append((student, name))
    return pairs


class PeakMemory:
    """Peak of the memory a process and all its descendants use together: the sum of their
    proportional set sizes (a page shared by forked processes counts once, split among them)."""

    def __init__(self, pid: int):
        self.pid, self.peak, self._stop = pid, 0, threading.Event()
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()

    def _tree(self) -> list[int]:
        children: dict[int, list[int]] = {}
        for entry in os.listdir("/proc"):
            if entry.isdigit():
                try:
                    ppid = int(open(f"/proc/{entry}/stat").read().rsplit(")", 1)[1].split()[1])
                except (OSError, IndexError):
                    continue
                children.setdefault(ppid, []).append(int(entry))
        tree, todo = [], [self.pid]
        while todo:
            pid = todo.pop()
            tree.append(pid)
            todo += children.get(pid, [])
        return tree

    def _sample(self) -> None:
        while not self._stop.wait(1.0):  # reading smaps costs CPU: not more often
            total = 0
            for pid in self._tree():
                try:
                    for line in open(f"/proc/{pid}/smaps_rollup"):
                        if line.startswith("Pss:"):
                            total += int(line.split()[1]) * 1024
                except OSError:
                    pass
            self.peak = max(self.peak, total)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def timed(argv: list[str], **kwargs) -> tuple[float, int]:
    started = time.monotonic()
    process = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, **kwargs)
    memory = PeakMemory(process.pid)
    _, err = process.communicate()
    peak = memory.stop()
    if process.returncode != 0:
        raise SystemExit(f"{argv[:4]} failed:\n{err[-3000:]}")
    return time.monotonic() - started, peak


def plain_nbgrader(handins: Path, work: Path) -> tuple[float, int, dict]:
    course_dir = work / "plain"
    build.build_course(course_dir)
    for student_dir in handins.iterdir():
        for path in student_dir.glob("*.ipynb"):
            target = course_dir / "submitted" / student_dir.name / path.stem / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    nbgrader = str(Path(sys.executable).with_name("nbgrader"))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    seconds, peak = 0.0, 0
    for name in config.notebook_names():
        took, memory = timed([nbgrader, "autograde", name, "--force"], cwd=course_dir, env=env)
        seconds, peak = seconds + took, max(peak, memory)
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        for name in config.notebook_names():
            for submission in gb.notebook_submissions(name, name):
                scores[(submission.student.id, name)] = submission.score
    return seconds, peak, scores


def ours(handins: Path, work: Path, workers: int) -> tuple[float, int, dict]:
    out = work / "ours"
    argv = [sys.executable, "-m", "grading", "grade", str(handins), "--out", str(out), "--sandbox", "require"]
    seconds, peak = timed([*argv, "--workers", str(workers)], cwd=ROOT)
    import csv

    with open(out / "grades.csv") as f:
        scores = {
            (r["student"], r["notebook"]): float(r["score"]) for r in csv.DictReader(f) if r["status"] == "graded"
        }
    return seconds, peak, scores


def breakdown(handins: Path, work: Path) -> None:
    """Where one notebook's time goes, in a plain cold kernel and in the grader's forked one."""
    from jupyter_client.manager import start_new_kernel

    from grading import execute
    from grading.course import Course
    from grading.kernel.sandbox import Sandbox
    from grading.kernel.template import Template
    from grading.records import HandIn

    name = config.notebook_names()[1]
    path = next(handins.iterdir()) / f"{name}.ipynb"
    started = time.monotonic()
    km, kc = start_new_kernel(kernel_name="python3", stderr=subprocess.DEVNULL)  # its TCP warning
    started_kernel = time.monotonic()
    kc.execute_interactive("import torch, matplotlib.pyplot", timeout=60)
    imported = time.monotonic()
    kc.stop_channels()
    km.shutdown_kernel(now=True)
    print(f"  plain kernel: start {started_kernel - started:.2f} s, imports {imported - started_kernel:.2f} s")

    course_dir = work / "ours" / "course"
    template = Template(Sandbox(True))
    template.ensure_running()  # the template starts once per worker, not per notebook
    grader = execute.Grader(Course.read(course_dir), template, 120)
    handin = HandIn("bench", name, str(path), path.read_bytes(), 0.0)
    try:
        grader.grade(handin)
        runs = [grader.grade(handin).timings for _ in range(5)]
    finally:
        grader.close()
        template.remove()
    phases = {phase: sorted(run[phase] for run in runs)[2] for phase in runs[0]}
    print(f"  grader, {name} (median of 5): " + ", ".join(f"{p} {s * 1000:.0f} ms" for p, s in phases.items()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="grading-bench-") as tmp:
        work = Path(tmp)
        handins = work / "handins"
        pairs = make_handins(handins, args.students)
        n = len(pairs)
        notebooks = len(config.notebook_names())
        print(f"{args.students} students x {notebooks} notebooks = {n} hand-ins, {os.cpu_count()} cores")

        plain_s, plain_mem, plain_scores = plain_nbgrader(handins, work)
        ours_s, ours_mem, ours_scores = ours(handins, work, args.workers)

        mismatches = [
            (k, plain_scores.get(k), ours_scores.get(k)) for k in pairs if plain_scores.get(k) != ours_scores.get(k)
        ]
        for label, seconds, memory in [
            ("plain nbgrader autograde", plain_s, plain_mem),
            ("python -m grading grade", ours_s, ours_mem),
        ]:
            print(
                f"{label:25s} {seconds:7.1f} s  {n / seconds:6.2f} notebooks/s  peak memory {memory / 2**20:6.0f} MiB"
            )
        print(f"  ({args.workers} workers, sandbox on)")
        print(f"ratio: {plain_s / ours_s:.1f}x")
        print(f"scores identical: {'yes' if not mismatches else 'NO'} ({n - len(mismatches)} of {n})")
        for k, plain, mine in mismatches[:20]:
            print(f"  {k}: plain nbgrader {plain}, grader {mine}")
        print("one notebook:")
        breakdown(handins, work)
        if mismatches:
            sys.exit(1)


if __name__ == "__main__":
    main()
