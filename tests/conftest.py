"""Shared fixtures: the course built once per test session, and a way to autograde a notebook."""

import itertools
import re
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbformat import NotebookNode

from grading import course, release

MISCONCEPTION = re.compile(r"\[misconception: ([\w-]+)\]")


@dataclass
class GradedCell:
    score: float
    max_score: float
    text: str  # what the cell printed and the message of any error it raised


@dataclass
class Graded:
    notebook: NotebookNode  # as executed by the grader
    cells: dict[str, GradedCell]

    @property
    def score(self) -> float:
        return sum(c.score for c in self.cells.values())

    @property
    def max_score(self) -> float:
        return sum(c.max_score for c in self.cells.values())

    def misconceptions(self, grade_id: str) -> set[str]:
        return set(MISCONCEPTION.findall(self.cells[grade_id].text))


def cell_text(cell: NotebookNode) -> str:
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}")
        elif "text/plain" in output.get("data", {}):
            parts.append(output.data["text/plain"])
    return "".join(parts)


@pytest.fixture(scope="session")
def course_dir(tmp_path_factory) -> Path:
    path = tmp_path_factory.mktemp("course")
    release.build_course(path)
    return path


@pytest.fixture(scope="session")
def sources(course_dir) -> dict[str, NotebookNode]:
    """The prepared source notebooks (helpers inlined), by notebook name."""
    return {
        name: nbformat.read(course_dir / "source" / name / f"{name}.ipynb", as_version=4)
        for name in course.notebook_names()
    }


@pytest.fixture(scope="session")
def students() -> dict[str, NotebookNode]:
    """The committed student notebooks, by notebook name."""
    return {name: nbformat.read(course.NOTEBOOKS / f"{name}.ipynb", as_version=4) for name in course.notebook_names()}


@pytest.fixture(scope="session")
def autograde(course_dir):
    """autograde(name, nb) -> Graded: nbgrader's autograde of one hand-in of notebook `name`."""
    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI

    api = NbGraderAPI(config=release.nbgrader_config(course_dir))
    ids = itertools.count()

    def run(name: str, nb: NotebookNode) -> Graded:
        student = f"student{next(ids)}"
        submitted = course_dir / "submitted" / student / name / f"{name}.ipynb"
        submitted.parent.mkdir(parents=True)
        nbformat.write(nb, submitted)
        result = api.autograde(name, student, force=True, create=True)
        assert result["success"], result.get("log")
        graded = nbformat.read(course_dir / "autograded" / student / name / f"{name}.ipynb", as_version=4)
        cells = {}
        with Gradebook(f"sqlite:///{course_dir / 'gradebook.db'}") as gb:
            for cell in graded.cells:
                meta = cell.metadata.get("nbgrader", {})
                if meta.get("grade") and cell.cell_type == "code":
                    grade = gb.find_grade(meta["grade_id"], name, name, student)
                    cells[meta["grade_id"]] = GradedCell(grade.score, grade.max_score, cell_text(cell))
        return Graded(graded, cells)

    return run
