"""Late hand-ins: how late each one is, and what it costs.

The course gives a due date per notebook and one penalty rule (course.toml's [late], handed over
by cli.py); OUT/extensions.csv gives some students a later due date. A hand-in's time is what the
LMS's download says: the file's (or zip member's) time. A notebook without a due date is never
penalised, whatever the LMS says (Canvas's LATE stays a flag).

The penalty, as Canvas's late policy counts it: `rate` percent of the notebook's points for each
started day (or hour) after the due date, at most `cap` percent, nothing within `grace` seconds;
the score never goes below 0.
"""

import csv
import math
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime, time, tzinfo
from pathlib import Path
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from grading.records import GRADED, Result

EXTENSIONS = "extensions.csv"  # in OUT: student, notebook (blank: every notebook), due
PERIODS = {"day": 86400.0, "hour": 3600.0}


@dataclass(frozen=True)
class Policy:
    """Due dates and the penalty rule. An empty policy (the default) changes nothing."""

    due: dict[str, datetime] = field(default_factory=dict)  # notebook -> due date (time-zone aware)
    per: str = "day"
    rate: float = 0.0  # percent of the notebook's points per started period late
    cap: float = 100.0  # percent, at most
    grace: float = 0.0  # seconds after the due date that cost nothing
    timezone: str = "UTC"  # for due dates written without one (extensions.csv)
    extensions: dict[tuple[str, str], datetime] = field(default_factory=dict)  # (student, notebook or "") -> due

    def __post_init__(self):
        if self.per not in PERIODS:
            raise ValueError(f"late policy: per must be one of {', '.join(PERIODS)}, not {self.per!r}")
        if not (self.rate >= 0 and 0 <= self.cap <= 100 and self.grace >= 0):
            raise ValueError("late policy: rate must be at least 0, cap between 0 and 100, grace at least 0")
        zone(self.timezone)

    def due_for(self, student: str, notebook: str) -> datetime | None:
        """The due date of one student's notebook: an extension, else the course's."""
        return self.extensions.get((student, notebook)) or self.extensions.get((student, "")) or self.due.get(notebook)

    def penalty(self, late_by: float, max_score: float) -> float:
        """Points lost for handing in `late_by` seconds after the due date."""
        if late_by <= self.grace:
            return 0.0
        periods = math.ceil(late_by / PERIODS[self.per])
        return max_score * min(self.rate * periods, self.cap) / 100

    def apply(self, result: Result) -> Result:
        """The row with its lateness: `raw_score` before the penalty, `score` after it."""
        due = self.due_for(result.student, result.notebook)
        if due is None or result.status != GRADED or result.submitted_at is None:
            return replace(result, raw_score=result.score)
        late_by = max(0.0, result.submitted_at - due.timestamp())
        penalty = min(self.penalty(late_by, result.max_score), result.score)
        flags = result.flags if late_by == 0 or "late" in result.flags else sorted([*result.flags, "late"])
        return replace(
            result, raw_score=result.score, score=result.score - penalty, late_by=late_by, penalty=penalty, flags=flags
        )

    def sentence(self, result: Result) -> str:
        """What the student reads about their lateness; nothing when on time or without a due date."""
        if not result.late_by:
            return ""
        due = self.due_for(result.student, result.notebook)
        when = f"Handed in {duration(result.late_by)} after the due date ({stamp(due.timestamp())})"
        if result.penalty:
            return f"{when}: {result.penalty:g} points off ({self.describe()})."
        if self.rate and result.late_by <= self.grace:
            return f"{when}, within the grace period: no points off."
        return f"{when}: no points off."

    def describe(self) -> str:
        """The rule in one sentence, for the report and the feedback pages."""
        if not self.rate:
            return "no penalty for lateness"
        words = f"{self.rate:g}% of the points per started {self.per} late"
        if self.cap < 100:
            words += f", at most {self.cap:g}%"
        if self.grace:
            words += f", none within {duration(self.grace)} of the due date"
        return words

    def with_extensions(self, out: Path) -> "Policy":
        """This policy with OUT/extensions.csv's later due dates, if the file exists."""
        path = out / EXTENSIONS
        if not path.exists():
            return self
        return replace(self, extensions=read_extensions(path, zone(self.timezone), set(self.due)))


def zone(name: str) -> tzinfo:
    if name == "UTC":  # needs no time zone database (a slim container may have none)
        return UTC
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"late policy: {name!r} is not a time zone name (e.g. Europe/Paris, UTC)") from None


NO_DUE_DATES = Policy()


def moment(value: datetime | date | str, where: tzinfo) -> datetime:
    """A due date as a time-zone aware moment: a date alone means the end of that day, and a time
    without a time zone is in `where`."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value) if "T" in value or " " in value.strip() else date.fromisoformat(value)
    if not isinstance(value, datetime):
        value = datetime.combine(value, time(23, 59, 59))
    return value if value.tzinfo else value.replace(tzinfo=where)


def read_extensions(path: Path, where: tzinfo, notebooks: set[str]) -> dict[tuple[str, str], datetime]:
    """OUT/extensions.csv: `student,notebook,due` per line (a blank notebook: every notebook)."""
    extensions = {}
    with open(path, newline="", encoding="utf-8-sig") as f:
        rows = csv.DictReader(f)
        if not {"student", "notebook", "due"} <= set(rows.fieldnames or ()):
            raise ValueError(f"{path}: the first line must name the columns student,notebook,due")
        for row in rows:
            line = rows.line_num
            student, notebook = (row["student"] or "").strip(), (row["notebook"] or "").strip()
            if not student:
                raise ValueError(f"{path}, line {line}: no student")
            if notebook and notebooks and notebook not in notebooks:
                raise ValueError(f"{path}, line {line}: {notebook!r} is not a notebook with a due date")
            try:
                extensions[(student, notebook)] = moment((row["due"] or "").strip(), where)
            except ValueError:
                why = f"{row['due']!r} is not a date (2026-11-20 or 2026-11-20T18:00)"
                raise ValueError(f"{path}, line {line}: {why}") from None
    return extensions


def duration(seconds: float) -> str:
    """'2 days 3 h', '5 h 20 min', '12 min': how late, in words a student reads."""
    minutes = round(seconds / 60)
    days, minutes = divmod(minutes, 24 * 60)
    hours, minutes = divmod(minutes, 60)
    if days:
        return f"{days} day{'s' * (days > 1)}" + (f" {hours} h" if hours else "")
    if hours:
        return f"{hours} h" + (f" {minutes} min" if minutes else "")
    return f"{max(minutes, 1)} min"


def stamp(seconds: float) -> str:
    return datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%d %H:%M UTC")
