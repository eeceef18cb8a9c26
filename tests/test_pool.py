"""The local pool shares the work so that each worker meets few notebooks, and survives its workers:
a worker killed mid-hand-in costs that hand-in one more try on a new worker; a hand-in whose workers
die twice is recorded as `error`; the batch goes on."""

import os
import signal
import threading
import time
from collections.abc import Collection

import nbformat
import pytest

from coursework import samples
from grading.kernel.pool import LocalPool, Todo
from grading.kernel.sandbox import Sandbox
from grading.records import ERROR, GRADED, HandIn

NB = "02_single_chain"


def handins(students: list[str], slow: Collection[str] = ()) -> list[HandIn]:
    """Right answers; those of `slow` run for seconds more (a last cell that sleeps)."""
    right = samples.hand_in(NB, samples.Sample("right", {}))
    slowed = nbformat.from_dict(right)
    slowed.cells.append(nbformat.v4.new_code_cell("import time\ntime.sleep(3)"))
    content = {False: nbformat.writes(right).encode(), True: nbformat.writes(slowed).encode()}
    return [HandIn(s, NB, f"{s}/{NB}.ipynb", content[s in slow], 0.0) for s in students]


def taken_in_turn(todo: Todo, workers: int) -> list[list[HandIn]]:
    """What each worker takes, the workers taking one hand-in each in turn until none is left."""
    taken: list[list[HandIn]] = [[] for _ in range(workers)]
    while todo:
        for worker in range(workers):
            if todo:
                taken[worker].append(todo.take(worker))
    return taken


@pytest.mark.parametrize("workers", [1, 2, 3])
def test_each_worker_meets_few_notebooks_and_every_hand_in_is_taken_once(workers):
    notebooks, students = [f"0{n}_nb" for n in range(7)], [f"s{n}" for n in range(6)]
    planned = [HandIn(s, nb, f"{s}/{nb}.ipynb", b"", 0.0) for nb in notebooks for s in students]
    taken = taken_in_turn(Todo(planned, workers), workers)
    assert sorted(h.source for h in sum(taken, [])) == sorted(h.source for h in planned)
    met = [len({h.notebook for h in mine}) for mine in taken]
    # Its own seventh of the notebooks, give or take the notebook it shares at each end.
    assert max(met) <= len(notebooks) // workers + 2, met
    assert min(len(mine) for mine in taken) >= len(planned) // workers - 1


def test_a_hand_in_to_try_again_is_taken_first():
    planned = [HandIn(s, NB, f"{s}/{NB}.ipynb", b"", 0.0) for s in "abcd"]
    todo = Todo(planned, 2)
    first = todo.take(0)
    todo.appendleft(first)
    assert todo.take(1) is first
    assert [todo.take(1).student, todo.take(1).student, todo.take(1).student] == ["c", "d", "b"]
    assert not todo


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
                    time.sleep(0.3)  # mid-notebook: a doomed hand-in runs for seconds
                    os.kill(worker.process.pid, signal.SIGKILL)
                    self.killed.append(worker.process.pid)
            time.sleep(0.02)


def grade_with_killer(course_dir, students: list[str], doomed: set[str], times: int) -> tuple[dict, list]:
    pool = LocalPool(2, Sandbox(True), timeout=60)
    killer = Killer(pool, doomed, times)
    killer.start()
    try:
        results = {h.student: g.result for h, g in pool.grade(course_dir, handins(students, slow=doomed))}
    finally:
        killer.done.set()
        killer.join()
        pool.close()
    assert len(killer.folders) >= 2 + len(killer.killed)
    assert not [f for f in killer.folders if f.exists()]  # dead workers' templates removed too
    return results, killer.killed


@pytest.mark.kernel
def test_a_killed_worker_costs_its_hand_in_one_more_try(course_dir):
    results, killed = grade_with_killer(course_dir, ["a", "b", "c", "d"], doomed={"b"}, times=1)
    assert len(killed) == 1
    assert {s: (r.status, r.score) for s, r in results.items()} == {s: (GRADED, 5) for s in "abcd"}


@pytest.mark.kernel
def test_a_hand_in_that_kills_two_workers_is_an_error_and_the_batch_goes_on(course_dir):
    results, killed = grade_with_killer(course_dir, ["a", "doomed", "c"], doomed={"doomed"}, times=2)
    assert len(killed) == 2
    assert results["doomed"].status == ERROR and "died" in results["doomed"].message
    assert results["doomed"].max_score == 5
    assert {s: (results[s].status, results[s].score) for s in "ac"} == {s: (GRADED, 5) for s in "ac"}
