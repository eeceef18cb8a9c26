"""The gradebook: the single writer of nbgrader's database and course folder (OUT/course).

Workers read the course's cells once, before grading starts (preprocessors.CourseCells); this
coordinator-side writer records each graded hand-in the way `nbgrader autograde` does (the
submission, its files, nbgrader's own SaveAutoGrades on the autograded notebook), so that
formgrader and `nbgrader export` work on OUT/course as on any nbgrader course.
"""

import warnings
from datetime import UTC, datetime
from pathlib import Path

import nbformat
from nbgrader.api import Gradebook
from nbgrader.plugins import CsvExportPlugin
from nbgrader.preprocessors import SaveAutoGrades
from sqlalchemy import text
from sqlalchemy.exc import SAWarning

from grading import compat
from grading.records import GRADED, HandIn, Result

# nbgrader's gradebook code makes SQLAlchemy 2 warn on every submission; not ours to fix.
warnings.filterwarnings("ignore", category=SAWarning)


class GradebookWriter:
    def __init__(self, course_dir: Path, course_id: str):
        self.course_dir = course_dir
        self.gradebook = Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", course_id)
        # nbgrader commits after every cell. Without waiting for the disk, and with the rollback
        # journal in memory, recording a notebook takes 40 ms instead of 140. The price: a crash
        # in the middle of a commit can spoil gradebook.db; delete OUT/course and grade again,
        # and every hand-in kept in OUT is graded afresh into a new one.
        self.gradebook.db.execute(text("PRAGMA synchronous = OFF"))
        self.gradebook.db.execute(text("PRAGMA journal_mode = MEMORY"))
        self.save = SaveAutoGrades()

    def close(self) -> None:
        self.gradebook.close()

    def record(self, handin: HandIn, result: Result, executed: str) -> None:
        """Store one graded hand-in: its original file, its autograded notebook, its scores."""
        folder = Path(handin.student) / handin.notebook
        submitted = self.course_dir / "submitted" / folder
        submitted.mkdir(parents=True, exist_ok=True)
        (submitted / f"{handin.notebook}.ipynb").write_bytes(handin.content)
        stamp = datetime.fromtimestamp(handin.submitted_at, UTC)
        (submitted / "timestamp.txt").write_text(stamp.strftime("%Y-%m-%d %H:%M:%S.%f %Z"))
        autograded = self.course_dir / "autograded" / folder
        autograded.mkdir(parents=True, exist_ok=True)
        (autograded / f"{handin.notebook}.ipynb").write_text(executed)
        if result.status != GRADED:
            return
        self.gradebook.update_or_create_student(handin.student)
        self.gradebook.update_or_create_submission(handin.notebook, handin.student, timestamp=stamp)
        resources = {
            "nbgrader": {"notebook": handin.notebook, "assignment": handin.notebook, "student": handin.student}
        }
        compat.preprocess_with_gradebook(self.save, nbformat.reads(executed, as_version=4), resources, self.gradebook)



def export(course_dir: Path, course_id: str, path: Path) -> None:
    """nbgrader's own CSV export of the gradebook (what `nbgrader export` writes)."""
    plugin = CsvExportPlugin()
    plugin.to = str(path)
    with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", course_id) as gb:
        plugin.export(gb)
