"""grades.csv: one row per (student, notebook), the columns the grading contract names
(docs/grading-contract.md), then a few more. `score` counts grades by hand and is after the late
penalty; `raw_score` is before it, `late_by` in hours after the due date (blank: no due date)."""

import csv
import io
from collections import Counter
from datetime import UTC, datetime
from pathlib import Path

from grading.files import write_atomically
from grading.records import Result

COLUMNS = ("student", "notebook", "score", "max_score", "status", "flags", "misconceptions", "message")
EXTRA_COLUMNS = ("manual_pending", "source", "submitted_at", "seconds", "raw_score", "late_by", "penalty")


def write_grades_csv(results: list[Result], path: Path) -> None:
    """One row per (student, notebook), sorted; the contract's columns first, then extras."""
    rows = sorted(results, key=lambda r: (r.student, r.notebook))
    pairs = Counter((r.student, r.notebook) for r in rows)
    doubled = [pair for pair, n in pairs.items() if n > 1]
    if doubled:
        raise ValueError(f"more than one result for {doubled[:3]}")
    out = io.StringIO()
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(COLUMNS + EXTRA_COLUMNS)
    for r in rows:
        writer.writerow(
            [
                r.student,
                r.notebook,
                _number(r.score),
                _number(r.max_score),
                r.status,
                ";".join(dict.fromkeys(r.flags)),
                ";".join(dict.fromkeys(r.misconceptions)),
                r.message,
                sum(c.score is None for c in r.cells),
                r.source or "",
                _timestamp(r.submitted_at),
                f"{r.seconds:.2f}",
                _number(r.score if r.raw_score is None else r.raw_score),
                "" if r.late_by is None else f"{r.late_by / 3600:.2f}",
                _number(r.penalty),
            ]
        )
    write_atomically(path, out.getvalue())


def _number(value: float) -> str:
    return f"{round(value, 4):g}"


def _timestamp(seconds: float | None) -> str:
    return "" if seconds is None else datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
