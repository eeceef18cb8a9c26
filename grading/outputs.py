"""What a cell's outputs show a student: printed text and error messages, never tracebacks (they
quote the hidden tests' source). Light on purpose: `python -m grading check` imports it."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbformat import NotebookNode


def visible_text(cell: NotebookNode) -> str:
    """What a graded cell showed: printed text and error messages."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}\n")
    return "".join(parts)
