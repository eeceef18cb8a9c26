"""An answer's fingerprints, and the fragments two answers share.

An answer is normalised first (normalise.py: names, layout and comments do not count). Its
fingerprints are the robust winnowing (as MOSS does) of the hashes of its runs of k characters,
less the runs of the stub. Two answers that share a run of k + window - 1 normalised characters
share a fingerprint; shorter runs (`V=V+1`) are what everyone writes.

The winnowing is copydetect's (its `winnow`), written here and checked against it
(tests/test_similarity.py): importing copydetect imports matplotlib, 0.4 s of every run.
copydetect hashes runs with Python's `hash()`, which changes with every process (PYTHONHASHSEED):
here they are hashed with a fixed polynomial instead, so that fingerprints kept in OUT stay valid.
"""

import math
from dataclasses import dataclass

import numpy as np

from grading.similarity.answers import CODE, WRITTEN
from grading.similarity.normalise import normalise, normalised_text


@dataclass(frozen=True)
class Settings:
    k: int  # characters of a run
    window: int  # winnowing window: every shared run of k + window - 1 characters is found
    min_length: int  # normalised characters below which an answer is too short to tell anything


SETTINGS = {
    CODE: Settings(k=12, window=4, min_length=30),  # `u = 2 * x + 1` is `V=2*V+1`: 7 characters
    WRITTEN: Settings(k=25, window=6, min_length=80),  # about 5 words a run, 15 words an answer
}
BASE = np.uint64(0x100000001B3)  # odd: the polynomial hash of a run, modulo 2**64
MIX = (np.uint64(30), np.uint64(0xBF58476D1CE4E5B9), np.uint64(27), np.uint64(0x94D049BB133111EB), np.uint64(31))
BITS = np.uint64(12)  # keep 52 bits: copydetect's winnowing, the reference, compares hashes as floats


@dataclass(frozen=True)
class Fingerprint:
    hashes: np.ndarray  # sorted, unique, int64
    length: int  # characters of the normalised answer

    def counts(self, kind: str) -> bool:
        """Long enough to be compared, and not only the stub."""
        return self.length >= SETTINGS[kind].min_length and len(self.hashes) > 0


def run_hashes(text: str, k: int) -> np.ndarray:
    """The hash of every run of k characters of `text`, the same in every process."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    runs = len(codes) - k + 1
    if runs <= 0:
        return np.empty(0, dtype=np.int64)
    hashes = np.zeros(runs, dtype=np.uint64)
    for i in range(k):  # Horner's rule over every run at once, wrapping around 2**64 as meant
        hashes = hashes * BASE + codes[i : i + runs]
    # splitmix64's finaliser: every character moves every bit (the last one alone moves only low bits)
    first, times, second, again, third = MIX
    hashes = (hashes ^ (hashes >> first)) * times
    hashes = (hashes ^ (hashes >> second)) * again
    return ((hashes ^ (hashes >> third)) >> BITS).astype(np.int64)


def stub_hashes(stub: str, kind: str) -> frozenset[int]:
    """Every run of the stub: boilerplate, never a fingerprint."""
    return frozenset(run_hashes(normalised_text(stub, kind), SETTINGS[kind].k).tolist())


def winnow(hashes: list[int], window: int) -> list[int]:
    """Where the fingerprints are: in every window of `window` hashes (the first ones padded with
    hashes larger than any), the smallest. It stays chosen while its window slides on, even when a
    new hash ties with it; once it has left, the rightmost smallest of the window is chosen."""
    buffer = [math.inf] * window
    newest = smallest = 0  # places in the circular buffer
    chosen = []
    for i, value in enumerate(hashes):
        newest = (newest + 1) % window
        buffer[newest] = value
        if smallest == newest:  # the smallest has left the window: look again, newest first
            for back in range(1, window):
                place = (newest - back) % window
                if buffer[place] < buffer[smallest]:
                    smallest = place
            chosen.append(i - (newest - smallest) % window)
        elif value < buffer[smallest]:
            smallest = newest
            chosen.append(i)
    return chosen


def copied_slices(starts: np.ndarray, k: int) -> list[tuple[int, int]]:
    """The runs of k characters that start at `starts`, as (start, end), joined where they overlap."""
    slices: list[tuple[int, int]] = []
    for start in sorted(starts.tolist()):
        if slices and start < slices[-1][1]:
            slices[-1] = (slices[-1][0], start + k)
        else:
            slices.append((start, start + k))
    return slices


def _winnowed(text: str, kind: str, boilerplate: frozenset[int]) -> tuple[np.ndarray, np.ndarray]:
    """The fingerprints of a normalised answer and where each one's run starts."""
    settings = SETTINGS[kind]
    hashes = run_hashes(text, settings.k)
    if not len(hashes):
        return hashes, np.empty(0, dtype=np.int64)
    where = np.array(winnow(hashes.tolist(), settings.window), dtype=np.int64)
    selected = hashes[where]
    own = [i for i, h in enumerate(selected.tolist()) if h not in boilerplate]  # a set: answers are short
    return selected[own], where[own]


def fingerprint(answer: str, kind: str, boilerplate: frozenset[int]) -> Fingerprint:
    text = normalised_text(answer, kind)
    if len(text) < SETTINGS[kind].min_length:  # never compared: not worth hashing
        return Fingerprint(np.empty(0, dtype=np.int64), len(text))
    hashes, _ = _winnowed(text, kind, boilerplate)
    return Fingerprint(np.array(sorted(set(hashes.tolist())), dtype=np.int64), len(text))


def shared_fragments(answer: str, kind: str, boilerplate: frozenset[int], other: np.ndarray) -> list[tuple[str, bool]]:
    """`answer` cut into fragments, each marked True when it lies in a run whose fingerprint is
    among `other` (the other answer's fingerprints)."""
    normalised = normalise(answer, kind)
    hashes, where = _winnowed(normalised.text, kind, boilerplate)
    fragments, done = [], 0
    for start, end in copied_slices(where[np.isin(hashes, other)], SETTINGS[kind].k):
        first, last = int(normalised.starts[start]), int(normalised.ends[end - 1])
        fragments += [(answer[done:first], False), (answer[first:last], True)]
        done = last
    fragments.append((answer[done:], False))
    return [(text, matched) for text, matched in fragments if text]
