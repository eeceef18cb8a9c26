"""Benchmark: `python -m grading grade` against plain `nbgrader autograde`, same hand-ins, same run.

    .venv/bin/python benchmarks/grading_speed.py --students 20 [--all-correct] [--workers N]
    .venv/bin/python benchmarks/grading_speed.py --students 3 --dask-local 2   # or --scheduler ADDRESS

Builds N students x every notebook of hand-ins from the course's samples (right answers written
differently and the classic mistakes; with --all-correct, right answers only), grades them with
plain nbgrader (`nbgrader autograde`, one command per notebook, as an instructor would run it)
and with `python -m grading grade` (sandbox on), checks that every score is identical, and prints:
  - wall time, notebooks per second, peak memory of each process tree, and the ratio;
  - per notebook, the cells' own work (from the execution times that each kernel stamps on each
    cell, in both) and everything else: plain nbgrader's wall time per hand-in, and the grader's
    worker time per hand-in minus the cells' own work (its overhead);
  - one late hand-in graded into the OUT just written, and into a fresh OUT (median of 3 runs);
  - `python -m grading check` on one notebook, against that notebook's own run in a fresh kernel.
With --dask-local N (a scheduler and N `dask worker --nthreads 1` on loopback, started here) or
--scheduler ADDRESS, the same hand-ins are graded instead on the local engine and on Dask, in
this process: notebooks per second of each, the ratio, per worker, the time to the first result
(start-up), and the coordinator's own cost per hand-in (storing a result: gradebook, feedback page,
journal); --dask-local also times a Dask LocalCluster of N workers as the local engine.
This machine's speed varies between days and with its other users: compare ratios from one run.
"""

import argparse
import collections
import csv
import datetime
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))  # this tree's code, not an installed one

import nbformat  # noqa: E402

from coursework import build, config, samples  # noqa: E402

ROOT = config.ROOT
LATE_NOTEBOOK = "02_single_chain"
LATE_RUNS = 3  # the late hand-in is timed as the median of this many runs


def make_handins(folder: Path, students: int, all_correct: bool) -> list[tuple[str, str]]:
    """N students, each with every notebook; student i hands in sample (i + k) of notebook k."""
    pairs = []
    for k, name in enumerate(config.notebook_names()):
        variants = [s for s in samples.samples(name) if not (all_correct and s.fails)]
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


def cell_times(path: Path) -> list[tuple[str, float]]:
    """Each cell's own work in an executed notebook: from its execute_input to its reply, as the
    kernel stamped them (nbclient's record_timing), with the stamp it started at."""
    times = []
    for cell in nbformat.read(path, as_version=4).cells:
        stamps = cell.get("metadata", {}).get("execution", {})
        if "iopub.execute_input" in stamps and "shell.execute_reply" in stamps:
            began = datetime.datetime.fromisoformat(stamps["iopub.execute_input"])
            ended = datetime.datetime.fromisoformat(stamps["shell.execute_reply"])
            times.append((stamps["iopub.execute_input"], (ended - began).total_seconds()))
    return times


def cells_seconds(path: Path) -> float:
    return sum(seconds for _, seconds in cell_times(path))


def plain_nbgrader(handins: Path, work: Path) -> tuple[float, int, dict, dict, dict]:
    """Wall time, peak memory, scores; per notebook, seconds per hand-in and cells' own work."""
    course_dir = work / "plain"
    build.build_course(course_dir)
    for student_dir in handins.iterdir():
        for path in student_dir.glob("*.ipynb"):
            target = course_dir / "submitted" / student_dir.name / path.stem / path.name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy(path, target)
    nbgrader = str(Path(sys.executable).with_name("nbgrader"))
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    seconds, peak, per_handin = 0.0, 0, {}
    for name in config.notebook_names():
        took, memory = timed([nbgrader, "autograde", name, "--force"], cwd=course_dir, env=env)
        seconds, peak = seconds + took, max(peak, memory)
        per_handin[name] = took / len(list(handins.iterdir()))
    from nbgrader.api import Gradebook

    scores = {}
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
        for name in config.notebook_names():
            for submission in gb.notebook_submissions(name, name):
                scores[(submission.student.id, name)] = submission.score
    cells = per_notebook(course_dir / "autograded")
    return seconds, peak, scores, per_handin, cells


