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
from sqlalchemy.exc import OperationalError, SAWarning

from grading import compat
from grading.files import write_atomically
from grading.records import GRADED, HandIn, Result

# nbgrader's gradebook code makes SQLAlchemy 2 warn on every submission; not ours to fix.
warnings.filterwarnings("ignore", category=SAWarning)


class GradebookWriter:
    def __init__(self, course_dir: Path, course_id: str):
        self.course_dir = course_dir
        self.gradebook = Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", course_id)
        # nbgrader commits after every cell. Without waiting for the disk, recording a notebook
        # takes a third of the time. A write-ahead log keeps the database whole when the grader
        # is killed mid-commit (only a crash of the machine could lose the last commits).
        self.gradebook.db.execute(text("PRAGMA synchronous = OFF"))
        self.gradebook.db.execute(text("PRAGMA journal_mode = WAL"))
        self.save = SaveAutoGrades()

    def close(self) -> None:
        self.gradebook.close()

    def record(self, handin: HandIn, result: Result, executed: str) -> None:
        """Store one graded hand-in: its original file, its autograded notebook, its scores."""
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
            executed_nb = nbformat.reads(executed, as_version=4)
            compat.preprocess_with_gradebook(self.save, executed_nb, resources, self.gradebook)
        except OperationalError as error:  # e.g. "database or disk is full"
            raise OSError(f"{error.orig}, writing {self.course_dir / 'gradebook.db'}") from None



def export(course_dir: Path, course_id: str, path: Path) -> None:
    """nbgrader's own CSV export of the gradebook (what `nbgrader export` writes)."""
    plugin = CsvExportPlugin()
    plugin.to = str(path.with_name(path.name + ".partial"))
    try:
        with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}", course_id) as gb:
            plugin.export(gb)
        Path(plugin.to).replace(path)
    except OSError as error:
        Path(plugin.to).unlink(missing_ok=True)
        raise OSError(error.errno, f"{error.strerror}, writing {path}") from None
