"""normalize: any hand-in's bytes → a valid notebook with exactly the release's nbgrader cells, the
student's answers untouched; a Colab save grades like its Jupyter twin; non-notebooks are Unreadable."""

import copy
import io
import json
import zipfile

import nbformat
import pytest
from nbformat import NotebookNode
from nbformat.v4 import new_code_cell, new_markdown_cell, new_notebook
from nbgrader.nbgraderformat import MetadataValidator, ValidationError
from nbgrader.utils import compute_checksum

from coursework import config
from coursework.answers import fill_answers, solution_answers
from coursework.samples.colab import INTRINSIC, WIDGET_STATE, colab_save
from grading.normalize import Unreadable, normalize

NAMES = config.notebook_names()


def nbgrader(cell: NotebookNode) -> dict:
    return cell.metadata.get("nbgrader", {})


def release_of(name: str) -> NotebookNode:
    return nbformat.read(config.NOTEBOOKS / f"{name}.ipynb", as_version=4)


def answered(name: str) -> NotebookNode:
    """The student notebook with the solution's answers: a hand-in that earns every point."""
    release = release_of(name)
    ids = {nbgrader(c).get("grade_id") for c in release.cells}
    answers = solution_answers(nbformat.read(config.SOLUTIONS / f"{name}.ipynb", as_version=4))
    return fill_answers(release, {gid: text for gid, text in answers.items() if gid in ids})


def jupyter_save(nb: NotebookNode) -> bytes:
    """Jupyter's layout, written as is (nbformat.writes would quietly repair duplicated cell ids)."""
    return (json.dumps(nb, indent=1, sort_keys=True, ensure_ascii=False) + "\n").encode()


def graded_view(nb: NotebookNode) -> list[tuple]:
    """What the grade depends on: the code cells in order, and every nbgrader cell with its metadata."""
    return [
        (c.cell_type, c.source, json.dumps(nbgrader(c), sort_keys=True), c.metadata.get("tags", []))
        for c in nb.cells
        if c.cell_type == "code" or nbgrader(c)
    ]


def clean(result, release: NotebookNode) -> NotebookNode:
    """The normalized notebook, after checking what any result must be: valid nbformat 4.5 with
    unique ids, no outputs, each grade_id once and with the release's nbgrader metadata."""
    nb = result.notebook
    nbformat.validate(nb)
    assert (nb.nbformat, nb.nbformat_minor) == (4, 5)
    assert len({c.id for c in nb.cells}) == len(nb.cells)
    assert all(c.outputs == [] and c.execution_count is None for c in nb.cells if c.cell_type == "code")
    original = {nbgrader(c)["grade_id"]: nbgrader(c) for c in release.cells if nbgrader(c)}
    graded = [nbgrader(c) for c in nb.cells if nbgrader(c)]
    assert len({meta["grade_id"] for meta in graded}) == len(graded)
    assert all(meta == original[meta["grade_id"]] for meta in graded)
    assert set(result.flags) <= {"cells-restored", "tampered"}
    return nb


def first(nb: NotebookNode, test) -> int:
    return next(i for i, c in enumerate(nb.cells) if test(c))


def is_test(cell: NotebookNode) -> bool:
    return bool(nbgrader(cell).get("grade")) and not nbgrader(cell).get("solution")


def is_code_answer(cell: NotebookNode) -> bool:
    return bool(nbgrader(cell).get("solution")) and cell.cell_type == "code"


def is_helpers(cell: NotebookNode) -> bool:
    meta = nbgrader(cell)
    return cell.cell_type == "code" and meta.get("locked") and not meta.get("grade") and not meta.get("solution")


def cells_with(nb: NotebookNode, grade_id: str) -> list[int]:
    return [i for i, c in enumerate(nb.cells) if nbgrader(c).get("grade_id") == grade_id]


# --- Colab -------------------------------------------------------------------------------------------

