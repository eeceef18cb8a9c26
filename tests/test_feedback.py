"""The student's feedback page: scores and visible checks, never a hidden test, nothing that runs.

Pages are read as a browser would (BeautifulSoup): assertions are on elements, attributes and text,
not on markup."""

import base64
import copy
import hashlib
import re

import nbformat
import pytest
from bs4 import BeautifulSoup
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_output, new_raw_cell

from coursework import config
from grading.records import MISSING, CellResult, Result
from grading.render.feedback import (
    MATHJAX_URL,
    MAX_OUTPUT,
    MIN_SECRET,
    REDACTED,
    feedback_html,
    without_hidden_tests,
)

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
    nb.cells.append(new_markdown_cell(STUDENT_MARKDOWN))
    return nb


STUDENT_MARKDOWN = (
    "Math $a*b*c < d$ stays.\n\n<script>alert('md-block')</script>\n\n"
    'Inline <img src="x" onerror="alert(\'md-inline\')"> too.'
)
# The course's own markdown (a release cell): rendered as HTML, its LaTeX kept for MathJax.
COURSE_MARKDOWN = "The **product** $a_1 * b_2 * c_3 < d$ and $$\\frac{dz}{dx}$$ stay as written."


def release_with_course_markdown(name: str) -> NotebookNode:
    release = read(config.NOTEBOOKS, name)
    release.cells.append(new_markdown_cell(COURSE_MARKDOWN))
    return release


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


def parse(text: str) -> BeautifulSoup:
    return BeautifulSoup(text, "html.parser")


def shown(soup: BeautifulSoup) -> str:
    """Everything a reader of the page could get at: its text and every attribute's value."""
    values = [" ".join(v) if isinstance(v, list) else v for tag in soup.find_all(True) for v in tag.attrs.values()]
    return soup.get_text() + "\n".join(values)


def hidden_secrets(executed: NotebookNode) -> list[str]:
    hidden = [line.strip() for c in executed.cells for b in hidden_blocks(c.source) for line in b]
    return [line for line in hidden if len(line) >= MIN_SECRET]


def sections_by_id(soup: BeautifulSoup) -> dict[str, object]:
    return {s["id"]: s for s in soup.find_all("section", id=True)}


@pytest.fixture(params=NAMES)
def page(request) -> tuple[BeautifulSoup, str, NotebookNode, str]:
    name = request.param
    executed = executed_notebook(name)
    executed.cells.append(new_markdown_cell(COURSE_MARKDOWN))
    text = feedback_html(executed, release_with_course_markdown(name), result_for(name, executed))
    return parse(text), text, executed, name


def test_page_never_contains_hidden_tests(page):
    soup, text, executed, _ = page
    secret = hidden_secrets(executed)
    assert secret, "the hidden tests have no line long enough to look for"
    everything = shown(soup)
    for line in secret:
        assert line not in everything and line not in text, line
    assert "HIDDEN TESTS" not in everything
    # the test cells show no hidden line, and the outputs that quoted them were blanked, not dropped
    for pre in soup.select("section.graded pre"):
        assert not any(line in pre.get_text() for line in secret), pre.get_text()
    assert any(REDACTED in pre.get_text() for pre in soup.select("pre.stderr"))
    assert any(REDACTED in pre.get_text() for pre in soup.select("pre.out"))


def test_page_never_shows_a_traceback(page):
    soup, text, _, _ = page
    assert TRACEBACK_MARK not in shown(soup)
    errors = {pre.get_text() for pre in soup.select("pre.error")}
    assert errors == {"AssertionError: check_two: you have 9 [misconception: sum-along-path]"}
    assert "\x1b" not in text


def test_page_shows_the_visible_checks_from_the_release(page):
    soup, _, _, name = page
    tests = [c for c in read(config.NOTEBOOKS, name).cells if is_test(c)]
    assert tests
    sections = sections_by_id(soup)
    for cell in tests:
        section = sections["cell-" + re.sub(r"[^\w-]", "_", grade_id(cell))]
        assert section.select_one("pre.source code").get_text() == "\n".join(cell.source.splitlines())
        outputs = [pre.get_text() for pre in section.select("pre.out")]
        assert outputs == ["✅ check_one: right.\n❌ check_two: you have 9. [x]\n"]  # terminal colours gone


