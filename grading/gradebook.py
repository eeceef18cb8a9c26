"""The gradebook: the single writer of nbgrader's database and course folder (OUT/course).

Workers read the course's cells once, before grading starts (preprocessors.CourseCells); this
coordinator-side writer records each graded hand-in the way `nbgrader autograde` does (the
submission, its files, nbgrader's own SaveAutoGrades on the autograded notebook), so that
formgrader and `nbgrader export` work on OUT/course as on any nbgrader course.

What an instructor types in formgrader (a score, extra credit, a comment) lives here too: it is
read back (`hand_grades`), never deleted. When the course changes, `bring_up_to_date` adds and
updates its notebooks and cells in place, as nbgrader's SaveCells would if it allowed changing a
notebook that has submissions.
"""

import warnings
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import nbformat
from nbgrader.api import Assignment, Comment, Grade, Gradebook, SubmittedAssignment, SubmittedNotebook
from nbgrader.preprocessors import SaveAutoGrades
from sqlalchemy import or_, text
from sqlalchemy.exc import OperationalError, SAWarning

from grading import compat
from grading.files import write_atomically
from grading.records import GRADED, HandIn, Result

# nbgrader's gradebook code makes SQLAlchemy 2 warn on every submission; not ours to fix.
warnings.filterwarnings("ignore", category=SAWarning)


class GradebookWriter:
    def __init__(self, course_dir: Path, course_id: str):
        self.course_dir = course_dir
        self.gradebook = Gradebook(database(course_dir), course_id)
        # nbgrader commits after every cell. Without waiting for the disk, recording a notebook
        # takes a third of the time. A write-ahead log keeps the database whole when the grader
        # is killed mid-commit (only a crash of the machine could lose the last commits).
        self.gradebook.db.execute(text("PRAGMA synchronous = OFF"))
        self.gradebook.db.execute(text("PRAGMA journal_mode = WAL"))
        self.save = SaveAutoGrades()

    def close(self) -> None:
        self.gradebook.close()

    def record(self, handin: HandIn, result: Result, executed: str, notebook: nbformat.NotebookNode) -> None:
        """Store one graded hand-in: its original file, its autograded notebook (`executed`, and as
        `notebook`), its scores."""
        folder = Path(handin.student) / handin.notebook
        submitted = self.course_dir / "submitted" / folder
        submitted.mkdir(parents=True, exist_ok=True)
        write_atomically(submitted / f"{handin.notebook}.ipynb", handin.content)
        stamp = datetime.fromtimestamp(handin.submitted_at, UTC)
        write_atomically(submitted / "timestamp.txt", stamp.strftime("%Y-%m-%d %H:%M:%S.%f %Z"))
        autograded = self.course_dir / "autograded" / folder
        autograded.mkdir(parents=True, exist_ok=True)
        write_atomically(autograded / f"{handin.notebook}.ipynb", executed)
        if result.status != GRADED:
            return
        resources = {
            "nbgrader": {"notebook": handin.notebook, "assignment": handin.notebook, "student": handin.student}
        }
        try:
            self.gradebook.update_or_create_student(handin.student)
            self.gradebook.update_or_create_submission(handin.notebook, handin.student, timestamp=stamp)
            compat.preprocess_with_gradebook(self.save, notebook, resources, self.gradebook)
        except OperationalError as error:  # e.g. "database or disk is full"
            raise OSError(f"{error.orig}, writing {self.course_dir / 'gradebook.db'}") from None


def database(course_dir: Path) -> str:
    return f"sqlite:///{course_dir / 'gradebook.db'}"


@dataclass(frozen=True)
class HandGrade:
    """What an instructor typed in the gradebook for one cell of one hand-in."""

    student: str
    notebook: str
    grade_id: str
    score: float | None = None  # nbgrader's manual_score: replaces the autograder's
    extra_credit: float | None = None
    comment: str = ""
    needs_review: bool = False  # nbgrader's needs_manual_grade

    @property
    def key(self) -> str:
        return f"{self.student}/{self.notebook}/{self.grade_id}"

    @property
    def typed(self) -> list:
        return [self.score, self.extra_credit, self.comment]


def hand_grades(course_dir: Path, course_id: str) -> list[HandGrade]:
    """Every score, extra credit and comment typed by hand in the gradebook, by cell."""
    found: dict[tuple[str, str, str], dict] = {}
    with Gradebook(database(course_dir), course_id) as gb:
        typed = or_(Grade.manual_score.is_not(None), Grade.extra_credit.is_not(None))
        for grade in gb.db.query(Grade).filter(typed):
            where = (grade.student.id, grade.notebook.name, grade.name)
            found.setdefault(where, {}).update(
                score=grade.manual_score, extra_credit=grade.extra_credit, needs_review=grade.needs_manual_grade
            )
        for comment in gb.db.query(Comment).filter(Comment.manual_comment.is_not(None), Comment.manual_comment != ""):
            found.setdefault((comment.student.id, comment.notebook.name, comment.name), {})["comment"] = (
                comment.manual_comment
            )
    return [HandGrade(*where, **typed) for where, typed in sorted(found.items())]