COLAB_SAVES = {
    "plain": {},
    "executed, widgets, GitHub badge": {"executed": True, "widgets": True, "github_badge": True},
    "older nbformat, written as 4.0": {"nbformat_minor": 4, "executed": True},
}


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("save", COLAB_SAVES)
def test_a_colab_save_normalizes_like_its_jupyter_twin(name, save):
    nb, release = answered(name), release_of(name)
    jupyter = normalize(jupyter_save(nb), release)
    colab = normalize(colab_save(nb, name=name, **COLAB_SAVES[save]), release)
    assert graded_view(clean(colab, release)) == graded_view(clean(jupyter, release)) == graded_view(nb)
    assert colab.flags == jupyter.flags == () and colab.notes == jupyter.notes == ()
    assert "widgets" not in colab.notebook.metadata and "colab" not in colab.notebook.metadata
    assert not any({"colab", "outputId", "id"} & set(c.metadata) for c in colab.notebook.cells)


def test_colab_save_reproduces_what_colab_writes():
    nb = answered(NAMES[0])
    text = colab_save(nb, executed=True, widgets=True, github_badge=True, name=NAMES[0]).decode()
    assert text.startswith('{\n  "') and not text.endswith("\n")
    saved = json.loads(text)
    assert (saved["nbformat"], saved["nbformat_minor"]) == (4, 5)
    assert saved["metadata"]["colab"] and saved["metadata"]["kernelspec"] == nb.metadata.kernelspec
    assert "state" not in saved["metadata"]["widgets"][WIDGET_STATE]
    badge, *cells = saved["cells"]
    assert "id" not in badge and "id" not in badge["metadata"] and "colab-badge.svg" in badge["source"][0]
    assert all(isinstance(c["source"], list) and c["metadata"]["id"] for c in cells)
    assert [nbgrader(c) for c in map(nbformat.from_dict, cells)] == [nbgrader(c) for c in nb.cells]
    code = [c for c in cells if c["cell_type"] == "code"]
    assert all(c["outputs"] and c["execution_count"] is None and c["metadata"]["outputId"] for c in code)
    assert all("colab" in c["metadata"] for c in code)
    assert any(INTRINSIC in o.get("data", {}) for c in code for o in c["outputs"])
    older = json.loads(colab_save(nb, nbformat_minor=4))
    assert older["nbformat_minor"] == 0 and not any("id" in c for c in older["cells"])


# --- cells the student deleted, duplicated, retyped or changed ---------------------------------------


@pytest.mark.parametrize("name", NAMES)
@pytest.mark.parametrize("which", ["test cell", "helpers cell"])
def test_a_deleted_locked_cell_is_put_back_in_its_place(name, which):
    nb, release = answered(name), release_of(name)
    index = first(nb, is_test if which == "test cell" else is_helpers)
    gone = nb.cells.pop(index)
    result = normalize(jupyter_save(nb), release)
    fixed = clean(result, release)
    assert result.flags == ("cells-restored",)
    assert any(nbgrader(gone)["grade_id"] in note for note in result.notes)
    (at,) = cells_with(fixed, nbgrader(gone)["grade_id"])
    assert at == index and fixed.cells[at - 1].id == release.cells[index - 1].id
    assert (fixed.cells[at].source, nbgrader(fixed.cells[at])) == (gone.source, nbgrader(gone))
    assert graded_view(fixed) == graded_view(answered(name))


def test_deleted_cells_in_a_row_come_back_in_release_order():
    nb, release = answered(NAMES[0]), release_of(NAMES[0])
    start = first(nb, is_helpers)
    del nb.cells[start - 1 : start + 1]  # the setup cell (not restored) and the helpers cell
    result = normalize(jupyter_save(nb), release)
    fixed = clean(result, release)
    assert cells_with(fixed, nbgrader(release.cells[start])["grade_id"]) == [start - 1]


def test_a_deleted_code_answer_is_noted_but_not_put_back():
    nb, release = answered(NAMES[0]), release_of(NAMES[0])
    answer = nb.cells.pop(first(nb, is_code_answer))
    nb.cells.append(new_code_cell(answer.source))  # the student's answer, now in a cell of their own
    result = normalize(jupyter_save(nb), release)
    fixed = clean(result, release)
    assert result.flags == ()
    assert [nbgrader(answer)["grade_id"] in note for note in result.notes] == [True]
    assert cells_with(fixed, nbgrader(answer)["grade_id"]) == []
    assert fixed.cells[-1].source == answer.source


