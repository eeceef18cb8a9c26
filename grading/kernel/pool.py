"""The workers that grade hand-ins side by side on this machine, each with its own kernel template.

The pool launches its templates at once (they import torch & co. for seconds, meanwhile the
coordinator builds the course), as many as hand-ins are `expected` (up to `workers`: one late
hand-in waits for one template, not for two sharing the cores, and that template warms up after it
is ready), more if grading finds more to do, and forks a worker per template when grading starts:
forked after the coordinator's imports, a worker starts at no cost. A worker grades one hand-in at
a time and sends back its result; only the coordinator writes anything. A worker that dies (killed, out of
memory) costs its hand-in one more try on a new worker; a hand-in that kills two is an `error`.
"""

from __future__ import annotations

import ctypes
import itertools
import multiprocessing
import os
import signal
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from pathlib import Path
from typing import TYPE_CHECKING

from grading.files import remove_abandoned
from grading.kernel.sandbox import Sandbox
from grading.kernel.template import Template
from grading.records import ERROR, HandIn

if TYPE_CHECKING:  # imported when grading starts: the templates launch before these heavy imports
    from grading import execute

TRIES = 2  # a hand-in whose worker died is tried once more, on a fresh worker
PR_SET_PDEATHSIG = 1
# What one worker takes, measured: its kernel template (torch & co.) and a notebook's kernel. More
# workers than memory allows would have the kernel's OOM killer end them mid-notebook.
WORKER_MEMORY = 600 << 20


