"""grades.csv, report.html and the terminal summary, from synthetic results. report.html is read as
a browser would (BeautifulSoup): assertions are on elements, attributes and text, not on markup."""

import csv
import math
import re
import subprocess
import sys

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


def width(element: Tag, prop: str = "width") -> float:
    """A percentage in an element's inline style: `width:50.0%` -> 50.0."""
    (value,) = re.findall(rf"(?:^|;){prop}:([0-9.]+)%", element["style"])
    return float(value)


def graded_scores() -> dict[str, list[float]]:
    scores: dict[str, list[float]] = {}
    for r in results():
        if r.status == GRADED:
            scores.setdefault(r.notebook, []).append(r.score)
    return scores


def test_score_histograms_have_a_bar_per_bin_and_count_every_graded_hand_in(page):
    part = section(page, "Scores per notebook")
    (charts,) = [e for e in part if "charts" in e.get("class", [])]
    figures = charts.find_all("figure")
    scores = graded_scores()
    assert [f.figcaption.get_text() for f in figures] == [
        "01_tensors — 1 graded · mean 2.0 / 3",
        "02_single_chain — 2 graded · mean 3.2 / 5",
    ]
    # 01_tensors: top 3, whole scores: a bin per point, 0 to 3; 02_single_chain: bob's 1.5 is not
    # whole, so 20 bins of 0.25 points from 0 to 5 (alice's 5 in the last one, which is closed).
    expected = {"01_tensors": [0, 0, 1, 0], "02_single_chain": [0] * 6 + [1] + [0] * 12 + [1]}
    for figure, (notebook, counts) in zip(figures, expected.items(), strict=True):
        histogram = figure.find("div", class_="histogram")
        assert histogram["role"] == "img" and notebook in histogram["aria-label"]
        bins = histogram.find_all("div", class_="bin")
        shown = [int(b.small.get_text() or 0) for b in bins]
        assert shown == counts and sum(shown) == len(scores[notebook])
        assert [b.small.get_text() for b in bins].count("") == counts.count(0)  # an empty bin shows no 0
        heights = [width(b.span, "height") for b in bins]
        assert heights == [100 * n / max(counts) for n in counts]  # the tallest bin is 100 %
        assert all(b["title"].endswith(f": {n} hand-in{'' if n == 1 else 's'}") for b, n in zip(bins, counts))
        axis = figure.find("div", class_="axis")
        ends = [span.get_text() for span in axis.find_all("span")]
        assert (ends[0], ends[-1]) == ("0", f"{max(r.max_score for r in results() if r.notebook == notebook):g}")
    assert figures[1].find_all("div", class_="bin")[6]["title"] == "1.5 to 1.75: 1 hand-in"
    assert figures[0].find_all("div", class_="bin")[2]["title"] == "2 points: 1 hand-in"


@pytest.mark.parametrize(
    ("scores", "top", "bins", "counts"),
    [
        ([0, 30, 30, 7], 30, 31, {0: 1, 7: 1, 30: 2}),  # whole, up to 30 points: a bin per point
        ([0, 31, 31, 7], 31, 20, {0: 1, 4: 1, 19: 2}),  # more points: 20 bins
        ([2, 2.5], 4, 20, {10: 1, 12: 1}),  # a score that is not whole: 20 bins
        ([-1, 6], 5, 6, {0: 1, 5: 1}),  # outside 0..top: counted in the end bins
    ],
)
def test_score_bins(scores, top, bins, counts):
    (histogram,) = report.score_histograms([Result(str(i), "nb", GRADED, s, top) for i, s in enumerate(scores)])
    assert len(histogram.bins) == bins
    assert {i: b.count for i, b in enumerate(histogram.bins) if b.count} == counts
    assert histogram.bins[0].low <= 0 <= histogram.bins[0].high and histogram.bins[-1].high >= top
    tallest = max(counts.values())
    assert [b.height for b in histogram.bins] == [100 * b.count / tallest for b in histogram.bins]  # linear


