"""The instructor's whole loop on the bundled hand-ins (examples/handins.zip), in one test (issue 13's
'Done when'): grade → grade by hand through nbgrader's Gradebook API → grade again with one new
hand-in → a grader file and a solution change → grade again → export to Canvas and Moodle. Every
grade by hand is in every output, nothing is lost, and the late penalty applies where a due date
says so.

The course's configuration is a copy of course.toml with due dates, read through the same path as
the commands (cli.late_policy); the grader file changes in a copy of the package that the grader's
fingerprint reads (test_manual.changed_grader), the solution in a copy of solutions/."""

import csv
import io
import zipfile
from datetime import datetime

import pytest
from bs4 import BeautifulSoup
from nbgrader.api import Gradebook
from test_manual import changed_course, changed_grader, grade_into

from coursework import config
from grading import cli
from grading.records import MISSING

pytestmark = pytest.mark.kernel

NB2, NB3, NB7, CELL = "02_single_chain", "03_computation_graph", "07_build_your_own_autograd", "why_dz_dx"
# (student, score by hand, comment): ada (canonical folder), ben (Canvas: user 4102), Chloe (Moodle: 1187)
BY_HAND = [("ada", 2.0, "Right: backward() starts at z."), ("4102", 0.5, "Which node does backward() start from?")]
BY_HAND += [("1187", 1.5, "Almost: say why it is dz/dx and not dy/dx.")]
# The hand-ins' times are their zip members' (local time), noon of some day of the week of 16 November.
DUE = {NB2: datetime(2026, 11, 18, 0, 0).astimezone(), NB7: datetime(2026, 11, 20, 12, 0).astimezone()}
CANVAS_ROSTER = """Student,ID,SIS User ID,SIS Login ID,Section,03 Computation graph (9003),06 Gradient descent (9006)
    Points Possible,,,,,5.00,5.00
"Lee, Ben",4102,S4102,blee,A1,,
"Lovelace, Ada",4100,S4100,ada,A1,,
"Noshow, Nia",4105,S4105,nnoshow,A1,,
"""
MOODLE_ROSTER = """First name,Last name,ID number,Institution,Department,Email address
Chloe,Martin,S1187,Uni,Maths,chloe@example.org
Ada,Lovelace,ada,Uni,Maths,ada@example.org
"""


def rows(text: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(text)))


def grades_csv(out) -> dict[tuple[str, str], dict[str, str]]:
    return {(r["student"], r["notebook"]): r for r in rows((out / "grades.csv").read_text())}


