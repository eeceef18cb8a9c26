"""`python -m grading export`: the grades as the LMS imports them, and the feedback pages as it
hands them back to students.

- canvas: Canvas's gradebook import CSV: `Student, ID, SIS User ID, SIS Login ID, Section`, one
  column per notebook, and a second row `Points Possible`. With Canvas's own gradebook export as
  the roster, its students and its assignment columns (`Name (id)`) are used; a notebook with no
  column of its own gets one named after it (Canvas makes it a new assignment).
- moodle: a CSV for Moodle's grade import (Grades > Import > CSV file): identifier columns to map
  ("Map from" one of them, "Map to" the matching user field), one grade column per notebook, one
  feedback column per notebook (Moodle: import a grade item's feedback with its grades).
- csv: one row per student, one column per notebook, and the total.
The students are the roster's when one is given: one without a hand-in gets 0 or a blank, as the
instructor chooses; a hand-in whose student is not on the roster goes to a file of its own,
listed, never dropped. Scores are as grades.csv has them: grades by hand in, late penalties off.

OUT/feedback.zip holds every feedback page: a student who handed in through Moodle's 'Download all
submissions' gets them in the folder that download used (`Full Name_id_assignsubmission_file_/`),
which Moodle's 'Upload multiple feedback files in a zip' reads back; any other student in a folder
named by their id.
"""

import csv
import io
import re
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

from grading.collect import MOODLE_FILE, MOODLE_FOLDER, match_notebook, notebook_keys, path_parts
from grading.files import write_atomically
from grading.manual import HandGrades
from grading.records import ERROR, GRADED, MISSING, Result

FORMATS = ("canvas", "moodle", "csv")
CANVAS_PEOPLE = ("Student", "ID", "SIS User ID", "SIS Login ID", "Section")
MOODLE_PEOPLE = ("First name", "Last name", "ID number", "Institution", "Department", "Email address")
POINTS_POSSIBLE = "Points Possible"
# Canvas names an assignment column `Name (assignment id)`; Moodle `Assignment: Name (Real)`.
COLUMN_DECORATION = re.compile(r"^(?:[\w ]+: )?(?P<name>.+?)(?: \((?:\d+|Real|Percentage|Letter)\))?$")


@dataclass
class Person:
    """One student on the roster: the row's identifying columns, and every value that may name them
    in the hand-ins (ids, login, email, full name), compared casefolded."""

    columns: dict[str, str]
    names: set[str] = field(default_factory=set)


@dataclass
class Roster:
    kind: str  # canvas or moodle: whose export it is
    people: list[Person]
    columns: dict[str, str]  # notebook -> the roster's column for it


@dataclass
class Exported:
    files: list[Path]
    not_on_roster: list[str]  # students with hand-ins whom the roster lacks
    waiting: int  # hand-ins whose score still waits for grading by hand


def read_roster(path: Path, notebooks: list[str]) -> Roster:
    """Canvas's gradebook export, or Moodle's grade export (CSV), as the list of students."""
    try:
        text = path.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as error:
        raise ValueError(f"--roster {path}: cannot be read ({error})") from None
    rows = list(csv.reader(io.StringIO(text)))
    header = [h.strip() for h in rows[0]] if rows else []
    if {"Student", "ID"} <= set(header):
        kind, identifying = "canvas", CANVAS_PEOPLE
    elif {"First name", "Last name"} <= set(header):
        kind, identifying = "moodle", MOODLE_PEOPLE
    else:
        raise ValueError(
            f"--roster {path}: neither Canvas's gradebook export (Student, ID, ...) "
            "nor Moodle's grade export (First name, Last name, ...)"
        )
    people = []
    for row in rows[1:]:
        values = dict(zip(header, (v.strip() for v in row)))
        if not any(values.values()) or POINTS_POSSIBLE in values.get("Student", ""):
            continue
        columns = {h: values.get(h, "") for h in identifying if h in header}
        names = {values.get(h, "") for h in ("ID", "SIS User ID", "SIS Login ID", "ID number", "Email address")}
        if kind == "moodle":
            names.add(f"{values.get('First name', '')} {values.get('Last name', '')}")
        people.append(Person(columns, {n.casefold() for n in names if n.strip()}))
    return Roster(kind, people, notebook_columns(header[len(identifying) :], notebooks))


def notebook_columns(headers: list[str], notebooks: list[str]) -> dict[str, str]:
    """The roster's column for each notebook it has one for, by name (`02 Single chain (1234)`)."""
    keys, found = notebook_keys(notebooks), {}
    for header in headers:
        name = COLUMN_DECORATION.match(header.strip())["name"]
        match = match_notebook(f"{name}.ipynb", keys)
        if match and match[0] not in found:
            found[match[0]] = header.strip()
    return found


def moodle_folder(source: str | None) -> str | None:
    """The folder Moodle's 'Download all submissions' put a hand-in in, from its path."""
    for part in path_parts(source or ""):
        folder = MOODLE_FOLDER.match(part)
        flat = MOODLE_FILE.match(part)
        if folder:
            return part
        if flat:
            return f"{flat['name']}_{flat['student']}_assignsubmission_file_"
    return None


def full_name(sources: list[str | None]) -> str:
    """The student's name as Moodle's download spelled it, if one of their files came from there."""
    for source in sources:
        folder = moodle_folder(source)
        if folder:
            return MOODLE_FOLDER.match(folder)["name"]
    return ""


