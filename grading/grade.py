"""`python -m grading grade`: plan, then run, then publish; data flows one way.

    plan     SUBMISSIONS ─► collect ─► what to grade: hand-ins new, changed, or graded against
             another course or grader (OUT/course brought up to date with the built course)
    run      hand-ins ─► pool (workers: execute.Grader) ─► each result stored as it arrives:
             the gradebook, the student's feedback page, OUT/state.json
    publish  stored results ─► nbgrader-export.csv, grades.csv, report.html

`report` is publish alone, with every feedback page rendered again from what OUT stores.
"""

import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Protocol

import nbformat

from grading import gradebook, state
from grading.collect import collect
from grading.course import Course
from grading.execute import Graded
from grading.records import ERROR, GRADED, UNREADABLE, HandIn, Result, Stray
from grading.render import feedback, grades, report
from grading.state import State


class Pool(Protocol):
    """Where hand-ins are graded: local worker processes (kernel.pool.LocalPool) or a cluster."""

    def grade(self, course_dir: Path, handins: list[HandIn]) -> Iterator[tuple[HandIn, Graded]]: ...


@dataclass
class Plan:
    out: Path
    course: Course  # OUT/course, up to date
    state: State
    todo: list[HandIn]
    fingerprint: str  # of the course and the grading code


@dataclass
class Outcome:
    results: list[Result]
    strays: list[Stray]
    graded_now: int
    seconds: float


def grade(
    submissions: Path,
    out: Path,
    built_course: Path,
    pool: Pool,
    *,
    notes: list[str] = (),
    on_progress: Callable[[int, int, int], None] = lambda done, total, students: None,
) -> Outcome:
    """Grade every hand-in in SUBMISSIONS into OUT, against the course built in `built_course`.
    Raises only when the grader cannot do its job."""
    started = time.monotonic()
    planned = plan(submissions, out, built_course)
    run(planned, pool, on_progress)
    results = publish(planned.out, planned.course, planned.state, notes)
    return Outcome(results, planned.state.stray_records(), len(planned.todo), time.monotonic() - started)


def plan(submissions: Path, out: Path, built_course: Path) -> Plan:
    collection = collect(submissions, Course.read(built_course).notebooks)
    out.mkdir(parents=True, exist_ok=True)
    saved = State.load(out)
    course = install_course(built_course, out / "course", saved)
    grading_print = saved.course
    handins = saved.recall(out) | {state.key(h.student, h.notebook): h for h in collection.handins}
    saved.students = sorted(set(saved.students) | set(collection.students))
    strays = {s["source"]: s for s in saved.strays} | {s.source: asdict(s) for s in collection.strays}
    saved.strays = [strays[source] for source in sorted(strays)]
    todo = [
        h
        for k, h in sorted(handins.items())
        if saved.results.get(k, {}).get("fingerprint") != state.handin_fingerprint(h, grading_print)
    ]
    return Plan(out, course, saved, todo, grading_print)


def install_course(built: Path, installed: Path, saved: State) -> Course:
    """OUT/course as the built course, with its gradebook. When the course or the grading code
    changed, every earlier result was graded against something else: start afresh."""
    fingerprint = Course.read(built).fingerprint() + state.code_fingerprint()
    if saved.course != fingerprint or not (installed / "gradebook.db").exists():
        saved.results, saved.course = {}, fingerprint
        shutil.rmtree(installed, ignore_errors=True)
        shutil.copytree(built, installed)
    return Course.read(installed)


def run(planned: Plan, pool: Pool, on_progress: Callable[[int, int, int], None]) -> None:
    """Grade what the plan says, storing each result as it arrives."""
    if not planned.todo:
        return
    writer = gradebook.GradebookWriter(planned.course.folder, planned.course.course_id)
    left = Counter(h.student for h in planned.todo)
    done = students_done = 0
    try:
        for handin, graded in pool.grade(planned.course.folder, planned.todo):
            keep(planned, writer, handin, graded)
            done += 1
            left[handin.student] -= 1
            students_done += left[handin.student] == 0
            on_progress(done, len(planned.todo), students_done)
            if done % 50 == 0:
                planned.state.save(planned.out)
    finally:
        writer.close()
        planned.state.save(planned.out)


def keep(planned: Plan, writer: gradebook.GradebookWriter, handin: HandIn, graded: Graded) -> None:
    """Store one worker's result: the hand-in, the gradebook, the feedback page, the state."""
    result = graded.result
    if result.status != ERROR:  # a grader failure is tried again next time
        result.fingerprint = state.handin_fingerprint(handin, planned.fingerprint)
    planned.state.remember(planned.out, handin)
    executed = nbformat.reads(graded.executed, as_version=4) if graded.executed is not None else None
    if executed is not None:
        writer.record(handin, result, graded.executed)
    write_feedback(planned.out, planned.course, result, executed)
    planned.state.results[state.key(handin.student, handin.notebook)] = result.to_dict()


def write_feedback(out: Path, course: Course, result: Result, executed: nbformat.NotebookNode | None) -> None:
    """The student's page for one result: for a notebook that ran, and for a file that is not one."""
    if result.status not in (GRADED, UNREADABLE):
        return
    page = out / "feedback" / result.student / f"{result.notebook}.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    page.write_text(feedback.feedback_html(executed, course.release(result.notebook), result), encoding="utf-8")


def publish(out: Path, course: Course, saved: State, notes: list[str]) -> list[Result]:
    """Everything an instructor reads, from the stored results."""
    results = saved.rows(course.max_scores)
    gradebook.export(course.folder, course.course_id, out / "nbgrader-export.csv")
    grades.write_grades_csv(results, out / "grades.csv")
    report.write_report_html(results, saved.stray_records(), out / "report.html", list(notes), course.misconceptions)
    return results


def rerender(out: Path) -> list[Result]:
    """`python -m grading report OUT`: every page again from what OUT stores, no notebook run."""
    course = Course.read(out / "course")
    saved = State.load(out)
    for result in saved.rows(course.max_scores):
        executed = None
        if result.status == GRADED:
            path = course.folder / "autograded" / result.student / result.notebook / f"{result.notebook}.ipynb"
            executed = nbformat.reads(path.read_text(), as_version=4)
        write_feedback(out, course, result, executed)
    return publish(out, course, saved, [])
