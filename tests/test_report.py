"""grades.csv, report.html and the terminal summary, from synthetic results. report.html is read as
a browser would (BeautifulSoup): assertions are on elements, attributes and text, not on markup."""

import base64
import csv

import pytest
from bs4 import BeautifulSoup, Tag
from conftest import MISCONCEPTION

from grading.records import ERROR, GRADED, MISSING, UNREADABLE, CellResult, Result, Stray
from grading.render import grades, report

SUM, PRODUCT = "sum-along-path", "product-across-paths"
TAGS = MISCONCEPTION.findall


def tagged(*tags: str) -> str:
    return "❌ check: wrong. " + " ".join(f"[misconception: {t}]" for t in tags)


BOB_MESSAGE = "late by 2 hours; renamed from 'Copy of 02_single_chain.ipynb'"


def results() -> list[Result]:
    return [
        Result(
            "bob",
            "02_single_chain",
            GRADED,
            1.5,
            5,
            flags=["late", "renamed"],
            misconceptions=[SUM, PRODUCT, SUM],
            message=BOB_MESSAGE,
            source="Copy of 02_single_chain.ipynb",
            submitted_at=0,
            seconds=0.25,
            cells=[
                CellResult("dz_dx", 2, 0, text=tagged(SUM)),
                CellResult("second_chain", 2, 1.5, text=tagged(SUM, PRODUCT)),
                CellResult("predict", 1, 0, text="❌ predict: not answered yet"),
            ],
        ),
        Result("bob", "01_tensors", MISSING, max_score=3, message="no file for this notebook"),
        Result(
            "alice",
            "02_single_chain",
            GRADED,
            5,
            5,
            source="alice/02_single_chain.ipynb",
            seconds=0.5,
            cells=[
                CellResult("dz_dx", 2, 2, text="✅"),
                CellResult("second_chain", 2, 2, text="✅"),
                CellResult("predict", 1, 1, text="✅"),
            ],
        ),
        Result(
            "alice",
            "01_tensors",
            GRADED,
            2,
            3,
            misconceptions=[SUM],
            source="alice/01_tensors.ipynb",
            cells=[
                CellResult("make_vector", 2, 2, text="✅"),
                CellResult("written", 1, None, manual=True, text=tagged(SUM)),
            ],
        ),
        Result(
            "carol",
            "01_tensors",
            UNREADABLE,
            max_score=3,
            message='bad JSON, "line 1"',
            source="carol/01_tensors.ipynb",
        ),
        Result(
            "carol",
            "02_single_chain",
            ERROR,
            max_score=5,
            message="<script>alert('message')</script>",
            source="carol/02.ipynb",
            flags=["kernel-died"],
            cells=[CellResult("dz_dx", 2, 0, text="the kernel died")],  # not a graded hand-in: not counted
        ),
    ]


NOTE = "Graded WITHOUT the sandbox (bwrap <missing>): student code ran unconfined."
STRAYS = [
    Stray("dave/notes.txt", "matches no notebook", "dave"),
    Stray("bob/02_single_chain (1).ipynb", "superseded by a newer file for 02_single_chain", "bob"),
]


@pytest.fixture(scope="module")
def rows(tmp_path_factory) -> list[dict[str, str]]:
    path = tmp_path_factory.mktemp("out") / "grades.csv"
    grades.write_grades_csv(results(), path)
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames[: len(grades.COLUMNS)]) == grades.COLUMNS
        return list(reader)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> BeautifulSoup:
    path = tmp_path_factory.mktemp("out") / "report.html"
    report.write_report_html(results(), STRAYS, path, [NOTE], TAGS)
    assert not path.with_name("report.html.partial").exists()  # written whole, then moved in place
    return BeautifulSoup(path.read_text(encoding="utf-8"), "html.parser")


def test_grades_csv_has_one_sorted_row_per_pair(rows):
    assert [(r["student"], r["notebook"]) for r in rows] == [
        ("alice", "01_tensors"),
        ("alice", "02_single_chain"),
        ("bob", "01_tensors"),
        ("bob", "02_single_chain"),
        ("carol", "01_tensors"),
        ("carol", "02_single_chain"),
    ]
    assert [r["status"] for r in rows] == [GRADED, GRADED, MISSING, GRADED, UNREADABLE, ERROR]