def test_the_instructors_loop(tmp_path, course_dir, monkeypatch, capsys):
    settings = tmp_path / "course.toml"
    due = "".join(f'{name} = {when.isoformat(timespec="seconds")}\n' for name, when in DUE.items())
    settings.write_text(config.SETTINGS.read_text() + due)
    monkeypatch.setattr(config, "SETTINGS", settings)
    policy = cli.late_policy()
    out = tmp_path / "out"

    # 1. grade the bundled hand-ins
    first = grade_into(config.EXAMPLE_HANDINS, out, course_dir, policy=policy)
    handed_in = [r for r in first.results if r.status != MISSING]
    assert handed_in and first.graded_now == len(handed_in)  # every hand-in ran, once
    before = {(r.student, r.notebook): r.status for r in first.results}

    # 2. grade the written answers by hand, as formgrader saves them
    with Gradebook(f"sqlite:///{out / 'course' / 'gradebook.db'}") as gb:
        for student, score, comment in BY_HAND:
            typed = gb.find_grade(CELL, NB3, NB3, student)
            typed.manual_score, typed.needs_manual_grade = score, False
            gb.find_comment(CELL, NB3, NB3, student).manual_comment = comment
        gb.db.commit()

    # 3. one new hand-in
    late = tmp_path / "latecomer" / "gus"
    late.mkdir(parents=True)
    with zipfile.ZipFile(config.EXAMPLE_HANDINS) as archive:
        (late / f"{NB3}.ipynb").write_bytes(archive.read(f"submissions/ada/{NB3}.ipynb"))
    assert grade_into(late.parent, out, course_dir, policy=policy).graded_now == 1

    # 4. a grader file and a solution change: everything is graded again
    changed_grader(tmp_path, monkeypatch)
    new_course = changed_course(tmp_path, monkeypatch)
    last = grade_into(config.EXAMPLE_HANDINS, out, new_course, policy=policy)
    assert last.graded_now == len(handed_in) + 1  # and the latecomer's

    # 5. export
    (tmp_path / "canvas-roster.csv").write_text(CANVAS_ROSTER)
    (tmp_path / "moodle-roster.csv").write_text(MOODLE_ROSTER)
    assert cli.main(["export", str(out), "--format", "canvas", "--roster", str(tmp_path / "canvas-roster.csv")]) == 0
    assert cli.main(["export", str(out), "--format", "moodle", "--roster", str(tmp_path / "moodle-roster.csv")]) == 0
    said = capsys.readouterr()

    # nothing lost: every row of the first run is there, gus beside them
    table = grades_csv(out)
    assert {k: v for k, v in before.items()} == {k: r["status"] for k, r in table.items() if k[0] != "gus"}
    assert table[("gus", NB3)]["score"] == "3"

    # every grade by hand, in every output
    auto = {"ada": 3, "4102": 0, "1187": 3}  # what the autograder gave notebook 03
    with Gradebook(f"sqlite:///{out / 'course' / 'gradebook.db'}") as gb:
        for student, score, comment in BY_HAND:
            typed = gb.find_grade(CELL, NB3, NB3, student)
            assert (typed.manual_score, typed.needs_manual_grade) == (score, False)
            assert gb.find_comment(CELL, NB3, NB3, student).manual_comment == comment
    nbgrader = {(r["student_id"], r["assignment"]): r for r in rows((out / "nbgrader-export.csv").read_text())}
    with zipfile.ZipFile(out / "feedback.zip") as archive:
        zipped = {name: archive.read(name).decode() for name in archive.namelist()}
    canvas = rows((out / "export" / "canvas.csv").read_text())
    canvas_by_id = {r["ID"]: r for r in canvas[1:]}
    moodle = {r["ID number"]: r for r in rows((out / "export" / "moodle.csv").read_text())}
    for student, score, comment in BY_HAND:
        total = f"{auto[student] + score:g}"
        assert table[(student, NB3)]["score"] == total and table[(student, NB3)]["manual_pending"] == "0"
        assert float(nbgrader[(student, NB3)]["score"]) == auto[student] + score
        page = BeautifulSoup((out / "feedback" / student / f"{NB3}.html").read_text(), "html.parser")
        assert page.find("section", id=f"cell-{CELL}").find("p", class_="comment").get_text().endswith(comment)
        (zipped_page,) = [text for name, text in zipped.items() if name.endswith(f"{NB3}.html") and comment in text]
        assert f"{score:g} / 2, graded by hand" in zipped_page
    assert canvas_by_id["4102"]["03 Computation graph (9003)"] == "0.5"
    assert canvas_by_id["4100"]["03 Computation graph (9003)"] == "5"  # ada, by her SIS Login ID
    assert moodle["S1187"][NB3] == "4.5" and BY_HAND[2][2] in moodle["S1187"][f"{NB3} (Feedback)"]
    assert moodle["ada"][NB3] == "5" and BY_HAND[0][2] in moodle["ada"][f"{NB3} (Feedback)"]
    assert f"Chloe Martin_1187_assignsubmission_file_/{NB3}.html" in zipped
    report = BeautifulSoup((out / "report.html").read_text(), "html.parser")
    assert "Cells graded by hand so far: 3." in report.get_text() and not report.find("table", id="set-aside")

    # the late penalty, where a due date says so (and only there)
    late = {k: (r["late_by"], r["penalty"], r["score"], r["raw_score"]) for k, r in table.items()}
    assert late[("ada", NB2)] == ("0.00", "0", "5", "5")
    assert late[("1187", NB2)] == ("12.00", "0.5", "4.5", "5")  # a started day: 10% of 5 points
    assert late[("emma", NB2)] == ("60.00", "1.5", "3.5", "5")  # three started days
    assert late[("4102", NB2)] == ("36.00", "0", "0", "0") and late[("4102", NB7)][0] == "24.00", late[("4102", NB7)]
    assert late[("4102", NB3)] == ("", "0", "0.5", "0.5")  # no due date for notebook 03
    assert "late" in table[("1187", NB2)]["flags"] and "late" not in table[("4102", NB3)]["flags"]
    assert moodle["S1187"][NB2] == "4.5" and "Late: 0.5 points off." in moodle["S1187"][f"{NB2} (Feedback)"]
    assert canvas_by_id["4102"][NB2] == "0"  # a notebook Canvas has no column for gets one named after it
    assert "0.5 points off" in (out / "feedback" / "1187" / f"{NB2}.html").read_text()
    assert BeautifulSoup((out / "report.html").read_text(), "html.parser").find("table", id="late")
    assert [r["Student"].strip() for r in canvas] == ["Points Possible", "Lee, Ben", "Lovelace, Ada", "Noshow, Nia"]

    # hand-ins whose students the rosters lack are listed, and kept in a file of their own
    assert "not on the roster: 1187, dev, emma, finn, gus" in said.err
    assert "not on the roster: 4102, dev, emma, finn, gus" in said.err
    strangers = rows((out / "export" / "canvas-not-on-roster.csv").read_text())
    assert [r["ID"] for r in strangers[1:]] == ["1187", "dev", "emma", "finn", "gus"]
