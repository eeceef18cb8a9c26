"""Grading on a Dask cluster: the same hand-ins, the same grader, on other machines' workers.

Each Dask worker owns one warm kernel template for its lifetime (TemplatePlugin: `setup` launches
it, `teardown` removes it and its folders) and grades one hand-in per task with execute.Grader,
exactly as a local worker does. A task carries one hand-in (its bytes included) and returns its
Graded; workers never see OUT, the gradebook's grades or other hand-ins. The course travels once
per worker, in a CoursePlugin named by its fingerprint: packed by the coordinator (its grades left
out), unpacked on the worker into a folder of its own; a worker that joins later gets it too.

The coordinator stays the single writer of OUT: it feeds hand-ins lazily, one task in flight per
worker, and yields each result as it arrives. A worker that dies costs its tasks a retry
elsewhere; a hand-in that kills two workers (the scheduler's KilledWorker) is an `error`.
"""

from __future__ import annotations

import io
import shutil
import sqlite3
import tarfile
import tempfile
import threading
from collections.abc import Iterator, Sequence
from concurrent.futures import CancelledError
from pathlib import Path

from distributed import Client, Future, KilledWorker, WorkerPlugin, as_completed, get_worker

from grading.course import MANIFEST, Course
from grading.execute import Graded, Grader, new_result
from grading.files import owned_folder, remove_abandoned
from grading.kernel.pool import TRIES
from grading.kernel.sandbox import SandboxUnavailable, choose_sandbox
from grading.kernel.template import Template
from grading.records import ERROR, HandIn
from grading.state import code_fingerprint

PLUGIN = "grading-kernel-template"
CONNECT_TIMEOUT = 10  # seconds: an unreachable scheduler is said at once, before OUT is touched
COURSE_FILES = ("nbgrader_config.py", MANIFEST, "source", "release")
# The gradebook's tables that hold students' work: a worker gets the course's cells only.
STUDENT_TABLES = ("comment", "grade", "submitted_notebook", "submitted_assignment", "student")


class TemplatePlugin(WorkerPlugin):
    """A worker's kernel template, and a Grader per course. Pickled to every worker that joins,
    before `setup`: it carries only the sandbox mode."""

    def __init__(self, sandbox_mode: str):
        self.sandbox_mode = sandbox_mode

    def setup(self, worker) -> None:
        remove_abandoned()  # what a killed worker on this machine left in the temporary folder
        try:
            sandbox, self.notes = choose_sandbox(self.sandbox_mode)
        except SandboxUnavailable as refused:  # its cause does not pickle: the sentence does
            raise RuntimeError(f"on Dask worker {worker.address}: {refused}") from None
        self.template = Template(sandbox)
        self.template.launch()
        self.lock = threading.Lock()  # one notebook at a time on the template, whatever --nthreads
        self.graders: dict[tuple, Grader] = {}

    def teardown(self, worker) -> None:
        if hasattr(self, "template"):  # its setup may have refused
            self.template.remove()

    def grade(self, handin: HandIn, course: Path, timeout: float, cell_timeout: float | None) -> Graded:
        with self.lock:
            key = (course, timeout, cell_timeout)
            if key not in self.graders:
                self.graders = {k: g for k, g in self.graders.items() if k[0].exists()}  # courses removed
                self.graders[key] = Grader(Course.read(course), self.template, timeout, cell_timeout)
            return self.graders[key].grade(handin)


class CoursePlugin(WorkerPlugin):
    """The course, packed: unpacked into a folder of the worker's own at `setup`, removed at
    `teardown`."""

    def __init__(self, packed: bytes):
        self.packed = packed

    def setup(self, worker) -> None:
        self.folder, self.owner = owned_folder("course")
        with tarfile.open(fileobj=io.BytesIO(self.packed)) as tar:
            tar.extractall(self.folder, filter="data")

    def teardown(self, worker) -> None:
        shutil.rmtree(self.folder, ignore_errors=True)
        self.owner.close()


def course_plugin(fingerprint: str) -> str:
    return f"grading-course-{fingerprint}"


def grade_handin(handin: HandIn, fingerprint: str, timeout: float, cell_timeout: float | None) -> Graded:
    """The task: one hand-in graded on this worker's template, against the course `fingerprint`."""
    plugins = get_worker().plugins
    template, course = plugins.get(PLUGIN), plugins.get(course_plugin(fingerprint))
    if getattr(template, "template", None) is None:
        raise RuntimeError("this Dask worker has no kernel template (its sandbox could not start)")
    if getattr(course, "folder", None) is None:
        raise RuntimeError(f"this Dask worker has no course {fingerprint[:12]}")
    return template.grade(handin, course.folder, timeout, cell_timeout)


def worker_facts(dask_worker) -> tuple[str, list[str]]:
    """Run on each worker: the fingerprint of the grading code it runs, and what its sandbox lacks."""
    return code_fingerprint(), getattr(dask_worker.plugins.get(PLUGIN), "notes", [])