def own_work(paths: list[Path]) -> dict[Path, float]:
    """The cells' own work in each executed notebook, counting only cells its kernel ran: cells
    run once in a zygote for many kernels (a notebook's first cells) show the same stamps in
    every hand-in that started from it, and are left out."""
    timed = {path: cell_times(path) for path in paths}
    seen = collections.Counter(stamp for times in timed.values() for stamp, _ in times)
    return {path: sum(seconds for stamp, seconds in times if seen[stamp] == 1) for path, times in timed.items()}


def per_notebook(autograded: Path) -> dict[str, float]:
    """Mean cells' own work per hand-in of each notebook, over an `autograded/` folder."""
    found: dict[str, list[float]] = {}
    for path, seconds in own_work(list(autograded.glob("*/*/*.ipynb"))).items():
        found.setdefault(path.stem, []).append(seconds)
    return {name: statistics.mean(values) for name, values in found.items()}


def grade(handins: Path, out: Path, workers: int | None = None) -> tuple[float, int]:
    argv = [sys.executable, "-m", "grading", "grade", str(handins), "--out", str(out), "--sandbox", "require"]
    return timed(argv + (["--workers", str(workers)] if workers else []), cwd=ROOT)


def ours(handins: Path, work: Path, workers: int) -> tuple[float, int, dict, dict, dict]:
    """As plain_nbgrader; seconds per hand-in are the worker's (grades.csv `seconds`)."""
    out = work / "ours"
    seconds, peak = grade(handins, out, workers)
    with open(out / "grades.csv") as f:
        rows = [r for r in csv.DictReader(f) if r["status"] == "graded"]
    scores = {(r["student"], r["notebook"]): float(r["score"]) for r in rows}
    per_handin = {
        name: statistics.mean(float(r["seconds"]) for r in rows if r["notebook"] == name)
        for name in config.notebook_names()
    }
    return seconds, peak, scores, per_handin, per_notebook(out / "course" / "autograded")


def late_handin(work: Path) -> tuple[float, float]:
    """Median seconds, over LATE_RUNS runs, to grade one late hand-in into the OUT just graded (a
    new latecomer each run, as they come) and into a fresh OUT: a single run is noisy."""
    right = samples.hand_in(LATE_NOTEBOOK, samples.Sample("right", {}))
    existing, fresh = [], []
    for run in range(LATE_RUNS):
        late = work / f"late{run}"
        (late / f"latecomer{run}").mkdir(parents=True)
        nbformat.write(right, late / f"latecomer{run}" / f"{LATE_NOTEBOOK}.ipynb")
        existing.append(grade(late, work / "ours")[0])
        fresh.append(grade(late, work / f"fresh{run}")[0])
    return statistics.median(existing), statistics.median(fresh)


def check_time(work: Path) -> tuple[float, float, str]:
    """`python -m grading check` on one notebook, and that notebook's own run: its cells' work in
    a fresh kernel of Jupyter's (nbclient and ipykernel), as the kernel stamps it."""
    from nbclient import NotebookClient

    path = work / "late0" / "latecomer0" / f"{LATE_NOTEBOOK}.ipynb"
    started = time.monotonic()
    run = subprocess.run([sys.executable, "-m", "grading", "check", str(path)], cwd=ROOT, capture_output=True)
    took = time.monotonic() - started
    if run.returncode != 0:
        raise SystemExit(f"grading check failed:\n{run.stderr.decode()[-3000:]}")
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, kernel_name="python3", allow_errors=True, timeout=120)
    client.execute(cwd=str(work), stderr=subprocess.DEVNULL)  # stderr: its warning about TCP
    executed = work / "checked.ipynb"
    nbformat.write(nb, executed)
    return took, cells_seconds(executed), run.stderr.decode().strip()