@pytest.mark.parametrize("name", NAMES)
def test_a_retyped_test_cell_gets_its_metadata_back_in_place(name):
    nb, release = answered(name), release_of(name)
    index = first(nb, is_test)
    original = nb.cells[index]
    nb.cells[index] = new_code_cell(original.source + "\n")  # retyped: same code, no metadata, a new id
    result = normalize(jupyter_save(nb), release)
    fixed = clean(result, release)
    assert result.flags == ("cells-restored",)
    assert len(fixed.cells) == len(nb.cells)
    assert cells_with(fixed, nbgrader(original)["grade_id"]) == [index]
    assert graded_view(fixed) == graded_view(answered(name))


def test_a_test_cell_turned_into_markdown_is_put_back():
    nb, release = answered(NAMES[0]), release_of(NAMES[0])
    index = first(nb, is_test)
    original = copy.deepcopy(nb.cells[index])
    nb.cells[index] = new_markdown_cell(original.source, metadata=original.metadata, id=original.id)
    result = normalize(jupyter_save(nb), release)
    fixed = clean(result, release)
    assert result.flags == ("cells-restored",)
    assert (fixed.cells[index].cell_type, fixed.cells[index].source) == ("code", original.source)


@pytest.mark.parametrize("name", NAMES)
def test_a_duplicated_test_cell_is_graded_once(name):
    nb, release = answered(name), release_of(name)
    index = first(nb, is_test)
    nb.cells.insert(index + 1, copy.deepcopy(nb.cells[index]))  # the same cell id twice, too
    nb.cells[index + 1].source += "\nprint('my copy')"
    result = normalize(jupyter_save(nb), release)
    fixed = clean(result, release)
    assert result.flags == ("cells-restored",)
    assert cells_with(fixed, nbgrader(nb.cells[index])["grade_id"]) == [index]  # the first copy
    assert fixed.cells[index].source == release.cells[index].source
    assert fixed.cells[index + 1].source.endswith("print('my copy')") and not nbgrader(fixed.cells[index + 1])


@pytest.mark.parametrize("name", NAMES)
def test_a_duplicated_answer_cell_is_graded_by_its_last_copy(name):
    nb, release = answered(name), release_of(name)
    index = first(nb, is_code_answer)
    final = nb.cells[index].source
    draft = copy.deepcopy(nb.cells[index])
    draft.source = "raise ValueError('my first try')"
    nb.cells.insert(index, draft)
    result = normalize(jupyter_save(nb), release)
    fixed = clean(result, release)
    assert result.flags == ("cells-restored",)
    assert cells_with(fixed, nbgrader(draft)["grade_id"]) == [index + 1]
    assert fixed.cells[index + 1].source == final
    assert fixed.cells[index].source == draft.source and not nbgrader(fixed.cells[index])


@pytest.mark.parametrize(
    ("change", "words"),
    [
        (lambda cell: setattr(cell, "source", "pass  # always passes"), "its code"),
        (lambda cell: cell.metadata.nbgrader.update(points=100), "its points"),
        (lambda cell: cell.metadata.update(tags=["skip-execution"]), "its tags"),  # nbclient would skip it
        (lambda cell: cell.metadata.nbgrader.pop("locked"), "its locked"),
    ],
    ids=["source", "points", "skip tag", "unlocked"],
)
def test_a_tampered_test_cell_is_flagged_and_put_back(change, words):
    nb, release = answered(NAMES[0]), release_of(NAMES[0])
    index = first(nb, is_test)
    change(nb.cells[index])
    result = normalize(jupyter_save(nb), release)
    fixed = clean(result, release)
    assert result.flags == ("tampered",)
    (note,) = result.notes
    assert words in note and nbgrader(release.cells[index])["grade_id"] in note
    assert graded_view(fixed) == graded_view(answered(NAMES[0]))