def test_exercise_chart_stacks_the_shares_of_each_cell(page):
    part = section(page, "Scores per exercise")
    assert part[0].get_text().startswith("For each graded cell: the share of graded hand-ins")
    (legend,) = [e for e in part if "legend" in e.get("class", [])]
    assert [i["style"] for i in legend.find_all("i")] == [f"background:{c}" for c in report.COLOURS.values()]
    rows = [row for e in part for row in e.find_all("div", class_="exercise")]
    stats = report.exercise_stats(results())
    assert [row.find("span", class_="label").get_text() for row in rows] == [
        "01_tensors · make_vector (2 pt)",
        "01_tensors · written (1 pt)",
        "02_single_chain · dz_dx (2 pt)",
        "02_single_chain · second_chain (2 pt)",
        "02_single_chain · predict (1 pt)",
    ]
    assert [row.find("span", class_="mean").get_text() for row in rows] == ["100%", "", "50%", "88%", "50%"]
    for row, e in zip(rows, stats, strict=True):
        stack = row.find("span", class_="stack")
        assert stack["role"] == "img" and stack["aria-label"]
        segments = stack.find_all("span")
        assert math.isclose(sum(width(s) for s in segments), 100, abs_tol=1e-9)
        colours = {c: k for k, c in report.COLOURS.items()}
        kinds = [colours[re.search(r"background:(#[0-9a-f]+)", s["style"])[1]] for s in segments]
        assert kinds == [k for k in report.COLOURS if getattr(e, k)]  # in the legend's order, none empty
        total = e.scored + e.pending
        for s, kind in zip(segments, kinds):
            assert math.isclose(width(s), 100 * getattr(e, kind) / total, abs_tol=0.05)
            assert s["title"].endswith(f": {getattr(e, kind)} hand-in{'' if getattr(e, kind) == 1 else 's'}")


def test_exercise_bar_widths_add_up_to_100_when_rounded():
    thirds = report.ExerciseStats("nb", "cell", 1, full=1, partial=1, zero=1)
    sevenths = report.ExerciseStats("nb", "cell", 1, full=1, partial=2, zero=1, pending=3)
    for stats in (thirds, sevenths):
        widths = [float(f"{s.width:.1f}") for s in report.exercise_bar(stats).segments]  # as the page prints them
        assert math.isclose(sum(widths), 100, abs_tol=1e-9), widths
    assert [s.width for s in report.exercise_bar(thirds).segments] == [33.3, 33.4, 33.3]


def test_misconception_bars_scale_to_the_largest_value(page):
    part = section(page, "Misconceptions")
    (found,) = [e for e in part if e.name == "table"]
    costs = report.misconception_costs(results(), TAGS)
    for tr, cost in zip(found.find_all("tr")[1:], costs, strict=True):
        handins, cells, lost = tr.find_all("td")[1:]
        assert not cells.find("span")
        for td, value, most in (
            (handins, cost.handins, max(c.handins for c in costs)),
            (lost, cost.points_lost, max(c.points_lost for c in costs)),
        ):
            (track,) = td.find_all("span", class_="track")
            assert track.get_text() == "" and track["aria-hidden"] == "true"  # the number beside it says it
            assert width(track.span) == pytest.approx(100 * value / most, abs=0.05)
    # sum-along-path: 2 hand-ins and 2.5 points, the most of both; product-across-paths: 1 and 0.5
    assert [width(tr.find_all("span", class_="track")[1].span) for tr in found.find_all("tr")[1:]] == [100, 20]


def test_report_draws_no_image(page):
    assert not page.find_all(["img", "svg", "canvas", "picture", "object"])
    csp = page.find("meta", attrs={"http-equiv": "Content-Security-Policy"})["content"]
    assert "img-src" not in csp  # nothing to allow: default-src 'none' refuses images


def test_the_report_does_not_import_matplotlib():
    code = (
        "import sys, grading.render.report\n"
        "print('matplotlib' in sys.modules)\n"
        "import matplotlib\n"
        "print('matplotlib' in sys.modules)\n"  # the check can tell: matplotlib is there to import
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.stdout.split() == ["False", "True"], run.stderr


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
    # counts before any chart
    assert page.find("h2").get_text() == "Summary" and not page.find("h2").find_all_previous(role="img")
    assert not any(e.get("role") == "img" or e.find(role="img") for e in summary)
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
    assert [p.get_text() for p in section(page, "Scores per exercise")][1:] == ["No graded cells."]
    assert [p.get_text() for p in section(page, "Misconceptions")] == ["No known mistake was recognised."]
    assert not page.find_all(role="img")


def test_summary_text():
    text = report.summary_text(results(), STRAYS, report=None)
    assert "6 (student, notebook) pairs for 3 students: 3 graded, 1 missing, 1 unreadable, 1 error" in text
    assert "2 flagged: 1 late, 1 renamed, 1 kernel-died" in text
    assert "2 files not graded" in text and "1 cell to grade by hand" in text
    assert len(text.splitlines()) <= 6
