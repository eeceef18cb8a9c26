"""`python -m grading grade`: collect, then grade (in parallel workers), then report.

    collect(SUBMISSIONS) ─► hand-ins ─► workers: execute.Grader.grade ─► gradebook writer ─► report

OUT keeps what it needs to grade again without redoing work: every hand-in it has seen (its
original bytes and where it came from) and every result, each with a fingerprint of the hand-in
and of the course. Grading again into the same OUT grades only hand-ins that are new, changed,
or were graded against a different course, and keeps every other result.
"""

import hashlib
import json
import multiprocessing
import shutil
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from multiprocessing.queues import SimpleQueue
from pathlib import Path

from grading import course, sandbox
from grading.collect import collect
from grading.records import ERROR, MISSING, HandIn, Result, Stray
from grading.template import Zygote

STATE = "state.json"


def course_fingerprint() -> str:
    """Changes whenever what a hand-in's grade depends on changes: the notebooks, the student
    helpers, nbgrader's configuration, or the grading code."""
    digest = hashlib.sha256()
    parts = [*sorted(course.SOLUTIONS.glob("*.ipynb")), *sorted(course.STUDENT_HELPERS.glob("*.py"))]
    parts += [course.NBGRADER_CONFIG, *sorted(course.PACKAGE.glob("*.py"))]
    for path in parts:
        digest.update(path.name.encode() + b"\0" + path.read_bytes())
    return digest.hexdigest()


def fingerprint(handin: HandIn, course_print: str) -> str:
    return hashlib.sha256(course_print.encode() + handin.content).hexdigest()


@dataclass
class State:
    """What OUT remembers between runs (state.json beside the hand-ins it has seen)."""

    course: str = ""
    students: list[str] = field(default_factory=list)
    strays: list[dict] = field(default_factory=list)
    handins: dict[str, dict] = field(default_factory=dict)  # "student/notebook" -> HandIn without content
    results: dict[str, dict] = field(default_factory=dict)  # "student/notebook" -> Result

    @classmethod
    def load(cls, out: Path) -> "State":
        path = out / STATE
        return cls(**json.loads(path.read_text())) if path.exists() else cls()

    def save(self, out: Path) -> None:
        tmp = out / (STATE + ".tmp")
        tmp.write_text(json.dumps(asdict(self)))
        tmp.replace(out / STATE)


def key(student: str, notebook: str) -> str:
    return f"{student}/{notebook}"


def stored_path(out: Path, handin_key: str) -> Path:
    return out / "handins" / f"{handin_key}.ipynb"


def remember(out: Path, state: State, handin: HandIn) -> None:
    path = stored_path(out, key(handin.student, handin.notebook))
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(handin.content)
    meta = asdict(handin)
    del meta["content"]
    state.handins[key(handin.student, handin.notebook)] = meta


def recall(out: Path, state: State) -> dict[str, HandIn]:
    """The hand-ins of earlier runs, from OUT."""
    return {
        k: HandIn(
            **{**meta, "flags": tuple(meta["flags"]), "notes": tuple(meta["notes"])},
            content=stored_path(out, k).read_bytes(),
        )
        for k, meta in state.handins.items()
        if stored_path(out, k).exists()
    }


# The worker side. A worker adopts one of the kernel templates the coordinator launched (or, when
# it replaces a worker that died, starts its own), and reads the course with its first hand-in.
_worker: dict = {}


def _start_worker(
    course_dir: Path, templates: list[Zygote], unused: SimpleQueue, timeout: float, cell_timeout: float | None
) -> None:
    zygote = templates[unused.get()] if not unused.empty() else Zygote(templates[0].sandbox)
    _worker.update(course_dir=course_dir, zygote=zygote, timeouts=(timeout, cell_timeout))


def _grade_in_worker(handin: HandIn):
    from grading import execute  # imported by the coordinator before the fork: no cost

    if "grader" not in _worker:
        course_state = execute.load_course(_worker["course_dir"])
        _worker["grader"] = execute.Grader(course_state, _worker["zygote"], *_worker["timeouts"])
    return handin, _worker["grader"].grade(handin)


@dataclass
class Outcome:
    results: list[Result]
    strays: list[Stray]
    graded_now: int
    seconds: float
    warning: str | None


class Progress:
    """Counts notebooks and whole students done, for the `on_progress` callback."""

    def __init__(self, todo: list[HandIn], on_progress: Callable[[int, int, int], None]):
        self.left = {h.student: 0 for h in todo}
        for h in todo:
            self.left[h.student] += 1
        self.total, self.done, self.students_done, self.on_progress = len(todo), 0, 0, on_progress

    def __call__(self, handin: HandIn) -> None:
        self.done += 1
        self.left[handin.student] -= 1
        self.students_done += self.left[handin.student] == 0
        self.on_progress(self.done, self.total, self.students_done)


