"""What the instructor reads after grading: grades.csv, report.html, and a few lines for the terminal.

report.html is one self-contained page: counts first, then plots (matplotlib, Agg, embedded PNG),
then the lists of what needs a look. A handful of plots for the whole class, never one per student,
so that the page stays quick to build for a class of any size.
"""

import base64
import csv
import html
import io
import statistics
from collections import Counter
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from grading.records import ERROR, GRADED, MISSING, STATUSES, UNREADABLE, Result, Stray

COLUMNS = ("student", "notebook", "score", "max_score", "status", "flags", "misconceptions", "message")
EXTRA_COLUMNS = ("manual_pending", "source", "submitted_at", "seconds")
# The order of the 'needs a look' list: what lost a student points first, absences last.
LOOK_ORDER = {ERROR: 0, UNREADABLE: 1, GRADED: 2, MISSING: 3}

CSS = """
body{font:15px/1.45 system-ui,sans-serif;max-width:72rem;margin:1.5rem auto;padding:0 1rem;color:#222}
.warning{background:#c62828;color:#fff;font-weight:bold;font-size:1.15rem;padding:.8rem 1rem;margin:.8rem 0}
.numbers{display:flex;flex-wrap:wrap;gap:.6rem}
.numbers div{background:#f3f3f6;padding:.4rem .8rem;border-radius:.3rem}
.numbers b{display:block;font-size:1.5rem}
table{border-collapse:collapse;margin:.5rem 0}
td,th{padding:.15rem .6rem;text-align:left;border-bottom:1px solid #e4e4e4;vertical-align:top}
td.num,th.num{text-align:right}
.quiet{color:#777}
img{max-width:100%}
"""
# Names and messages come from hand-ins and are escaped; were one not, it still could not run.
CSP = "default-src 'none'; img-src data:; style-src 'unsafe-inline'"
COLOURS = {"full": "#5aa55a", "partial": "#e6b32e", "zero": "#d05050", "pending": "#aaaaaa"}


@dataclass
class ExerciseStats:
    """How the graded hand-ins of one notebook did on one graded cell."""

    notebook: str
    grade_id: str
    max_score: float
    full: int = 0
    partial: int = 0
    zero: int = 0
    pending: int = 0  # waiting for manual grading
    points: float = 0.0  # earned in the cells already graded
    possible: float = 0.0  # the most those cells could earn

    @property
    def scored(self) -> int:
        return self.full + self.partial + self.zero

    @property
    def mean_fraction(self) -> float | None:
        return self.points / self.possible if self.possible else None


@dataclass
class MisconceptionCost:
    """How often one known mistake showed up, and what it cost."""

    tag: str
    handins: int  # hand-ins whose grades.csv row names it
    cells: int  # graded cells whose output named it
    points_lost: float  # points those cells missed (a cell naming two mistakes counts for both)


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
            ]
        )
    _write(path, out.getvalue())


def misconception_costs(results: list[Result], tags_of: Callable[[str], list[str]]) -> list[MisconceptionCost]:
    """Every misconception seen, the costliest first. `tags_of` reads the tags in a cell's text."""
    handins = Counter(tag for r in results for tag in set(r.misconceptions))
    cells: Counter[str] = Counter()
    lost: Counter[str] = Counter()
    for r in results:
        for cell in r.cells:
            for tag in set(tags_of(cell.text)):
                cells[tag] += 1
                if cell.score is not None:
                    lost[tag] += cell.max_score - cell.score
    costs = [MisconceptionCost(t, handins[t], cells[t], lost[t]) for t in handins.keys() | cells.keys()]
    return sorted(costs, key=lambda c: (-c.points_lost, -c.handins, c.tag))


