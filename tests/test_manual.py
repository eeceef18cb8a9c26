"""Grades by hand (docs/grading-contract.md, 'Grades by hand'): a score and a comment typed into
OUT's gradebook, through nbgrader's Gradebook API exactly as formgrader saves them, count in every
output, survive a new course and a new grader, and stay attached to the answer they were given for.

Two students of the bundled hand-ins hand in notebook 03, whose written answer `why_dz_dx` (2
points) only an instructor can grade: ada (everything else right: 3 / 5) and ben (0 / 5)."""

import csv
import json
import shutil
import subprocess
import sys
import urllib.request
import zipfile
from pathlib import Path

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbgrader.api import Gradebook
from nbgrader.plugins import CsvExportPlugin

from coursework import build, config
from coursework.answers import fill_answers
from grading import grade, gradebook, state
from grading.collect import collecting
from grading.course import Course
from grading.kernel.pool import LocalPool
from grading.kernel.sandbox import choose_sandbox
from grading.state import locked

pytestmark = pytest.mark.kernel

NB, CELL = "03_computation_graph", "why_dz_dx"
COMMENT = "Right: backward() starts at z, so x.grad is dz/dx."
EXAMPLES = {
    "ada": "submissions/ada/03_computation_graph.ipynb",
    "ben": "submissions/leeben_4102_88015_03_computation_graph.ipynb",
}


def grade_into(submissions: Path, out: Path, course_dir: Path, **options) -> grade.Outcome:
    """What `python -m grading grade` does, against `course_dir`."""
    box, _ = choose_sandbox("auto")
    pool = LocalPool(1, box, 60, 20)
    try:
        with collecting(submissions, config.notebook_names()) as found:
            out.mkdir(parents=True, exist_ok=True)
            with locked(out):
                return grade.grade(found, out, course_dir, pool, **options)
    finally:
        pool.close()


def grade_by_hand(out: Path, student: str, score: float | None, comment: str | None = None) -> None:
    """What formgrader's 'Manual Grading' saves: nbgrader's own API on OUT's gradebook."""
    with Gradebook(f"sqlite:///{out / 'course' / 'gradebook.db'}") as gb:
        typed = gb.find_grade(CELL, NB, NB, student)
        typed.manual_score = score
        typed.needs_manual_grade = score is None
        if comment is not None:
            gb.find_comment(CELL, NB, NB, student).manual_comment = comment
        gb.db.commit()


def in_gradebook(out: Path, student: str) -> tuple[float | None, bool, str | None]:
    with Gradebook(f"sqlite:///{out / 'course' / 'gradebook.db'}") as gb:
        typed = gb.find_grade(CELL, NB, NB, student)
        return typed.manual_score, typed.needs_manual_grade, gb.find_comment(CELL, NB, NB, student).manual_comment


def grades_row(out: Path, student: str, notebook: str = NB) -> dict[str, str]:
    with open(out / "grades.csv", newline="") as f:
        return next(r for r in csv.DictReader(f) if (r["student"], r["notebook"]) == (student, notebook))


def page(out: Path, student: str) -> BeautifulSoup:
    return BeautifulSoup((out / "feedback" / student / f"{NB}.html").read_text(), "html.parser")


def cell_badge(soup: BeautifulSoup) -> str:
    return soup.find("section", id=f"cell-{CELL}").find("span", class_="score").get_text()


def submissions_of(folder: Path, answers: dict[str, str]) -> Path:
    """A SUBMISSIONS folder: each student's example hand-in of notebook 03, `why_dz_dx` rewritten
    where `answers` says so."""
    with zipfile.ZipFile(config.EXAMPLE_HANDINS) as archive:
        for student, member in EXAMPLES.items():
            nb = nbformat.reads(archive.read(member).decode(), as_version=4)
            if student in answers:
                nb = fill_answers(nb, {CELL: answers[student]})
            (folder / student).mkdir(parents=True)
            nbformat.write(nb, folder / student / f"{NB}.ipynb")
    return folder


@pytest.fixture(scope="module")
def graded(tmp_path_factory, course_dir) -> Path:
    """OUT after grading ada's and ben's notebook 03; tests work on copies."""
    root = tmp_path_factory.mktemp("manual")
    grade_into(submissions_of(root / "submissions", {}), root / "out", course_dir)
    return root / "out"


@pytest.fixture
def out(graded, tmp_path) -> Path:
    return Path(shutil.copytree(graded, tmp_path / "out"))


def test_before_any_grade_by_hand_the_written_answer_waits(out):
    row = grades_row(out, "ada")
    assert (row["score"], row["manual_pending"]) == ("3", "1")
    assert "2 points wait for manual grading" in row["message"]


