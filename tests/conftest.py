"""Shared fixtures: the course built once per test session, and a way to autograde a notebook;
and what the tests of the checks share: reading a message's misconception tags, and asserting what
a failing check must say and must not do."""

import itertools
import re
import warnings
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbformat import NotebookNode

from coursework import build, config
from coursework.helpers.checks import CheckFailed
from coursework.helpers.contract import MISCONCEPTION_PATTERN
from grading.execute import visible_text

MISCONCEPTION = re.compile(MISCONCEPTION_PATTERN)


KERNEL_FIXTURES = {"autograde", "plain_autograde"}


def pytest_collection_modifyitems(items):
    """Tests that grade through a kernel carry the `kernel` marker: `-m "not kernel"` skips them."""
    for item in items:
        if KERNEL_FIXTURES & set(getattr(item, "fixturenames", ())):
            item.add_marker(pytest.mark.kernel)


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
        return tags(self.cells[grade_id].text)


def tags(text: str) -> set[str]:
    """The misconception tags in a check's message."""
    return set(MISCONCEPTION.findall(text))


def assert_names(check, answer, tag, capsys, hidden_points=None) -> str:
    """The visible check of `answer` fails naming the misconception `tag` (None: no tag), and so
    does the hidden one at `hidden_points` when they are given. Returns what the visible one printed."""
    check(answer)
    out = capsys.readouterr().out
    assert out.startswith("❌") and tags(out) == ({tag} if tag else set()), out
    if hidden_points is not None:
        with pytest.raises(CheckFailed) as failure:
            check(answer, points=hidden_points, must_pass=True)
        assert tags(str(failure.value)) == ({tag} if tag else set())
    return out


def assert_fails_quietly(check, answer, capsys) -> None:
    """The visible check of `answer` returns None, shows ❌ (never ✅), writes nothing to stderr and
    lets no warning out; the hidden one (must_pass) raises CheckFailed."""
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert check(answer) is None
    out = capsys.readouterr()
    assert "❌" in out.out and "✅" not in out.out and out.err == ""
    with pytest.raises(CheckFailed):
        check(answer, must_pass=True)


# The cells of notebook 07 that make up the engine: the Value class, the rules, the order, backward()
# and the training.
ENGINE_CELLS = ["value", "add", "mul", "power", "neg_and_sub", "tanh", "topological_order", "backward", "train_neuron"]


def engine(**answers: str) -> dict:
    """The engine of notebook 07's solution, run in-process: its cells' names (Value, mul, backward, ...).
    `answers` replace answer cells by grade_id, as a hand-in does."""
    import math

    import torch

    from coursework.answers import fill_answers, solution_answers

    source = nbformat.read(config.SOLUTIONS / "07_build_your_own_autograd.ipynb", as_version=4)
    cells = {cell.id: cell.source for cell in fill_answers(source, solution_answers(source) | answers).cells}
    namespace = {"math": math, "torch": torch}
    for cell_id in ENGINE_CELLS:
        exec(cells[cell_id], namespace)
    return namespace


@pytest.fixture(scope="session")
def course_dir(tmp_path_factory) -> Path:
    """The course, built once; no test writes into it."""
    path = tmp_path_factory.mktemp("course")
    build.build_course(path)
    return path


@pytest.fixture(scope="session")
def sources(course_dir) -> dict[str, NotebookNode]:
    """The prepared source notebooks (helpers inlined), by notebook name."""
    return {
        name: nbformat.read(course_dir / "source" / name / f"{name}.ipynb", as_version=4)
        for name in config.notebook_names()
    }


@pytest.fixture(scope="session")
def students() -> dict[str, NotebookNode]:
    """The committed student notebooks, by notebook name."""
    return {name: nbformat.read(config.NOTEBOOKS / f"{name}.ipynb", as_version=4) for name in config.notebook_names()}


@pytest.fixture(scope="session")
def plain_autograde(course_dir, tmp_path_factory):
    """plain_autograde(name, nb) -> Graded: plain `nbgrader autograde` (its API, a cold kernel),
    the reference the grader must agree with. It grades in a copy of the built course."""
    import shutil

    from nbgrader.api import Gradebook
    from nbgrader.apps import NbGraderAPI

    course_dir = shutil.copytree(course_dir, tmp_path_factory.mktemp("plain") / "course")
    api = NbGraderAPI(config=build.nbgrader_config(course_dir))
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
                    cells[meta["grade_id"]] = GradedCell(grade.score, grade.max_score, visible_text(cell))
        return Graded(graded, cells)

    return run


@pytest.fixture(scope="session")
def autograde(course_dir):
    """autograde(name, nb) -> Graded: the grader's autograde of one hand-in of notebook `name`
    (nbgrader's preprocessors, a kernel forked from the template, in the sandbox)."""
    from grading import execute
    from grading.course import Course
    from grading.kernel.sandbox import Sandbox
    from grading.kernel.template import Template
    from grading.records import HandIn

    template = Template(Sandbox(True))
    template.ensure_running()
    grader = execute.Grader(Course.read(course_dir), template, timeout=120)

    def run(name: str, nb: NotebookNode) -> Graded:
        graded = grader.grade(HandIn("student", name, f"{name}.ipynb", nbformat.writes(nb).encode(), 0.0))
        assert graded.result.status == "graded", graded.result.message
        executed = nbformat.reads(graded.executed, as_version=4)
        cells = {c.grade_id: GradedCell(c.score, c.max_score, c.text) for c in graded.result.cells if not c.manual}
        return Graded(executed, cells)

    yield run
    grader.close()
    template.remove()
