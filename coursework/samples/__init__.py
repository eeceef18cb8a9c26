"""Sample answers per notebook: correct ones written differently, and the classic mistakes.

Each notebook has a module here (named after the notebook, without its number) holding
`NOTEBOOK` and `SAMPLES`. Tests grade every sample and check what it must earn; the bundled
example hand-ins and the benchmark are built from them.
"""

import importlib
from dataclasses import dataclass, field

import nbformat
from nbformat import NotebookNode

from coursework import config
from coursework.answers import fill_answers, solution_answers


@dataclass(frozen=True)
class Sample:
    """A hand-in: the solution, except for `answers` (grade_id -> cell source). `fails` names
    every test cell (grade_id) that must fail, with the misconception tag its message must carry
    (None: fails without a tag). Every other test cell must pass."""

    name: str
    answers: dict[str, str]
    fails: dict[str, str | None] = field(default_factory=dict)


def module_name(notebook: str) -> str:
    return notebook.split("_", 1)[1]


def samples(notebook: str) -> list[Sample]:
    module = importlib.import_module(f"coursework.samples.{module_name(notebook)}")
    assert module.NOTEBOOK == notebook
    return module.SAMPLES


def hand_in(notebook: str, sample: Sample, source: NotebookNode | None = None) -> NotebookNode:
    """The student notebook with the solution's answers, then the sample's."""
    source = source or nbformat.read(config.SOLUTIONS / f"{notebook}.ipynb", as_version=4)
    student = nbformat.read(config.NOTEBOOKS / f"{notebook}.ipynb", as_version=4)
    return fill_answers(student, solution_answers(source) | sample.answers)
