"""Every pair of hand-ins of one notebook, scored answer cell by answer cell against what the
exercise forces.

For one answer cell, what the exercise forces is left out first: the stub (fingerprint.py), and the
fingerprints more than COMMON answers have (how many students of a large class write it; MOSS
ignores passages found in more than 10 programs too). An answer counts when it is long enough and
has fingerprints left. For two hand-ins whose answers both count, their similarity is the share of
each one's fingerprints that the other has, averaged over the two. The cell's baseline is the median
similarity over all such pairs: how alike everyone's answers to the exercise are. A pair's excess
on the cell is how far its similarity lies above the baseline, as a share of the way from the
baseline up to 1; a cell whose baseline is FORCED or more tells nothing and is left out. A pair's
score is its mean excess over the cells both answered, weighted by the shorter answer's length and
divided by at least EVIDENCE minimum-length answers: two short answers alike are not enough.

The counts of shared fingerprints are kept between runs (store.py) and only a new hand-in is
compared against every other; the common fingerprints, baselines and scores are worked out from
them every time (they depend on the whole class), which takes a fraction of a second.

Hand-ins are identified by their fingerprints' key (notebook and digest), students by name: two
students who handed in the same file have the same key, and match fully.
"""

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from grading.similarity.answers import CODE, WRITTEN, Stub
from grading.similarity.fingerprint import SETTINGS, Fingerprint

THRESHOLD = 0.5  # a pair scoring this or more is listed in similarity.csv and may join a cluster
FORCED = 0.9  # a baseline from which an exercise tells nothing
MIN_ANSWERS = 5  # answers that count below which a cell has no baseline (taken as 0)
COMMON = 10  # a fingerprint more answers than this have is what the exercise forces (MOSS's -m 10)
EVIDENCE = 2.0  # minimum-length answers a pair needs for a full score
BELOW_THRESHOLD_SHOWN = 10  # per notebook, the best pairs under the threshold are kept too

Prints = Mapping[str, Mapping[str, Fingerprint]]  # key → grade_id → fingerprint


@dataclass
class Shared:
    """Fingerprints shared by the hand-ins of one notebook, per answer cell: counts[grade_id][i, j]
    for keys[i] and keys[j]; on the diagonal, each one's own count."""

    keys: list[str]
    counts: dict[str, np.ndarray]


@dataclass(frozen=True)
class CellMatch:
    """How alike two hand-ins' answers to one exercise are."""

    grade_id: str
    kind: str
    similarity: float
    baseline: float
    excess: float  # what counts towards the score: above the baseline, 0 to 1


@dataclass(frozen=True)
class Pair:
    notebook: str
    students: tuple[str, str]
    keys: tuple[str, str]
    score: float
    code: float | None  # the score over code answers alone; None when none counted for both
    written: float | None  # the same over written answers
    cells: tuple[CellMatch, ...]  # the cells both answered, in the notebook's order


