"""OUT/similarity.json: what the similarity report keeps between runs, and the one function that
brings it up to date with the hand-ins OUT holds.

- per hand-in, by its notebook and digest: each answer's own lines and fingerprints (a hand-in is
  read and fingerprinted once; two students who handed in the same file share them);
- per notebook: how many fingerprints each pair of hand-ins shares, per answer cell, so that grading
  again compares only the new or changed hand-ins, each against every other.

It is kept while the code that makes fingerprints and the release's stubs stay the same;
otherwise it starts afresh. Scores are computed from it each time (they depend on every pair).
"""

import base64
import hashlib
import json
import zlib
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from grading.course import Course
from grading.files import write_atomically
from grading.normalize import Unreadable
from grading.similarity import answers, compare, fingerprint, normalise
from grading.similarity.answers import Stub
from grading.similarity.compare import NotebookPairs, Pair, Shared
from grading.similarity.fingerprint import Fingerprint
from grading.state import State, stored_path

CACHE = "similarity.json"
Fragments = list[tuple[str, bool]]


@dataclass(frozen=True)
class LeftOut:
    """A hand-in that was not compared, and why."""

    student: str
    notebook: str
    reason: str


@dataclass
class Similarity:
    """The comparison of every notebook's hand-ins, with what it takes to show two answers side by side."""

    notebooks: list[NotebookPairs]
    left_out: list[LeftOut]
    read: int  # hand-ins read and fingerprinted in this run (the others' fingerprints were in OUT)
    compared: int  # hand-ins compared against every other in this run (a file two students handed in: once)
    stubs: dict[str, dict[str, Stub]]  # notebook → grade_id → stub
    boilerplate: dict[str, dict[str, frozenset[int]]]  # notebook → grade_id → the stub's runs
    texts: Mapping[str, Mapping[str, str]]  # key → grade_id → the student's own lines
    prints: Mapping[str, Mapping[str, Fingerprint]]  # key → grade_id → fingerprint

    def side_by_side(self, pair: Pair, grade_id: str) -> tuple[Fragments, Fragments]:
        """Both answers to one exercise, each cut into fragments marked True where the other has them."""
        kind = self.stubs[pair.notebook][grade_id].kind
        common = next(nb.common[grade_id] for nb in self.notebooks if nb.notebook == pair.notebook)
        boilerplate = self.boilerplate[pair.notebook][grade_id] | common  # neither is evidence: not marked
        a, b = (self.texts[key][grade_id] for key in pair.keys)
        prints_a, prints_b = (self.prints[key][grade_id].hashes for key in pair.keys)
        return (
            fingerprint.shared_fragments(a, kind, boilerplate, prints_b),
            fingerprint.shared_fragments(b, kind, boilerplate, prints_a),
        )


def version(stubs: Mapping[str, Mapping[str, Stub]]) -> str:
    """What the stored fingerprints and shared counts depend on."""
    digest = hashlib.sha256()
    for module in (answers, normalise, fingerprint, compare):
        digest.update(Path(module.__file__).read_bytes())
    digest.update(json.dumps({nb: {g: [s.kind, s.source] for g, s in st.items()} for nb, st in stubs.items()}).encode())
    return digest.hexdigest()


def _pack(array: np.ndarray, dtype: str, compress: bool = False) -> str:
    data = array.astype(dtype).tobytes()
    return base64.b64encode(zlib.compress(data) if compress else data).decode()


def _unpack(text: str, dtype: str, compressed: bool = False) -> np.ndarray:
    data = base64.b64decode(text)
    return np.frombuffer(zlib.decompress(data) if compressed else data, dtype=dtype)


def _shared(table: dict) -> Shared:
    """A notebook's shared counts, from their upper triangles (mostly zeros: compressed)."""
    keys, upper = table["keys"], np.triu_indices(len(table["keys"]), 1)
    counts = {}
    for gid, packed in table["counts"].items():
        counts[gid] = np.zeros((len(keys), len(keys)), dtype=np.int32)
        counts[gid][upper] = _unpack(packed, "<u4", compressed=True)
        counts[gid] += counts[gid].T
    return Shared(keys, counts)


