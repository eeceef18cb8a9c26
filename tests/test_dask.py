"""Grading on a Dask cluster: a real scheduler and two `dask worker --nthreads 1` processes on
loopback. The same command with --scheduler gives grades identical to a local run; a worker killed
mid-batch costs nothing but a retry; a hand-in that kills two workers is an `error` and the batch
goes on; an unreachable scheduler is one line and exit status 2; workers get no student's data."""

import csv
import io
import os
import shutil
import subprocess
import sys
import tarfile
import tempfile
import threading
import time
from pathlib import Path

import nbformat
import pytest
from nbgrader.api import Gradebook
from test_grade import CELL_TIMEOUT, NB, NOTEBOOK_TIMEOUT, WRONG, handin, tampered_test, without_cell
from test_pool import handins as right_handins

from benchmarks.loopback_cluster import LoopbackCluster, free_port
from grading.kernel.dask_pool import DaskPool, pack_course
from grading.records import ERROR, GRADED

pytestmark = pytest.mark.kernel  # every test here grades in sandboxed kernels


@pytest.fixture(scope="module")
def folder():
    """Reachable by the sandbox's unprivileged user (pytest's folders are not), removed at the end."""
    path = Path(tempfile.mkdtemp(prefix="dask-test-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path)


@pytest.fixture(scope="module")
def cluster(folder):
    started = LoopbackCluster(2, folder)
    yield started
    started.close()
    # Each worker's plugin removed its template and course; the killed worker's, the next one did.
    assert not list((folder / "tmp").glob("grading-*"))


@pytest.fixture(scope="module")
def submissions(folder) -> Path:
    """One hand-in per kind of outcome: right, wrong and tampered, repaired, a cell that times out, a
    kernel that dies, a trick, a Colab-renamed copy, an unreadable file, an empty folder."""
    subs = folder / "submissions"
    notebooks = {
        "honest": handin(),
        "tampered-test": tampered_test(handin(WRONG)),
        "deleted-test": without_cell(handin(), "check_dz_dx"),
        "sleeps": handin(before="import time\ntime.sleep(10**6)"),
        "exits": handin(before="import os\nos._exit(1)"),
        "redefines-check": handin(WRONG, "def check_dz_dx(*args, **kwargs):\n    print('✅ looks fine')"),
    }
    for student, nb in notebooks.items():
        (subs / student).mkdir(parents=True)
        nbformat.write(nb, subs / student / f"{NB}.ipynb")
    (subs / "drive-copy").mkdir()
    nbformat.write(handin(), subs / "drive-copy" / f"Copy of {NB}.ipynb")
    (subs / "malformed").mkdir()
    (subs / "malformed" / f"{NB}.ipynb").write_text('{"cells": [')
    (subs / "empty-folder").mkdir()
    return subs


def grade_cli(submissions: Path, out: Path, *options: str) -> subprocess.CompletedProcess:
    argv = [sys.executable, "-m", "grading", "grade", str(submissions), "--out", str(out), "--sandbox", "require"]
    limits = ["--timeout", str(NOTEBOOK_TIMEOUT), "--cell-timeout", str(CELL_TIMEOUT)]
    return subprocess.run([*argv, *limits, *options], capture_output=True, text=True, timeout=600)


def grades(out: Path) -> list[dict]:
    """grades.csv without the time each hand-in took."""
    with open(out / "grades.csv") as f:
        return [{k: v for k, v in row.items() if k != "seconds"} for row in csv.DictReader(f)]


def gradebook_scores(out: Path) -> dict:
    with Gradebook(f"sqlite:///{out / 'course' / 'gradebook.db'}") as gb:
        return {(s.student.id, s.name): (s.score, s.max_score) for s in gb.notebook_submissions(NB, NB)}


def test_a_cluster_grades_as_this_machine_does(cluster, submissions, folder):
    local = grade_cli(submissions, folder / "local", "--workers", "2")
    assert local.returncode == 0, local.stderr
    # A scheduler file's path in --scheduler, as a Slurm job writes one.
    on_dask = grade_cli(submissions, folder / "dask", "--scheduler", str(cluster.scheduler_file))
    assert on_dask.returncode == 0, on_dask.stderr
    assert f"grading on the Dask cluster at {cluster.address}" in on_dask.stderr
    assert grades(folder / "dask") == grades(folder / "local")
    assert {r["status"] for r in grades(folder / "dask")} == {"graded", "missing", "unreadable"}
    assert {r["flags"] for r in grades(folder / "dask")} >= {"timeout", "kernel-died", "cells-restored", "renamed"}
    assert gradebook_scores(folder / "dask") == gradebook_scores(folder / "local")
    assert len(gradebook_scores(folder / "dask")) == 7


class Killing:
    """DaskPool's results, killing one worker (its nanny, worker and template) when the first arrives."""

    def __init__(self, pool: DaskPool, cluster: LoopbackCluster):
        self.pool, self.cluster, self.killed = pool, cluster, False

    def grade(self, course_dir, handins):
        for result in self.pool.grade(course_dir, handins):
            if not self.killed:  # the next hand-in is already on its way to each worker
                self.cluster.kill(self.cluster.workers.pop(0))
                self.killed = True
            yield result


def test_a_worker_killed_mid_batch_costs_only_a_retry(cluster, course_dir):
    pool = DaskPool(cluster.address, "require", timeout=60)
    students = list("abcde")
    try:
        killing = Killing(pool, cluster)
        results = {h.student: g.result for h, g in killing.grade(course_dir, right_handins(students))}
    finally:
        pool.close()
        cluster.workers.append(cluster.add_worker())  # the cluster as the other tests found it
        cluster.wait_for(2)
    assert killing.killed
    assert {s: (r.status, r.score) for s, r in results.items()} == {s: (GRADED, 5) for s in students}


class Killer(threading.Thread):
    """Kills each worker the scheduler gives a hand-in of `doomed` (its nanny, worker and template),
    `times` times, starting a new worker in its place."""

    def __init__(self, pool: DaskPool, cluster: LoopbackCluster, doomed: str, times: int):
        super().__init__(daemon=True)
        self.pool, self.cluster, self.doomed, self.times, self.killed = pool, cluster, doomed, times, []
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set() and len(self.killed) < self.times:
            keys = [f.key for f, h in list(self.pool.futures.items()) if h.student == self.doomed]
            processing = self.pool.client.processing()
            doomed_on = [w for w, tasks in processing.items() if set(keys) & set(tasks) and w not in self.killed]
            if doomed_on:
                time.sleep(0.3)  # mid-notebook: the doomed hand-in runs for seconds
                group = os.getpgid(self.pool.client.run(os.getpid, workers=doomed_on)[doomed_on[0]])
                process = next(p for p in self.cluster.workers if p.pid == group)
                self.cluster.workers.remove(process)
                self.cluster.kill(process)
                self.killed.append(doomed_on[0])
                self.cluster.workers.append(self.cluster.add_worker())
            time.sleep(0.05)


def test_a_hand_in_that_kills_two_workers_is_an_error_and_the_batch_goes_on(cluster, course_dir):
    pool = DaskPool(cluster.address, "require", timeout=60)
    killer = Killer(pool, cluster, "doomed", times=2)
    killer.start()
    try:
        planned = right_handins(["a", "doomed", "c", "d"], slow={"doomed"})
        results = {h.student: g.result for h, g in pool.grade(course_dir, planned)}
    finally:
        killer.done.set()
        killer.join()
        pool.close()
        cluster.wait_for(2)
    assert len(killer.killed) == 2
    assert results["doomed"].status == ERROR and "died" in results["doomed"].message
    assert {s: (results[s].status, results[s].score) for s in "acd"} == {s: (GRADED, 5) for s in "acd"}


def test_an_unreachable_scheduler_is_one_line_and_nothing_written(submissions, tmp_path):
    out = tmp_path / "out"
    run = grade_cli(submissions, out, "--scheduler", f"tcp://127.0.0.1:{free_port()}")
    assert run.returncode == 2
    assert run.stderr.count("\n") == 1 and "cannot reach the Dask scheduler" in run.stderr, run.stderr
    assert not out.exists()


def test_workers_are_sent_the_course_without_the_students(course_dir, tmp_path):
    course = shutil.copytree(course_dir, tmp_path / "course")
    with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
        gb.add_student("someone")
        gb.add_submission(NB, "someone")
    with tarfile.open(fileobj=io.BytesIO(pack_course(course))) as tar:
        tar.extractall(tmp_path / "sent", filter="data")
    sent = tmp_path / "sent"
    assert sorted(p.name for p in sent.iterdir()) == sorted(p.name for p in course_dir.iterdir())
    with Gradebook(f"sqlite:///{sent / 'gradebook.db'}") as gb:
        assert gb.students == [] and len(gb.find_notebook(NB, NB).source_cells) > 0
