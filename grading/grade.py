"""`python -m grading grade`: plan, compare, run, then publish; data flows one way.

    plan     collected hand-ins ─► OUT/handins ─► what to grade: hand-ins new, changed, or graded
             against another course or grader (OUT/course brought up to date with the built course,
             its gradebook kept: what an instructor typed is never deleted)
    compare  stored hand-ins ─► similarity.html, similarity.csv (only what changed is compared);
             it needs no grade, so it runs while the kernel templates start
    run      hand-ins ─► pool (workers: execute.Grader) ─► each result stored as it arrives:
             the gradebook, the student's feedback page, OUT/state.json
    publish  stored results + grades by hand (manual.py) + lateness (late.py) ─► the feedback pages
             they change, nbgrader-export.csv, grades.csv, report.html

`report` is publish alone, with every feedback page rendered again from what OUT stores.
Nothing graded is lost to a kill: each result is in OUT's journal the moment it arrives.
"""

import hashlib
import shutil
import time
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Protocol

import nbformat

from grading import gradebook, manual, state
from grading.collect import Collection
from grading.course import MANIFEST, Course
from grading.execute import Graded, new_result
from grading.files import write_atomically
from grading.late import NO_DUE_DATES, Policy
from grading.manual import HandGrades
from grading.records import ERROR, GRADED, UNREADABLE, HandIn, Result, Stray
from grading.render import feedback, grades, report, similarity
from grading.state import State


class Pool(Protocol):
    """Where hand-ins are graded: local worker processes (kernel.pool.LocalPool) or a Dask cluster's
    workers (kernel.dask_pool.DaskPool)."""

    def grade(self, course_dir: Path, handins: Sequence[HandIn]) -> Iterator[tuple[HandIn, Graded]]: ...

    def close(self) -> None: ...


@dataclass
class Plan:
    out: Path
    course: Course  # OUT/course, up to date
    state: State
    todo: list[HandIn]  # without their bytes: read from OUT when a worker takes one
    fingerprint: str  # of the course and the grading code


@dataclass
class Outcome:
    results: list[Result]
    strays: list[Stray]
    graded_now: int
    seconds: float
    warnings: list[str]  # about the batch itself, also in the report


def grade(
    found: Collection,
    out: Path,
    built_course: Path,
    pool: Pool,
    *,
    policy: Policy = NO_DUE_DATES,
    notes: list[str] = (),
    on_progress: Callable[[int, int, int], None] = lambda done, total, students: None,
) -> Outcome:
    """Grade every hand-in `found` in SUBMISSIONS into OUT (which the caller holds locked), against
    the course built in `built_course`, with the course's late `policy`. Raises only when the
    grader cannot do its job."""
    started = time.monotonic()
    planned = plan(found, out, built_course)
    alike = similarity.publish(planned.out, planned.course, planned.state)
    run(planned, pool, on_progress)
    planned.state.notes = list(notes)
    results = publish(planned.out, planned.course, planned.state, policy, alike=alike)
    elapsed = time.monotonic() - started
    return Outcome(results, planned.state.stray_records(), len(planned.todo), elapsed, warnings(planned.state))


def plan(found: Collection, out: Path, built_course: Path) -> Plan:
    """Read the hand-ins one at a time, keep their bytes in OUT, and list those to grade."""
    saved = State.load(out)
    course = install_course(built_course, out / "course", saved)
    manual.settle(out, course)  # before anything is graded again: each hand grade knows its answer
    handins = saved.recall(out)
    for handin in found.handins():
        k = state.key(handin.student, handin.notebook)
        if handin.problem:  # collect could not read it: a row of its own, no worker needed
            saved.handins[k] = state.metadata(handin)
            why = "; ".join([*handin.notes, f"the file could not be read: {handin.problem}"])
            saved.results[k] = new_result(handin, course, UNREADABLE, why).to_dict()
        else:
            handin = replace(handin, digest=hashlib.sha256(handin.content).hexdigest())
            saved.remember(out, handin)
        handins[k] = replace(handin, content=b"")
    saved.students = sorted(set(saved.students) | set(found.students))
    strays = {s["source"]: s for s in saved.strays} | {s.source: asdict(s) for s in found.strays}
    saved.strays = [strays[source] for source in sorted(strays)]
    # Notebook by notebook: a worker keeps one notebook's first cells run ahead (kernel/fork.py).
    todo = [
        h
        for k, h in sorted(handins.items(), key=lambda item: (item[1].notebook, item[1].student))
        if not h.problem and saved.results.get(k, {}).get("fingerprint") != state.handin_fingerprint(h, saved.course)
    ]
    return Plan(out, course, saved, todo, saved.course)


