"""`python -m grading check NOTEBOOK`: a student's visible-check score for one notebook, locally.

It runs the notebook top to bottom in a fresh kernel (as 'Restart and run all' would), then
reads the verdicts that the visible checks printed under each graded cell. The grader's
hidden tests may still find more: this is the score the visible checks promise, no more.

The kernel is the grader's own (kernel/runner.py), started on its own: a Python process that runs
the cells in ipykernel's shell, without the kernel protocol (no ports, no connection file, no
warning about them), so that checking costs little more than the notebook's own run.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from grading import compat
from grading.kernel import runner
from grading.outputs import visible_text

if TYPE_CHECKING:  # imported once the kernel starts: it starts Python meanwhile
    from nbformat import NotebookNode


@dataclass
class CheckedCell:
    grade_id: str
    points: float
    passed: bool
    text: str


def execute(path: Path, timeout: float = 120) -> NotebookNode:
    """The notebook, run top to bottom in a fresh kernel of the grader's own, in a temporary folder."""
    with tempfile.TemporaryDirectory() as workdir:
        ours, theirs = socket.socketpair()
        argv = [sys.executable, runner.__file__, "--fd", str(theirs.fileno()), "--compat", compat.__file__]
        kernel = subprocess.Popen(
            argv, pass_fds=[theirs.fileno()], cwd=workdir, start_new_session=True, stdin=subprocess.DEVNULL
        )
        theirs.close()
        try:
            import nbformat

            from grading.kernel.client import KernelSocket, NotebookExecution

            nb = nbformat.read(path, as_version=4)
            interrupt = lambda: os.killpg(kernel.pid, signal.SIGINT)  # noqa: E731
            NotebookExecution(nb, timeout=timeout, allow_errors=True).run_cells(
                KernelSocket(ours, lambda: kernel.poll() is None, interrupt)
            )
        finally:
            ours.close()
            kernel.kill()
            kernel.wait()
    return nb


def run_checks(path: Path, timeout: float = 120) -> list[CheckedCell]:
    checked = []
    for cell in execute(path, timeout).cells:
        if cell.cell_type == "code" and is_graded(cell):
            text = visible_text(cell)
            passed = "✅" in text and "❌" not in text and not any(o.output_type == "error" for o in cell.outputs)
            checked.append(
                CheckedCell(cell.metadata.nbgrader["grade_id"], float(cell.metadata.nbgrader["points"]), passed, text)
            )
    return checked


def is_graded(cell: NotebookNode) -> bool:
    """nbgrader's `utils.is_grade`, without importing nbgrader: its package imports its apps and
    server extensions, half a second of the student's wait."""
    return bool(cell.metadata.get("nbgrader", {}).get("grade", False))


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