def test_the_only_scripts_are_mathjax_and_its_configuration_allowed_by_hash(page):
    soup, _, _, _ = page
    scripts = soup.find_all("script")
    assert [s.get("src") for s in scripts] == [None, MATHJAX_URL]
    config_hash = base64.b64encode(hashlib.sha256(scripts[0].string.encode()).digest()).decode()
    csp = soup.find("meta", attrs={"http-equiv": "Content-Security-Policy"})["content"]
    directives = dict(d.strip().split(" ", 1) for d in csp.split(";"))
    assert directives["default-src"] == "'none'"
    assert directives["script-src"].split() == [f"'sha256-{config_hash}'", "https://cdn.jsdelivr.net"]
    assert "window.MathJax" in scripts[0].string and "ui/safe" in scripts[0].string
    assert not [(t.name, a) for t in soup.find_all(True) for a in t.attrs if a.startswith("on")]


def test_student_markup_is_shown_as_text(page):
    soup, _, _, _ = page
    code = [c.get_text() for c in soup.select("pre.source code")]
    assert "x = '</code></pre><script>alert(\"source\")</script>'" in code
    outputs = [pre.get_text() for pre in soup.select("pre.out")]
    assert "<Sneaky>" in outputs  # the HTML output is not rendered; its plain text is shown
    assert "alert('html-output')" not in shown(soup)
    # the student's markdown: shown as written, not rendered, not typeset
    written = soup.select("pre.text")
    assert STUDENT_MARKDOWN in [pre.get_text() for pre in written]
    assert not any(pre.find_parent(class_="tex2jax_process") for pre in written)
    assert soup.body["class"] == ["tex2jax_ignore"]


def test_images_are_embedded_and_course_markdown_rendered_with_its_math(page):
    soup, _, _, _ = page
    output_images = [img["src"] for img in soup.select("section img") if not img.find_parent(class_="tex2jax_process")]
    assert output_images == [f"data:image/png;base64,{PNG}"]
    course = soup.select(".tex2jax_process")
    mine = next(div for div in course if "stay as written" in div.get_text())
    assert mine.find("strong").get_text() == "product"  # markdown rendered
    assert "$a_1 * b_2 * c_3 < d$" in mine.get_text()  # math as text: not read as emphasis by markdown
    assert "$$\\frac{dz}{dx}$$" in mine.get_text() and not mine.find("em")


def test_header_shows_score_flags_and_cell_scores(page):
    soup, _, executed, _ = page
    header = soup.header
    assert header.select_one("p.total b").get_text() == "1.5 / 4"
    feedback_for = next(p for p in header.find_all("p") if p.get_text().startswith("Feedback for"))
    assert [b.get_text() for b in feedback_for.find_all("b")] == ["student<b>7</b>"]  # one <b>, the name as text
    flags = {span.get_text(): span.parent.get_text() for span in header.select("span.flag")}
    assert list(flags) == ["late", "cells-restored"]
    assert "handed in after the deadline" in flags["late"]
    assert "put back before grading" in flags["cells-restored"]
    assert "Handed in 2 hours after the deadline." in header.get_text()
    assert header.find("b", string="sum-along-path")
    graded = [grade_id(c) for c in executed.cells if is_test(c)]
    badges = soup.select("section.graded > span.score")
    assert [(b["class"], b.get_text()) for b in badges] == [(["score", "partial"], "1 / 2")] * len(graded)
    links = [(a.get_text(), a["href"]) for a in header.select("table a")]
    assert [text for text, _ in links] == graded
    assert all(href[1:] in sections_by_id(soup) for _, href in links)


def test_a_cell_waiting_for_manual_grading_says_so():
    name = NAMES[0]
    executed = executed_notebook(name)
    result = result_for(name, executed)
    result.cells[0].score = None
    result.cells[0].manual = True
    soup = parse(feedback_html(executed, read(config.NOTEBOOKS, name), result))
    assert [b.get_text() for b in soup.select("span.score.manual")] == ["waits for grading by hand"]
    assert "2 of these points wait for your instructor" in soup.header.get_text()


