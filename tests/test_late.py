"""The late policy (docs/grading-contract.md, 'Late hand-ins'): due dates and the penalty rule from
course.toml, extensions from OUT/extensions.csv, and what grades.csv and the report say of it."""

import csv
import shutil
from datetime import UTC, date, datetime

import pytest
from bs4 import BeautifulSoup

from coursework import config
from grading.late import Policy, moment, zone
from grading.records import GRADED, MISSING, CellResult, Result
from grading.render import grades, report

DUE = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
HOUR, DAY = 3600.0, 86400.0
RULE = Policy({"02_single_chain": DUE}, per="day", rate=10, cap=30, grace=15 * 60)


def handed_in(after_due: float, student: str = "ben", score: float = 4, flags=()) -> Result:
    return Result(
        student,
        "02_single_chain",
        GRADED,
        score,
        5,
        flags=list(flags),
        submitted_at=DUE.timestamp() + after_due,
        cells=[CellResult("dz_dx", 5, score)],
    )


@pytest.mark.parametrize(
    "after_due, penalty",
    [(-HOUR, 0), (0, 0), (10 * 60, 0), (20 * 60, 0.5), (DAY, 0.5), (DAY + 1, 1.0), (10 * DAY, 1.5)],
)
def test_penalty_per_started_day_with_grace_and_cap(after_due, penalty):
    result = RULE.apply(handed_in(after_due))
    assert (result.raw_score, result.penalty, result.score) == (4, penalty, 4 - penalty)
    assert result.late_by == max(after_due, 0)
    assert ("late" in result.flags) == (after_due > 0)


def test_per_hour_and_a_score_never_below_zero():
    hourly = Policy({"02_single_chain": DUE}, per="hour", rate=20)
    assert hourly.apply(handed_in(90 * 60)).penalty == 2  # two started hours: 40% of 5
    assert hourly.apply(handed_in(10 * HOUR, score=1)).score == 0


def test_without_a_due_date_nothing_changes():
    result = Policy({"01_tensors": DUE}, rate=10).apply(handed_in(5 * DAY, flags=["late"]))
    assert (result.score, result.raw_score, result.late_by, result.penalty, result.flags) == (4, 4, None, 0, ["late"])
    missing = RULE.apply(Result("ann", "02_single_chain", MISSING, max_score=5))
    assert (missing.late_by, missing.penalty) == (None, 0)


def test_extensions_from_out(tmp_path):
    (tmp_path / "extensions.csv").write_text(
        "student,notebook,due\nben,02_single_chain,2026-11-22T12:00\nann,,2026-11-21\n"
    )
    policy = RULE.with_extensions(tmp_path)
    assert policy.apply(handed_in(DAY)).penalty == 0  # ben's own due date: two days later
    assert policy.apply(handed_in(DAY, student="ann")).late_by == 0  # the end of 21 November, every notebook
    assert policy.apply(handed_in(DAY, student="cy")).penalty == 0.5
    assert policy.due_for("ann", "02_single_chain") == datetime(2026, 11, 21, 23, 59, 59, tzinfo=zone("UTC"))


@pytest.mark.parametrize(
    "text, why",
    [
        ("who,when\nben,2026-11-22\n", "student,notebook,due"),
        ("student,notebook,due\nben,02_single_chain,next monday\n", "line 2: 'next monday' is not a date"),
        ("student,notebook,due\nben,99_nothing,2026-11-22\n", "line 2: '99_nothing' is not a notebook"),
    ],
)
def test_a_bad_extensions_file_is_refused_with_its_line(tmp_path, text, why):
    (tmp_path / "extensions.csv").write_text(text)
    with pytest.raises(ValueError, match=why):
        RULE.with_extensions(tmp_path)


def test_a_due_date_without_a_time_zone_is_in_the_courses():
    paris = zone("Europe/Paris")
    assert moment(date(2026, 11, 20), paris) == datetime(2026, 11, 20, 23, 59, 59, tzinfo=paris)
    assert moment("2026-11-20T18:00+00:00", paris) == datetime(2026, 11, 20, 18, tzinfo=UTC)
    with pytest.raises(ValueError, match="time zone"):
        Policy(timezone="Mars/Olympus")


