"""The course as the grader sees it: a built nbgrader course folder, only read.

The folder holds what nbgrader's tools expect (nbgrader_config.py, gradebook.db, source/ and
release/ per notebook) and the course's manifest, course.json: its notebooks, the names its
helpers give a notebook (a student who redefines one is flagged), the name prefix of its helper
modules inside a notebook, and the pattern of a misconception tag in a check's message.
"""

import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from nbgrader import utils as nbgrader_utils
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

MANIFEST = "course.json"
# Course folders built before the manifest existed (an OUT graded by an earlier grader) had these.
BEFORE_MANIFEST = {
    "check_names": [],
    "helper_module_prefix": "course_",
    "misconception_pattern": r"\[misconception: ([\w-]+)\]",
}


@dataclass(frozen=True)
class Course:
    """A built course folder and its manifest."""

    folder: Path
    notebooks: tuple[str, ...]
    check_names: frozenset[str]
    helper_module_prefix: str
    misconception: re.Pattern

    @classmethod
    def read(cls, folder: Path) -> "Course":
        path = folder / MANIFEST
        releases = sorted(p.name for p in (folder / "release").iterdir()) if (folder / "release").is_dir() else []
        manifest = json.loads(path.read_text()) if path.exists() else {**BEFORE_MANIFEST, "notebooks": releases}
        return cls(
            folder,
            tuple(manifest["notebooks"]),
            frozenset(manifest["check_names"]),
            manifest["helper_module_prefix"],
            re.compile(manifest["misconception_pattern"]),
        )

    def misconceptions(self, text: str) -> list[str]:
        """The misconception tags a check's message carries, in order, each once."""
        return list(dict.fromkeys(self.misconception.findall(text)))

    def release(self, name: str) -> NotebookNode:
        """The student version of a notebook, as the course gave it out."""
        return self.releases[name]

    @cached_property
    def releases(self) -> dict[str, NotebookNode]:
        return {n: nbformat.read(self.folder / "release" / n / f"{n}.ipynb", as_version=4) for n in self.notebooks}

    @cached_property
    def max_scores(self) -> dict[str, float]:
        return {n: sum(points(nb).values()) for n, nb in self.releases.items()}

    def nbgrader_config(self) -> Config:
        """nbgrader's configuration of this course, rooted at its folder."""
        config = PyFileConfigLoader("nbgrader_config.py", path=str(self.folder)).load_config()
        config.CourseDirectory.root = str(self.folder)
        return config

    @property
    def course_id(self) -> str:
        return self.nbgrader_config().CourseDirectory.course_id

    def fingerprint(self) -> str:
        """Changes whenever what a grade can depend on in the course changes: the built notebooks
        (their helpers inlined, hidden tests included), nbgrader's configuration, the manifest."""
        facts = [self.notebooks, sorted(self.check_names), self.helper_module_prefix, self.misconception.pattern]
        digest = hashlib.sha256(json.dumps(facts).encode())
        parts = [self.folder / "nbgrader_config.py"]
        for name in self.notebooks:
            parts += [self.folder / kind / name / f"{name}.ipynb" for kind in ("source", "release")]
        for path in parts:
            digest.update(str(path.relative_to(self.folder)).encode() + b"\0")
            digest.update(path.read_bytes() if path.exists() else b"")
        return digest.hexdigest()


def points(nb: NotebookNode) -> dict[str, float]:
    """The graded cells of a notebook and their points, by grade_id, in order."""
    return {
        c.metadata.nbgrader["grade_id"]: float(c.metadata.nbgrader["points"])
        for c in nb.cells
        if nbgrader_utils.is_grade(c)
    }
