"""An answer's fingerprints, and the fragments two answers share.

An answer is normalised first, so that renaming or reformatting hides nothing: code by copydetect's
`filter_code` (Pygments tokens: every name becomes V, every string S, comments and spaces go), a
written answer to its lower-case words. Its fingerprints are copydetect's `winnow` of the hashes of
its runs of K characters, less the runs of the stub. Two answers share a run of K + WINDOW - 1
characters only if they share a fingerprint; shorter runs (`x = x + 1`) are what everyone writes.

copydetect hashes runs with Python's `hash()`, which changes with every process (PYTHONHASHSEED):
here they are hashed with a fixed polynomial instead, so that fingerprints kept in OUT stay valid.
"""

import re
from dataclasses import dataclass

import numpy as np
from copydetect.utils import filter_code, get_copied_slices, winnow

from grading.similarity.answers import CODE, WRITTEN


@dataclass(frozen=True)
class Settings:
    k: int  # characters of a run
    window: int  # winnowing window: every shared run of k + window - 1 characters is found
    min_length: int  # normalised characters below which an answer is too short to tell anything


SETTINGS = {
    CODE: Settings(k=12, window=4, min_length=30),  # `u = 2 * x + 1` is `V=2*V+1`: 7 characters
    WRITTEN: Settings(k=25, window=6, min_length=80),  # about 5 words a run, 15 words an answer
}
WORD = re.compile(r"\w+")
BASE = np.uint64(0x100000001B3)  # odd: the polynomial hash of a run, modulo 2**64
MIX = (np.uint64(30), np.uint64(0xBF58476D1CE4E5B9), np.uint64(27), np.uint64(0x94D049BB133111EB), np.uint64(31))
BITS = np.uint64(12)  # keep 52 bits: copydetect's winnowing compares hashes as floats


@dataclass(frozen=True)
class Normalised:
    text: str
    starts: np.ndarray  # where each character of `text` starts in the original answer


@dataclass(frozen=True)
class Fingerprint:
    hashes: np.ndarray  # sorted, unique, int64
    length: int  # characters of the normalised answer

    def counts(self, kind: str) -> bool:
        """Long enough to be compared, and not only the stub."""
        return self.length >= SETTINGS[kind].min_length and len(self.hashes) > 0


def normalise(answer: str, kind: str) -> Normalised:
    if kind == WRITTEN:
        return _words(answer)
    text, offsets = filter_code(answer, "answer.py", "python")
    # copydetect's offsets give, at some positions of `text`, how many characters the filter had
    # removed before it; past the last one, all it removed. A character takes the first entry at or
    # after it (as copydetect's own highlighting does).
    table = np.vstack([offsets.reshape(-1, 2), [[len(text), len(answer) - len(text)]]]).astype(np.int64)
    positions = np.arange(len(text))
    return Normalised(text, positions + table[np.searchsorted(table[:, 0], positions), 1])


def _words(answer: str) -> Normalised:
    """Lower-case words, one space apart."""
    parts, starts = [], []
    for match in WORD.finditer(answer):
        word = match.group().lower()
        if len(word) != len(match.group()):  # lower() lengthened it ('İ'): keep it as it is
            word = match.group()
        if parts:
            parts.append(" ")
            starts.append(starts[-1] + 1)
        parts.append(word)
        starts.extend(range(match.start(), match.end()))
    return Normalised("".join(parts), np.array(starts, dtype=np.int64))


def run_hashes(text: str, k: int) -> np.ndarray:
    """The hash of every run of k characters of `text`, the same in every process."""
    codes = np.frombuffer(text.encode("utf-32-le"), dtype=np.uint32).astype(np.uint64)
    if len(codes) < k:
        return np.empty(0, dtype=np.int64)
    powers = BASE ** np.arange(k - 1, -1, -1, dtype=np.uint64)  # wraps around 2**64, as meant
    runs = np.lib.stride_tricks.sliding_window_view(codes, k)
    hashes = (runs * powers).sum(axis=1, dtype=np.uint64)
    # splitmix64's finaliser: every character moves every bit (the last one alone moves only low bits)
    first, times, second, again, third = MIX
    hashes = (hashes ^ (hashes >> first)) * times
    hashes = (hashes ^ (hashes >> second)) * again
    return ((hashes ^ (hashes >> third)) >> BITS).astype(np.int64)


def stub_hashes(stub: str, kind: str) -> np.ndarray:
    """Every run of the stub: boilerplate, never a fingerprint."""
    return np.unique(run_hashes(normalise(stub, kind).text, SETTINGS[kind].k))


def _winnowed(text: str, kind: str, boilerplate: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """The fingerprints of a normalised answer and where each one's run starts."""
    settings = SETTINGS[kind]
    hashes = run_hashes(text, settings.k)
    if not len(hashes):
        return hashes, np.empty(0, dtype=np.int64)
    selected, where = winnow(hashes, settings.window, remove_duplicates=False)
    own = ~np.isin(selected, boilerplate)
    return selected[own], where[own]


def fingerprint(answer: str, kind: str, boilerplate: np.ndarray) -> Fingerprint:
    text = normalise(answer, kind).text
    hashes, _ = _winnowed(text, kind, boilerplate)
    return Fingerprint(np.unique(hashes), len(text))


def shared_fragments(answer: str, kind: str, boilerplate: np.ndarray, other: np.ndarray) -> list[tuple[str, bool]]:
    """`answer` cut into fragments, each marked True when it lies in a run whose fingerprint is
    among `other` (the other answer's fingerprints)."""
    normalised = normalise(answer, kind)
    hashes, where = _winnowed(normalised.text, kind, boilerplate)
    slices = get_copied_slices(where[np.isin(hashes, other)], SETTINGS[kind].k)
    ends = np.append(normalised.starts[1:], len(answer))  # a run ends where its next character starts
    fragments, done = [], 0
    for start, end in zip(slices[0].astype(int), slices[1].astype(int)):
        first, last = int(normalised.starts[start]), int(ends[end - 1])
        last = first + len(answer[first:last].rstrip())  # not the spaces or comment up to the next token
        fragments += [(answer[done:first], False), (answer[first:last], True)]
        done = last
    fragments.append((answer[done:], False))
    return [(text, matched) for text, matched in fragments if text]
