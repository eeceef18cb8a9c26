"""The plain records that flow through grading: collect → normalize → execute → gradebook → render."""

from dataclasses import asdict, dataclass, field

# grades.csv's status column
GRADED, MISSING, UNREADABLE, ERROR = "graded", "missing", "unreadable", "error"
STATUSES = (GRADED, MISSING, UNREADABLE, ERROR)

# grades.csv's flags column: each explained in the row's message
FLAGS = ("timeout", "kernel-died", "cells-restored", "tampered", "suspicious", "late", "renamed", "duplicate")


@dataclass(frozen=True)
class HandIn:
    """One file handed in for one notebook of the course."""

    student: str
    notebook: str  # the course notebook it was matched to, e.g. "02_single_chain"
    source: str  # where it came from, relative to SUBMISSIONS (inside a zip: the member's name)
    content: bytes  # empty while the hand-in waits in OUT: read when a worker gets it
    submitted_at: float  # seconds since the epoch (file or zip member time)
    flags: tuple[str, ...] = ()  # from collect: late, renamed, duplicate
    notes: tuple[str, ...] = ()  # one sentence per flag, e.g. "renamed from 'Copy of 02_single_chain.ipynb'"
    problem: str | None = None  # why the file could not be read (too large, damaged): it is `unreadable`
    digest: str = ""  # sha256 of content, once it is known


@dataclass(frozen=True)
class Stray:
    """A file that is not graded, and why: it matches no notebook, or a newer file superseded it."""

    source: str
    reason: str
    student: str | None = None


@dataclass
class CellResult:
    """One graded cell of one hand-in."""

    grade_id: str
    max_score: float
    score: float | None  # None: waits for manual grading
    manual: bool = False  # a written answer that an instructor grades in formgrader
    text: str = ""  # printed output and error messages, never tracebacks; also while the hidden tests
    # ran, which the feedback page withholds (the misconception counts read them)
    by_hand: bool = False  # the score is the instructor's, from the gradebook (grading.manual)


@dataclass
class Result:
    """The outcome for one (student, notebook) pair: one row of grades.csv."""

    student: str
    notebook: str
    status: str
    score: float = 0.0
    max_score: float = 0.0
    flags: list[str] = field(default_factory=list)
    misconceptions: list[str] = field(default_factory=list)
    message: str = ""
    source: str | None = None  # the file that was graded
    submitted_at: float | None = None
    fingerprint: str | None = None  # hash of the hand-in and the course: unchanged means not re-graded
    seconds: float = 0.0  # time spent grading it
    cells: list[CellResult] = field(default_factory=list)
    # Set when results are published (grading.late), never stored: `score` is then after the penalty.
    raw_score: float | None = None  # before the late penalty
    late_by: float | None = None  # seconds after the due date (0: on time); None: no due date
    penalty: float = 0.0  # points taken off for lateness

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict) -> "Result":
        return cls(**{**data, "cells": [CellResult(**c) for c in data.get("cells", [])]})