def test_a_long_ungraded_cell_starts_folded():
    name = NAMES[0]
    executed = executed_notebook(name)
    long_source = "# sixty-one lines\n" + "\n".join(f"x{i} = {i}" for i in range(60))
    executed.cells += [new_code_cell(long_source), new_code_cell(long_source[:200])]
    soup = parse(feedback_html(executed, read(config.NOTEBOOKS, name), result_for(name, executed)))
    summaries = {d.summary.get_text(): d for d in soup.find_all("details")}
    folded = summaries["# sixty-one lines (61 lines)"]
    assert folded.select_one("pre.source code").get_text() == long_source
    shown_whole = [c for c in soup.select("section > pre.source code") if c.get_text() == long_source[:200]]
    assert len(shown_whole) == 1  # a short cell is not folded
    assert not soup.select("section.graded details")


def test_hidden_tests_are_cut_from_a_test_cell_unknown_to_the_release():
    name = NAMES[0]
    executed = executed_notebook(name)
    release = read(config.NOTEBOOKS, name)
    release.cells = [c for c in release.cells if not is_test(c)]
    everything = shown(parse(feedback_html(executed, release, result_for(name, executed))))
    for line in hidden_secrets(executed):
        assert line not in everything, line


def test_a_long_output_is_cut_without_leaving_half_a_hidden_line():
    name = NAMES[0]
    executed = executed_notebook(name)
    secret = max((line.strip() for c in executed.cells for b in hidden_blocks(c.source) for line in b), key=len)
    half = len(secret) // 2
    flood = "y" * (MAX_OUTPUT - half) + secret + "z" * 100_000
    cell = next(c for c in executed.cells if c.cell_type == "code")
    cell.outputs = [new_output("stream", name="stdout", text=flood)]
    soup = parse(feedback_html(executed, read(config.NOTEBOOKS, name), result_for(name, executed)))
    pre = soup.find(string=re.compile("^y{100}")).parent
    assert len(pre.get_text()) == MAX_OUTPUT and secret[:half] not in shown(soup)
    note = pre.find_next_sibling("p")
    assert note["class"] == ["note"] and note.get_text() == f"… {len(flood) - MAX_OUTPUT:,} more characters not shown"
    assert "z" * 1000 not in shown(soup)


def test_hostile_text_from_a_hand_in_is_only_text():
    """Markup, attribute breakers and template syntax from a hand-in (name, message, code, outputs,
    markdown, a raw cell) reach the page as text: no element, no attribute, no template evaluated."""
    hostile = [
        "<script>alert(1)</script>",
        '"onload="alert(2)',
        "'><img src=x onerror=alert(3)>",
        "{{ 7 * 6 }}",
        "{% for x in range(3) %}{{ x }}{% endfor %}",
        "{# comment #}",
    ]
    joined = "\n".join(hostile)
    name = NAMES[0]
    executed = executed_notebook(name)
    answer = next(c for c in executed.cells if c.metadata.get("nbgrader", {}).get("solution"))
    answer.source = joined
    answer.outputs = [
        new_output("stream", name="stdout", text=joined),
        new_output("error", ename="<b>Err</b>", evalue=f"raised: {joined}", traceback=[]),
        new_output("execute_result", data={"text/plain": joined}, execution_count=1),
    ]
    executed.cells += [new_markdown_cell(joined), new_raw_cell(joined)]
    result = result_for(name, executed)
    result.student, result.message = hostile[1], joined
    result.flags.append(hostile[0])
    soup = parse(feedback_html(executed, read(config.NOTEBOOKS, name), result))

    assert [s.get("src") for s in soup.find_all("script")] == [None, MATHJAX_URL]
    assert not [(t.name, a) for t in soup.find_all(True) for a in t.attrs if a.startswith("on")]
    assert all(img["src"].startswith(("data:", "https://colab.research.google.com/")) for img in soup.find_all("img"))
    assert not any(pre.find(True) for pre in soup.select("pre.out, pre.error, pre.text, pre.source code"))
    # the code, its stream and its result, the markdown and the raw cell, each whole; the error too
    texts = [pre.get_text() for pre in soup.find_all("pre")]
    assert texts.count(joined) == 5 and f"<b>Err</b>: raised: {joined}" in texts
    header = soup.header
    assert soup.title.get_text() == f"{name} · {hostile[1]}" and header.find("b", string=hostile[1])
    assert header.find("span", class_="flag", string=hostile[0]) and header.find("p", string=joined)
    assert "42" not in soup.get_text() and "012" not in soup.get_text()  # no template syntax was evaluated


