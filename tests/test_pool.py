"""The local pool survives its workers: a worker killed mid-hand-in costs that hand-in one more try
on a new worker; a hand-in whose workers die twice is recorded as `error`; the batch goes on."""

import os
import signal
import threading
import time

import nbformat
import pytest

from coursework import samples
from grading.kernel.pool import LocalPool
from grading.kernel.sandbox import Sandbox
from grading.records import ERROR, GRADED, HandIn

pytestmark = pytest.mark.kernel

NB = "02_single_chain"


def handins(students: list[str]) -> list[HandIn]:
    content = nbformat.writes(samples.hand_in(NB, samples.Sample("right", {}))).encode()
    return [HandIn(student, NB, f"{student}/{NB}.ipynb", content, 0.0) for student in students]


class Killer(threading.Thread):
    """Kills, once it has run for a moment, every worker grading a hand-in of `doomed` (at most `times`)."""

    def __init__(self, pool: LocalPool, doomed: set[str], times: int):
        super().__init__(daemon=True)
        self.pool, self.doomed, self.times, self.killed = pool, doomed, times, []
        self.folders = {t.workdir for t in pool.idle}  # every template folder the pool ever had
        self.done = threading.Event()

    def run(self) -> None:
        while not self.done.is_set():
            for worker in list(self.pool.workers):
                self.folders.add(worker.template.workdir)
                if len(self.killed) == self.times:
                    continue
                handin = worker.handin
                if handin and handin.student in self.doomed and worker.process.pid not in self.killed:
                    time.sleep(0.3)  # mid-notebook
                    os.kill(worker.process.pid, signal.SIGKILL)
                    self.killed.append(worker.process.pid)
            time.sleep(0.02)


def grade_with_killer(course_dir, students: list[str], doomed: set[str], times: int) -> tuple[dict, list]:
    pool = LocalPool(2, Sandbox(True), timeout=60)
    killer = Killer(pool, doomed, times)
    killer.start()
    try:
        results = {h.student: g.result for h, g in pool.grade(course_dir, handins(students))}
    finally:
        killer.done.set()
        killer.join()
        pool.close()
    assert len(killer.folders) >= 2 + len(killer.killed)
    assert not [f for f in killer.folders if f.exists()]  # dead workers' templates removed too
    return results, killer.killed


def test_a_killed_worker_costs_its_hand_in_one_more_try(course_dir):
    results, killed = grade_with_killer(course_dir, ["a", "b", "c", "d"], doomed={"b"}, times=1)
    assert len(killed) == 1
    assert {s: (r.status, r.score) for s, r in results.items()} == {s: (GRADED, 5) for s in "abcd"}


def test_a_hand_in_that_kills_two_workers_is_an_error_and_the_batch_goes_on(course_dir):
    results, killed = grade_with_killer(course_dir, ["a", "doomed", "c"], doomed={"doomed"}, times=2)
    assert len(killed) == 2
    assert results["doomed"].status == ERROR and "died" in results["doomed"].message
    assert results["doomed"].max_score == 5
    assert {s: (results[s].status, results[s].score) for s in "ac"} == {s: (GRADED, 5) for s in "ac"}