def test_a_grade_by_hand_counts_in_every_output_once_reported(out):
    grade_by_hand(out, "ada", 2, COMMENT)
    grade.rerender(out)  # `python -m grading report OUT`: no notebook runs

    row = grades_row(out, "ada")
    assert (row["score"], row["manual_pending"]) == ("5", "0")
    assert "wait for manual grading" not in row["message"]
    soup = page(out, "ada")
    assert cell_badge(soup) == "2 / 2, graded by hand"
    assert soup.find("p", class_="comment").get_text() == f"Your instructor: {COMMENT}"
    assert "wait for your instructor" not in soup.header.get_text()
    with open(out / "nbgrader-export.csv", newline="") as f:
        nbgrader = next(r for r in csv.DictReader(f) if (r["student_id"], r["assignment"]) == ("ada", NB))
    assert float(nbgrader["score"]) == 5
    report = BeautifulSoup((out / "report.html").read_text(), "html.parser")
    waiting = report.find("h2", string="Cells waiting for manual grading").find_next("table")
    assert [td.get_text() for td in waiting.find_all("td")] == [NB, CELL, "1"]  # ben only


def test_a_grade_by_hand_counts_when_grading_again(out, tmp_path, course_dir):
    grade_by_hand(out, "ada", 1.5)
    nothing_new = tmp_path / "empty"
    nothing_new.mkdir()
    outcome = grade_into(nothing_new, out, course_dir)
    assert outcome.graded_now == 0
    assert grades_row(out, "ada")["score"] == "4.5"
    assert cell_badge(page(out, "ada")) == "1.5 / 2, graded by hand"


def changed_course(folder: Path, monkeypatch) -> Path:
    """The course built from solutions/ with one sentence added to notebook 03's introduction."""
    solutions = Path(shutil.copytree(config.SOLUTIONS, folder / "solutions"))
    nb = nbformat.read(solutions / f"{NB}.ipynb", as_version=4)
    first = next(c for c in nb.cells if c.cell_type == "markdown")
    first.source += "\n\nA sentence the course added after grading had started."
    nbformat.write(nb, solutions / f"{NB}.ipynb")
    monkeypatch.setattr(config, "SOLUTIONS", solutions)
    build.build_course(folder / "course")
    return folder / "course"


def changed_grader(folder: Path, monkeypatch) -> None:
    """The grading package as a copy with one line added to a file that runs hand-ins: what the
    grader's fingerprint reads (state.PACKAGE), without touching the package others run."""
    package = Path(shutil.copytree(state.PACKAGE, folder / "grading"))
    with open(package / "execute.py", "a") as f:
        f.write("\n# a grader file changed\n")
    monkeypatch.setattr(state, "PACKAGE", package)


def test_a_new_course_and_a_new_grader_keep_every_grade_by_hand(out, tmp_path, course_dir, monkeypatch):
    grade_by_hand(out, "ada", 2, COMMENT)
    grade_by_hand(out, "ben", 0.5, "Say which node backward() starts from.")
    before = state.code_fingerprint()
    changed_grader(tmp_path, monkeypatch)
    assert state.code_fingerprint() != before
    new_course = changed_course(tmp_path, monkeypatch)

    outcome = grade_into(submissions_of(tmp_path / "again", {}), out, new_course)

    assert outcome.graded_now == 2  # graded again against the new course and grader
    assert in_gradebook(out, "ada") == (2, False, COMMENT)
    assert in_gradebook(out, "ben") == (0.5, False, "Say which node backward() starts from.")
    assert grades_row(out, "ada")["score"] == "5" and grades_row(out, "ben")["score"] == "0.5"
    assert "added after grading had started" in (out / "course" / "release" / NB / f"{NB}.ipynb").read_text()
    assert page(out, "ben").find("p", class_="comment")


def test_a_changed_answer_sets_its_grade_by_hand_aside(out, tmp_path, course_dir):
    grade_by_hand(out, "ada", 2, COMMENT)
    changed = "backward() walks back from y, so x.grad is dy/dx."
    grade_into(submissions_of(tmp_path / "resubmitted", {"ada": changed}), out, course_dir)

    assert in_gradebook(out, "ada") == (2, True, COMMENT)  # kept, and formgrader asks for a review
    row = grades_row(out, "ada")
    assert (row["score"], row["manual_pending"]) == ("3", "1")
    assert cell_badge(page(out, "ada")) == "waits for grading by hand"
    report = BeautifulSoup((out / "report.html").read_text(), "html.parser")
    aside = report.find("h3", string="Set aside: answer changed since it was graded by hand").find_next("table")
    assert [td.get_text() for td in aside.find_all("td")] == ["ada", NB, CELL, "2", COMMENT]

    grade_by_hand(out, "ada", 1, "Not quite: backward() starts at z.")  # graded again, in formgrader
    grade.rerender(out)
    assert grades_row(out, "ada")["score"] == "4"
    assert not BeautifulSoup((out / "report.html").read_text(), "html.parser").find("table", id="set-aside")


