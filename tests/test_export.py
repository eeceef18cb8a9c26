"""`python -m grading export`: the files Canvas and Moodle import, and feedback.zip.

The expected headers are written from the LMSs' documentation, not from the code:
- Canvas, gradebook import (Canvas Instructor Guide 'How do I import grades in the Gradebook?', and
  the Ohio State CarmenCanvas guide 'Import a CSV file to Carmen Grades'): the columns Student, ID,
  SIS User ID, SIS Login ID, Section, then one column per assignment, named as the assignment
  (`Name (assignment id)` in Canvas's own export, which it reads back); Canvas's export has a second
  row, 'Points Possible'; a column for an assignment Canvas does not have creates one.
- Moodle, Grade import (MoodleDocs 'Grade import', CSV): 'The import file format is the same as the
  corresponding export format'; the user is found by mapping one column ('Map from') to a user field
  ('Map to': useridnumber, useremail, ...); feedback comes in columns of its own, mapped to 'Feedback
  for' a grade item, and is imported with the grades. Moodle's grade export's user columns: First
  name, Last name, ID number, Institution, Department, Email address.
- Moodle, 'Upload multiple feedback files in a zip' (assignment grading actions): the zip holds the
  folders of 'Download all submissions', `Full Name_participantid_assignsubmission_file_/`; Moodle
  finds the student from the folder's second '_'-separated part, the participant id.
"""

import csv
import io
import zipfile

import pytest

from grading import export
from grading.gradebook import HandGrade
from grading.manual import HandGrades
from grading.records import GRADED, MISSING, UNREADABLE, CellResult, Result

NOTEBOOKS = ["02_single_chain", "03_computation_graph"]
MAX = {"02_single_chain": 5.0, "03_computation_graph": 5.0}
CANVAS_PEOPLE = ["Student", "ID", "SIS User ID", "SIS Login ID", "Section"]
MOODLE_PEOPLE = ["First name", "Last name", "ID number", "Institution", "Department", "Email address"]

CANVAS_ROSTER = """Student,ID,SIS User ID,SIS Login ID,Section,02 Single chain (8801),Current Score,Final Score
    Points Possible,,,,,5.00,(read only),(read only)
"Lee, Ben",4102,S4102,blee,Autograd 101,,,
"Lovelace, Ada",4100,S4100,ada,Autograd 101,,,
"Noshow, Nia",4105,S4105,nnoshow,Autograd 101,,,
"""
MOODLE_ROSTER = (
    (
        "First name,Last name,ID number,Institution,Department,Email address,"
        "Assignment: 03_computation_graph (Real),Last downloaded from this course\n"
    )
    + """Chloe,Martin,S1187,Uni,Maths,chloe@example.org,-,1700000000
Ada,Lovelace,ada,Uni,Maths,ada@example.org,-,1700000000
Nia,Noshow,S4105,Uni,Maths,nia@example.org,-,1700000000
"""
)


def results() -> list[Result]:
    def graded(student, notebook, score, source, **more):
        cells = [CellResult("why_dz_dx", 2, more.pop("written", 2), manual=True, by_hand=True)]
        return Result(student, notebook, GRADED, score, 5, source=source, cells=cells, **more)

    return [
        graded("ada", "02_single_chain", 5, "ada/02_single_chain.ipynb"),
        graded("ada", "03_computation_graph", 4.5, "ada/03_computation_graph.ipynb", penalty=0.5, raw_score=5),
        graded("4102", "02_single_chain", 1, "leeben_4102_88013_02_single_chain.ipynb"),
        Result("4102", "03_computation_graph", MISSING, max_score=5),
        Result("1187", "02_single_chain", MISSING, max_score=5),
        graded(
            "1187",
            "03_computation_graph",
            3,
            "Chloe Martin_1187_assignsubmission_file_/03_computation_graph.ipynb",
            written=None,
        ),
        Result("zed", "02_single_chain", UNREADABLE, max_score=5, source="zed/02_single_chain.ipynb"),
        Result("zed", "03_computation_graph", MISSING, max_score=5),
    ]


HAND = HandGrades(
    {
        ("ada", "03_computation_graph", "why_dz_dx"): HandGrade(
            "ada", "03_computation_graph", "why_dz_dx", 2, None, "Clear: backward() starts at z."
        )
    }
)


def written(tmp_path, fmt, roster_text=None, zero=False):
    roster = None
    if roster_text is not None:
        (tmp_path / "roster.csv").write_text(roster_text)
        roster = export.read_roster(tmp_path / "roster.csv", NOTEBOOKS)
    (tmp_path / "feedback").mkdir(exist_ok=True)
    done = export.write_exports(tmp_path, results(), HAND, fmt, NOTEBOOKS, MAX, roster, zero)
    rows = list(csv.reader(io.StringIO((tmp_path / "export" / f"{fmt}.csv").read_text())))
    return done, rows