def test_without_hidden_tests_cuts_every_block_and_an_unterminated_one():
    source = "a = 1\n### BEGIN HIDDEN TESTS\nsecret()\n### END HIDDEN TESTS\nb = 2\n# BEGIN HIDDEN TESTS\nmore()"
    assert without_hidden_tests(source) == "a = 1\nb = 2"


def test_a_missing_hand_in_gets_a_page_without_cells():
    name = config.notebook_names()[0]
    soup = parse(feedback_html(None, read(config.NOTEBOOKS, name), Result("s1", name, MISSING)))
    assert "no file was handed in" in soup.header.get_text() and not soup.find_all("section")


def test_each_failure_is_shown_once():
    """A check prints its ❌ line, then the hidden test raises the same message: the page shows it
    once; an error the cell did not print stays."""
    name = NAMES[0]
    executed = executed_notebook(name)
    test = next(c for c in executed.cells if is_test(c))
    message = "dz_dx: dz_dx(3.5) gives 9, but autograd (x.grad) gives 14. [misconception: sum-along-path]"
    test.outputs = [
        new_output("stream", name="stdout", text=f"❌ {message}\n"),
        new_output("error", ename="CheckFailed", evalue=message, traceback=[]),
    ]
    other = next(c for c in executed.cells[executed.cells.index(test) + 1 :] if is_test(c))
    other.outputs = [new_output("error", ename="NameError", evalue="name 'dz_dx' is not defined", traceback=[])]
    soup = parse(feedback_html(executed, read(config.NOTEBOOKS, name), result_for(name, executed)))
    cells = sections_by_id(soup)
    shown_in_test = [pre.get_text() for pre in cells[f"cell-{grade_id(test)}"].find_all("pre", class_=["out", "error"])]
    assert shown_in_test == [f"❌ {message}\n"]
    assert soup.get_text().count(message) == 1
    assert [p.get_text() for p in cells[f"cell-{grade_id(other)}"].find_all("pre", class_="error")] == [
        "NameError: name 'dz_dx' is not defined"
    ]


def test_a_figure_not_drawn_during_grading_gets_one_friendly_line():
    name = NAMES[0]
    executed = executed_notebook(name)
    executed.cells.append(new_code_cell("plt.plot(xs, ys)\nplt.show()"))
    executed.cells[-1].outputs = [new_output("display_data", data={"text/plain": "<Figure size 450x300 with 1 Axes>"})]
    soup = parse(feedback_html(executed, read(config.NOTEBOOKS, name), result_for(name, executed)))
    assert "Figure size" not in soup.get_text()
    last = soup.find_all("section")[-1]
    assert [p.get_text() for p in last.find_all("p", class_="note")] == [
        "(a figure appears here when you run the notebook; figures are not drawn during grading)"
    ]


def test_a_grade_by_hand_and_its_comment_are_on_the_page():
    name = NAMES[0]
    executed = executed_notebook(name)
    result = result_for(name, executed)
    result.cells[0].score, result.cells[0].by_hand = 2, True
    comment = "Good: <b>you</b> multiplied the local derivatives."
    page = feedback_html(executed, read(config.NOTEBOOKS, name), result, {result.cells[0].grade_id: comment})
    soup = parse(page)
    section = sections_by_id(soup)[f"cell-{result.cells[0].grade_id}"]
    assert section.find("span", class_="score").get_text() == "2 / 2, graded by hand"
    assert section.find("p", class_="comment").get_text() == f"Your instructor: {comment}"  # as text


def test_lateness_is_said_in_the_header():
    name = NAMES[0]
    executed = executed_notebook(name)
    late = "Handed in 1 day after the due date (2026-11-20 12:00 UTC): 0.4 points off (10% of the points per day)."
    soup = parse(feedback_html(executed, read(config.NOTEBOOKS, name), result_for(name, executed), late=late))
    assert soup.header.find("p", string=late)
