"""Grades by hand: what an instructor typed in the gradebook (formgrader, or nbgrader's Gradebook
API) becomes part of every output, and stays attached to the answer it was given for.

A grade typed by hand is attached to the text of its answer (the cell's source for a written
answer; the notebook's answers for a test cell graded by hand), as the autograded notebook in
OUT/course showed it when the grade was first seen. While that text is unchanged the grade counts,
whatever is graded again (a new course, a new grader). When a resubmission changes the answer, the
grade is set aside: kept in the gradebook, flagged there for review (formgrader lists it as needing
a manual grade), shown in the report, counted nowhere, until the instructor grades it again.

OUT/manual.json remembers, per graded cell, the answer it is attached to and what was typed.
"""

import hashlib
import json
import re
from dataclasses import dataclass, field, replace
from functools import cache
from pathlib import Path

import nbformat
from nbgrader import utils as nbgrader_utils

from grading import gradebook
from grading.course import Course
from grading.files import write_atomically
from grading.gradebook import HandGrade
from grading.records import GRADED, Result

LEDGER = "manual.json"
# execute.py's note on a result that waits for grading by hand; rewritten once hand grades count.
PENDING_NOTE = re.compile(r"^[\d.]+ points? wait for manual grading$")


@dataclass
class HandGrades:
    """The hand grades that count (by student, notebook, grade_id), and those set aside."""

    attached: dict[tuple[str, str, str], HandGrade] = field(default_factory=dict)
    set_aside: list[HandGrade] = field(default_factory=list)

    def comments(self, student: str, notebook: str) -> dict[str, str]:
        """The instructor's comments on one hand-in's cells, by grade_id."""
        return {g: h.comment for (s, n, g), h in self.attached.items() if (s, n) == (student, notebook) and h.comment}

    def apply(self, result: Result) -> Result:
        """The row with the hand grades that count: a score typed by hand replaces the
        autograder's, extra credit adds to it; `score` and the message follow."""
        if result.status != GRADED:
            return result
        cells = []
        for cell in result.cells:
            typed = self.attached.get((result.student, result.notebook, cell.grade_id))
            if typed is None or (typed.score is None and typed.extra_credit is None):
                cells.append(cell)
                continue
            score = typed.score if typed.score is not None else cell.score
            if score is not None:
                score += typed.extra_credit or 0
            cells.append(replace(cell, score=score, by_hand=typed.score is not None))
        pending = sum(c.max_score for c in cells if c.score is None)
        notes = [note for note in result.message.split("; ") if note and not PENDING_NOTE.match(note)]
        if pending:
            notes.append(f"{pending:g} points wait for manual grading")
        score = sum(c.score or 0 for c in cells)
        return replace(result, cells=cells, score=score, message="; ".join(notes))


def settle(out: Path, course: Course) -> HandGrades:
    """Read the hand grades in OUT's gradebook and attach each to its answer: a grade seen for the
    first time, or typed again, is attached to the answer graded now; one whose answer changed
    since is set aside. The gradebook's review flags follow; OUT/manual.json remembers."""
    path = out / LEDGER
    ledger = json.loads(path.read_text()) if path.exists() else {}
    answers = Answers(course.folder)
    settled, review, kept = HandGrades(), {}, {}
    for typed in gradebook.hand_grades(course.folder, course.course_id):
        where = (typed.student, typed.notebook, typed.grade_id)
        now = answers.digest(*where)
        entry = ledger.get(typed.key)
        # An instructor's act attaches a grade to the answer in front of them: typing something new,
        # or confirming a score in formgrader (which clears nbgrader's needs_manual_grade).
        confirmed = typed.score is not None and not typed.needs_review
        if entry is None or entry["typed"] != typed.typed or (confirmed and entry["answer"] != now):
            entry = {"answer": now}
        kept[typed.key] = {**entry, "typed": typed.typed}
        if entry["answer"] == now:
            settled.attached[where] = typed
            if typed.score is not None and typed.needs_review:  # graded again, same answer: no review
                review[where] = False
        else:
            settled.set_aside.append(typed)
            if typed.score is not None and not typed.needs_review:
                review[where] = True
    gradebook.set_needs_review(course.folder, course.course_id, review)
    if kept != ledger:
        write_atomically(path, json.dumps(kept, indent=1, sort_keys=True))
    return settled


class Answers:
    """The answers of the autograded notebooks in OUT/course, as digests, read once each."""

    def __init__(self, course_dir: Path):
        self.course_dir = course_dir

    def digest(self, student: str, notebook: str, grade_id: str) -> str | None:
        """A digest of the text a grade of this cell judges; None when nothing was graded."""
        cells = self.answers(student, notebook)
        if cells is None or grade_id not in cells.all:
            return None
        text = cells.answers.get(grade_id)
        if text is None:  # a test cell graded by hand: it judges every answer of the notebook
            text = json.dumps(sorted(cells.answers.items()))
        return hashlib.sha256(text.encode()).hexdigest()

    @cache  # noqa: B019 (one instance per settle: freed with it)
    def answers(self, student: str, notebook: str) -> "Cells | None":
        path = self.course_dir / "autograded" / student / notebook / f"{notebook}.ipynb"
        try:
            nb = nbformat.read(path, as_version=4)
        except (OSError, ValueError):
            return None
        ids = {grade_id(c): c for c in nb.cells if grade_id(c)}
        answers = {g: c.source for g, c in ids.items() if nbgrader_utils.is_solution(c)}
        return Cells(set(ids), answers)


def grade_id(cell) -> str | None:
    return cell.get("metadata", {}).get("nbgrader", {}).get("grade_id")


@dataclass(frozen=True)
class Cells:
    all: set[str]  # every cell with a grade_id
    answers: dict[str, str]  # the student's answer cells' sources, by grade_id