def write_exports(
    out: Path,
    results: list[Result],
    hand: HandGrades,
    fmt: str,
    notebooks: list[str],
    max_scores: dict[str, float],
    roster: Roster | None = None,
    missing_as_zero: bool = False,
) -> Exported:
    """OUT/export/<fmt>.csv (and <fmt>-not-on-roster.csv when some are not), and OUT/feedback.zip."""
    by_student: dict[str, dict[str, Result]] = {}
    for r in results:
        by_student.setdefault(r.student, {})[r.notebook] = r
    names = {s: full_name([r.source for r in rs.values()]) for s, rs in by_student.items()}
    columns = {n: (roster.columns.get(n) if roster and roster.kind == fmt else None) or n for n in notebooks}
    table = Table(fmt, notebooks, columns, max_scores, hand, missing_as_zero)
    strangers = []
    if roster is None:
        people = [(table.identify(s, names[s]), by_student[s]) for s in sorted(by_student)]
    else:
        matched: dict[int, str] = {}  # roster row -> student
        for student in sorted(by_student):
            wanted = {student.casefold(), names[student].casefold()} - {""}
            row = next((i for i, p in enumerate(roster.people) if p.names & wanted and i not in matched), None)
            if row is not None:
                matched[row] = student
            elif any(r.status != MISSING for r in by_student[student].values()):
                strangers.append(student)
        people = [(p.columns, by_student.get(matched.get(i, ""), {})) for i, p in enumerate(roster.people)]
    folder = out / "export"
    folder.mkdir(exist_ok=True)
    files = []
    files.append(folder / f"{fmt}.csv")
    write_atomically(files[-1], table.csv(people))
    if strangers:
        files.append(folder / f"{fmt}-not-on-roster.csv")
        write_atomically(files[-1], table.csv([(table.identify(s, names[s]), by_student[s]) for s in strangers]))
    files.append(out / "feedback.zip")
    write_feedback_zip(out, results, files[-1])
    waiting = sum(any(c.score is None for c in r.cells) for r in results if r.status == GRADED)
    return Exported(files, strangers, waiting)


@dataclass
class Table:
    """One export format's header and rows."""

    fmt: str
    notebooks: list[str]
    columns: dict[str, str]  # notebook -> its column's name
    max_scores: dict[str, float]
    hand: HandGrades
    missing_as_zero: bool

    def identify(self, student: str, name: str) -> dict[str, str]:
        """Identifying columns for a student known only from the hand-ins."""
        if self.fmt == "canvas":
            return {"Student": name or student, "ID": student}
        if self.fmt == "moodle":
            return {"Identifier": student, "Full name": name}
        return {"student": student}

    def csv(self, people: list[tuple[dict[str, str], dict[str, Result]]]) -> str:
        who = list(dict.fromkeys(h for columns, _ in people for h in columns))
        if self.fmt == "canvas":
            who = list(CANVAS_PEOPLE)
        elif not who:
            who = list(self.identify("", ""))
        grades = [self.columns[n] for n in self.notebooks]
        header = who + grades
        if self.fmt == "moodle":
            header += [feedback_column(self.columns[n]) for n in self.notebooks]
        elif self.fmt == "csv":
            header.append("total")
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(header)
        if self.fmt == "canvas":
            points = [f"{self.max_scores[n]:g}" for n in self.notebooks]
            writer.writerow([POINTS_POSSIBLE, *[""] * (len(who) - 1), *points])
        for columns, results in people:
            scores = [self.score(results.get(n)) for n in self.notebooks]
            row = [columns.get(h, "") for h in who] + scores
            if self.fmt == "moodle":
                row += [self.feedback(results.get(n)) for n in self.notebooks]
            elif self.fmt == "csv":
                row.append(f"{sum(float(s) for s in scores if s):g}")
            writer.writerow(row)
        return buffer.getvalue()

    def score(self, result: Result | None) -> str:
        if result is None or result.status == MISSING:
            return "0" if self.missing_as_zero else ""
        if result.status == ERROR:  # the grader failed: the instructor decides, nothing is imported
            return ""
        return f"{round(result.score, 4):g}"

    def feedback(self, result: Result | None) -> str:
        """One notebook's feedback text for Moodle: the score, the comments typed by hand, lateness."""
        if result is None or result.status == MISSING:
            return "No file handed in." if self.missing_as_zero else ""
        parts = [f"{result.score:g} / {result.max_score:g}."]
        comments = self.hand.comments(result.student, result.notebook)
        parts += [f"{grade_id}: {text}" for grade_id, text in comments.items()]
        if result.penalty:
            parts.append(f"Late: {result.penalty:g} points off.")
        if any(c.score is None for c in result.cells):
            parts.append("Some answers still wait for grading by hand.")
        return " ".join(parts)


def feedback_column(grades: str) -> str:
    """Moodle's name for a grade item's feedback column: `Assignment: X (Feedback)`."""
    return re.sub(r" \((Real|Percentage|Letter)\)$", "", grades) + " (Feedback)"


def write_feedback_zip(out: Path, results: list[Result], path: Path) -> None:
    """Every feedback page, in the folder the student's LMS expects (see the module's doc)."""
    folders: dict[str, str] = {}
    for r in results:
        folders.setdefault(r.student, r.student)
        moodle = moodle_folder(r.source)
        if moodle:
            folders[r.student] = moodle
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for r in sorted(results, key=lambda r: (r.student, r.notebook)):
            page = out / "feedback" / r.student / f"{r.notebook}.html"
            if page.exists():
                archive.write(page, f"{folders[r.student]}/{r.notebook}.html")
    write_atomically(path, buffer.getvalue())
