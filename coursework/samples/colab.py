"""What Google Colab writes when it saves a notebook: a stand-in for a real Colab save.

Reproduces every rewrite docs/grading-contract.md lists from real Colab saves, so that tests, the bundled
example hand-ins and the benchmark can feed the grader what Colab users hand in.
"""

import copy
import json
import random
import string

from nbformat import NotebookNode

from coursework import config

INTRINSIC = "application/vnd.google.colaboratory.intrinsic+json"
WIDGET_STATE = "application/vnd.jupyter.widget-state+json"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
ID_CHARS = string.ascii_letters + string.digits + "-_"


def run_outputs() -> list[dict]:
    """What a run in Colab leaves: a print, and a result in Colab's own mime type whose
    execution count is null."""
    return [
        {"output_type": "stream", "name": "stdout", "text": ["ran in Colab\n"]},
        {
            "output_type": "execute_result",
            "execution_count": None,
            "metadata": {},
            "data": {INTRINSIC: {"type": "string"}, "text/plain": ["'ran in Colab'"]},
        },
    ]


def widget_output(model_id: str) -> dict:
    view = {"model_id": model_id, "version_major": 2, "version_minor": 0}
    return {"output_type": "display_data", "metadata": {}, "data": {WIDGET_VIEW: view}}


def widget_state(model_id: str) -> dict:
    """Colab writes the widget models bare, keyed by id: the top-level 'state' key (and
    'version_major') that nbconvert expects is missing."""
    model = {
        "model_module": "@jupyter-widgets/controls",
        "model_module_version": "1.5.0",
        "model_name": "IntSliderModel",
        "state": {"value": 3, "min": 0, "max": 10},
    }
    return {WIDGET_STATE: {model_id: model}}


def colab_cell(cell: NotebookNode, rng: random.Random, keep_id: bool, outputs: list[dict]) -> dict:
    """One cell as Colab writes it: its own id in the metadata, existing metadata kept, source as
    a list of lines, execution count null; cells with output also get an output id and Colab's
    display metadata."""
    metadata = {**copy.deepcopy(dict(cell.metadata)), "id": "".join(rng.choices(ID_CHARS, k=12))}
    saved = {"cell_type": cell.cell_type, "source": cell.source.splitlines(keepends=True), "metadata": metadata}
    if keep_id and "id" in cell:
        saved["id"] = cell.id
    if cell.cell_type == "code":
        saved["execution_count"] = None
        saved["outputs"] = outputs
        if outputs:
            metadata["colab"] = {"base_uri": "https://localhost:8080/", "height": 35}
            metadata["outputId"] = f"{rng.getrandbits(128):032x}"
    return saved


def github_badge_cell(name: str) -> dict:
    """'Save a copy in GitHub' puts this first, pointing at the student's copy; it has no id,
    neither top-level nor in its metadata."""
    copy_in_github = config.Publication("student/course-copy", "main")
    source = [copy_in_github.badge(name)]
    return {"cell_type": "markdown", "metadata": {"colab_type": "text"}, "source": source}


def colab_save(
    nb: NotebookNode,
    *,
    executed: bool = False,
    widgets: bool = False,
    github_badge: bool = False,
    nbformat_minor: int | None = None,
    name: str = "notebook",
    seed: int = 0,
) -> bytes:
    """The bytes Colab writes when it saves `nb` (which is left unchanged).

    executed: every code cell was run and has outputs, a Colab-specific mime type among them;
    widgets: the first code cell shows a widget, and the notebook holds its state without the
      'state' key;
    github_badge: saved with 'Save a copy in GitHub': a badge cell without id comes first;
    nbformat_minor: the version Colab opened (default: nb's own); 5 stays 4.5, anything older is
      written as 4.0, without top-level cell ids;
    name: the notebook the badge points at; seed: makes Colab's random cell ids repeatable.
    """
    rng = random.Random(seed)
    minor = nb.nbformat_minor if nbformat_minor is None else nbformat_minor
    saved_minor = 5 if minor >= 5 else 0
    model_id = f"{rng.getrandbits(128):032x}"
    first_code = next((i for i, cell in enumerate(nb.cells) if cell.cell_type == "code"), None)
    cells = []
    for i, cell in enumerate(nb.cells):
        outputs = run_outputs() if executed else []
        if widgets and i == first_code:
            outputs.append(widget_output(model_id))
        cells.append(colab_cell(cell, rng, saved_minor == 5, outputs))
    if github_badge:
        cells.insert(0, github_badge_cell(name))
    metadata = copy.deepcopy(dict(nb.metadata))
    metadata["colab"] = {"provenance": [], **({"include_colab_link": True} if github_badge else {})}
    if widgets:
        metadata["widgets"] = widget_state(model_id)
    saved = {"nbformat": 4, "nbformat_minor": saved_minor, "metadata": metadata, "cells": cells}
    return json.dumps(saved, indent=2, ensure_ascii=False).encode()
