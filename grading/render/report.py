"""What the instructor reads after grading: report.html, and a few lines for the terminal.

report.html (templates/report.html.j2) is one self-contained page: counts first, then plots
(matplotlib, Agg, embedded PNG), then the lists of what needs a look. A handful of plots for the
whole class, never one per student, so that the page stays quick to build for a class of any size.
"""

import base64
import io
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.ticker import PercentFormatter

from grading.files import write_atomically
from grading.gradebook import HandGrade
from grading.late import duration, stamp
from grading.records import ERROR, GRADED, MISSING, STATUSES, UNREADABLE, Result, Stray
from grading.render import pages

if TYPE_CHECKING:  # the similarity report imports copydetect: not for every reader of this module
    from grading.render.similarity import Summary

# The order of the 'needs a look' list: what lost a student points first, absences last.
LOOK_ORDER = {ERROR: 0, UNREADABLE: 1, GRADED: 2, MISSING: 3}

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
        lines.append(f"{_count(pending, 'cell')} to grade by hand: python -m grading formgrader OUT")
    if report is not None:
        lines.append(f"report: {report}")
    return "\n".join(lines)


@dataclass(frozen=True)
class NotebookRow:
    """One notebook's line in the summary table."""

    notebook: str
    counts: list[int]  # hand-ins per status, in STATUSES' order
    flagged: int
    mean: str  # of the graded hand-ins' scores; "–" when none
    median: str
    max_score: float


@dataclass(frozen=True)
class LateRow:
    """One hand-in handed in after its due date."""

    result: Result
    submitted: str
    late_by: str


def write_report_html(
    results: list[Result],
    strays: list[Stray],
    path: Path,
    notes: list[str],
    tags_of: Callable[[str], list[str]],
    set_aside: list[HandGrade] = (),
    late_rule: str = "",
    similarity: "Summary | None" = None,
) -> None:
    """The class report: notes, counts, plots, then every hand-in and file that needs a look, the
    grading by hand (`set_aside`: grades whose answer changed since), lateness (`late_rule`: the
    penalty rule, when a notebook has a due date) and the pairs of hand-ins whose answers look most
    alike (when `similarity` is given)."""
    exercises = exercise_stats(results)
    costs = misconception_costs(results, tags_of)
    ran = [r for r in results if r.status != MISSING]
    seconds = sum(r.seconds for r in results)
    page = pages.render(
        "report.html.j2",
        csp=CSP,
        written=f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
        notes=notes,
        numbers=_numbers(results, strays),
        flags=Counter(f for r in results for f in dict.fromkeys(r.flags)).most_common(),
        grading_time=_duration(seconds),
        per_handin=seconds / len(ran) if ran else None,
        statuses=STATUSES,
        notebooks=_notebook_rows(results),
        score_plot=_score_plot(results),
        exercise_plot=_exercise_plot(exercises),
        costs=costs,
        misconception_plot=_misconception_plot(costs),
        look=sorted(
            (r for r in results if r.status != GRADED or r.flags),
            key=lambda r: (LOOK_ORDER.get(r.status, 0), r.student, r.notebook),
        ),
        pending=[e for e in exercises if e.pending],
        by_hand=sum(c.by_hand for r in results for c in r.cells),
        set_aside=set_aside,
        late_rule=late_rule,
        late=[
            LateRow(r, stamp(r.submitted_at), duration(r.late_by))
            for r in sorted(results, key=lambda r: (r.student, r.notebook))
            if r.late_by
        ],
        strays=sorted(strays, key=lambda s: s.source),
        similarity=similarity,
    )
    write_atomically(path, page)


def _numbers(results: list[Result], strays: list[Stray]) -> list[tuple[str, int]]:
    """The summary's boxes: a label and a count each."""
    status = Counter(r.status for r in results)
    return [
        ("students", len({r.student for r in results})),
        ("notebooks", len({r.notebook for r in results})),
        ("hand-ins", sum(r.status != MISSING for r in results)),
        *((s, status[s]) for s in STATUSES),
        ("flagged", sum(bool(r.flags) for r in results)),
        ("files not graded", len(strays)),
        ("cells to grade by hand", sum(c.score is None for r in results for c in r.cells)),
    ]


def _notebook_rows(results: list[Result]) -> list[NotebookRow]:
    rows = []
    for notebook in sorted({r.notebook for r in results}):
        mine = [r for r in results if r.notebook == notebook]
        status = Counter(r.status for r in mine)
        scores = [r.score for r in mine if r.status == GRADED]
        rows.append(
            NotebookRow(
                notebook,
                [status[s] for s in STATUSES],
                sum(bool(r.flags) for r in mine),
                f"{statistics.mean(scores):.2f}" if scores else "–",
                f"{statistics.median(scores):g}" if scores else "–",
                max((r.max_score for r in mine), default=0),
            )
        )
    return rows


def _score_plot(results: list[Result]) -> str | None:
    """A histogram of scores per notebook, as a data URI; None without graded hand-ins."""
    by_notebook: dict[str, list[Result]] = {}
    for r in sorted(results, key=lambda r: r.notebook):
        if r.status == GRADED:
            by_notebook.setdefault(r.notebook, []).append(r)
    if not by_notebook:
        return None
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
    return _png(fig)


def _exercise_plot(exercises: list[ExerciseStats]) -> str | None:
    """Per graded cell, the shares of full, partial, zero and pending, as a data URI; None without cells."""
    if not exercises:
        return None
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
    return _png(fig)


def _misconception_plot(costs: list[MisconceptionCost]) -> str | None:
    """Hand-ins and points lost per misconception, as a data URI; None when none was seen."""
    if not costs:
        return None
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
    return _png(fig)


def _png(fig: Figure) -> str:
    buffer = io.BytesIO()
    FigureCanvasAgg(fig).print_png(buffer)
    return "data:image/png;base64," + base64.b64encode(buffer.getvalue()).decode()


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"