def test_canvas_with_canvas_s_roster(tmp_path):
    done, rows = written(tmp_path, "canvas", CANVAS_ROSTER)
    assert rows[0] == [*CANVAS_PEOPLE, "02 Single chain (8801)", "03_computation_graph"]
    assert rows[1][0].strip() == "Points Possible" and rows[1][5:] == ["5", "5"]
    assert rows[2:] == [
        ["Lee, Ben", "4102", "S4102", "blee", "Autograd 101", "1", ""],
        ["Lovelace, Ada", "4100", "S4100", "ada", "Autograd 101", "5", "4.5"],
        ["Noshow, Nia", "4105", "S4105", "nnoshow", "Autograd 101", "", ""],
    ]
    assert done.not_on_roster == ["1187", "zed"]  # listed, and in a file of their own
    strangers = list(csv.reader(io.StringIO((tmp_path / "export" / "canvas-not-on-roster.csv").read_text())))
    assert [row[:2] for row in strangers[2:]] == [["Chloe Martin", "1187"], ["zed", "zed"]]
    assert strangers[3][5:] == ["0", ""]  # an unreadable file scores 0


def test_canvas_students_without_hand_ins_get_zero_when_asked(tmp_path):
    _, rows = written(tmp_path, "canvas", CANVAS_ROSTER, zero=True)
    assert rows[4][5:] == ["0", "0"] and rows[2][5:] == ["1", "0"]


def test_canvas_without_a_roster_names_its_columns_after_the_notebooks(tmp_path):
    done, rows = written(tmp_path, "canvas")
    assert rows[0] == [*CANVAS_PEOPLE, *NOTEBOOKS] and rows[1][0].strip() == "Points Possible"
    assert [row[:2] for row in rows[2:]] == [["Chloe Martin", "1187"], ["4102", "4102"], ["ada", "ada"], ["zed", "zed"]]
    assert done.not_on_roster == []


def test_moodle_with_moodle_s_roster(tmp_path):
    done, rows = written(tmp_path, "moodle", MOODLE_ROSTER)
    grade_column = "Assignment: 03_computation_graph (Real)"
    assert rows[0] == [
        *MOODLE_PEOPLE,
        "02_single_chain",
        grade_column,
        "02_single_chain (Feedback)",
        "Assignment: 03_computation_graph (Feedback)",
    ]
    people = {row[2]: row for row in rows[1:]}  # by ID number, a column Moodle maps to useridnumber
    assert people["S1187"][6:8] == ["", "3"]  # Chloe, found by the name her Moodle download carried
    assert people["ada"][6:8] == ["5", "4.5"]
    assert people["ada"][9] == "4.5 / 5. why_dz_dx: Clear: backward() starts at z. Late: 0.5 points off."
    assert people["S1187"][9].endswith("Some answers still wait for grading by hand.")
    assert people["S4105"][6:] == ["", "", "", ""]
    assert done.not_on_roster == ["4102", "zed"]


def test_moodle_without_a_roster_gives_an_identifier_to_map(tmp_path):
    _, rows = written(tmp_path, "moodle")
    assert rows[0][:2] == ["Identifier", "Full name"] and rows[0][2:4] == NOTEBOOKS
    assert rows[1][:2] == ["1187", "Chloe Martin"]


def test_csv_has_one_row_per_student_and_a_total(tmp_path):
    _, rows = written(tmp_path, "csv")
    assert rows[0] == ["student", *NOTEBOOKS, "total"]
    assert rows[3] == ["ada", "5", "4.5", "9.5"]


def test_a_roster_of_neither_lms_is_refused(tmp_path):
    (tmp_path / "r.csv").write_text("name,score\nada,3\n")
    with pytest.raises(ValueError, match="neither Canvas's gradebook export"):
        export.read_roster(tmp_path / "r.csv", NOTEBOOKS)


def test_feedback_zip_uses_moodle_s_folders_and_one_folder_per_student_otherwise(tmp_path):
    for r in results():
        if r.status != MISSING:
            (tmp_path / "feedback" / r.student).mkdir(parents=True, exist_ok=True)
            (tmp_path / "feedback" / r.student / f"{r.notebook}.html").write_text(f"page of {r.student}")
    export.write_feedback_zip(tmp_path, results(), tmp_path / "feedback.zip")
    with zipfile.ZipFile(tmp_path / "feedback.zip") as archive:
        names = sorted(archive.namelist())
        assert archive.read("4102/02_single_chain.html") == b"page of 4102"
    moodle = "Chloe Martin_1187_assignsubmission_file_/03_computation_graph.html"
    assert names == [
        "4102/02_single_chain.html",
        moodle,
        "ada/02_single_chain.html",
        "ada/03_computation_graph.html",
        "zed/02_single_chain.html",
    ]
    # How Moodle reads a folder back: fullname_participantid_plugintype_pluginname_
    fullname, participant, plugintype, pluginname, _ = moodle.split("/")[0].split("_", 4)
    assert (fullname, participant, plugintype, pluginname) == ("Chloe Martin", "1187", "assignsubmission", "file")
