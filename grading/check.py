"""`python -m grading check NOTEBOOK`: a student's visible-check score for one notebook, locally.

It runs the notebook top to bottom in a fresh kernel (as 'Restart and run all' would), then
reads the verdicts that the visible checks printed under each graded cell. The grader's
hidden tests may still find more: this is the score the visible checks promise, no more.
"""

import re
import tempfile
from dataclasses import dataclass
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbgrader import utils as nbgrader_utils

from grading.execute import visible_text


@dataclass
class CheckedCell:
    grade_id: str
    points: float
    passed: bool
    text: str


def run_checks(path: Path, timeout: float = 120) -> list[CheckedCell]:
    nb = nbformat.read(path, as_version=4)
    with tempfile.TemporaryDirectory() as workdir:
        client = NotebookClient(
            nb, timeout=timeout, allow_errors=True, kernel_name="python3", resources={"metadata": {"path": workdir}}
        )
        client.execute()
    checked = []
    for cell in nb.cells:
        if cell.cell_type == "code" and nbgrader_utils.is_grade(cell):
            text = visible_text(cell)
            passed = "✅" in text and "❌" not in text and not any(o.output_type == "error" for o in cell.outputs)
            checked.append(
                CheckedCell(cell.metadata.nbgrader["grade_id"], float(cell.metadata.nbgrader["points"]), passed, text)
            )
    return checked


def summary(path: Path, checked: list[CheckedCell], misconception: re.Pattern) -> str:
    if not checked:
        return f"{path.name}: no graded checks found (is this a course notebook?)"
    earned = sum(c.points for c in checked if c.passed)
    lines = [f"{path.name}: visible checks give {earned:g} of {sum(c.points for c in checked):g} points"]
    for c in checked:
        mark = "✅" if c.passed else "❌"
        tags = sorted(set(misconception.findall(c.text)))
        lines.append(f"  {mark} {c.grade_id} ({c.points:g} pt)" + (f"  [{', '.join(tags)}]" if tags else ""))
        if not c.passed:
            first = next((line for line in c.text.splitlines() if line.strip()), "no output: did the cell run?")
            lines.append(f"      {first}")
    lines.append("The grader also runs hidden tests, at more points: a check that passes here may still fail there.")
    return "\n".join(lines)