def test_the_sentences_a_reader_gets():
    late = RULE.apply(handed_in(DAY + 2 * HOUR))
    assert RULE.sentence(late) == (
        "Handed in 1 day 2 h after the due date (2026-11-20 12:00 UTC): 1 points off "
        "(10% of the points per started day late, at most 30%, none within 15 min of the due date)."
    )
    assert RULE.sentence(RULE.apply(handed_in(-HOUR))) == ""


def course_toml(tmp_path, monkeypatch, late: str):
    settings = tmp_path / "course.toml"
    settings.write_text(config.SETTINGS.read_text().split("[late]")[0] + late)
    monkeypatch.setattr(config, "SETTINGS", settings)
    return settings


def test_course_toml_gives_due_dates_and_the_rule(tmp_path, monkeypatch):
    course_toml(
        tmp_path,
        monkeypatch,
        '[late]\ntimezone = "Europe/Paris"\nper = "hour"\nrate = 5\ncap = 40\ngrace_minutes = 10\n'
        "[late.due]\n02_single_chain = 2026-11-20T18:00:00\n06_gradient_descent = 2026-12-01\n",
    )
    late = config.late_policy()
    assert late.due == {"02_single_chain": datetime(2026, 11, 20, 18), "06_gradient_descent": date(2026, 12, 1)}
    assert (late.timezone, late.per, late.rate, late.cap, late.grace_minutes) == ("Europe/Paris", "hour", 5, 40, 10)


def test_course_toml_refuses_a_due_date_for_no_notebook(tmp_path, monkeypatch):
    course_toml(tmp_path, monkeypatch, "[late.due]\n02_single_chian = 2026-11-20\n")
    with pytest.raises(ValueError, match="02_single_chian"):
        config.late_policy()


def test_the_shipped_course_has_no_due_date():
    assert config.late_policy().due == {}


def test_saving_the_publication_keeps_the_late_policy(tmp_path, monkeypatch):
    settings = tmp_path / "course.toml"
    shutil.copy(config.SETTINGS, settings)
    monkeypatch.setattr(config, "SETTINGS", settings)
    before = config.late_policy()
    config.save_publication(config.Publication("someone/fork", "spring"))
    assert config.publication() == config.Publication("someone/fork", "spring")
    assert config.late_policy() == before
    assert settings.read_text().count("[late]") == 1


def test_grades_csv_appends_raw_score_late_by_and_penalty(tmp_path):
    rows = [RULE.apply(handed_in(DAY + 1)), RULE.apply(handed_in(-HOUR, student="ann"))]
    rows.append(Policy().apply(handed_in(0, student="cy")))
    grades.write_grades_csv(rows, tmp_path / "grades.csv")
    with open(tmp_path / "grades.csv", newline="") as f:
        header = next(csv.reader(f))
        f.seek(0)
        table = {r["student"]: r for r in csv.DictReader(f)}
    extra = ["manual_pending", "source", "submitted_at", "seconds", "raw_score", "late_by", "penalty"]
    assert header == [*grades.COLUMNS, *extra]
    assert [table["ben"][k] for k in ("score", "raw_score", "late_by", "penalty")] == ["3", "4", "24.00", "1"]
    assert [table["ann"][k] for k in ("score", "raw_score", "late_by", "penalty")] == ["4", "4", "0.00", "0"]
    assert [table["cy"][k] for k in ("score", "raw_score", "late_by", "penalty")] == ["4", "4", "", "0"]


def test_report_lists_late_hand_ins_with_the_rule(tmp_path):
    rows = [RULE.apply(handed_in(DAY + 1)), RULE.apply(handed_in(-HOUR, student="ann"))]
    report.write_report_html(rows, [], tmp_path / "report.html", [], lambda text: [], late_rule=RULE.describe())
    page = BeautifulSoup((tmp_path / "report.html").read_text(), "html.parser")
    rule = page.find("h2", string="Late hand-ins").find_next("p").get_text()
    assert rule == "Penalty: 10% of the points per started day late, at most 30%, none within 15 min of the due date."
    cells = [[td.get_text() for td in tr.find_all("td")] for tr in page.find("table", id="late").find_all("tr")[1:]]
    assert cells == [["ben", "02_single_chain", "2026-11-21 12:00 UTC", "1 day", "1", "3 / 5"]]
