"""The student's feedback page: scores and visible checks, never a hidden test, nothing that runs."""

import copy
import html

import nbformat
import pytest
from nbformat import NotebookNode
from nbformat.v4 import new_markdown_cell, new_output

from coursework import config
from grading.records import MISSING, CellResult, Result
from grading.render.feedback import MAX_OUTPUT, MIN_SECRET, REDACTED, feedback_html, without_hidden_tests

# A 1x1 PNG.
PNG = "iVBORw0KGgoAAAANSUhEUgAAAAEAAAABCAYAAAAfFcSJAAAADUlEQVR42mP8z8BQDwAEhQGAhKmMIQAAAABJRU5ErkJggg=="
TRACEBACK_MARK = "File <ipython-input-7-tracebackonly>"


def hidden_blocks(source: str) -> list[list[str]]:
    blocks, block = [], None
    for line in source.splitlines():
        if "BEGIN HIDDEN TESTS" in line:
            block = []
        elif "END HIDDEN TESTS" in line:
            blocks.append(block)
            block = None
        elif block is not None:
            block.append(line)
    return blocks


def read(folder, name) -> NotebookNode:
    return nbformat.read(folder / f"{name}.ipynb", as_version=4)


NAMES = [
    name
    for name in config.notebook_names()
    if any(hidden_blocks(c.source) for c in read(config.SOLUTIONS, name).cells if c.cell_type == "code")
]


def test_some_notebook_has_hidden_tests():
    assert NAMES, "no notebook in solutions/ has hidden tests to test the feedback page with"


def grade_id(cell) -> str | None:
    return cell.metadata.get("nbgrader", {}).get("grade_id")


def is_test(cell) -> bool:
    meta = cell.metadata.get("nbgrader", {})
    return cell.cell_type == "code" and meta.get("grade", False) and not meta.get("solution", False)


def executed_notebook(name: str) -> NotebookNode:
    """The source notebook (test cells with their hidden tests, as the grader runs them) with
    outputs filled in by hand: what a student's notebook looks like after grading."""
    nb = copy.deepcopy(read(config.SOLUTIONS, name))
    hidden = [line for cell in nb.cells for block in hidden_blocks(cell.source) for line in block]
    for cell in nb.cells:
        if cell.cell_type != "code":
            continue
        if is_test(cell):
            cell.outputs = [
                new_output(
                    "stream", name="stdout", text="\x1b[32m✅ check_one: right.\x1b[0m\n❌ check_two: you have 9. [x]\n"
                ),
                # a torch warning quotes the line that raised it
                new_output("stream", name="stderr", text="<ipython-input-7>:3: UserWarning: hm\n" + "\n".join(hidden)),
                new_output(
                    "error",
                    ename="AssertionError",
                    evalue="check_two: you have 9 [misconception: sum-along-path]",
                    traceback=["\x1b[0;31mAssertionError\x1b[0m Traceback", TRACEBACK_MARK, *hidden],
                ),
            ]
        else:
            cell.outputs = [new_output("stream", name="stdout", text="ran\n")]
    code = [c for c in nb.cells if c.cell_type == "code"]
    # A student's own cell: code that injects markup, HTML output, an image, and an echo of the test cell.
    answer = next(c for c in code if c.metadata.get("nbgrader", {}).get("solution"))
    answer.source = "x = '</code></pre><script>alert(\"source\")</script>'"
    answer.outputs = [
        new_output(
            "display_data", data={"text/html": "<script>alert('html-output')</script>", "text/plain": "<Sneaky>"}
        ),
        new_output("display_data", data={"image/png": PNG, "text/plain": "<Figure>"}),
        new_output("stream", name="stdout", text="\n".join(hidden)),
    ]
    nb.cells.append(
        new_markdown_cell(
            "Math $a*b*c < d$ stays.\n\n<script>alert('md-block')</script>\n\n"
            'Inline <img src="x" onerror="alert(\'md-inline\')"> too.'
        )
    )
    return nb


def result_for(name: str, nb: NotebookNode) -> Result:
    cells = [CellResult(grade_id(c), 2, 1, text="") for c in nb.cells if grade_id(c) and is_test(c)]
    return Result(
        "student<b>7</b>",
        name,
        "graded",
        score=1.5,
        max_score=4,
        flags=["late", "cells-restored"],
        misconceptions=["sum-along-path"],
        message="Handed in 2 hours after the deadline.",
        cells=cells,
    )


@pytest.fixture(params=NAMES)
def page(request) -> tuple[str, NotebookNode, str]:
    name = request.param
    executed = executed_notebook(name)
    return feedback_html(executed, read(config.NOTEBOOKS, name), result_for(name, executed)), executed, name


