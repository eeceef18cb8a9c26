"""OUT/similarity.html and OUT/similarity.csv: which hand-ins share their answers beyond what the
exercise forces (grading.similarity), and the few lines report.html shows of it. grades.csv is not
touched: a match is a reason to look, not proof.
"""

import csv
import io
import math
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np

from grading.course import Course
from grading.files import write_atomically
from grading.render import pages
from grading.similarity import store
from grading.similarity.compare import COMMON, FORCED, THRESHOLD, Pair
from grading.similarity.fingerprint import SETTINGS
from grading.similarity.store import Fragments, Similarity
from grading.state import State

PAGE, TABLE = "similarity.html", "similarity.csv"
SHOWN = 100  # pairs shown side by side, best first; similarity.csv lists them all
IN_REPORT = 5  # pairs report.html lists
BINS = 20
CSV_COLUMNS = ["notebook", "student_a", "student_b", "score", "code_score", "written_score", "exercises"]
CSP = "default-src 'none'; style-src 'unsafe-inline'"  # no script, no image: the page is text and CSS


@dataclass(frozen=True)
class Exercise:
    """Two answers to one exercise, side by side."""

    grade_id: str
    kind: str
    similarity: float
    baseline: float
    excess: float
    left: Fragments
    right: Fragments


@dataclass(frozen=True)
class Summary:
    """What report.html shows: the best pairs and a link to the page."""

    page: str
    threshold: float
    flagged: int  # pairs at or above the threshold
    clusters: int
    pairs: list[Pair]


def publish(out: Path, course: Course, saved: State) -> Summary:
    """Compare what changed in OUT's hand-ins against everything else (OUT/similarity.json), then
    write OUT/similarity.html and OUT/similarity.csv; returns what report.html shows."""
    return write_similarity(store.update(out, course, saved), out)


def flagged(similarity: Similarity) -> list[Pair]:
    """Every pair at or above the threshold, best first."""
    pairs = [p for nb in similarity.notebooks for p in nb.pairs if p.score >= THRESHOLD]
    return sorted(pairs, key=lambda p: (-p.score, p.notebook, p.students))


def exercises(pair: Pair) -> str:
    """The exercises on which a pair's answers are closer than the class's, closest first."""
    return ", ".join(c.grade_id for c in sorted(pair.cells, key=lambda c: -c.excess) if c.excess > 0)


def histogram(scores: np.ndarray) -> list[pages.Bar]:
    """Pair scores in BINS bins; heights on a log scale, so that a handful of high pairs stays visible."""
    counts, edges = np.histogram(scores, bins=BINS, range=(0, 1))
    top = math.log1p(max(counts.max(initial=0), 1))
    return [
        pages.Bar(float(lo), float(hi), int(n), 100 * math.log1p(n) / top, f"{lo:.2f} to {hi:.2f}")
        for lo, hi, n in zip(edges, edges[1:], counts)
    ]


def side_by_side(similarity: Similarity, pair: Pair) -> list[Exercise]:
    """The exercises of a pair that look alike, closest first; the others are only named."""
    shown = []
    for cell in sorted(pair.cells, key=lambda c: -c.excess):
        if cell.excess > 0:
            left, right = similarity.side_by_side(pair, cell.grade_id)
            shown.append(Exercise(cell.grade_id, cell.kind, cell.similarity, cell.baseline, cell.excess, left, right))
    return shown


def write_similarity(similarity: Similarity, out: Path) -> Summary:
    """OUT/similarity.html and OUT/similarity.csv; returns what report.html shows."""
    found = flagged(similarity)
    write_atomically(out / TABLE, similarity_csv(found))
    page = pages.render(
        "similarity.html.j2",
        csp=CSP,
        written=f"{datetime.now(UTC):%Y-%m-%d %H:%M}",
        threshold=THRESHOLD,
        forced=FORCED,
        common=COMMON,
        settings=SETTINGS,
        notebooks=similarity.notebooks,
        at_threshold={nb.notebook: int((nb.scores >= THRESHOLD).sum()) for nb in similarity.notebooks},
        histograms={nb.notebook: histogram(nb.scores) for nb in similarity.notebooks},
        flagged=len(found),
        shown=[(pair, side_by_side(similarity, pair)) for pair in found[:SHOWN]],
        below=[p for nb in similarity.notebooks for p in nb.pairs if p.score < THRESHOLD],
        exercises=exercises,
        left_out=sorted(similarity.left_out, key=lambda h: (h.notebook, h.student)),
    )
    write_atomically(out / PAGE, page)
    clusters = sum(len(nb.clusters) for nb in similarity.notebooks)
    return Summary(PAGE, THRESHOLD, len(found), clusters, found[:IN_REPORT])


def similarity_csv(pairs: list[Pair]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(CSV_COLUMNS)
    for p in pairs:
        code = "" if p.code is None else f"{p.code:.3f}"
        written = "" if p.written is None else f"{p.written:.3f}"
        writer.writerow([p.notebook, *p.students, f"{p.score:.3f}", code, written, exercises(p).replace(", ", ";")])
    return buffer.getvalue()