@dataclass
class NotebookPairs:
    notebook: str
    students: list[str]  # in the order of `scores`: pair (i, j), i < j, in row-major order
    baselines: dict[str, float | None]  # grade_id → baseline; None when too few answers count
    answered: dict[str, int]  # grade_id → hand-ins whose answer counts
    common: dict[str, frozenset[int]]  # grade_id → the fingerprints too common to count
    scores: np.ndarray  # every pair's score, for the histogram
    pairs: list[Pair]  # those at or above the threshold, then the best few below; best first
    clusters: list[list[str]]  # groups of 3 or more students linked by pairs at or above the threshold

    def score(self, a: str, b: str) -> float:
        """The score of the pair of students a and b."""
        i, j = sorted((self.students.index(a), self.students.index(b)))
        n = len(self.students)
        return float(self.scores[i * n - i * (i + 1) // 2 + j - i - 1])


def _counting(fp: Fingerprint | None, kind: str) -> np.ndarray:
    return fp.hashes if fp is not None and fp.counts(kind) else np.empty(0, dtype=np.int64)


def _incidence(docs: Sequence[np.ndarray], vocab: np.ndarray) -> np.ndarray:
    """docs x vocab: 1 where a document has the (sorted) vocabulary's hash."""
    incidence = np.zeros((len(docs), len(vocab)), dtype=np.float32)
    hashes = np.concatenate(docs) if docs else np.empty(0, dtype=np.int64)
    if len(vocab) and len(hashes):
        owner = np.repeat(np.arange(len(docs)), [len(d) for d in docs])
        at = np.searchsorted(vocab, hashes).clip(0, len(vocab) - 1)
        known = vocab[at] == hashes
        incidence[owner[known], at[known]] = 1
    return incidence


def shared_counts(rows: Sequence[np.ndarray], cols: Sequence[np.ndarray]) -> np.ndarray:
    """How many fingerprints each of `rows` shares with each of `cols`, where every row is also a
    column (a hash only one column has adds nothing off the diagonal, which the caller sets)."""
    if not rows or not cols or not sum(map(len, cols)):
        return np.zeros((len(rows), len(cols)), dtype=np.int32)
    vocab, often = np.unique(np.concatenate(cols), return_counts=True)
    vocab = vocab[often > 1]
    return np.rint(_incidence(rows, vocab) @ _incidence(cols, vocab).T).astype(np.int32)


def update_shared(old: Shared | None, keys: list[str], prints: Prints, stubs: Mapping[str, Stub]) -> tuple[Shared, int]:
    """The shared counts of `keys`, reusing `old` for every pair of keys it had: only new keys are
    compared, each against every key. Returns the table and how many keys were compared afresh."""
    old = old or Shared([], {})
    before = {k: i for i, k in enumerate(old.keys)}
    kept = [k for k in keys if k in before]
    fresh = [k for k in keys if k not in before]
    at = {k: i for i, k in enumerate(keys)}
    counts = {}
    for gid, stub in stubs.items():
        hashes = [_counting(prints[k].get(gid), stub.kind) for k in keys]
        table = np.zeros((len(keys), len(keys)), dtype=np.int32)
        if gid in old.counts and kept:
            was, now = [before[k] for k in kept], [at[k] for k in kept]
            table[np.ix_(now, now)] = old.counts[gid][np.ix_(was, was)]
        if fresh:
            rows = [at[k] for k in fresh]
            table[rows, :] = shared_counts([hashes[i] for i in rows], hashes)
            table[:, rows] = table[rows, :].T
        np.fill_diagonal(table, [len(h) for h in hashes])
        counts[gid] = table
    return Shared(list(keys), counts), len(fresh)


def common_hashes(answers: Sequence[np.ndarray]) -> np.ndarray:
    """The fingerprints more than COMMON of `answers` have."""
    if not answers:
        return np.empty(0, dtype=np.int64)
    values, having = np.unique(np.concatenate(answers), return_counts=True)
    return values[having > COMMON]


@dataclass
class _Cell:
    """One answer cell over every pair (i < j) of hand-ins."""

    grade_id: str
    kind: str
    both: np.ndarray  # both answers count
    similarity: np.ndarray
    baseline: float | None  # None: too few answers to tell
    excess: np.ndarray
    weight: np.ndarray
    answered: int
    common: frozenset[int]


def _cell(gid: str, kind: str, shared: Shared, prints: Prints, ix: np.ndarray, upper: tuple) -> _Cell:
    fps = [prints[key].get(gid) for key in shared.keys]
    hashes = [_counting(fp, kind) for fp in fps]
    common = common_hashes([hashes[i] for i in ix])
    table = shared.counts[gid]
    if len(common):  # what the class has in common is no evidence: out of the counts, and of each answer
        incidence = _incidence(hashes, common)
        table = table - np.rint(incidence @ incidence.T).astype(np.int32)
    size = np.diagonal(table)[ix].astype(float)
    length = np.array([fp.length if fp is not None else 0 for fp in fps], dtype=float)[ix]
    counts = size > 0
    both = (counts[:, None] & counts[None, :])[upper]
    together = table[np.ix_(ix, ix)][upper].astype(float)
    a, b = np.maximum(size[upper[0]], 1), np.maximum(size[upper[1]], 1)
    similarity = np.where(both, together * (1 / a + 1 / b) / 2, 0.0)
    answered = int(counts.sum())
    baseline = float(np.median(similarity[both])) if answered >= MIN_ANSWERS else None
    floor = baseline or 0.0
    if floor < FORCED:
        excess = np.clip((similarity - floor) / (1 - floor), 0, 1)
        weight = np.where(both, np.minimum(length[upper[0]], length[upper[1]]), 0) / SETTINGS[kind].min_length
    else:
        excess = weight = np.zeros_like(similarity)
    return _Cell(gid, kind, both, similarity, baseline, excess, weight, answered, frozenset(common.tolist()))


def compare_notebook(
    notebook: str, handins: Sequence[tuple[str, str]], prints: Prints, shared: Shared, stubs: Mapping[str, Stub]
) -> NotebookPairs:
    """Scores every pair of `handins` ((student, key), the keys in `shared`) of one notebook."""
    students = [student for student, _ in handins]
    at = {k: i for i, k in enumerate(shared.keys)}
    ix = np.array([at[key] for _, key in handins], dtype=np.int64)
    upper = np.triu_indices(len(handins), 1)
    cells = [_cell(gid, stub.kind, shared, prints, ix, upper) for gid, stub in stubs.items()]
    weighted = {CODE: np.zeros(len(upper[0])), WRITTEN: np.zeros(len(upper[0]))}
    weights = {CODE: np.zeros(len(upper[0])), WRITTEN: np.zeros(len(upper[0]))}
    for c in cells:
        weighted[c.kind] += c.weight * c.excess
        weights[c.kind] += c.weight
    total = (weighted[CODE] + weighted[WRITTEN]) / np.maximum(weights[CODE] + weights[WRITTEN], EVIDENCE)
    by_kind = {kind: weighted[kind] / np.maximum(weights[kind], EVIDENCE) for kind in (CODE, WRITTEN)}
    order = np.argsort(-total, kind="stable")
    ranked = total[order]
    below = order[(ranked > 0) & (ranked < THRESHOLD)][:BELOW_THRESHOLD_SHOWN]
    pairs = []
    for p in [*order[ranked >= THRESHOLD], *below]:
        i, j = int(upper[0][p]), int(upper[1][p])
        matches = tuple(
            CellMatch(c.grade_id, c.kind, float(c.similarity[p]), c.baseline or 0.0, float(c.excess[p]))
            for c in cells
            if c.both[p]
        )
        code, written = (float(by_kind[kind][p]) if weights[kind][p] else None for kind in (CODE, WRITTEN))
        names, keys = (students[i], students[j]), (handins[i][1], handins[j][1])
        pairs.append(Pair(notebook, names, keys, float(total[p]), code, written, matches))
    linked = [pair.students for pair in pairs if pair.score >= THRESHOLD]
    return NotebookPairs(
        notebook,
        students,
        {c.grade_id: c.baseline for c in cells},
        {c.grade_id: c.answered for c in cells},
        {c.grade_id: c.common for c in cells},
        total,
        pairs,
        clusters(linked),
    )


def clusters(links: Sequence[tuple[str, str]]) -> list[list[str]]:
    """The groups of 3 or more students that `links` connect, largest first."""
    parent: dict[str, str] = {}

    def root(s: str) -> str:
        while parent.setdefault(s, s) != s:
            parent[s] = parent[parent[s]]
            s = parent[s]
        return s

    for a, b in links:
        parent[root(a)] = root(b)
    groups: dict[str, list[str]] = {}
    for s in parent:
        groups.setdefault(root(s), []).append(s)
    return sorted((sorted(g) for g in groups.values() if len(g) >= 3), key=lambda g: (-len(g), g))