def worker_capacity(requested: int) -> tuple[int, str | None]:
    """How many workers to run: as asked, but no more than cores and memory allow; and why fewer."""
    cores = len(os.sched_getaffinity(0))
    memory = available_memory()
    by_memory = max(1, memory // WORKER_MEMORY) if memory else requested
    workers = min(requested, cores, by_memory)
    if workers == requested:
        return workers, None
    limit = "cores" if workers == cores else f"{memory >> 20} MiB of available memory"
    return workers, f"{workers} workers instead of {requested}: this machine's {limit} allow no more"


def available_memory() -> int | None:
    """Bytes of memory available now (Linux's MemAvailable), or None when unknown."""
    try:
        with open("/proc/meminfo") as f:
            for line in f:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


def work(conn: Connection, course_dir: Path, template: Template, timeout: float, cell_timeout: float | None) -> None:
    """A worker's life: grade each hand-in the coordinator sends, until it sends None."""
    from grading import execute
    from grading.course import Course

    ctypes.CDLL(None).prctl(PR_SET_PDEATHSIG, signal.SIGKILL)  # never outlive the coordinator
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the coordinator's to handle
    grader = execute.Grader(Course.read(course_dir), template, timeout, cell_timeout)
    try:
        while (handin := conn.recv()) is not None:
            conn.send(grader.grade(handin))
    except EOFError:
        pass
    finally:
        grader.close()


class Todo:
    """What is left to grade. Each worker has its own stretch of the list (in grade.plan's order,
    notebook by notebook: a worker meets few notebooks, and each costs its template a zygote) and
    takes from its front; a worker whose stretch is done takes from the end of the longest one left.
    Hand-ins to try again come first. Each hand-in is read (state.Stored) only when taken."""

    def __init__(self, handins: Sequence[HandIn], workers: int):
        self.handins = handins
        self.again: deque[HandIn] = deque()
        bounds = [len(handins) * i // workers for i in range(workers + 1)]
        self.stretches = [deque(range(start, end)) for start, end in itertools.pairwise(bounds)]

    def __bool__(self) -> bool:
        return bool(self.again) or any(self.stretches)

    def appendleft(self, handin: HandIn) -> None:
        self.again.appendleft(handin)

    def take(self, stretch: int) -> HandIn:
        if self.again:
            return self.again.popleft()
        if self.stretches[stretch]:
            return self.handins[self.stretches[stretch].popleft()]
        return self.handins[max(self.stretches, key=len).pop()]


@dataclass(eq=False)
class Worker:
    process: multiprocessing.Process
    conn: Connection
    template: Template
    stretch: int  # of the Todo: the hand-ins this worker takes first
    handin: HandIn | None = None


class LocalPool:
    """Worker processes on this machine. `grade` yields (hand-in, Graded) as results arrive."""

    def __init__(
        self,
        workers: int,
        sandbox: Sandbox,
        timeout: float,
        cell_timeout: float | None = None,
        expected: int | None = None,
    ):
        self.sandbox, self.timeout, self.cell_timeout = sandbox, timeout, cell_timeout
        self.most = max(1, workers)
        remove_abandoned()  # what graders that were killed left in the temporary folder
        self.idle: list[Template] = []
        templates = self.most if expected is None else min(self.most, expected)
        # One hand-in a template (a late one): its kernel starts before the template's warm-ups.
        self._launch(templates, ready_first=expected is not None and expected <= templates)
        self.workers: list[Worker] = []

    def _launch(self, templates: int, ready_first: bool = False) -> None:
        while len(self.idle) < templates:
            self.idle.append(Template(self.sandbox, ready_first))
            self.idle[-1].launch()

    def grade(self, course_dir: Path, handins: Sequence[HandIn]) -> Iterator[tuple[HandIn, execute.Graded]]:
        """Each hand-in is taken from `handins` only when a worker is free for it."""
        from grading import execute
        from grading.course import Course

        tries: dict[tuple[str, str], int] = {}
        wanted = min(self.most, len(handins))
        self._launch(wanted)  # more to grade than expected: OUT's earlier hand-ins, graded again
        for template in self.idle[wanted:]:  # more templates than hand-ins to grade
            template.remove()
        self.idle = self.idle[:wanted]
        while self.idle:
            self.workers.append(self._fork(course_dir, self.idle.pop(), len(self.workers)))
        todo = Todo(handins, max(1, len(self.workers)))
        for worker in self.workers:
            self._assign(worker, todo, tries)
        while busy := [w for w in self.workers if w.handin is not None]:
            ready = wait([w.conn for w in busy] + [w.process.sentinel for w in busy])
            for worker in busy:
                if worker.conn not in ready and worker.process.sentinel not in ready:
                    continue
                handin = worker.handin
                graded = self._receive(worker) if worker.conn in ready or worker.conn.poll() else None
                if graded is None:  # the worker died with this hand-in
                    worker = self._replace(worker, course_dir, bool(todo) or tries[self._key(handin)] < TRIES)
                    if tries[self._key(handin)] < TRIES:
                        todo.appendleft(handin)
                    else:
                        why = f"the grader's worker died grading it, {TRIES} times (it may use too much memory)"
                        yield handin, execute.Graded(execute.new_result(handin, Course.read(course_dir), ERROR, why))
                else:
                    worker.handin = None
                    yield handin, graded
                if worker is not None:
                    self._assign(worker, todo, tries)

    def close(self) -> None:
        for worker in self.workers:
            worker.process.kill()
            worker.process.join()
            worker.conn.close()
            worker.template.remove()
        for template in self.idle:
            template.remove()
        self.workers, self.idle = [], []

    @staticmethod
    def _key(handin: HandIn) -> tuple[str, str]:
        return handin.student, handin.notebook

    def _fork(self, course_dir: Path, template: Template, stretch: int) -> Worker:
        ours, theirs = multiprocessing.Pipe()
        args = (theirs, course_dir, template, self.timeout, self.cell_timeout)
        process = multiprocessing.get_context("fork").Process(target=work, args=args, daemon=True)
        process.start()
        theirs.close()
        return Worker(process, ours, template, stretch)

    def _assign(self, worker: Worker, todo: Todo, tries: dict) -> None:
        if todo:
            worker.handin = todo.take(worker.stretch)
            tries[self._key(worker.handin)] = tries.get(self._key(worker.handin), 0) + 1
            worker.conn.send(worker.handin)

    @staticmethod
    def _receive(worker: Worker) -> execute.Graded | None:
        try:
            return worker.conn.recv()
        except (EOFError, OSError):
            return None

    def _replace(self, dead: Worker, course_dir: Path, needed: bool) -> Worker | None:
        """Bury a dead worker and its template (a kernel of it may still run); fork a new one
        with a new template when there is work left."""
        dead.process.join()
        dead.conn.close()
        dead.template.remove()
        self.workers.remove(dead)
        if not needed:
            return None
        template = Template(self.sandbox)
        template.launch()
        worker = self._fork(course_dir, template, dead.stretch)
        self.workers.append(worker)
        return worker
