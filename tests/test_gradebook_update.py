"""OUT's gradebook brought up to date with a new course (gradebook.bring_up_to_date): what nbgrader's
SaveCells refuses once a notebook has submissions ("Cannot add or remove cells"), done in place,
nothing an instructor typed deleted. Gradebooks made with nbgrader's own API."""

from pathlib import Path

from nbgrader.api import Gradebook

from grading import compat, gradebook

COURSE = "course"


def course_gradebook(folder: Path, cells: dict[str, float]) -> Path:
    """A course folder whose gradebook has notebook `nb` with these graded cells (name: points),
    each also an answer cell, as a written answer is."""
    folder.mkdir()
    compat.new_gradebook(folder / "gradebook.db")
    with Gradebook(gradebook.database(folder), COURSE) as gb:
        gb.add_assignment("nb")
        gb.add_notebook("nb", "nb")
        for name, points in cells.items():
            gb.add_grade_cell(name, "nb", "nb", max_score=points, cell_type="markdown")
            gb.add_solution_cell(name, "nb", "nb")
            gb.add_source_cell(name, "nb", "nb", cell_type="markdown", source=f"{name} ({points:g})", locked=False)
    return folder


def test_new_cells_are_added_changed_ones_updated_and_nothing_typed_is_lost(tmp_path):
    out = course_gradebook(tmp_path / "out", {"why": 2, "gone": 1})
    with Gradebook(gradebook.database(out), COURSE) as gb:
        gb.add_student("ada")
        gb.add_submission("nb", "ada")
        typed = gb.find_grade("why", "nb", "nb", "ada")
        typed.manual_score, typed.needs_manual_grade = 1.5, False
        gb.find_comment("why", "nb", "nb", "ada").manual_comment = "Nearly."
        gb.find_grade("gone", "nb", "nb", "ada").manual_score = 1
        gb.db.commit()
    built = course_gradebook(tmp_path / "built", {"why": 3, "new": 1})
    with Gradebook(gradebook.database(built), COURSE) as gb:
        gb.add_assignment("nb2")
        gb.add_notebook("nb2", "nb2")

    gradebook.bring_up_to_date(out, built, COURSE)

    with Gradebook(gradebook.database(out), COURSE) as gb:
        assert gb.find_grade_cell("why", "nb", "nb").max_score == 3
        assert gb.find_source_cell("why", "nb", "nb").source == "why (3)"
        assert gb.find_grade("new", "nb", "nb", "ada").manual_score is None  # ada's hand-in has the new cell's rows
        assert gb.find_comment("new", "nb", "nb", "ada").manual_comment is None
        assert gb.find_notebook("nb2", "nb2")
    typed = {(h.grade_id, h.score, h.comment) for h in gradebook.hand_grades(out, COURSE)}
    assert typed == {("why", 1.5, "Nearly."), ("gone", 1, "")}  # a cell the course dropped keeps its grade
