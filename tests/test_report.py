"""grades.csv, report.html and the terminal summary, from synthetic results."""

import base64
import csv
import re

import pytest
from conftest import MISCONCEPTION

from grading.records import ERROR, GRADED, MISSING, UNREADABLE, CellResult, Result, Stray
from grading.render import report

SUM, PRODUCT = "sum-along-path", "product-across-paths"
TAGS = MISCONCEPTION.findall


def tagged(*tags: str) -> str:
    return "❌ check: wrong. " + " ".join(f"[misconception: {t}]" for t in tags)


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
            message="late by 2 hours; renamed from 'Copy of 02_single_chain.ipynb'",
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
    report.write_grades_csv(results(), path)
    with path.open(newline="", encoding="utf-8") as f:
        reader = csv.DictReader(f)
        assert tuple(reader.fieldnames[: len(report.COLUMNS)]) == report.COLUMNS
        return list(reader)


@pytest.fixture(scope="module")
def page(tmp_path_factory) -> str:
    path = tmp_path_factory.mktemp("out") / "report.html"
    report.write_report_html(results(), STRAYS, path, [NOTE], TAGS)
    return path.read_text(encoding="utf-8")


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
    assert bob["message"] == "late by 2 hours; renamed from 'Copy of 02_single_chain.ipynb'"
    assert bob["source"] == "Copy of 02_single_chain.ipynb"
    assert bob["submitted_at"] == "1970-01-01T00:00:00Z"
    assert bob["seconds"] == "0.25"
    assert rows[0]["manual_pending"] == "1" and bob["manual_pending"] == "0"
    assert rows[4]["message"] == 'bad JSON, "line 1"'  # quoted by csv, read back whole
    assert rows[2]["flags"] == "" and rows[2]["score"] == "0"


def test_grades_csv_refuses_two_results_for_one_pair(tmp_path):
    doubled = results() + [Result("bob", "01_tensors", GRADED)]
    with pytest.raises(ValueError, match="bob"):
        report.write_grades_csv(doubled, tmp_path / "grades.csv")
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


def images(page: str) -> list[bytes]:
    return [base64.b64decode(d) for d in re.findall(r'<img alt="[^"]*" src="data:image/png;base64,([^"]+)"', page)]


def test_report_embeds_its_plots(page):
    pngs = images(page)
    assert len(pngs) == 3  # scores per notebook, per exercise, misconceptions
    assert all(png.startswith(b"\x89PNG") for png in pngs)


def test_report_shows_the_notes_first(page):
    note = page.index("Graded WITHOUT the sandbox (bwrap &lt;missing&gt;)")
    assert note < page.index("<h2>")
    assert 'class="warning"' in page[note - 100 : note]


def section(page: str, title: str) -> str:
    start = page.index(f"<h2>{title}</h2>")
    end = page.find("<h2>", start + 1)
    return page[start : end if end > 0 else None]


def test_report_lists_hand_ins_that_need_a_look(page):
    look = section(page, "Hand-ins that need a look")
    for student, notebook in [("bob", "02_single_chain"), ("bob", "01_tensors"), ("carol", "01_tensors")]:
        assert f"<td>{student}</td><td>{notebook}</td>" in look
    assert "late, renamed" in look and "Copy of 02_single_chain.ipynb" in look
    assert "bad JSON, &quot;line 1&quot;" in look and "carol/01_tensors.ipynb" in look
    assert "&lt;script&gt;alert(&#x27;message&#x27;)&lt;/script&gt;" in look and "<script" not in page
    assert "Content-Security-Policy" in page
    assert "<td>alice</td>" not in look  # graded, no flag
    # the grader's failures first, absences last
    assert look.index("<td>carol</td><td>02_single_chain</td>") < look.index("<td>bob</td><td>02_single_chain</td>")
    assert look.index("<td>bob</td><td>02_single_chain</td>") < look.index("<td>bob</td><td>01_tensors</td>")


def test_report_lists_strays_and_manual_grading(page):
    strays = section(page, "Files not graded")
    for stray in STRAYS:
        assert stray.source in strays and stray.reason in strays
    manual = section(page, "Cells waiting for manual grading")
    assert "<td>01_tensors</td><td>written</td><td class='num'>1</td>" in manual


def test_report_counts_first(page):
    summary = section(page, "Summary")
    for count, label in [(3, "students"), (5, "hand-ins"), (3, GRADED), (1, MISSING), (1, UNREADABLE), (1, ERROR)]:
        assert f"<div><b>{count}</b>{label}</div>" in summary
    assert "<div><b>2</b>flagged</div>" in summary and "<div><b>2</b>files not graded</div>" in summary
    assert page.index("<h2>Summary</h2>") < page.index("<img")


def test_misconception_table_in_report(page):
    part = section(page, "Misconceptions")
    assert f"<tr><td>{SUM}</td><td class='num'>2</td><td class='num'>3</td><td class='num'>2.5</td></tr>" in part


def test_report_without_graded_hand_ins_still_writes(tmp_path):
    path = tmp_path / "report.html"
    report.write_report_html([Result("x", "01_tensors", MISSING)], [], path, [], TAGS)
    text = path.read_text()
    assert "No graded hand-ins." in text and not images(text)


def test_summary_text():
    text = report.summary_text(results(), STRAYS, report=None)
    assert "6 (student, notebook) pairs for 3 students: 3 graded, 1 missing, 1 unreadable, 1 error" in text
    assert "2 flagged: 1 late, 1 renamed, 1 kernel-died" in text
    assert "2 files not graded" in text and "1 cell to grade by hand" in text
    assert len(text.splitlines()) <= 6
