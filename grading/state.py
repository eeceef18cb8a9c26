"""What OUT remembers between runs: every hand-in it has seen (its original bytes under
OUT/handins/, where it came from and its digest) and every result.

OUT/state.json is the snapshot; OUT/results.jsonl the journal: each result is appended there the
moment it arrives, so a killed grader loses nothing it graded. Loading replays the journal onto
the snapshot; saving writes a new snapshot and empties the journal. One grader at a time: OUT/.lock.

A result carries a fingerprint of its hand-in and of what grading depends on; grading again
redoes only hand-ins whose fingerprint changed. Pages are rendered from these stored results.
"""

import fcntl
import hashlib
import json
import os
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path

from grading.files import append_line, write_atomically
from grading.records import MISSING, HandIn, Result, Stray

STATE, JOURNAL, LOCK = "state.json", "results.jsonl", ".lock"
PACKAGE = Path(__file__).resolve().parent
# The grading code a score can depend on: what runs a hand-in. Rendering, collecting and the
# command line are not in it: changing them re-grades nothing.
EXECUTION_CODE = (
    "compat.py",
    "execute.py",
    "integrity.py",
    "normalize.py",
    "outputs.py",
    "preprocessors.py",
    "records.py",
    "kernel",
)


class Busy(RuntimeError):
    """Another grader is writing into the same OUT."""


def code_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in EXECUTION_CODE:
        path = PACKAGE / name
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(str(file.relative_to(PACKAGE)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def handin_fingerprint(handin: HandIn, grading_print: str) -> str:
    return hashlib.sha256(f"{grading_print}:{handin.digest}".encode()).hexdigest()


def key(student: str, notebook: str) -> str:
    return f"{student}/{notebook}"


@contextmanager
def locked(out: Path) -> Iterator[None]:
    """Hold OUT for this run; refuse at once when another run holds it."""
    with open(out / LOCK, "a+") as lock:
        try:
            fcntl.flock(lock, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            lock.seek(0)
            raise Busy(
                f"{out} is being written by another grader ({lock.read().strip()}); wait for it to end"
            ) from None
        lock.truncate(0)
        lock.write(f"pid {os.getpid()}")
        lock.flush()
        yield


@dataclass
class State:
    """state.json: the students found, the files not graded, the hand-ins seen, the results."""

    course: str = ""  # fingerprint of the course and the grading code the results were graded with
    students: list[str] = field(default_factory=list)
    strays: list[dict] = field(default_factory=list)
    handins: dict[str, dict] = field(default_factory=dict)  # "student/notebook" -> HandIn without content
    results: dict[str, dict] = field(default_factory=dict)  # "student/notebook" -> Result
    notes: list[str] = field(default_factory=list)  # what the last run warned of (no sandbox, ...)
    adjusted: list[str] = field(default_factory=list)  # "student/notebook" whose pages show hand grades or lateness

    @classmethod
    def load(cls, out: Path) -> "State":
        path = out / STATE
        state = cls(**json.loads(path.read_text())) if path.exists() else cls()
        journal = out / JOURNAL
        for line in journal.read_text(encoding="utf-8").splitlines() if journal.exists() else []:
            try:
                entry = json.loads(line)
            except ValueError:  # the line a kill cut short: its hand-in is graded again
                continue
            state.handins[entry["key"]] = entry["handin"]
            state.results[entry["key"]] = entry["result"]
        return state

    def save(self, out: Path) -> None:
        write_atomically(out / STATE, json.dumps(asdict(self)))
        (out / JOURNAL).unlink(missing_ok=True)

    def record(self, out: Path, handin: HandIn, result: Result) -> None:
        """Keep one result, in memory and at once in the journal."""
        k = key(handin.student, handin.notebook)
        self.handins[k] = metadata(handin)
        self.results[k] = result.to_dict()
        append_line(out / JOURNAL, json.dumps({"key": k, "handin": self.handins[k], "result": self.results[k]}))

    def remember(self, out: Path, handin: HandIn) -> None:
        """Keep a hand-in's bytes in OUT (unless they are there already), so that a later run can
        grade it again without SUBMISSIONS."""
        k = key(handin.student, handin.notebook)
        path = stored_path(out, k)
        if self.handins.get(k, {}).get("digest") != handin.digest or not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            write_atomically(path, handin.content)
        self.handins[k] = metadata(handin)

    def recall(self, out: Path) -> dict[str, HandIn]:
        """The hand-ins of earlier runs, without their bytes (an OUT from before digests were kept
        gets them from its stored files)."""
        recalled = {}
        for k, meta in self.handins.items():
            stored = stored_path(out, k)
            if "digest" not in meta and stored.exists():
                meta = {**meta, "digest": hashlib.sha256(stored.read_bytes()).hexdigest()}
            if meta.get("digest") or meta.get("problem"):
                fields = {**meta, "content": b"", "flags": tuple(meta["flags"]), "notes": tuple(meta["notes"])}
                recalled[k] = HandIn(**fields)
        return recalled

    def stray_records(self) -> list[Stray]:
        return [Stray(**s) for s in self.strays]

    def rows(self, max_scores: dict[str, float]) -> list[Result]:
        """One row per (student, notebook): the result, or `missing` when nothing was handed in."""
        table = []
        for student in self.students:
            for name, max_score in max_scores.items():
                data = self.results.get(key(student, name))
                missing = Result(student, name, MISSING, max_score=max_score, message="no file handed in")
                table.append(Result.from_dict(data) if data else missing)
        return table


def metadata(handin: HandIn) -> dict:
    meta = asdict(handin)
    del meta["content"]
    return meta


def stored_path(out: Path, handin_key: str) -> Path:
    return out / "handins" / f"{handin_key}.ipynb"


class Stored(Sequence):
    """Hand-ins kept in OUT, each read from disk only when it is taken: one at a time in memory."""

    def __init__(self, out: Path, handins: list[HandIn]):
        self.out, self.handins = out, handins

    def __len__(self) -> int:
        return len(self.handins)

    def __getitem__(self, index: int) -> HandIn:
        handin = self.handins[index]
        return replace(handin, content=stored_path(self.out, key(handin.student, handin.notebook)).read_bytes())
