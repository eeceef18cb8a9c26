"""What a cell's outputs show a student: printed text and error messages, never tracebacks (they
quote the hidden tests' source). Light on purpose: `python -m grading check` imports it.

A test cell's hidden tests run as a request of their own, after its visible part (kernel/client.py);
the grader puts HIDDEN_MARK between the two parts' outputs, so that the feedback page can withhold
what code printed while the hidden tests ran (render/feedback.py)."""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from nbformat import NotebookNode

HIDDEN_MIME = "application/vnd.grading.hidden-tests+json"
# Put there by the grader, never by the kernel: a display_data (no score counts it) that says, in
# the autograded notebook the instructor reads, where the hidden tests began.
HIDDEN_MARK = {
    "output_type": "display_data",
    "data": {HIDDEN_MIME: {}, "text/plain": "[the hidden tests ran from here on]"},
    "metadata": {},
}


def visible_text(cell: NotebookNode) -> str:
    """What a graded cell showed: printed text and error messages."""
    parts = []
    for output in cell.get("outputs", []):
        if output.output_type == "stream":
            parts.append(output.text)
        elif output.output_type == "error":
            parts.append(f"{output.ename}: {output.evalue}\n")
    return "".join(parts)


def split_at_hidden_tests(outputs: list[NotebookNode]) -> tuple[list[NotebookNode], list[NotebookNode] | None]:
    """A cell's outputs before its hidden tests ran, and from then on (None: no hidden test ran).
    The first mark counts: one that student code forged earlier only withholds more."""
    for index, output in enumerate(outputs):
        if HIDDEN_MIME in output.get("data", {}):
            return outputs[:index], outputs[index + 1 :]
    return outputs, None