def test_an_unchanged_answer_keeps_its_grade_by_hand_through_a_resubmission(out, tmp_path, course_dir):
    grade_by_hand(out, "ada", 2, COMMENT)
    resubmitted = submissions_of(tmp_path / "resubmitted", {})
    path = resubmitted / "ada" / f"{NB}.ipynb"
    nb = nbformat.read(path, as_version=4)
    nb.cells.append(nbformat.v4.new_markdown_cell("A note of mine at the end."))  # not the answer
    nbformat.write(nb, path)

    outcome = grade_into(resubmitted, out, course_dir)

    assert outcome.graded_now == 1
    assert in_gradebook(out, "ada") == (2, False, COMMENT)
    assert grades_row(out, "ada")["score"] == "5"
    assert json.loads((out / "manual.json").read_text())[f"ada/{NB}/{CELL}"]["typed"] == [2, None, COMMENT]


def formgrader_api(base: str, token: str, path: str, body: dict | None = None):
    request = urllib.request.Request(
        f"{base}/formgrader/api/{path}",
        data=None if body is None else json.dumps(body).encode(),
        method="GET" if body is None else "PUT",
        headers={"Authorization": f"token {token}"},
    )
    with urllib.request.urlopen(request, timeout=30) as response:
        return json.loads(response.read())


def test_formgrader_command_serves_the_course_and_what_is_saved_there_counts(out):
    """`python -m grading formgrader OUT` (nbgrader 0.9's formgrader is a Jupyter server extension):
    it prints a local address; a grade saved through formgrader's own API counts after `report`."""
    server = subprocess.Popen(
        [sys.executable, "-m", "grading", "formgrader", str(out)],
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        line = server.stdout.readline()  # printed once the server accepts connections
        assert line.startswith("formgrader: http://127.0.0.1:"), line
        url = line.split(": ", 1)[1].strip()
        base, token = url.split("/formgrader?token=")
        submitted = formgrader_api(base, token, f"submitted_notebooks/{NB}/{NB}")
        (ada,) = [s for s in submitted if s["student"] == "ada"]
        grades = formgrader_api(base, token, f"grades?submission_id={ada['id']}")
        comments = formgrader_api(base, token, f"comments?submission_id={ada['id']}")
        (written,) = [g for g in grades if g["name"] == CELL]
        (remark,) = [c for c in comments if c["name"] == CELL]
        formgrader_api(base, token, f"grade/{written['id']}", {"manual_score": 2, "extra_credit": None})
        formgrader_api(base, token, f"comment/{remark['id']}", {"manual_comment": COMMENT})
    finally:
        server.terminate()
        server.wait(timeout=60)
    report = subprocess.run([sys.executable, "-m", "grading", "report", str(out)], capture_output=True, text=True)
    assert report.returncode == 0, report.stderr
    assert grades_row(out, "ada")["score"] == "5"
    assert page(out, "ada").find("p", class_="comment").get_text() == f"Your instructor: {COMMENT}"


def test_nbgrader_export_is_byte_for_byte_what_nbgrader_writes(out):
    """OUT/nbgrader-export.csv is nbgrader's CsvExportPlugin's, written from three queries instead
    of one per student and notebook: the same bytes, with a grade by hand, a late penalty set as
    nbgrader's late policy sets it, and every notebook a student did not hand in."""
    grade_by_hand(out, "ada", 1.5)
    with Gradebook(f"sqlite:///{out / 'course' / 'gradebook.db'}") as gb:
        gb.find_submission_notebook(NB, NB, "ben").late_submission_penalty = 0.5
        gb.db.commit()
    ours, theirs = out / "ours.csv", out / "theirs.csv"
    gradebook.export(out / "course", Course.read(out / "course").course_id, ours)
    plugin = CsvExportPlugin(to=str(theirs))
    with Gradebook(f"sqlite:///{out / 'course' / 'gradebook.db'}") as gb:
        plugin.export(gb)

    assert ours.read_bytes() == theirs.read_bytes()
    rows = list(csv.DictReader(ours.open(newline="")))
    assert len(rows) == 2 * len(config.notebook_names())  # ada and ben, each notebook
    ben = next(r for r in rows if (r["student_id"], r["assignment"]) == ("ben", NB))
    assert (ben["late_submission_penalty"], ben["raw_score"]) == ("0.5", "0.0")
