"""What the instructor reads after grading: report.html, and a few lines for the terminal.

report.html (templates/report.html.j2) is one self-contained page: counts first, then charts,
then the lists of what needs a look. The charts are HTML and CSS bars: this module computes their
numbers (`ScoreHistogram`, `ExerciseBar`, `MisconceptionBars`), the template draws them (histograms
with charts.html.j2, as similarity.html does); no image, no plotting library. A handful of charts
for the whole class, never one per student, so that the page stays quick to build for a class of
any size.
"""

import math
import statistics
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from grading.files import write_atomically
from grading.gradebook import HandGrade
from grading.late import duration, stamp
from grading.records import ERROR, GRADED, MISSING, STATUSES, UNREADABLE, Result, Stray
from grading.render import pages
from grading.render.similarity import Summary

# The order of the 'needs a look' list: what lost a student points first, absences last.
LOOK_ORDER = {ERROR: 0, UNREADABLE: 1, GRADED: 2, MISSING: 3}

# Names and messages come from hand-ins and are escaped; were one not, it still could not run.
CSP = "default-src 'none'; style-src 'unsafe-inline'"  # no script, no image: the page is text and CSS
COLOURS = {"full": "#5aa55a", "partial": "#e6b32e", "zero": "#d05050", "pending": "#aaaaaa"}
KINDS = {"full": "full points", "partial": "partial points", "zero": "no points", "pending": "to grade by hand"}
WHOLE_BINS_UP_TO = 30  # a notebook worth at most this many points, all scores whole: a bin per point
BINS = 20  # otherwise: equal bins from 0 to the notebook's maximum


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


@dataclass(frozen=True)
class ScoreHistogram:
    """The scores of one notebook's graded hand-ins."""

    notebook: str
    graded: int
    mean: float
    top: float  # the notebook's maximum score: the axis ends there
    bins: list[pages.Bar]  # heights in percent of the tallest


@dataclass(frozen=True)
class Segment:
    """One colour of an exercise's bar: the hand-ins with full, partial, zero or pending points."""

    kind: str  # a key of COLOURS
    count: int
    width: float  # percent of the bar; a bar's widths add up to 100


@dataclass(frozen=True)
class ExerciseBar:
    """One graded cell's row in the chart of scores per exercise."""

    label: str
    segments: list[Segment]  # in COLOURS' order, the empty ones left out
    mean: str  # the mean share of points, "83%"; "" while every answer waits for grading by hand


@dataclass(frozen=True)
class MisconceptionBars:
    """The widths of a misconception's bars in its table row, in percent of the largest value."""

    cost: MisconceptionCost
    handins: float
    points_lost: float


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
    similarity: Summary | None = None,
) -> None:
    """The class report: notes, counts, charts, then every hand-in and file that needs a look, the
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
        histograms=score_histograms(results),
        colours=COLOURS,
        kinds=KINDS,
        exercise_bars=[exercise_bar(e) for e in exercises],
        costs=misconception_bars(costs),
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


def score_histograms(results: list[Result]) -> list[ScoreHistogram]:
    """A histogram of the graded hand-ins' scores per notebook, by notebook; none without any."""
    by_notebook: dict[str, list[Result]] = {}
    for r in sorted(results, key=lambda r: r.notebook):
        if r.status == GRADED:
            by_notebook.setdefault(r.notebook, []).append(r)
    histograms = []
    for notebook, graded in by_notebook.items():
        scores = [r.score for r in graded]
        top = max(r.max_score for r in graded)
        histograms.append(ScoreHistogram(notebook, len(graded), statistics.mean(scores), top, _bins(scores, top)))
    return histograms


def _bins(scores: list[float], top: float) -> list[pages.Bar]:
    """A bin per whole point from 0 to `top` when `top` is small and every score whole, else BINS
    equal bins from 0 to `top`, the last one closed. A score outside 0..top counts in the nearest
    end bin, so that the bars add up to the hand-ins."""
    if top <= WHOLE_BINS_UP_TO and all(float(s).is_integer() for s in [*scores, top]):
        n = int(top) + 1
        edges = [(k - 0.5, k + 0.5, f"{k} point{'' if k == 1 else 's'}") for k in range(n)]
        index = [round(s) for s in scores]
    else:
        n = BINS
        edges = [(top * k / n, top * (k + 1) / n, f"{top * k / n:g} to {top * (k + 1) / n:g}") for k in range(n)]
        index = [math.floor(s * n / top) if top > 0 else 0 for s in scores]
    counts = [0] * n
    for i in index:
        counts[min(max(i, 0), n - 1)] += 1
    tallest = max(counts)
    return [pages.Bar(low, high, c, 100 * c / tallest, label) for (low, high, label), c in zip(edges, counts)]


def exercise_bar(e: ExerciseStats) -> ExerciseBar:
    """The row of one graded cell: its hand-ins' shares of full, partial, zero and pending points.
    The widths are rounded to 0.1 % where the segments meet, so that they add up to 100 exactly."""
    total = e.scored + e.pending
    segments, done, edge = [], 0, 0.0
    for kind in COLOURS:
        count = getattr(e, kind)
        done += count
        right = round(100 * done / total, 1) if total else 0.0
        if count:
            segments.append(Segment(kind, count, round(right - edge, 1)))
        edge = right
    mean = "" if e.mean_fraction is None else f"{e.mean_fraction:.0%}"
    return ExerciseBar(f"{e.notebook} · {e.grade_id} ({e.max_score:g} pt)", segments, mean)


def misconception_bars(costs: list[MisconceptionCost]) -> list[MisconceptionBars]:
    """Each misconception with its bars' widths: hand-ins and points lost, each in percent of the largest."""
    most_handins = max((c.handins for c in costs), default=0)
    most_lost = max((c.points_lost for c in costs), default=0)
    return [
        MisconceptionBars(
            c,
            100 * c.handins / most_handins if most_handins else 0.0,
            100 * c.points_lost / most_lost if most_lost else 0.0,
        )
        for c in costs
    ]


def _count(n: int, word: str) -> str:
    return f"{n} {word}" if n == 1 else f"{n} {word}s"


def _duration(seconds: float) -> str:
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, secs = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min" if hours else f"{minutes} min {secs:02d} s"