def test_an_answer_cell_with_changed_nbgrader_metadata_is_flagged_but_keeps_its_answer():
    nb, release = answered(NAMES[0]), release_of(NAMES[0])
    index = first(nb, is_code_answer)
    nb.cells[index].metadata.nbgrader.update(grade=True, points=50)
    result = normalize(jupyter_save(nb), release)
    fixed = clean(result, release)
    assert result.flags == ("tampered",)
    assert fixed.cells[index].source == nb.cells[index].source
    assert nbgrader(fixed.cells[index]) == nbgrader(release.cells[index])


def test_nbgrader_accepts_what_it_would_abort_on():
    nb, release = answered(NAMES[0]), release_of(NAMES[0])
    index = first(nb, is_test)
    nb.cells.insert(index, copy.deepcopy(nb.cells[index]))  # a duplicated grade id
    nb.cells[index].metadata.nbgrader.pop("locked")  # a required key gone
    stranger = copy.deepcopy(nb.cells[index])
    stranger.metadata.nbgrader["grade_id"] = "not_in_the_release"
    nb.cells.append(stranger)
    validator = MetadataValidator()  # what nbgrader's CheckCellMetadata runs before and after grading
    with pytest.raises(ValidationError, match="locked|Duplicate"):
        validator.validate_nb(nb)
    validator.validate_nb(normalize(jupyter_save(nb), release).notebook)


def test_answer_cells_are_kept_exactly_as_written():
    nb, release = answered(NAMES[0]), release_of(NAMES[0])
    odd = "def f():\n\treturn 1   \n\n\n# trailing blank lines and tabs, no final newline  "
    index = first(nb, is_code_answer)
    nb.cells[index].source = odd
    for save in (jupyter_save(nb), colab_save(nb, executed=True)):
        fixed = clean(normalize(save, release), release)
        assert fixed.cells[index].source == odd
        assert [c.source for c in fixed.cells if nbgrader(c).get("solution")] == [
            c.source for c in nb.cells if nbgrader(c).get("solution")
        ]


def test_a_cell_posing_as_an_unknown_nbgrader_cell_runs_as_an_ordinary_one():
    nb, release = answered(NAMES[0]), release_of(NAMES[0])
    stranger = copy.deepcopy(nb.cells[first(nb, is_test)])
    stranger.metadata.nbgrader["grade_id"] = "extra_points"
    stranger.id = "stranger"
    nb.cells.append(stranger)
    result = normalize(jupyter_save(nb), release)
    fixed = clean(result, release)
    assert "extra_points" in result.notes[0]
    assert fixed.cells[-1].source == stranger.source and not nbgrader(fixed.cells[-1])


def test_duplicated_and_invalid_cell_ids_are_replaced():
    nb, release = answered(NAMES[0]), release_of(NAMES[0])
    text = json.loads(jupyter_save(nb))
    text["cells"][1]["id"] = text["cells"][0]["id"]
    text["cells"][2]["id"] = "not a valid id!"
    del text["cells"][3]["id"]
    fixed = clean(normalize(json.dumps(text).encode(), release), release)
    assert fixed.cells[0].id == nb.cells[0].id and fixed.cells[4].id == nb.cells[4].id


def test_invalid_metadata_is_dropped_not_fatal():
    nb, release = answered(NAMES[0]), release_of(NAMES[0])
    nb.metadata["kernelspec"] = {"name": 3}
    nb.cells[0].metadata["tags"] = "not a list"
    fixed = clean(normalize(jupyter_save(nb), release), release)
    assert "kernelspec" not in fixed.metadata and "tags" not in fixed.cells[0].metadata
    assert graded_view(fixed) == graded_view(answered(NAMES[0]))


# --- a small release with every kind of nbgrader cell ------------------------------------------------


def graded_cell(cell: NotebookNode, grade_id: str, *, grade=False, solution=False, locked=False, points=None):
    meta = {"grade": grade, "solution": solution, "locked": locked, "grade_id": grade_id, "schema_version": 3}
    meta |= {"cell_type": cell.cell_type} | ({"points": points} if grade else {})
    cell.metadata["nbgrader"] = meta
    cell.metadata.nbgrader["checksum"] = compute_checksum(cell)
    cell.id = grade_id
    return cell