def warnings(saved: State) -> list[str]:
    """What the instructor must know about the batch itself."""
    found = []
    if not saved.students:
        found.append("No hand-in was found: SUBMISSIONS holds no student's file.")
    by_case: dict[str, list[str]] = {}
    for student in saved.students:
        by_case.setdefault(student.casefold(), []).append(student)
    for same in (ids for ids in by_case.values() if len(ids) > 1):
        found.append(
            f"Student ids that differ only by case: {', '.join(same)}. They are graded as different students, "
            "but their feedback folders collide on macOS and Windows."
        )
    return found


def install_course(built: Path, installed: Path, saved: State) -> Course:
    """OUT/course as the built course, with its gradebook. When the course or the grading code
    changed, OUT/course is brought up to date and its gradebook kept (every score and comment typed
    by hand stays); every earlier result, graded against something else, is graded again (its
    fingerprint no longer matches)."""
    fingerprint = Course.read(built).fingerprint() + state.code_fingerprint()
    try:
        if not (installed / "gradebook.db").exists():
            saved.results = {}
            shutil.rmtree(installed, ignore_errors=True)
            shutil.copytree(built, installed)
        elif saved.course != fingerprint:
            update_course(built, installed)
    except OSError as error:  # shutil.Error lists (source, target, why) for each file it missed
        why = error.args[0][0][2] if isinstance(error, shutil.Error) else error.strerror
        raise OSError(f"{why}, copying the course into {installed}") from None
    saved.course = fingerprint
    return Course.read(installed)


def update_course(built: Path, installed: Path) -> None:
    """The built course's notebooks, configuration and manifest into OUT/course, and its cells into
    OUT's gradebook; hand-ins, autograded notebooks and the gradebook's grades stay. Run again
    after a kill, it does the same."""
    for kind in ("source", "release"):
        for folder in sorted((built / kind).iterdir()):
            shutil.rmtree(installed / kind / folder.name, ignore_errors=True)
            shutil.copytree(folder, installed / kind / folder.name)
    for name in ("nbgrader_config.py", MANIFEST):
        shutil.copy2(built / name, installed / name)
    gradebook.bring_up_to_date(installed, built, Course.read(built).course_id)


def run(planned: Plan, pool: Pool, on_progress: Callable[[int, int, int], None]) -> None:
    """Grade what the plan says, storing each result as it arrives."""
    if not planned.todo:
        planned.state.save(planned.out)
        return
    writer = gradebook.GradebookWriter(planned.course.folder, planned.course.course_id)
    left = Counter(h.student for h in planned.todo)
    done = students_done = 0
    try:
        for handin, graded in pool.grade(planned.course.folder, state.Stored(planned.out, planned.todo)):
            keep(planned, writer, handin, graded)
            done += 1
            left[handin.student] -= 1
            students_done += left[handin.student] == 0
            on_progress(done, len(planned.todo), students_done)
    finally:
        writer.close()
        planned.state.save(planned.out)