def grade(
    submissions: Path,
    out: Path,
    *,
    workers: int,
    timeout: float,
    sandbox_mode: str,
    cell_timeout: float | None = None,
    on_progress: Callable[[int, int, int], None] = lambda done, total, students: None,
) -> Outcome:
    """Grade every hand-in in SUBMISSIONS into OUT. Raises only when the grader cannot do its job."""
    started = time.monotonic()
    if not submissions.exists():
        raise FileNotFoundError(f"no such folder or zip: {submissions}")
    box, warning = sandbox.choose(sandbox_mode)
    # The templates import torch & co. for seconds: launch them first, and do the rest meanwhile.
    templates = [Zygote(box) for _ in range(max(1, workers))]
    for template in templates:
        template.launch()
    try:
        # nbgrader, nbclient and matplotlib take seconds to import: here, while the templates start.
        from grading import execute, gradebook, release, report

        out.mkdir(parents=True, exist_ok=True)
        state = State.load(out)
        course_print = course_fingerprint()
        course_dir = out / "course"
        rebuild = state.course != course_print or not (course_dir / "gradebook.db").exists()
        if rebuild:  # every earlier result was graded against another course
            state.results, state.course = {}, course_print
            shutil.rmtree(course_dir, ignore_errors=True)
            release.build_course(course_dir)

        collection = collect(submissions, course.notebook_names())
        handins = recall(out, state) | {key(h.student, h.notebook): h for h in collection.handins}
        state.students = sorted(set(state.students) | set(collection.students))
        strays = {s["source"]: s for s in state.strays} | {s.source: asdict(s) for s in collection.strays}
        state.strays = [strays[source] for source in sorted(strays)]
        todo = [
            h
            for k, h in sorted(handins.items())
            if state.results.get(k, {}).get("fingerprint") != fingerprint(h, course_print)
        ]
        for template in templates[len(todo) :]:  # more templates than hand-ins to grade
            template.remove()
        needed = templates[: len(todo)]
        context = multiprocessing.get_context("fork")  # workers inherit the imported modules: no start-up cost
        unused = context.SimpleQueue()  # which templates no worker has adopted yet
        for index in range(len(needed)):
            unused.put(index)
        writer = gradebook.GradebookWriter(course_dir)
        try:
            if todo:
                start = (course_dir, needed, unused, timeout, cell_timeout)
                with context.Pool(len(needed), _start_worker, start) as pool:
                    progress = Progress(todo, on_progress)
                    for handin, graded in pool.imap_unordered(_grade_in_worker, todo):
                        keep(out, state, writer, handin, graded, course_print)
                        progress(handin)
                        if progress.done % 50 == 0:
                            state.save(out)
            writer.export(out / "nbgrader-export.csv")
        finally:
            writer.close()
            state.save(out)
    finally:
        for template in templates:
            template.remove()

    results = rows(state, execute.max_scores(course_dir))
    stray_records = [Stray(**s) for s in state.strays]
    report.write_grades_csv(results, out / "grades.csv")
    report.write_report_html(results, stray_records, out / "report.html", [warning] if warning else [])
    return Outcome(results, stray_records, len(todo), time.monotonic() - started, warning)


def keep(out: Path, state: State, writer, handin: HandIn, graded, course_print: str) -> None:
    """Store one worker's result: the hand-in, the gradebook, the feedback page, the state."""
    result = graded.result
    if result.status != ERROR:  # a grader failure is tried again next time
        result.fingerprint = fingerprint(handin, course_print)
    remember(out, state, handin)
    if graded.executed is not None:
        writer.record(handin, result, graded.executed)
    if graded.feedback is not None:
        page = out / "feedback" / handin.student / f"{handin.notebook}.html"
        page.parent.mkdir(parents=True, exist_ok=True)
        page.write_text(graded.feedback, encoding="utf-8")
    state.results[key(handin.student, handin.notebook)] = result.to_dict()


def rows(state: State, max_scores: dict[str, float]) -> list[Result]:
    """One row per (student, notebook): the result, or `missing` when nothing was handed in."""
    table = []
    for student in state.students:
        for name, max_score in max_scores.items():
            data = state.results.get(key(student, name))
            missing = Result(student, name, MISSING, max_score=max_score, message="no file handed in")
            table.append(Result.from_dict(data) if data else missing)
    return table