def test_page_never_contains_hidden_tests(page):
    text, executed, _ = page
    hidden = [line.strip() for c in executed.cells for b in hidden_blocks(c.source) for line in b]
    secret = [line for line in hidden if len(line) >= MIN_SECRET]
    assert secret, "the hidden tests have no line long enough to look for"
    for line in secret:
        assert line not in text and html.escape(line) not in text, line
    assert "HIDDEN TESTS" not in text
    assert REDACTED in text  # the outputs that quoted them were blanked, not dropped


def test_page_never_shows_a_traceback(page):
    text, _, _ = page
    assert TRACEBACK_MARK not in text and html.escape(TRACEBACK_MARK) not in text
    assert "AssertionError: check_two: you have 9 [misconception: sum-along-path]" in text
    assert "\x1b" not in text


def test_page_shows_the_visible_checks_from_the_release(page):
    text, _, name = page
    tests = [c for c in read(config.NOTEBOOKS, name).cells if is_test(c)]
    assert tests
    for cell in tests:
        for line in cell.source.splitlines():
            assert html.escape(line) in text, line
    assert "✅ check_one: right." in text and "❌ check_two: you have 9." in text


def test_student_markup_is_shown_as_text(page):
    text, _, _ = page
    assert text.count("<script") == 2  # MathJax's configuration and MathJax itself
    assert "alert('html-output')" not in text and "&lt;Sneaky&gt;" in text
    assert html.escape('</code></pre><script>alert("source")</script>') in text
    assert "alert('md-block')</script>" not in text
    assert '<img src="x"' not in text and "&lt;img src=&quot;x&quot; onerror=" in text
    assert "Content-Security-Policy" in text


def test_images_are_embedded_and_math_kept_as_text(page):
    text, _, _ = page
    assert f'src="data:image/png;base64,{PNG}"' in text
    assert "$a*b*c &lt; d$" in text  # escaped, and not turned into emphasis by markdown
    assert "mathjax" in text.lower()


def test_header_shows_score_flags_and_cell_scores(page):
    text, executed, _ = page
    assert "1.5 / 4" in text
    assert "student&lt;b&gt;7&lt;/b&gt;" in text and "<b>7</b>" not in text
    assert "late" in text and "handed in after the deadline" in text
    assert "put back before grading" in text
    assert "Handed in 2 hours after the deadline." in text
    graded = [grade_id(c) for c in executed.cells if is_test(c)]
    assert text.count('<span class="score partial">1 / 2</span>') == len(graded)


def test_a_cell_waiting_for_manual_grading_says_so():
    name = NAMES[0]
    executed = executed_notebook(name)
    result = result_for(name, executed)
    result.cells[0].score = None
    result.cells[0].manual = True
    text = feedback_html(executed, read(config.NOTEBOOKS, name), result)
    assert '<span class="score manual">waits for grading by hand</span>' in text
    assert "2 of these points wait for your instructor" in text


def test_hidden_tests_are_cut_from_a_test_cell_unknown_to_the_release():
    name = NAMES[0]
    executed = executed_notebook(name)
    release = read(config.NOTEBOOKS, name)
    release.cells = [c for c in release.cells if not is_test(c)]
    text = feedback_html(executed, release, result_for(name, executed))
    for cell in executed.cells:
        for line in (line for b in hidden_blocks(cell.source) for line in b):
            if len(line.strip()) >= MIN_SECRET:
                assert line.strip() not in text


def test_a_long_output_is_cut_without_leaving_half_a_hidden_line():
    name = NAMES[0]
    executed = executed_notebook(name)
    secret = max((line.strip() for c in executed.cells for b in hidden_blocks(c.source) for line in b), key=len)
    half = len(secret) // 2
    flood = "y" * (MAX_OUTPUT - half) + secret + "z" * 100_000
    cell = next(c for c in executed.cells if c.cell_type == "code")
    cell.outputs = [new_output("stream", name="stdout", text=flood)]
    text = feedback_html(executed, read(config.NOTEBOOKS, name), result_for(name, executed))
    assert secret[:half] not in text and html.escape(secret[:half]) not in text
    assert f"… {len(flood) - MAX_OUTPUT:,} more characters not shown" in text
    assert "z" * 1000 not in text


def test_without_hidden_tests_cuts_every_block_and_an_unterminated_one():
    source = "a = 1\n### BEGIN HIDDEN TESTS\nsecret()\n### END HIDDEN TESTS\nb = 2\n# BEGIN HIDDEN TESTS\nmore()"
    assert without_hidden_tests(source) == "a = 1\nb = 2"


def test_a_missing_hand_in_gets_a_page_without_cells():
    name = config.notebook_names()[0]
    text = feedback_html(None, read(config.NOTEBOOKS, name), Result("s1", name, MISSING))
    assert "no file was handed in" in text and "<section" not in text
