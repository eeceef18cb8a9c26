"""A hand-in's answers as the similarity report compares them: for each answer cell of the release
(nbgrader `solution`, by grade_id), the lines the student wrote beyond the stub the course gave out.

Hand-ins are read with normalize.py's own functions (any nbformat, Colab saves included), and an
answer cell found twice counts by its last copy, as in grading. Only the answer cells are read: the
repairs grading needs besides (locked cells put back, validation) change no answer, and would take
most of the time here (7 ms a hand-in against 1).
"""

import keyword
import re
import textwrap
from dataclasses import dataclass

from nbformat import NotebookNode

from grading.normalize import as_dict, grade_id, nbgrader_meta, parse, read_cell

CODE, WRITTEN = "code", "markdown"  # an answer's kind: the release cell's type
NAME = re.compile(rf"\b(?!(?:{'|'.join(keyword.kwlist)})\b)[^\W\d]\w*")  # not a keyword
LAYOUT = str.maketrans("", "", " \t\r\n\f'\"()")


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
    stub's `def dz_dx(x):`, a docstring re-quoted is its docstring, `return (a, b)` its `return x, y`;
    `return names` is not its `raise NotImplementedError()`."""
    return NAME.sub("I", line).translate(LAYOUT)


def own_lines(text: str, stub: Stub) -> str:
    """`text` without blank lines and the stub's lines (wherever they stand; code lines however
    indented, renamed or re-quoted), dedented: what the student wrote."""
    same = shape if stub.kind == CODE else str.strip
    given = {same(line) for line in stub.source.splitlines()}
    kept = [line.rstrip() for line in text.splitlines() if line.strip() and same(line) not in given]
    return textwrap.dedent("\n".join(kept))


def _claimed_id(cell: object) -> str | None:
    """The grade_id a raw cell of a hand-in claims (a cheap look first: most cells claim none)."""
    if not isinstance(cell, dict) or "grade_id" not in as_dict(as_dict(cell.get("metadata")).get("nbgrader")):
        return None
    return grade_id(cell["metadata"])


def answers(content: bytes, given: dict[str, Stub]) -> dict[str, str]:
    """grade_id → the student's own lines, for every answer cell (whose stubs are `given`) the
    hand-in has. Raises normalize.Unreadable when `content` is not a notebook."""
    cells = parse(content)["cells"]
    last = {gid: (i, cell) for i, cell in enumerate(cells) if (gid := _claimed_id(cell)) in given}
    return {gid: own_lines(read_cell(cell, i).source, given[gid]) for gid, (i, cell) in last.items()}