def set_needs_review(course_dir: Path, course_id: str, flags: dict[tuple[str, str, str], bool]) -> None:
    """nbgrader's needs_manual_grade of some grades, by (student, notebook, grade_id): formgrader
    lists a grade that needs review as 'needs manual grade', its score kept."""
    if not flags:
        return
    with Gradebook(database(course_dir), course_id) as gb:
        for (student, notebook, grade_id), needed in flags.items():
            gb.find_grade(grade_id, notebook, notebook, student).needs_manual_grade = needed
        gb.db.commit()


def bring_up_to_date(course_dir: Path, built: Path, course_id: str) -> None:
    """OUT's gradebook learns the course as `built` has it: new notebooks and cells are added,
    changed ones updated (points, locked sources), and hand-ins graded before a cell existed get its
    grade and comment rows. Nothing is deleted: a cell the course no longer has keeps its grades."""
    with Gradebook(database(built), course_id) as new, Gradebook(database(course_dir), course_id) as gb:
        for assignment in new.assignments:
            gb.update_or_create_assignment(assignment.name)
            for notebook in assignment.notebooks:
                names = (notebook.name, assignment.name)
                gb.update_or_create_notebook(*names, kernelspec=notebook.kernelspec)
                for cell in notebook.grade_cells:
                    gb.update_or_create_grade_cell(cell.name, *names, **points(cell))
                for cell in notebook.solution_cells:
                    gb.update_or_create_solution_cell(cell.name, *names)
                for cell in notebook.task_cells:
                    gb.update_or_create_task_cell(cell.name, *names, **points(cell))
                for cell in notebook.source_cells:
                    fields = {k: getattr(cell, k) for k in ("cell_type", "locked", "source", "checksum")}
                    gb.update_or_create_source_cell(cell.name, *names, **fields)
                add_missing_rows(gb, gb.find_notebook(*names))


def points(cell) -> dict:
    return {"max_score": cell.max_score, "cell_type": cell.cell_type}


def add_missing_rows(gb: Gradebook, notebook) -> None:
    """A grade per graded cell and a comment per answer cell for every hand-in of `notebook`, as
    nbgrader's add_submission makes them for a new hand-in."""
    graded = [*notebook.grade_cells, *notebook.task_cells]
    commented = [*notebook.solution_cells, *notebook.task_cells]
    for submitted in gb.db.query(SubmittedNotebook).filter(SubmittedNotebook.notebook_id == notebook.id):
        have_grades = {g.cell_id for g in submitted.grades}
        have_comments = {c.cell_id for c in submitted.comments}
        for cell in graded:
            if cell.id not in have_grades:
                gb.db.add(Grade(cell_id=cell.id, notebook=submitted))
        for cell in commented:
            if cell.id not in have_comments:
                gb.db.add(Comment(cell_id=cell.id, notebook=submitted))
    gb.db.commit()

EXPORT_COLUMNS = (
    "assignment,duedate,timestamp,student_id,last_name,first_name,email,raw_score,late_submission_penalty,score,max_score"
)


def export(course_dir: Path, course_id: str, path: Path) -> None:
    """nbgrader's own CSV export of the gradebook, byte for byte what `nbgrader export` writes (its
    CsvExportPlugin), from three queries: the plugin asks for each student's submission of each
    notebook, one by one (about 1 ms each: 0.15 s for 22 students, in every run, a late hand-in's too)."""
    with Gradebook(database(course_dir), course_id) as gb:
        submitted = gb.db.query(
            Assignment.name,
            SubmittedAssignment.student_id,
            SubmittedAssignment.timestamp,
            SubmittedAssignment.score,
            SubmittedAssignment.late_submission_penalty,
        ).join(SubmittedAssignment.assignment)
        found = {(name, student): (when, score, penalty) for name, student, when, score, penalty in submitted}
        students = gb.students
        lines = [EXPORT_COLUMNS]
        for assignment in gb.assignments:
            for student in students:
                when, score, penalty = found.get((assignment.name, student.id), ("", 0.0, 0.0))
                row = [assignment.name, assignment.duedate, when, student.id, student.last_name, student.first_name]
                row += [student.email, score, penalty, max(0.0, score - penalty), assignment.max_score]
                # as the plugin writes them: str() of each value, None as nothing, no quoting
                lines.append(",".join("" if value is None else str(value) for value in row))
    write_atomically(path, "\n".join(lines) + "\n")