def exercise_stats(results: list[Result]) -> list[ExerciseStats]:
    """Per graded cell, over graded hand-ins: by notebook, then in the notebook's order."""
    stats: dict[tuple[str, str], ExerciseStats] = {}
    for r in sorted(results, key=lambda r: r.notebook):
        if r.status != GRADED:
            continue
        for cell in r.cells:
            s = stats.setdefault((r.notebook, cell.grade_id), ExerciseStats(r.notebook, cell.grade_id, cell.max_score))
            if cell.score is None:
                s.pending += 1
                continue
            s.points += cell.score
            s.possible += cell.max_score
            if cell.score >= cell.max_score:
                s.full += 1
            elif cell.score > 0:
                s.partial += 1
            else:
                s.zero += 1
    return list(stats.values())


def summary_text(results: list[Result], strays: list[Stray], report: Path | None = None) -> str:
    """A few lines for the terminal once grading is done."""
    status = Counter(r.status for r in results)
    flags = Counter(f for r in results for f in dict.fromkeys(r.flags))
    flagged = sum(bool(r.flags) for r in results)
    pending = sum(c.score is None for r in results for c in r.cells)
    students = len({r.student for r in results})
    lines = [
        f"{len(results)} (student, notebook) pairs for {students} students: "
        + ", ".join(f"{status[s]} {s}" for s in STATUSES)
    ]
    if flagged:
        lines.append(f"{flagged} flagged: " + ", ".join(f"{n} {f}" for f, n in flags.most_common()))
    if strays:
        lines.append(f"{_count(len(strays), 'file')} not graded (listed in the report)")
    if pending:
        lines.append(f"{_count(pending, 'cell')} to grade by hand (formgrader)")
    if report is not None:
        lines.append(f"report: {report}")
    return "\n".join(lines)


def write_report_html(
    results: list[Result], strays: list[Stray], path: Path, notes: list[str], tags_of: Callable[[str], list[str]]
) -> None:
    """The class report: notes, counts, plots, then every hand-in and file that needs a look."""
    exercises = exercise_stats(results)
    costs = misconception_costs(results, tags_of)
    parts = [
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">',
        f'<meta http-equiv="Content-Security-Policy" content="{CSP}"><title>Grading report</title>',
        f"<style>{CSS}</style></head><body><h1>Grading report</h1>",
        f'<p class="quiet">written {datetime.now(UTC):%Y-%m-%d %H:%M} UTC</p>',
        *(f'<div class="warning">{html.escape(note)}</div>' for note in notes),
        _summary_section(results, strays),
        _notebook_table(results),
        "<h2>Scores per notebook</h2>",
        _score_plot(results),
        "<h2>Scores per exercise</h2>",
        "<p>For each graded cell: the share of graded hand-ins with full, partial or no points, and the "
        "mean share of points earned.</p>",
        _exercise_plot(exercises),
        "<h2>Misconceptions</h2>",
        _misconception_section(costs),
        "<h2>Hand-ins that need a look</h2>",
        _look_table(results),
        "<h2>Cells waiting for manual grading</h2>",
        _pending_table(exercises),
        "<h2>Files not graded</h2>",
        _stray_table(strays),
        "</body></html>\n",
    ]
    _write(path, "".join(parts))


def _summary_section(results: list[Result], strays: list[Stray]) -> str:
    status = Counter(r.status for r in results)
    seconds = sum(r.seconds for r in results)
    ran = [r for r in results if r.status != MISSING]
    pending = [c for r in results for c in r.cells if c.score is None]
    numbers = [
        ("students", len({r.student for r in results})),
        ("notebooks", len({r.notebook for r in results})),
        ("hand-ins", len(ran)),
        *((s, status[s]) for s in STATUSES),
        ("flagged", sum(bool(r.flags) for r in results)),
        ("files not graded", len(strays)),
        ("cells to grade by hand", len(pending)),
    ]
    boxes = "".join(f"<div><b>{n}</b>{html.escape(label)}</div>" for label, n in numbers)
    flags = Counter(f for r in results for f in dict.fromkeys(r.flags))
    flag_line = ", ".join(f"{n} {html.escape(f)}" for f, n in flags.most_common()) or "none"
    mean = f"; {seconds / len(ran):.2f} s per hand-in" if ran else ""
    return (
        f'<h2>Summary</h2><div class="numbers">{boxes}</div>'
        f"<p>Flags: {flag_line}.</p>"
        f"<p>Grading time: {_duration(seconds)} summed over hand-ins{mean} "
        "(workers run side by side, so the wall-clock time is shorter).</p>"
    )


