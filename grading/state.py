"""What OUT remembers between runs: every hand-in it has seen (its original bytes, under
OUT/handins/, and where it came from) and every result, in OUT/state.json.

A result carries a fingerprint of its hand-in and of what grading depends on; grading again
redoes only hand-ins whose fingerprint changed. Pages are rendered from these stored results.
"""

import hashlib
import json
from dataclasses import asdict, dataclass, field
from pathlib import Path

from grading.records import HandIn, Result, Stray

STATE = "state.json"
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


def code_fingerprint() -> str:
    digest = hashlib.sha256()
    for name in EXECUTION_CODE:
        path = PACKAGE / name
        for file in sorted(path.rglob("*.py")) if path.is_dir() else [path]:
            digest.update(str(file.relative_to(PACKAGE)).encode() + b"\0" + file.read_bytes())
    return digest.hexdigest()


def handin_fingerprint(handin: HandIn, grading_print: str) -> str:
    return hashlib.sha256(grading_print.encode() + handin.content).hexdigest()


def key(student: str, notebook: str) -> str:
    return f"{student}/{notebook}"


@dataclass
class State:
    """state.json: the students found, the files not graded, the hand-ins seen, the results."""

    course: str = ""  # fingerprint of the course and the grading code the results were graded with
    students: list[str] = field(default_factory=list)
    strays: list[dict] = field(default_factory=list)
    handins: dict[str, dict] = field(default_factory=dict)  # "student/notebook" -> HandIn without content
    results: dict[str, dict] = field(default_factory=dict)  # "student/notebook" -> Result

    @classmethod
    def load(cls, out: Path) -> "State":
        path = out / STATE
        return cls(**json.loads(path.read_text())) if path.exists() else cls()

    def save(self, out: Path) -> None:
        tmp = out / (STATE + ".tmp")
        tmp.write_text(json.dumps(asdict(self)))
        tmp.replace(out / STATE)

    def remember(self, out: Path, handin: HandIn) -> None:
        """Keep a hand-in in OUT, so that a later run can grade it again without SUBMISSIONS."""
        path = stored_path(out, key(handin.student, handin.notebook))
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(handin.content)
        meta = asdict(handin)
        del meta["content"]
        self.handins[key(handin.student, handin.notebook)] = meta

    def recall(self, out: Path) -> dict[str, HandIn]:
        """The hand-ins of earlier runs, from OUT."""
        return {
            k: HandIn(
                **{**meta, "flags": tuple(meta["flags"]), "notes": tuple(meta["notes"])},
                content=stored_path(out, k).read_bytes(),
            )
            for k, meta in self.handins.items()
            if stored_path(out, k).exists()
        }

    def stray_records(self) -> list[Stray]:
        return [Stray(**s) for s in self.strays]

    def rows(self, max_scores: dict[str, float]) -> list[Result]:
        """One row per (student, notebook): the result, or `missing` when nothing was handed in."""
        table = []
        for student in self.students:
            for name, max_score in max_scores.items():
                data = self.results.get(key(student, name))
                missing = Result(student, name, "missing", max_score=max_score, message="no file handed in")
                table.append(Result.from_dict(data) if data else missing)
        return table


def stored_path(out: Path, handin_key: str) -> Path:
    return out / "handins" / f"{handin_key}.ipynb"
