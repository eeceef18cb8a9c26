"""Every pair of hand-ins of one notebook, scored answer cell by answer cell against what the
exercise forces.

For one answer cell and two hand-ins whose answers both count (long enough, not only the stub):
their similarity is the share of each one's fingerprints that the other has, averaged over the two.
The cell's baseline is the median similarity over all such pairs: how alike everyone's answers to
this exercise are. A pair's excess on the cell is how far its similarity lies above the baseline, as
a share of the way from the baseline up to 1; a cell whose baseline is FORCED or more (everyone
writes the same thing) tells nothing and is left out. A pair's score is its mean excess over the
cells both answered, weighted by the shorter answer's length, and divided by at least EVIDENCE
minimum-length answers: two short answers alike are not enough for a high score.

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


def shared_counts(rows: Sequence[np.ndarray], cols: Sequence[np.ndarray]) -> np.ndarray:
    """How many fingerprints each of `rows` shares with each of `cols`, where every row is also a
    column (a hash only one column has adds nothing off the diagonal, which the caller sets)."""
    found = np.zeros((len(rows), len(cols)), dtype=np.int32)
    if not rows or not cols or not sum(map(len, cols)):
        return found
    vocab, often = np.unique(np.concatenate(cols), return_counts=True)
    vocab = vocab[often > 1]
    matrices = []
    for docs in (rows, cols):
        incidence = np.zeros((len(docs), len(vocab)), dtype=np.float32)
        hashes = np.concatenate(docs) if docs else np.empty(0, dtype=np.int64)
        owner = np.repeat(np.arange(len(docs)), [len(d) for d in docs])
        at = np.searchsorted(vocab, hashes).clip(0, max(len(vocab) - 1, 0))
        known = vocab[at] == hashes if len(vocab) else np.zeros(len(hashes), dtype=bool)
        incidence[owner[known], at[known]] = 1
        matrices.append(incidence)
    return np.rint(matrices[0] @ matrices[1].T).astype(np.int32)


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


def compare_notebook(
    notebook: str, handins: Sequence[tuple[str, str]], prints: Prints, shared: Shared, stubs: Mapping[str, Stub]
) -> NotebookPairs:
    """Scores every pair of `handins` ((student, key), the keys in `shared`) of one notebook."""
    students = [student for student, _ in handins]
    at = {k: i for i, k in enumerate(shared.keys)}
    ix = np.array([at[key] for _, key in handins], dtype=np.int64)
    n = len(handins)
    upper = np.triu_indices(n, 1)
    weighted = {CODE: np.zeros(len(upper[0])), WRITTEN: np.zeros(len(upper[0]))}
    weights = {CODE: np.zeros(len(upper[0])), WRITTEN: np.zeros(len(upper[0]))}
    cells, baselines, answered = [], {}, {}
    for gid, stub in stubs.items():
        fps = [prints[key].get(gid) for key in shared.keys]
        counts = np.array([fp is not None and fp.counts(stub.kind) for fp in fps], dtype=bool)[ix]
        size = np.diagonal(shared.counts[gid])[ix].astype(float)
        length = np.array([fp.length if fp is not None else 0 for fp in fps], dtype=float)[ix]
        answered[gid] = int(counts.sum())
        both = (counts[:, None] & counts[None, :])[upper]
        common = shared.counts[gid][np.ix_(ix, ix)][upper].astype(float)
        a, b = size[upper[0]], size[upper[1]]
        similarity = np.where(both, common * (1 / np.maximum(a, 1) + 1 / np.maximum(b, 1)) / 2, 0.0)
        baseline = float(np.median(similarity[both])) if answered[gid] >= MIN_ANSWERS else 0.0
        baselines[gid] = baseline if answered[gid] >= MIN_ANSWERS else None
        if baseline < FORCED:
            excess = np.clip((similarity - baseline) / (1 - baseline), 0, 1)
            weight = np.where(both, np.minimum(length[upper[0]], length[upper[1]]), 0) / SETTINGS[stub.kind].min_length
        else:
            excess = weight = np.zeros_like(similarity)
        weighted[stub.kind] += weight * excess
        weights[stub.kind] += weight
        cells.append((gid, stub.kind, both, similarity, baseline, excess))
    total = (weighted[CODE] + weighted[WRITTEN]) / np.maximum(weights[CODE] + weights[WRITTEN], EVIDENCE)
    by_kind = {kind: weighted[kind] / np.maximum(weights[kind], EVIDENCE) for kind in (CODE, WRITTEN)}
    order = np.argsort(-total, kind="stable")
    ranked = total[order]
    below = order[(ranked > 0) & (ranked < THRESHOLD)][:BELOW_THRESHOLD_SHOWN]
    pairs = []
    for p in [*order[ranked >= THRESHOLD], *below]:
        i, j = int(upper[0][p]), int(upper[1][p])
        matches = tuple(
            CellMatch(gid, kind, float(sim[p]), baseline, float(exc[p]))
            for gid, kind, both, sim, baseline, exc in cells
            if both[p]
        )
        pairs.append(
            Pair(
                notebook,
                (students[i], students[j]),
                (handins[i][1], handins[j][1]),
                float(total[p]),
                float(by_kind[CODE][p]) if weights[CODE][p] else None,
                float(by_kind[WRITTEN][p]) if weights[WRITTEN][p] else None,
                matches,
            )
        )
    linked = [pair.students for pair in pairs if pair.score >= THRESHOLD]
    return NotebookPairs(notebook, students, baselines, answered, total, pairs, clusters(linked))


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