@dataclass
class Cache:
    """OUT/similarity.json in memory."""

    version: str
    handins: dict[str, dict]  # key → {"answers": {grade_id: {"text", "length", "hashes"}}} or {"unreadable": why}
    shared: dict[str, Shared]

    @classmethod
    def load(cls, path: Path, current: str) -> "Cache":
        """What OUT/similarity.json holds; nothing when there is none, it is damaged, or it was made
        by other code or for other stubs."""
        try:
            data = json.loads(path.read_text())
            if data["version"] != current:
                return cls(current, {}, {})
            return cls(current, data["handins"], {nb: _shared(table) for nb, table in data["shared"].items()})
        except (OSError, ValueError, KeyError, TypeError, zlib.error):
            return cls(current, {}, {})

    def save(self, path: Path) -> None:
        shared = {}
        for notebook, table in self.shared.items():
            upper = np.triu_indices(len(table.keys), 1)
            counts = {gid: _pack(counts[upper], "<u4", compress=True) for gid, counts in table.counts.items()}
            shared[notebook] = {"keys": table.keys, "counts": counts}
        write_atomically(path, json.dumps({"version": self.version, "handins": self.handins, "shared": shared}))

    def add(self, key: str, content: bytes, stubs: dict[str, Stub], boilerplate: Mapping[str, frozenset[int]]) -> None:
        """Read one hand-in and keep its answers' fingerprints."""
        try:
            found = answers.answers(content, stubs)
        except Unreadable as error:
            self.handins[key] = {"unreadable": error.reason}
            return
        kept = {}
        for gid, text in found.items():
            fp = fingerprint.fingerprint(text, stubs[gid].kind, boilerplate[gid])
            kept[gid] = {"text": text, "length": fp.length, "hashes": _pack(fp.hashes, "<i8")}
        self.handins[key] = {"answers": kept}

    def texts(self, key: str) -> dict[str, str]:
        return {gid: a["text"] for gid, a in self.handins[key].get("answers", {}).items()}

    def prints(self, key: str) -> dict[str, Fingerprint]:
        answers = self.handins[key].get("answers", {})
        return {gid: Fingerprint(_unpack(a["hashes"], "<i8"), a["length"]) for gid, a in answers.items()}


def update(out: Path, course: Course, saved: State) -> Similarity:
    """Compare every notebook's hand-ins in OUT, reading and comparing afresh only those that
    OUT/similarity.json does not know yet; save what it knows now."""
    stubs = {nb: answers.stubs(course.release(nb)) for nb in course.notebooks}
    boilerplate = {
        nb: {gid: fingerprint.stub_hashes(stub.source, stub.kind) for gid, stub in given.items()}
        for nb, given in stubs.items()
    }
    cache = Cache.load(out / CACHE, version(stubs))
    handins: dict[str, list[tuple[str, str]]] = {nb: [] for nb in course.notebooks}
    left_out, seen, read, compared = [], set(), 0, 0
    for k, meta in sorted(saved.handins.items()):
        student, notebook = meta["student"], meta["notebook"]
        if notebook not in stubs:
            continue
        if meta.get("problem"):
            left_out.append(LeftOut(student, notebook, meta["problem"]))
            continue
        content = None
        try:
            if not meta.get("digest"):  # an OUT from before digests were kept
                content = stored_path(out, k).read_bytes()
            key = f"{notebook}/{meta.get('digest') or hashlib.sha256(content).hexdigest()}"
            seen.add(key)
            if key not in cache.handins:
                cache.add(key, content or stored_path(out, k).read_bytes(), stubs[notebook], boilerplate[notebook])
                read += 1
        except OSError as error:
            left_out.append(LeftOut(student, notebook, f"its copy in OUT could not be read ({error.strerror})"))
            continue
        if "unreadable" in cache.handins[key]:
            left_out.append(LeftOut(student, notebook, cache.handins[key]["unreadable"]))
            continue
        handins[notebook].append((student, key))
    used = {key for pairs in handins.values() for _, key in pairs}
    prints = {key: cache.prints(key) for key in used}
    notebooks = []
    for notebook, pairs in handins.items():
        keys = sorted({key for _, key in pairs})
        cache.shared[notebook], fresh = compare.update_shared(cache.shared.get(notebook), keys, prints, stubs[notebook])
        compared += fresh
        notebooks.append(compare.compare_notebook(notebook, pairs, prints, cache.shared[notebook], stubs[notebook]))
    cache.handins = {key: entry for key, entry in cache.handins.items() if key in seen}
    cache.save(out / CACHE)
    texts = {key: cache.texts(key) for key in used}
    return Similarity(notebooks, left_out, read, compared, stubs, boilerplate, texts, prints)