def small_release() -> NotebookNode:
    return new_notebook(
        cells=[
            new_markdown_cell("# Title", id="title"),
            graded_cell(new_code_cell("def check(x):\n    assert x"), "helpers", locked=True),
            graded_cell(new_markdown_cell("Read this first."), "rules", locked=True),
            graded_cell(new_code_cell("# YOUR CODE HERE\nraise NotImplementedError()"), "answer", solution=True),
            graded_cell(new_code_cell("check(answer())"), "check_answer", grade=True, locked=True, points=2),
            graded_cell(new_markdown_cell("YOUR ANSWER HERE"), "why", grade=True, solution=True, points=1),
            new_code_cell("print('done')", id="end"),
        ],
        metadata={"kernelspec": {"name": "python3", "display_name": "Python 3"}},
    )


def test_deleted_written_answer_and_locked_markdown_come_back():
    release = small_release()
    nb = copy.deepcopy(release)
    nb.cells[3].source = "def answer():\n    return 1"
    del nb.cells[5], nb.cells[2]  # the written answer and the locked instructions
    result = normalize(jupyter_save(nb), release)
    fixed = clean(result, release)
    assert result.flags == ("cells-restored",)
    assert [c.id for c in fixed.cells] == [c.id for c in release.cells]
    assert fixed.cells[5].source == "YOUR ANSWER HERE" and nbgrader(fixed.cells[5])["solution"]
    assert fixed.cells[3].source == "def answer():\n    return 1"
    assert sum("was missing" in note for note in result.notes) == 2


def test_a_hand_in_without_any_nbgrader_cells_gets_every_locked_cell_back():
    release = small_release()
    mine = new_notebook(cells=[new_code_cell("def answer():\n    return 1"), new_code_cell("print('done')")])
    result = normalize(jupyter_save(mine), release)
    fixed = clean(result, release)
    assert [nbgrader(c).get("grade_id") for c in fixed.cells] == [
        "helpers",
        "rules",
        "check_answer",
        "why",
        None,
        None,
    ]
    assert any("'answer'" in note and "not put back" in note for note in result.notes)


def test_an_older_nbformat_is_converted():
    v3 = {
        "nbformat": 3,
        "nbformat_minor": 0,
        "metadata": {"name": "old"},
        "worksheets": [{"cells": [{"cell_type": "code", "input": "x = 1", "outputs": [], "language": "python"}]}],
    }
    release = small_release()
    fixed = clean(normalize(json.dumps(v3).encode(), release), release)
    assert fixed.cells[-1].source == "x = 1"


# --- not notebooks -----------------------------------------------------------------------------------


def zipped() -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("01_tensors.ipynb", "{}")
    return buffer.getvalue()


UNREADABLE = {
    "zero bytes": (b"", "empty"),
    "blank": (b"  \n", "blank"),
    "malformed JSON": (b'{"nbformat": 4, "cells": [', "malformed JSON"),
    "not UTF-8": ('{"nbformat": 4, "cells": [], "x": "café"}'.encode("latin-1"), "UTF-8"),
    "JSON list": (b"[1, 2]", "not a notebook"),
    "JSON without nbformat": (b'{"cells": []}', "not a notebook"),
    "no cells": (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}}', "no list of cells"),
    "broken cell": (b'{"nbformat": 4, "nbformat_minor": 5, "metadata": {}, "cells": [{"source": "x"}]}', "cell 1"),
    "nbformat 3 that cannot convert": (b'{"nbformat": 3, "nbformat_minor": 0}', "cannot be converted"),
    "nbformat 5": (b'{"nbformat": 5, "cells": []}', "newer"),
    "a zip": (zipped(), "zip"),
    "HTML": (b"<!DOCTYPE html>\n<html><body>notebook</body></html>", "HTML"),
    "Python": (b"#!/usr/bin/env python\n# coding: utf-8\n\nimport torch\nx = torch.ones(2)\n", "Python"),
    "PDF": (b"%PDF-1.7\n...", "PDF"),
}


@pytest.mark.parametrize("kind", UNREADABLE)
def test_what_is_not_a_notebook_is_unreadable(kind):
    content, words = UNREADABLE[kind]
    with pytest.raises(Unreadable) as raised:
        normalize(content, small_release())
    assert words in raised.value.reason