def _notebook_table(results: list[Result]) -> str:
    rows = []
    for notebook in sorted({r.notebook for r in results}):
        mine = [r for r in results if r.notebook == notebook]
        status = Counter(r.status for r in mine)
        scores = [r.score for r in mine if r.status == GRADED]
        top = max((r.max_score for r in mine), default=0)
        mean = f"{statistics.mean(scores):.2f}" if scores else "–"
        median = f"{statistics.median(scores):g}" if scores else "–"
        cells = [status[s] for s in STATUSES] + [sum(bool(r.flags) for r in mine), mean, median, f"{top:g}"]
        rows.append(
            f"<tr><td>{html.escape(notebook)}</td>" + "".join(f'<td class="num">{c}</td>' for c in cells) + "</tr>"
        )
    head = [*STATUSES, "flagged", "mean score", "median", "max"]
    return _table(["notebook", *head], rows, numeric=set(head))


def _score_plot(results: list[Result]) -> str:
    by_notebook: dict[str, list[Result]] = {}
    for r in sorted(results, key=lambda r: r.notebook):
        if r.status == GRADED:
            by_notebook.setdefault(r.notebook, []).append(r)
    if not by_notebook:
        return "<p>No graded hand-ins.</p>"
    cols = min(3, len(by_notebook))
    rows = -(-len(by_notebook) // cols)
    fig = Figure(figsize=(4.2 * cols, 2.8 * rows), layout="constrained")
    for i, (notebook, graded) in enumerate(by_notebook.items()):
        ax = fig.add_subplot(rows, cols, i + 1)
        scores = [r.score for r in graded]
        top = max(r.max_score for r in graded)
        whole = top <= 30 and all(float(s).is_integer() for s in [*scores, top])
        bins = [k - 0.5 for k in range(int(top) + 2)] if whole else [top * k / 20 for k in range(21)]
        ax.hist(scores, bins=bins, color="#5a7bb5", edgecolor="white")
        ax.set_title(f"{notebook}\n{len(graded)} graded · mean {statistics.mean(scores):.1f} / {top:g}", fontsize=9)
        ax.set_xlabel("score", fontsize=8)
        ax.set_ylabel("hand-ins", fontsize=8)
        ax.tick_params(labelsize=8)
    return _img(fig, "histogram of scores per notebook")


def _exercise_plot(exercises: list[ExerciseStats]) -> str:
    if not exercises:
        return "<p>No graded cells.</p>"
    fig = Figure(figsize=(9, 0.3 * len(exercises) + 1.2), layout="constrained")
    ax = fig.add_subplot()
    ys = range(len(exercises))
    totals = [max(e.scored + e.pending, 1) for e in exercises]
    left = [0.0] * len(exercises)
    for kind in ("full", "partial", "zero", "pending"):
        share = [getattr(e, kind) / t for e, t in zip(exercises, totals)]
        ax.barh(ys, share, left=left, color=COLOURS[kind], label=kind)
        left = [a + b for a, b in zip(left, share)]
    for y, e in zip(ys, exercises):
        if e.mean_fraction is not None:
            ax.text(1.01, y, f"{e.mean_fraction:.0%}", va="center", fontsize=8)
    ax.set_yticks(ys, [f"{e.notebook} · {e.grade_id} ({e.max_score:g} pt)" for e in exercises])
    ax.set_xlim(0, 1.1)
    ax.xaxis.set_major_formatter(PercentFormatter(1.0))
    ax.invert_yaxis()
    ax.tick_params(labelsize=8)
    ax.set_xlabel("share of graded hand-ins (right: mean share of points)", fontsize=8)
    ax.legend(ncols=4, fontsize=8, loc="lower center", bbox_to_anchor=(0.5, 1.0), frameon=False)
    return _img(fig, "points per exercise")


def _misconception_section(costs: list[MisconceptionCost]) -> str:
    if not costs:
        return "<p>No known mistake was recognised.</p>"
    fig = Figure(figsize=(9, 0.3 * len(costs) + 1.2), layout="constrained")
    left, right = fig.subplots(1, 2, sharey=True)
    ys = range(len(costs))
    left.barh(ys, [c.handins for c in costs], color="#5a7bb5")
    left.set_yticks(ys, [c.tag for c in costs])
    left.set_xlabel("hand-ins", fontsize=8)
    right.barh(ys, [c.points_lost for c in costs], color=COLOURS["zero"])
    right.set_xlabel("points lost in the cells that named it", fontsize=8)
    left.invert_yaxis()
    for ax in (left, right):
        ax.tick_params(labelsize=8)
    rows = [
        f"<tr><td>{html.escape(c.tag)}</td><td class='num'>{c.handins}</td><td class='num'>{c.cells}</td>"
        f"<td class='num'>{c.points_lost:g}</td></tr>"
        for c in costs
    ]
    table = _table(["misconception", "hand-ins", "cells", "points lost"], rows, {"hand-ins", "cells", "points lost"})
    note = "<p class='quiet'>A cell whose output names two mistakes counts for both.</p>"
    return _img(fig, "misconception counts and points lost") + table + note


def _look_table(results: list[Result]) -> str:
    look = [r for r in results if r.status != GRADED or r.flags]
    if not look:
        return "<p>None: every hand-in was graded without a flag.</p>"
    look.sort(key=lambda r: (LOOK_ORDER.get(r.status, 0), r.student, r.notebook))
    e = html.escape
    rows = [
        f"<tr><td>{e(r.student)}</td><td>{e(r.notebook)}</td><td>{e(r.status)}</td>"
        f"<td>{e(', '.join(r.flags))}</td><td class='num'>{r.score:g} / {r.max_score:g}</td>"
        f"<td>{e(r.message)}</td><td>{e(r.source or '')}</td></tr>"
        for r in look
    ]
    return _table(["student", "notebook", "status", "flags", "score", "message", "file"], rows, {"score"})


def _pending_table(exercises: list[ExerciseStats]) -> str:
    waiting = [e for e in exercises if e.pending]
    if not waiting:
        return "<p>None.</p>"
    rows = [
        f"<tr><td>{html.escape(e.notebook)}</td><td>{html.escape(e.grade_id)}</td><td class='num'>{e.pending}</td></tr>"
        for e in waiting
    ]
    intro = "<p>Their points are not in these scores yet: grade them in formgrader (nbgrader's web interface).</p>"
    return intro + _table(["notebook", "cell", "hand-ins waiting"], rows, {"hand-ins waiting"})


def _stray_table(strays: list[Stray]) -> str:
    if not strays:
        return "<p>None: every file was matched to a notebook and graded.</p>"
    e = html.escape
    rows = [
        f"<tr><td>{e(s.source)}</td><td>{e(s.student or '')}</td><td>{e(s.reason)}</td></tr>"
        for s in sorted(strays, key=lambda s: s.source)
    ]
    return _table(["file", "student", "reason"], rows)


def _table(head: list[str], rows: list[str], numeric: Collection[str] = ()) -> str:
    cells = "".join(f"<th{' class=num' if h in numeric else ''}>{html.escape(h)}</th>" for h in head)
    return f"<table><tr>{cells}</tr>{''.join(rows)}</table>"


def _img(fig: Figure, alt: str) -> str:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    data = base64.b64encode(buffer.getvalue()).decode()
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{data}">'


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _number(value: float) -> str:
    return f"{round(value, 4):g}"


def _timestamp(seconds: float | None) -> str:
    return "" if seconds is None else datetime.fromtimestamp(seconds, UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"


def _write(path: Path, text: str) -> None:
    """Write whole or not at all: a crash mid-write must not leave half a file from a good run."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)
