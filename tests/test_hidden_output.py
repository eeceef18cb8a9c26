"""What code prints while hidden tests run stays off the feedback page (docs/grading-contract.md).

A hand-in whose answers, called by the hidden tests, print their arguments, their callers' source
(also reversed, which blanking hidden lines cannot catch) and the stack, raise errors that carry the
same, clear the cell's output and update an earlier display: graded in real kernels, its page shows
none of it, says what was withheld, and scores as its quiet twin."""

import nbformat
import pytest
from bs4 import BeautifulSoup
from conftest import MISCONCEPTION
from nbformat.v4 import new_code_cell

from coursework import config, samples
from coursework.answers import fill_answers
from grading.outputs import HIDDEN_MIME
from grading.preprocessors import hidden_tests
from grading.records import CellResult, Result
from grading.render.feedback import HIDDEN_ERROR, HIDDEN_OUTPUT, feedback_html

NB = "02_single_chain"
TOOLS = '''import linecache, sys, traceback
from IPython.display import clear_output, display, update_display

LEAK = {leak}
display("SHOWN-BEFORE", display_id="early")


def hidden_caller():
    """Whether a hidden test called: the course's checks take must_pass=True there."""
    frame = sys._getframe(1)
    while frame is not None:
        if frame.f_locals.get("must_pass") is True:
            return True
        frame = frame.f_back
    return False


def cell_source():
    """The source of the cell that is running, reversed."""
    frame, text = sys._getframe(1), ""
    while frame is not None:
        if frame.f_code.co_name == "<module>" and "ipykernel" in frame.f_code.co_filename:
            text += "".join(linecache.getlines(frame.f_code.co_filename))
        frame = frame.f_back
    return text[::-1]


def leak(x):
    if not LEAK:
        return
    print(f"CALLED WITH {{x!r}}")
    print(cell_source())
    traceback.print_stack(file=sys.stdout)
    if hidden_caller():
        clear_output()
        update_display("LEAKED-BY-UPDATE", display_id="early")
        print("AFTER-CLEAR [misconception: leaked-tag]")


class SECRETNAME(BaseException):
    """Escapes the checks, which catch Exception: the hidden test fails with this error itself."""


def dz_dx(x):
    leak(x)
    return 2 * (2 * x)
'''
PREDICTION = """def predicted_x_grad():
    leak("prediction")
    if hidden_caller():
        raise ValueError("SECRET-IN-MESSAGE " + cell_source() if LEAK else "no")
    return 4 * -2.0
"""
DW_DX = """def dw_dx(x):
    leak(x)
    if hidden_caller():
        raise SECRETNAME("SECRET-IN-ERROR " + cell_source() if LEAK else "no")
    u = 2 * x + 1
    return 4 * (3 * u**2) * 2
"""
SCORES = {"check_dz_dx": 2, "check_predicted_x_grad": 0, "check_dw_dx": 0}


def handin(leak: bool) -> nbformat.NotebookNode:
    answers = {"dz_dx": TOOLS.format(leak=leak), "predicted_x_grad": PREDICTION, "dw_dx": DW_DX}
    return fill_answers(samples.hand_in(NB, samples.Sample("base", {})), answers)


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def page_of(graded) -> tuple[BeautifulSoup, str]:
    cells = [CellResult(grade_id, c.max_score, c.score, text=c.text) for grade_id, c in graded.cells.items()]
    tags = sorted({tag for c in cells for tag in MISCONCEPTION.findall(c.text)})
    result = Result("student", NB, "graded", graded.score, graded.max_score, misconceptions=tags, cells=cells)
    release = nbformat.read(config.NOTEBOOKS / f"{NB}.ipynb", as_version=4)
    text = feedback_html(graded.notebook, release, result)
    return BeautifulSoup(text, "html.parser"), text


def test_code_run_by_hidden_tests_shows_nothing_of_them(autograde, sources):
    loud, quiet = autograde(NB, handin(leak=True)), autograde(NB, handin(leak=False))
    assert {k: c.score for k, c in loud.cells.items()} == {k: c.score for k, c in quiet.cells.items()} == SCORES

    # The instructor's copy: sources as the course has them (nothing injected), each test cell's
    # hidden outputs after one mark, kept.
    tests = {grade_id(c): c for c in loud.notebook.cells if grade_id(c) in SCORES}
    course = {grade_id(c): c.source for c in sources[NB].cells}
    assert {k: c.source for k, c in tests.items()} == {k: course[k] for k in SCORES}
    for cell in tests.values():
        assert sum(HIDDEN_MIME in o.get("data", {}) for o in cell.outputs) == 1
    kept = "".join(o.get("text", "") for o in tests["check_dz_dx"].outputs)
    assert "CALLED WITH 3.5" in kept and "AFTER-CLEAR" in kept  # clear_output cleared only the hidden part
    assert "leaked-tag" in loud.cells["check_dz_dx"].text  # the instructor sees what the hidden tests printed

    soup, text = page_of(loud)
    everything = soup.get_text() + text
    hidden = [
        line.strip()
        for line in course["check_dz_dx"].split("### BEGIN HIDDEN TESTS")[1].splitlines()
        if len(line.strip()) >= 10
    ]
    for secret in [*hidden, *(line[::-1] for line in hidden)]:
        assert secret not in everything, secret
    outputs = soup.header.get_text() + "".join(e.get_text() for e in soup.select("pre.out, pre.stderr, pre.error"))
    for printed in ["CALLED WITH 123.0", "AFTER-CLEAR", "LEAKED-BY-UPDATE", "leaked-tag", "SECRET-IN", "SECRETNAME"]:
        assert printed not in outputs, printed

    # What the visible checks showed is still there, then what was withheld, said once per cell.
    sections = {s["id"]: s for s in soup.find_all("section", id=True)}
    dz_dx = sections["cell-check_dz_dx"]
    shown = "".join(pre.get_text() for pre in dz_dx.select("pre.out"))
    assert "CALLED WITH 3.5" in shown and "✅ dz_dx" in shown
    assert "check_dz_dx(dz_dx)"[::-1] in shown  # the visible part's own source, which it may print
    assert [p.get_text() for p in dz_dx.select("p.note")] == [f"({HIDDEN_OUTPUT})"]
    errors = {k: [p.get_text() for p in sections[f"cell-{k}"].select("pre.error")] for k in SCORES}
    assert errors == {
        "check_dz_dx": [],
        "check_predicted_x_grad": [f"CheckFailed: {HIDDEN_ERROR}"],
        "check_dw_dx": [f"an error: {HIDDEN_ERROR}"],
    }
    assert "'SHOWN-BEFORE'" in soup.get_text()


SPLIT = "check(f)\n### BEGIN HIDDEN TESTS\ncheck(f, must_pass=True)\n### END HIDDEN TESTS\n"
INSIDE = "if True:\n    ### BEGIN HIDDEN TESTS\n    check(f)\n"


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        (SPLIT, ("check(f)\n", SPLIT.removeprefix("check(f)\n"))),
        ("check(f)\n", ("check(f)\n", None)),
        (INSIDE, ("", INSIDE)),  # a block inside a block: the whole cell runs as hidden tests
    ],
)
def test_a_test_cell_runs_its_hidden_tests_apart(source, expected):
    test = new_code_cell(source, metadata={"nbgrader": {"grade": True, "solution": False, "grade_id": "t"}})
    assert hidden_tests(test) == expected
    answer = new_code_cell(source, metadata={"nbgrader": {"grade": True, "solution": True, "grade_id": "a"}})
    assert hidden_tests(answer) == (source, None)  # a student's own cell: never split