def test_grades_csv_fields(rows):
    bob = rows[3]
    assert (bob["score"], bob["max_score"]) == ("1.5", "5")
    assert bob["flags"] == "late;renamed"
    assert bob["misconceptions"] == f"{SUM};{PRODUCT}"  # each tag once, in the order found
    assert bob["message"] == BOB_MESSAGE
    assert bob["source"] == "Copy of 02_single_chain.ipynb"
    assert bob["submitted_at"] == "1970-01-01T00:00:00Z"
    assert bob["seconds"] == "0.25"
    assert rows[0]["manual_pending"] == "1" and bob["manual_pending"] == "0"
    assert rows[4]["message"] == 'bad JSON, "line 1"'  # quoted by csv, read back whole
    assert rows[2]["flags"] == "" and rows[2]["score"] == "0"


def test_grades_csv_refuses_two_results_for_one_pair(tmp_path):
    doubled = results() + [Result("bob", "01_tensors", GRADED)]
    with pytest.raises(ValueError, match="bob"):
        grades.write_grades_csv(doubled, tmp_path / "grades.csv")
    assert not (tmp_path / "grades.csv").exists()


def test_misconception_counts_and_points_lost():
    costs = {c.tag: c for c in report.misconception_costs(results(), TAGS)}
    assert set(costs) == {SUM, PRODUCT}
    # sum-along-path: named by bob's and alice's rows; by three cells, of which the manual one is not
    # scored yet: bob lost 2 in dz_dx and 0.5 in second_chain.
    assert (costs[SUM].handins, costs[SUM].cells, costs[SUM].points_lost) == (2, 3, 2.5)
    assert (costs[PRODUCT].handins, costs[PRODUCT].cells, costs[PRODUCT].points_lost) == (1, 1, 0.5)
    assert [c.tag for c in report.misconception_costs(results(), TAGS)] == [SUM, PRODUCT]  # costliest first


def test_exercise_stats_count_graded_hand_ins_only():
    stats = {(s.notebook, s.grade_id): s for s in report.exercise_stats(results())}
    dz = stats["02_single_chain", "dz_dx"]
    assert (dz.full, dz.partial, dz.zero, dz.pending) == (1, 0, 1, 0)
    assert dz.mean_fraction == 0.5
    second = stats["02_single_chain", "second_chain"]
    assert (second.full, second.partial, second.zero) == (1, 1, 0)
    written = stats["01_tensors", "written"]
    assert written.pending == 1 and written.mean_fraction is None


def images(page: BeautifulSoup) -> list[bytes]:
    sources = [img["src"] for img in page.find_all("img")]
    assert all(src.startswith("data:image/png;base64,") for src in sources)  # embedded: nothing to fetch
    return [base64.b64decode(src.split(",", 1)[1]) for src in sources]


def section(page: BeautifulSoup, title: str) -> list[Tag]:
    """The elements from the <h2> titled `title` to the next <h2>."""
    heading = page.find("h2", string=title)
    assert heading is not None, title
    elements = []
    for element in heading.find_next_siblings():
        if element.name == "h2":
            break
        elements.append(element)
    return elements


def table(elements: list[Tag]) -> tuple[list[str], list[list[str]]]:
    """The one table among `elements`: its header, and its rows as the text of their cells."""
    (found,) = [e for e in elements if e.name == "table"]
    head, *rows = found.find_all("tr")
    return [th.get_text() for th in head.find_all("th")], [[td.get_text() for td in tr.find_all("td")] for tr in rows]


def numeric_columns(elements: list[Tag]) -> list[str]:
    (found,) = [e for e in elements if e.name == "table"]
    return [th.get_text() for th in found.find_all("th", class_="num")]


def test_report_embeds_its_plots(page):
    pngs = images(page)
    assert len(pngs) == 3  # scores per notebook, per exercise, misconceptions
    assert all(png.startswith(b"\x89PNG") for png in pngs)


def test_report_shows_the_notes_first(page):
    warnings = page.find_all("div", class_="warning")
    assert [w.get_text() for w in warnings] == [NOTE]
    assert warnings[0].find_previous("h2") is None  # before every section