def allow_one_retry(dask_scheduler) -> None:
    """A task whose worker died is tried once more; a second death is KilledWorker."""
    dask_scheduler.allowed_failures = TRIES - 1


def pack_course(course_dir: Path) -> bytes:
    """The course a worker needs, as tar.gz bytes: notebooks, configuration, manifest, and a copy
    of the gradebook holding only the course's cells (no student, no grade)."""
    buffer = io.BytesIO()
    with tempfile.TemporaryDirectory() as tmp, tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for name in COURSE_FILES:
            tar.add(course_dir / name, arcname=name)
        copy = Path(tmp) / "gradebook.db"
        source, target = sqlite3.connect(course_dir / "gradebook.db"), sqlite3.connect(copy)
        try:
            source.backup(target)
            target.executescript("".join(f"DELETE FROM {table};" for table in STUDENT_TABLES) + "VACUUM;")
        finally:
            source.close()
            target.close()
        tar.add(copy, arcname="gradebook.db")
    return buffer.getvalue()


class DaskPool:
    """Workers of a Dask cluster. `grade` yields (hand-in, Graded) as results arrive."""

    def __init__(self, scheduler: str, sandbox_mode: str, timeout: float, cell_timeout: float | None = None):
        """Connect to `scheduler` (an address, or the path of a scheduler file) and launch a kernel
        template on every worker. Raises RuntimeError when the scheduler cannot be reached."""
        self.timeout, self.cell_timeout = timeout, cell_timeout
        as_file = Path(scheduler).is_file()
        try:
            self.client = Client(
                scheduler_file=scheduler if as_file else None,
                address=None if as_file else scheduler,
                timeout=CONNECT_TIMEOUT,
                set_as_default=False,
            )
        except (OSError, ValueError) as error:
            raise RuntimeError(f"cannot reach the Dask scheduler {scheduler}: {error}") from None
        try:
            self.client.run_on_scheduler(allow_one_retry)
            self.client.register_plugin(TemplatePlugin(sandbox_mode), name=PLUGIN)
            facts = self.client.run(worker_facts)
            if other := [address for address, (code, _) in facts.items() if code != code_fingerprint()]:
                raise RuntimeError(
                    f"Dask worker {other[0]} runs other grading code than this machine: install this version there"
                )
            self.notes = sorted({note for _, notes in facts.values() for note in notes})
        except BaseException:
            self.client.close()
            raise
        info = self.client.scheduler_info(n_workers=0)
        self.address = info["address"]
        self.dashboard = self.client.dashboard_link if "dashboard" in info.get("services", {}) else None
        self.futures: dict[Future, HandIn] = {}
        self.course: str | None = None  # the name of the course's plugin, once registered

    def workers(self) -> int:
        return len(self.client.nthreads())

    def grade(self, course_dir: Path, handins: Sequence[HandIn]) -> Iterator[tuple[HandIn, Graded]]:
        """Each hand-in is read from `handins` only when a worker is free for it."""
        course = Course.read(course_dir)
        fingerprint = course.fingerprint()
        self.course = course_plugin(fingerprint)  # sent to each worker once, and to every one that joins
        self.client.register_plugin(CoursePlugin(pack_course(course_dir)), name=self.course)
        pending = iter(handins)
        running = as_completed(loop=self.client.loop)

        def feed() -> None:
            # One task per worker: a task queued behind another on a worker that dies would count
            # that death against its own hand-in too.
            while len(self.futures) < max(1, self.workers()) and (handin := next(pending, None)) is not None:
                args = (handin, fingerprint, self.timeout, self.cell_timeout)
                future = self.client.submit(grade_handin, *args, pure=False)
                self.futures[future] = handin
                running.add(future)

        feed()
        for future in running:
            handin = self.futures.pop(future)
            graded = self._outcome(future, handin, course)
            future.release()
            feed()  # before the coordinator stores this result: the worker does not wait for it
            yield handin, graded

    def _outcome(self, future: Future, handin: HandIn, course: Course) -> Graded:
        """The task's Graded (waiting for it to run again if its worker died before handing it
        over), or an `error` result when the grader failed on it."""
        try:
            return future.result()
        except KilledWorker:
            why = f"the grader's worker died grading it, {TRIES} times (it may use too much memory)"
        except CancelledError:  # the scheduler is gone
            raise RuntimeError(f"lost the Dask scheduler {self.address}; grading again resumes") from None
        except Exception as error:  # raised on the worker: this hand-in's error, never the batch's
            why = f"the grader failed on a Dask worker: {type(error).__name__}: {error}"
        return Graded(new_result(handin, course, ERROR, why))

    def close(self) -> None:
        self.client.cancel(list(self.futures))
        self.futures = {}
        if self.course is not None and self.client.status == "running":  # the workers remove their copies
            self.client.unregister_worker_plugin(self.course)
        self.client.close()
