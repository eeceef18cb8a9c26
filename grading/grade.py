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
import os
import shutil
import time
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grading import course, execute, gradebook, release, report, sandbox
from grading.collect import collect
from grading.records import ERROR, MISSING, HandIn, Result, Stray

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


def prepare_course(out: Path, state: State, course_print: str) -> Path:
    """OUT/course: the nbgrader course folder (source, release, gradebook). Built again, with a
    fresh gradebook, when the course changed since the last run."""
    course_dir = out / "course"
    if state.course != course_print or not (course_dir / "gradebook.db").exists():
        shutil.rmtree(course_dir, ignore_errors=True)
        release.build_course(course_dir)
        state.course = course_print
        state.results = {}
    return course_dir


# The worker side: one Grader per worker process, made by the pool's initializer.
_grader: execute.Grader | None = None


def _start_worker(
    course_state: execute.Course, box: sandbox.Sandbox, timeout: float, cell_timeout: float | None
) -> None:
    global _grader
    _grader = execute.Grader(course_state, box, timeout, cell_timeout)
    multiprocessing.util.Finalize(_grader, _grader.close, exitpriority=10)


def _grade_in_worker(handin: HandIn) -> tuple[HandIn, execute.Graded]:
    assert _grader is not None
    return handin, _grader.grade(handin)


def run_workers(
    handins: list[HandIn], course_state: execute.Course, box: sandbox.Sandbox, workers: int, *timeouts: float | None
) -> Iterator[tuple[HandIn, execute.Graded]]:
    if not handins:
        return
    context = multiprocessing.get_context("fork")  # workers inherit the imported modules: no start-up cost
    with context.Pool(min(workers, len(handins)), _start_worker, (course_state, box, *timeouts)) as pool:
        yield from pool.imap_unordered(_grade_in_worker, handins)
        pool.close()
        pool.join()


def check_names() -> frozenset[str]:
    """The names the course's helpers put into a notebook: a student who redefines one is flagged."""
    import ast

    names: set[str] = set()
    for path in course.STUDENT_HELPERS.glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
                names.update(ast.literal_eval(node.value))
    return frozenset(names)


@dataclass
class Outcome:
    results: list[Result]
    strays: list[Stray]
    graded_now: int
    seconds: float
    warning: str | None


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
    out.mkdir(parents=True, exist_ok=True)
    state = State.load(out)
    course_print = course_fingerprint()
    course_dir = prepare_course(out, state, course_print)
    names = course.notebook_names()

    collection = collect(submissions, names)
    handins = recall(out, state) | {key(h.student, h.notebook): h for h in collection.handins}
    state.students = sorted(set(state.students) | set(collection.students))
    known_strays = {s["source"]: s for s in state.strays}
    state.strays = sorted(
        {**known_strays, **{s.source: asdict(s) for s in collection.strays}}.values(), key=lambda s: s["source"]
    )
    todo = [
        h
        for k, h in sorted(handins.items())
        if state.results.get(k, {}).get("fingerprint") != fingerprint(h, course_print)
    ]

    config = release.nbgrader_config(course_dir)
    course_state = execute.load_course(course_dir, config, check_names())
    writer = gradebook.GradebookWriter(course_dir)
    students_left = {h.student: 0 for h in todo}
    for h in todo:
        students_left[h.student] += 1
    done_students = 0
    try:
        for done, (handin, graded) in enumerate(
            run_workers(todo, course_state, box, workers, timeout, cell_timeout), 1
        ):
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
            students_left[handin.student] -= 1
            done_students += students_left[handin.student] == 0
            on_progress(done, len(todo), done_students)
            if done % 50 == 0:
                state.save(out)
        writer.export(out / "nbgrader-export.csv")
    finally:
        writer.close()
        state.save(out)

    results = rows(
        state, {n: sum(c.max_score for c in execute.grade_cells(nb)) for n, nb in course_state.releases.items()}
    )
    strays = [Stray(**s) for s in state.strays]
    report.write_grades_csv(results, out / "grades.csv")
    report.write_report_html(results, strays, out / "report.html", [warning] if warning else [])
    return Outcome(results, strays, len(todo), time.monotonic() - started, warning)


def rows(state: State, max_scores: dict[str, float]) -> list[Result]:
    """One row per (student, notebook): the result, or `missing` when nothing was handed in."""
    table = []
    for student in state.students:
        for name, max_score in max_scores.items():
            data = state.results.get(key(student, name))
            missing = Result(student, name, MISSING, max_score=max_score, message="no file handed in")
            table.append(Result.from_dict(data) if data else missing)
    return table


def default_workers() -> int:
    return len(os.sched_getaffinity(0))