def test_report_runs_no_script(page):
    assert not page.find_all("script")
    csp = page.find("meta", attrs={"http-equiv": "Content-Security-Policy"})["content"]
    assert "default-src 'none'" in csp and "script-src" not in csp


def test_report_lists_hand_ins_that_need_a_look(page):
    head, rows = table(section(page, "Hand-ins that need a look"))
    assert head == ["student", "notebook", "status", "flags", "score", "message", "file"]
    # the grader's failures first, absences last; alice (graded, no flag) not at all
    assert [row[:3] for row in rows] == [
        ["carol", "02_single_chain", ERROR],
        ["carol", "01_tensors", UNREADABLE],
        ["bob", "02_single_chain", GRADED],
        ["bob", "01_tensors", MISSING],
    ]
    carol_error, carol_unreadable, bob, _ = rows
    assert bob[3:] == ["late, renamed", "1.5 / 5", BOB_MESSAGE, "Copy of 02_single_chain.ipynb"]
    assert carol_unreadable[5:] == ['bad JSON, "line 1"', "carol/01_tensors.ipynb"]
    assert carol_error[5] == "<script>alert('message')</script>"  # as text


def test_report_lists_strays_and_manual_grading(page):
    head, rows = table(section(page, "Files not graded"))
    assert head == ["file", "student", "reason"]
    assert rows == sorted([s.source, s.student, s.reason] for s in STRAYS)
    manual = section(page, "Cells waiting for manual grading")
    assert table(manual)[1] == [["01_tensors", "written", "1"]]
    assert numeric_columns(manual) == ["hand-ins waiting"]


def test_report_counts_first(page):
    summary = section(page, "Summary")
    (numbers,) = [e for e in summary if "numbers" in e.get("class", [])]
    counts = {label: int(n) for n, label in ((box.b.get_text(), box.b.next_sibling) for box in numbers.find_all("div"))}
    assert counts == {
        "students": 3,
        "notebooks": 2,
        "hand-ins": 5,
        GRADED: 3,
        MISSING: 1,
        UNREADABLE: 1,
        ERROR: 1,
        "flagged": 2,
        "files not graded": 2,
        "cells to grade by hand": 1,
    }
    assert "Flags: 1 late, 1 renamed, 1 kernel-died." in [e.get_text() for e in summary]
    # counts before any plot
    assert page.find("h2").get_text() == "Summary" and not page.find("h2").find_all_previous("img")
    assert not any(e.name == "img" or e.find("img") for e in summary)
    head, rows = table(summary)
    assert head == ["notebook", GRADED, MISSING, UNREADABLE, ERROR, "flagged", "mean score", "median", "max"]
    assert rows == [
        ["01_tensors", "1", "1", "1", "0", "0", "2.00", "2", "3"],
        ["02_single_chain", "2", "0", "0", "1", "2", "3.25", "3.25", "5"],
    ]
    assert numeric_columns(summary) == head[1:]


def test_misconception_table_in_report(page):
    part = section(page, "Misconceptions")
    head, rows = table(part)
    assert head == ["misconception", "hand-ins", "cells", "points lost"]
    assert rows == [[SUM, "2", "3", "2.5"], [PRODUCT, "1", "1", "0.5"]]  # costliest first


def test_report_without_graded_hand_ins_still_writes(tmp_path):
    path = tmp_path / "report.html"
    report.write_report_html([Result("x", "01_tensors", MISSING)], [], path, [], TAGS)
    page = BeautifulSoup(path.read_text(), "html.parser")
    assert [p.get_text() for p in section(page, "Scores per notebook")] == ["No graded hand-ins."]
    assert not images(page)


def test_summary_text():
    text = report.summary_text(results(), STRAYS, report=None)
    assert "6 (student, notebook) pairs for 3 students: 3 graded, 1 missing, 1 unreadable, 1 error" in text
    assert "2 flagged: 1 late, 1 renamed, 1 kernel-died" in text
    assert "2 files not graded" in text and "1 cell to grade by hand" in text
    assert len(text.splitlines()) <= 6