def breakdown(handins: Path, work: Path) -> None:
    """Where one notebook's worker time goes in the grader, alone on the machine but for the
    others' load (median of 5, after one to warm up); overhead is all but the cells' own work."""
    from grading import execute
    from grading.course import Course
    from grading.kernel.sandbox import Sandbox
    from grading.kernel.template import Template
    from grading.records import HandIn

    name = LATE_NOTEBOOK
    path = next(handins.iterdir()) / f"{name}.ipynb"
    template = Template(Sandbox(True))
    template.ensure_running()  # the template starts once per worker, not per notebook
    grader = execute.Grader(Course.read(work / "ours" / "course"), template, 120)
    handin = HandIn("bench", name, str(path), path.read_bytes(), 0.0)
    runs = []
    try:
        grader.grade(handin)
        for i in range(5):
            graded = grader.grade(handin)
            (work / f"breakdown{i}.ipynb").write_text(graded.executed)
            runs.append((graded.timings, graded.result.seconds))
    finally:
        grader.close()
        template.remove()
    own = list(own_work([work / f"breakdown{i}.ipynb" for i in range(5)]).values())
    phases = {phase: statistics.median(timings.get(phase, 0.0) for timings, _ in runs) for phase in runs[0][0]}
    phases["cells' own work"] = statistics.median(own)
    phases["overhead"] = statistics.median(seconds - o for (_, seconds), o in zip(runs, own, strict=True))
    shown = ", ".join(f"{p} {s * 1000:.0f} ms" for p, s in phases.items() if p != execute.STARTUP)
    print(f"  grader, {name} (median of 5): {shown}")


class Storing:
    """A pool whose results the coordinator's storing is timed on: from handing a result over to
    asking for the next one, grade.run stores it. Wall time, and the CPU time of the coordinator's
    thread (what storing costs on a core of its own, with the workers on other machines)."""

    def __init__(self, pool, started: float):
        self.pool, self.started, self.arrivals, self.storing, self.cpu = pool, started, [], 0.0, 0.0

    def grade(self, course_dir: Path, handins):
        for result in self.pool.grade(course_dir, handins):
            self.arrivals.append(time.monotonic())
            cpu = time.thread_time()
            yield result
            self.storing += time.monotonic() - self.arrivals[-1]
            self.cpu += time.thread_time() - cpu

    def close(self) -> None:
        self.pool.close()


def engine_run(label: str, make_pool, handins: Path, work: Path, workers: int | None = None) -> dict:
    """Grade `handins` into a fresh OUT on one engine (`make_pool()` is timed too); `workers`
    None: as many as the Dask pool has."""
    from grading import grade
    from grading.collect import collecting
    from grading.state import locked

    started = time.monotonic()
    pool = Storing(make_pool(), started)
    workers = workers or pool.pool.workers()
    try:
        with collecting(handins, config.notebook_names()) as found:
            out = work / label
            out.mkdir()
            with locked(out):
                outcome = grade.grade(found, out, build.build_cached(out / "build"), pool)
    finally:
        pool.close()
    n, arrivals = outcome.graded_now, pool.arrivals
    rate = (n - 1) / (arrivals[-1] - arrivals[0])  # steady state: start-up left out
    scores = {(r.student, r.notebook): r.score for r in outcome.results if r.status == "graded"}
    start = arrivals[0] - pool.started
    print(
        f"  {label:28s} {rate:5.2f} notebooks/s, {rate / workers:5.2f} per worker; first result after {start:5.1f} s; "
        f"coordinator {pool.storing / n * 1000:4.0f} ms per hand-in ({pool.cpu / n * 1000:3.0f} ms CPU)"
    )
    return {"rate": rate, "start": start, "storing": pool.cpu / n, "scores": scores, "workers": workers}


