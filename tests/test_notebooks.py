"""Every notebook, graded by nbgrader: solutions earn everything, untouched student versions nothing."""

import pytest

from coursework import config

NAMES = config.notebook_names()


def stderr_cells(nb) -> list[str]:
    return [
        cell.metadata.get("nbgrader", {}).get("grade_id", cell.get("id"))
        for cell in nb.cells
        if cell.cell_type == "code" and any(o.output_type == "stream" and o.name == "stderr" for o in cell.outputs)
    ]


@pytest.mark.parametrize("name", NAMES)
def test_solution_earns_every_autograded_point(name, sources, autograde):
    graded = autograde(name, sources[name])
    assert graded.cells, "a notebook without autograded tests"
    failed = {g: c.text for g, c in graded.cells.items() if c.score != c.max_score}
    assert not failed
    assert not stderr_cells(graded.notebook)


@pytest.mark.parametrize("name", NAMES)
def test_student_version_runs_to_its_end_and_earns_nothing(name, students, autograde):
    graded = autograde(name, students[name])
    assert graded.score == 0
    assert all("not answered yet" in c.text or "NotImplementedError" in c.text for c in graded.cells.values())
    last = graded.notebook.cells[-1]
    assert "Visible checks passed: 0 of" in "".join(o.get("text", "") for o in last.outputs)
    assert not stderr_cells(graded.notebook)


@pytest.mark.parametrize("name", NAMES)
def test_every_notebook_ends_with_the_same_score_section(name, students):
    first = students[NAMES[0]].cells[-2].source
    *_, heading, score = students[name].cells
    assert heading.cell_type == "markdown" and heading.source == first and first.startswith("## Your score")
    assert score.cell_type == "code" and score.source.strip() == "show_score()"


@pytest.mark.parametrize("name", NAMES)
def test_the_helpers_cell_is_collapsed_in_colab_and_jupyterlab(name, students):
    (helpers,) = [c for c in students[name].cells if c.metadata.get("nbgrader", {}).get("grade_id") == "helpers"]
    assert helpers.metadata["cellView"] == "form" and helpers.metadata["jupyter"] == {"source_hidden": True}