def keep(planned: Plan, writer: gradebook.GradebookWriter, handin: HandIn, graded: Graded) -> None:
    """Store one worker's result: the gradebook, the feedback page, then the state's journal (last:
    a result it holds has every file written)."""
    result = graded.result
    if result.status != ERROR:  # a grader failure is tried again next time
        result.fingerprint = state.handin_fingerprint(handin, planned.fingerprint)
    executed = None
    if graded.executed is not None:
        # Written by a worker's nbformat, read without validating it again: the first validation
        # of a run compiles nbformat's schema (70 ms of a late hand-in's 3 s).
        executed = nbformat.v4.reads(graded.executed)
        writer.record(handin, result, graded.executed, executed)
    write_feedback(planned.out, planned.course, result, executed)
    planned.state.record(planned.out, handin, result)


def write_feedback(
    out: Path,
    course: Course,
    result: Result,
    executed: nbformat.NotebookNode | None,
    comments: dict[str, str] | None = None,
    late: str = "",
) -> None:
    """The student's page for one result: for a notebook that ran, and for a file that is not one."""
    if result.status not in (GRADED, UNREADABLE):
        return
    page = out / "feedback" / result.student / f"{result.notebook}.html"
    page.parent.mkdir(parents=True, exist_ok=True)
    release = course.release(result.notebook)
    write_atomically(page, feedback.feedback_html(executed, release, result, comments, late))


def rewrite_feedback(out: Path, course: Course, result: Result, hand: HandGrades, policy: Policy) -> None:
    """A published result's page again, from its autograded notebook in OUT/course."""
    executed = None
    if result.status == GRADED:
        path = course.folder / "autograded" / result.student / result.notebook / f"{result.notebook}.ipynb"
        executed = nbformat.reads(path.read_text(), as_version=4)
    comments = hand.comments(result.student, result.notebook)
    write_feedback(out, course, result, executed, comments, policy.sentence(result))


def published(out: Path, course: Course, saved: State, policy: Policy) -> tuple[list[Result], HandGrades, Policy]:
    """The stored results as they count: grades by hand in, late penalties off."""
    hand = manual.settle(out, course)
    policy = policy.with_extensions(out)
    return [policy.apply(hand.apply(r)) for r in saved.rows(course.max_scores)], hand, policy


def adjusted(result: Result, hand: HandGrades) -> bool:
    """Whether the result's page differs from the automatic one: grades or comments by hand, a grade
    set aside, or lateness."""
    mine = (result.student, result.notebook)
    return (
        bool(result.late_by)
        or any(c.by_hand for c in result.cells)
        or bool(hand.comments(*mine))
        or any((h.student, h.notebook) == mine for h in hand.set_aside)
    )


def publish(
    out: Path,
    course: Course,
    saved: State,
    policy: Policy = NO_DUE_DATES,
    every_page: bool = False,
    alike: similarity.Summary | None = None,
) -> list[Result]:
    """Everything an instructor reads, from the stored results: the feedback pages that grades by
    hand or lateness change (or were changed by them last time), or `every_page`; the exports; the
    similarity report unless `alike` says it is written already."""
    results, hand, policy = published(out, course, saved, policy)
    now = {state.key(r.student, r.notebook) for r in results if adjusted(r, hand)}
    for result in results:
        if every_page or state.key(result.student, result.notebook) in now | set(saved.adjusted):
            rewrite_feedback(out, course, result, hand, policy)
    if sorted(now) != saved.adjusted:
        saved.adjusted = sorted(now)
        saved.save(out)
    notes = [*saved.notes, *warnings(saved)]
    gradebook.export(course.folder, course.course_id, out / "nbgrader-export.csv")
    grades.write_grades_csv(results, out / "grades.csv")
    alike = alike or similarity.publish(out, course, saved)
    report.write_report_html(
        results,
        saved.stray_records(),
        out / "report.html",
        notes,
        course.misconceptions,
        set_aside=hand.set_aside,
        late_rule=policy.describe() if policy.due else "",
        similarity=alike,
    )
    return results


def rerender(out: Path, policy: Policy = NO_DUE_DATES) -> list[Result]:
    """`python -m grading report OUT`: every page again from what OUT stores, no notebook run."""
    return publish(out, Course.read(out / "course"), State.load(out), policy, every_page=True)