def compare_engines(args: argparse.Namespace, handins: Path, work: Path) -> bool:
    """The local engine against Dask workers, same hand-ins; whether every score agrees."""
    from benchmarks.loopback_cluster import LoopbackCluster
    from grading.kernel.dask_pool import DaskPool
    from grading.kernel.pool import LocalPool
    from grading.kernel.sandbox import choose_sandbox

    workers = args.dask_local or args.workers
    sandbox, _ = choose_sandbox("require")
    local = engine_run("local engine (LocalPool)", lambda: LocalPool(workers, sandbox, 120), handins, work, workers)
    runs = [local]
    work.chmod(0o755)  # the workers' temporary folder is in it: the sandbox's user must reach it
    cluster = LoopbackCluster(args.dask_local, work) if args.dask_local else None
    try:
        address = cluster.address if cluster else args.scheduler
        runs.append(engine_run("Dask workers", lambda: DaskPool(address, "require", 120), handins, work))
    finally:
        if cluster:
            cluster.close()
    if args.dask_local:
        from distributed import LocalCluster

        def local_cluster() -> DaskPool:
            nonlocal in_process
            in_process = LocalCluster(n_workers=workers, threads_per_worker=1, dashboard_address=None)
            return DaskPool(in_process.scheduler_address, "require", 120)

        in_process = None
        try:
            runs.append(engine_run("Dask LocalCluster", local_cluster, handins, work, workers))
        finally:
            if in_process is not None:
                in_process.close()
    dask = runs[1]
    print(f"  Dask / local: {dask['rate'] / local['rate']:.2f}x the notebooks per second")
    if len(runs) == 3:
        extra = runs[2]["start"] - local["start"]
        speed = runs[2]["rate"] / local["rate"]
        print(f"  LocalCluster as the local engine: {extra:+.1f} s to the first result, {speed:.2f}x the speed")
    per_notebook = dask["workers"] / dask["rate"]  # seconds one worker spends on a notebook
    print(
        f"  one coordinator feeds about {per_notebook / dask['storing']:.0f} workers (a notebook's seconds per worker"
        " / the coordinator's CPU seconds per hand-in)"
    )
    same = all(run["scores"] == local["scores"] for run in runs)
    print(f"  scores identical: {'yes' if same else 'NO'} ({len(local['scores'])} graded)")
    return same


def load() -> str:
    return "load average " + " ".join(f"{x:.1f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--students", type=int, default=20)
    parser.add_argument("--workers", type=int, default=len(os.sched_getaffinity(0)))
    parser.add_argument("--all-correct", action="store_true", help="every hand-in right (no tracebacks)")
    dask = parser.add_mutually_exclusive_group()
    dask.add_argument("--dask-local", type=int, metavar="N", help="compare with N Dask workers on loopback")
    dask.add_argument("--scheduler", metavar="ADDRESS", help="compare with the workers of this Dask scheduler")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="grading-bench-") as tmp:
        work = Path(tmp)
        handins = work / "handins"
        pairs = make_handins(handins, args.students, args.all_correct)
        n = len(pairs)
        notebooks = len(config.notebook_names())
        workload = "all correct" if args.all_correct else "right answers and the classic mistakes"
        print(f"{args.students} students x {notebooks} notebooks = {n} hand-ins ({workload}), {os.cpu_count()} cores")
        print(f"  at start: {load()}")
        if args.dask_local or args.scheduler:
            same = compare_engines(args, handins, work)
            print(f"  at end: {load()}")
            sys.exit(0 if same else 1)

        plain_s, plain_mem, plain_scores, plain_each, plain_cells = plain_nbgrader(handins, work)
        ours_s, ours_mem, ours_scores, ours_each, ours_cells = ours(handins, work, args.workers)

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

        print("per hand-in, seconds: cells' own work | plain nbgrader wall | grader worker time, overhead")
        for name in config.notebook_names():
            print(
                f"  {name:26s} {plain_cells[name]:5.2f} {ours_cells[name]:5.2f} | {plain_each[name]:5.2f} | "
                f"{ours_each[name]:5.2f}, {ours_each[name] - ours_cells[name]:5.2f}"
            )
        overhead = statistics.mean(ours_each[m] - ours_cells[m] for m in config.notebook_names())
        print(f"  grader overhead per hand-in, mean over notebooks: {overhead:.3f} s")

        existing, fresh = late_handin(work)
        print(
            f"one late hand-in ({LATE_NOTEBOOK}), median of {LATE_RUNS}: into that OUT {existing:.1f} s, "
            f"into a fresh OUT {fresh:.1f} s"
        )
        checked, own, warned = check_time(work)
        print(f"python -m grading check ({LATE_NOTEBOOK}): {checked:.1f} s; the notebook's own run {own:.1f} s")
        print(f"  it printed: {warned[:300]!r}")
        print("one notebook:")
        breakdown(handins, work)
        print(f"  at end: {load()}")
        if mismatches:
            sys.exit(1)


if __name__ == "__main__":
    main()
