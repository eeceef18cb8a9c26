"""A hand-in's answers as the similarity report compares them: for each answer cell of the release
(nbgrader `solution`, by grade_id), the lines the student wrote beyond the stub the course gave out.

Hand-ins are read with normalize.py's own steps (any nbformat, Colab saves included) and its rule
for an answer cell found twice (the last copy counts, as in grading); the repairs grading needs
besides (locked cells put back, validation) change no answer, and would cost most of the time here.
"""

import re
import textwrap
from dataclasses import dataclass

from nbformat import NotebookNode

from grading.normalize import Reconcile, nbgrader_meta, parse, read_cell

CODE, WRITTEN = "code", "markdown"  # an answer's kind: the release cell's type
NAME = re.compile(r"[^\W\d]\w*")
LAYOUT = re.compile(r"[\s'\"()]+")


@dataclass(frozen=True)
class Stub:
    """An answer cell as the release gives it out."""

    grade_id: str
    kind: str  # CODE or WRITTEN
    source: str


def stubs(release: NotebookNode) -> dict[str, Stub]:
    """The answer cells of a release notebook, by grade_id, in order."""
    found = {}
    for cell in release.cells:
        meta = nbgrader_meta(cell.metadata)
        if meta.get("solution") and cell.cell_type in (CODE, WRITTEN):
            found[meta["grade_id"]] = Stub(meta["grade_id"], cell.cell_type, cell.source)
    return found


def shape(line: str) -> str:
    """A line with every name the same, without spaces, quotes or brackets: `def dz_dx(t):` is the
    stub's `def dz_dx(x):`, a docstring re-quoted is its docstring, `return (a, b)` its `return x, y`."""
    return NAME.sub("I", LAYOUT.sub("", line))


def own_lines(text: str, stub: Stub) -> str:
    """`text` without blank lines and the stub's lines (wherever they stand; code lines however
    indented, renamed or re-quoted), dedented: what the student wrote."""
    same = shape if stub.kind == CODE else str.strip
    given = {same(line) for line in stub.source.splitlines()}
    kept = [line.rstrip() for line in text.splitlines() if line.strip() and same(line) not in given]
    return textwrap.dedent("\n".join(kept))


def answers(content: bytes, release: NotebookNode) -> dict[str, str]:
    """grade_id → the student's own lines, for every answer cell of `release` the hand-in has.
    Raises normalize.Unreadable when `content` is not a notebook."""
    cells = [read_cell(cell, i) for i, cell in enumerate(parse(content)["cells"])]
    kept = Reconcile(release, cells).keep_one_per_grade_id()
    given = stubs(release)
    return {gid: own_lines(cell.source, given[gid]) for gid, cell in kept.items() if gid in given}
