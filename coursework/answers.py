"""Fill a student notebook's answer cells: how tests and the bundled example hand-ins are made."""

import copy

from nbformat import NotebookNode

SOLUTION_MARKERS = {"### BEGIN SOLUTION", "### END SOLUTION"}


def fill_answers(nb: NotebookNode, answers: dict[str, str]) -> NotebookNode:
    """A copy of `nb` whose answer cells (by nbgrader grade_id) hold the given sources."""
    filled = copy.deepcopy(nb)
    unknown = set(answers)
    for cell in filled.cells:
        grade_id = cell.metadata.get("nbgrader", {}).get("grade_id")
        if grade_id in answers:
            cell.source = answers[grade_id]
            unknown.discard(grade_id)
    if unknown:
        raise KeyError(f"no answer cells with grade_id {sorted(unknown)}")
    return filled


def solution_answers(source: NotebookNode) -> dict[str, str]:
    """The answers of a source notebook: its solution cells with the solution markers removed."""
    answers = {}
    for cell in source.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("solution"):
            lines = [line for line in cell.source.splitlines() if line.strip() not in SOLUTION_MARKERS]
            answers[meta["grade_id"]] = "\n".join(lines)
    return answers
