"""Normalize: one hand-in's bytes → a clean notebook that nbgrader can grade.

Whatever wrote the file (Jupyter, Colab, an older nbformat) and whatever the student did to its
cells, the result is a valid nbformat 4.5 notebook without outputs, with unique cell ids and with
exactly one cell per nbgrader grade_id of the release notebook, the student's answers untouched.
A Colab save and its Jupyter twin normalize to the same cells, so they get the same grade.
"""

import copy
import itertools
import json
import re
from dataclasses import dataclass, field

from nbformat import NotebookNode, from_dict
from nbformat.converter import convert
from nbformat.validator import ValidationError, get_validator
from nbgrader.utils import compute_checksum

CELL_TYPES = ("code", "markdown", "raw")
# Colab's own bookkeeping in a cell's metadata: meaningless to grading, and absent from a Jupyter twin.
COLAB_CELL_KEYS = ("id", "outputId", "colab", "colab_type", "executionInfo")
# Notebook metadata dropped: Colab's, widget state (Colab's lacks the 'state' key that nbconvert
# needs; outputs are cleared anyway), and the converter's never-to-be-written original version.
DROPPED_NOTEBOOK_KEYS = ("colab", "widgets", "orig_nbformat", "orig_nbformat_minor")
GRADING_KEYS = ("grade", "solution", "locked", "points", "task")
CELL_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
PYTHON_SOURCE = re.compile(r"^(import \w|from [\w.]+ import |def \w|class \w|# In\[|# %%|#!)", re.MULTILINE)


class Unreadable(Exception):
    """The hand-in is not a notebook that can be graded; the message says why, in one phrase."""

    def __init__(self, reason: str):
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class Normalized:
    notebook: NotebookNode
    flags: tuple[str, ...] = ()  # from cells-restored, tampered
    notes: tuple[str, ...] = ()  # one sentence each, for grades.csv's message


@dataclass(eq=False)  # compared by identity: two cells may hold the same text
class Cell:
    cell_type: str
    source: str
    metadata: dict
    ids: list[str] = field(default_factory=list)  # preferred cell ids, best first
    attachments: dict | None = None


def normalize(content: bytes, release: NotebookNode) -> Normalized:
    """The clean notebook for one hand-in of `release` (the student version the course gave out).
    Raises Unreadable when `content` is not a notebook."""
    raw = parse(content)
    cells = [read_cell(cell, i) for i, cell in enumerate(raw["cells"])]
    fix = Reconcile(release, cells)
    fix.run()
    metadata = {k: v for k, v in as_dict(raw.get("metadata")).items() if k not in DROPPED_NOTEBOOK_KEYS}
    nb = notebook(metadata, fix.cells)
    if not is_valid(nb):  # odd metadata a student or tool left: grading needs none of it
        nb = notebook(minimal_metadata(metadata), [Cell(c.cell_type, c.source, grading_metadata(c)) for c in fix.cells])
    return Normalized(from_dict(nb), tuple(sorted(fix.flags)), tuple(fix.notes))


# --- bytes → a notebook-shaped dict ---------------------------------------------------------------


def parse(content: bytes) -> dict:
    """The notebook in `content` as nbformat 4 JSON, or Unreadable with the reason."""
    head = content.lstrip()[:512]
    if not head:
        raise Unreadable("the file is empty" if not content else "the file holds only blank space")
    if head.startswith((b"PK\x03\x04", b"PK\x05\x06")):
        raise Unreadable("it is a zip archive, not a notebook")
    if head.startswith(b"%PDF"):
        raise Unreadable("it is a PDF, not a notebook")
    if head.startswith(b"<"):
        raise Unreadable("it is an HTML page (an export?), not a notebook")
    try:
        text = content.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise Unreadable(f"it is not UTF-8 text (byte {error.start} is not)") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        if not text.lstrip().startswith("{") and PYTHON_SOURCE.search(text):
            raise Unreadable("it is Python source (a .py export?), not a notebook") from None
        raise Unreadable(f"malformed JSON (line {error.lineno}, column {error.colno}: {error.msg})") from None
    if not isinstance(data, dict) or not isinstance(data.get("nbformat"), int):
        raise Unreadable("it is JSON, but not a notebook")
    version = data["nbformat"]
    if version > 4:
        raise Unreadable(f"its nbformat {version} is newer than this grader reads")
    if version < 4:
        data = upgrade(data)
    if not isinstance(data.get("cells"), list):
        raise Unreadable("it is JSON, but not a notebook (it has no list of cells)")
    return data


def upgrade(data: dict) -> dict:
    """An nbformat 1–3 notebook converted to 4, without the converter's random cell ids."""
    try:
        upgraded = convert(from_dict(data), 4)
    except Exception:  # the converters fail in many ways on damaged files
        raise Unreadable(f"an nbformat {data['nbformat']} notebook that cannot be converted to nbformat 4") from None
    for cell in upgraded.get("cells", []):
        cell.pop("id", None)
    return upgraded


def as_dict(value: object) -> dict:
    return dict(value) if isinstance(value, dict) else {}


def read_cell(cell: object, index: int) -> Cell:
    """One cell's content; outputs are dropped (nbgrader re-executes anyway)."""
    if not isinstance(cell, dict) or cell.get("cell_type") not in CELL_TYPES:
        raise Unreadable(f"cell {index + 1} is not a notebook cell")
    source = cell.get("source", "")
    if isinstance(source, list) and all(isinstance(line, str) for line in source):
        source = "".join(source)
    if not isinstance(source, str):
        raise Unreadable(f"cell {index + 1} has no text")
    metadata = as_dict(cell.get("metadata"))
    colab_id = metadata.get("id")
    metadata = {k: v for k, v in metadata.items() if k not in COLAB_CELL_KEYS}
    attachments = cell.get("attachments") if cell["cell_type"] != "code" else None
    ids = [i for i in (cell.get("id"), colab_id) if isinstance(i, str)]
    return Cell(cell["cell_type"], source, metadata, ids, attachments if isinstance(attachments, dict) else None)


# --- cells → one cell per grade_id of the release -------------------------------------------------


def nbgrader_meta(metadata: dict) -> dict:
    meta = metadata.get("nbgrader")
    return meta if isinstance(meta, dict) else {}


def grade_id(metadata: dict) -> str | None:
    """The grade_id of an nbgrader cell (answer, test or locked); None for any other cell."""
    meta = nbgrader_meta(metadata)
    gid = meta.get("grade_id")
    return gid if isinstance(gid, str) and any(meta.get(k) for k in ("grade", "solution", "locked")) else None


def describe(release_cell: NotebookNode) -> str:
    meta = nbgrader_meta(release_cell.metadata)
    if meta.get("solution"):
        kind = "written answer" if release_cell.cell_type == "markdown" else "answer cell"
    else:
        kind = "test cell" if meta.get("grade") else "locked cell"
    return f"{kind} '{meta['grade_id']}'"


def from_release(release_cell: NotebookNode, ids: list[str]) -> Cell:
    """A copy of a release cell, as the student was given it."""
    metadata = copy.deepcopy(dict(release_cell.metadata))
    return Cell(release_cell.cell_type, release_cell.source, metadata, [*ids, release_cell.get("id", "")])


def checksum(cell: Cell) -> str | None:
    node = from_dict({"cell_type": cell.cell_type, "source": cell.source, "metadata": cell.metadata})
    try:
        return compute_checksum(node)
    except (KeyError, TypeError, ValueError, AttributeError):  # nbgrader metadata too damaged to sum
        return None


def changes(cell: Cell, release_cell: NotebookNode) -> list[str]:
    """What the student changed in a locked cell, in words; empty when it is intact."""
    meta, original = nbgrader_meta(cell.metadata), nbgrader_meta(release_cell.metadata)
    found = [f"its {key}" for key in GRADING_KEYS if meta.get(key) != original.get(key)]
    if cell.source != release_cell.source:
        found.insert(0, "its text" if cell.cell_type == "markdown" else "its code")
    if cell.metadata.get("tags", []) != release_cell.metadata.get("tags", []):
        found.append("its tags")  # nbclient skips a cell tagged 'skip-execution': a skipped test passes
    if not found and checksum(cell) != original.get("checksum"):
        found.append("its nbgrader checksum")  # nbgrader's own test, for whatever else it sums
    return found


class Reconcile:
    """Compares the hand-in's cells with the release's by nbgrader grade_id, and repairs them:
    `cells` is the result, `flags` and `notes` say what was done."""

    def __init__(self, release: NotebookNode, cells: list[Cell]):
        self.release = [(grade_id(c.metadata), c) for c in release.cells]
        self.graded = {gid: c for gid, c in self.release if gid}
        self.cells = cells
        self.flags: set[str] = set()
        self.notes: list[str] = []

    def note(self, flag: str | None, sentence: str) -> None:
        if flag:
            self.flags.add(flag)
        self.notes.append(sentence)

    def run(self) -> None:
        kept = self.keep_one_per_grade_id()
        kept = {gid: self.check(cell, self.graded[gid]) for gid, cell in kept.items()}
        self.put_back_missing(kept)

    def keep_one_per_grade_id(self) -> dict[str, Cell]:
        """Strips nbgrader metadata from every cell but one per grade_id (the others still run, as
        ordinary cells): the last copy of an answer (likely its final version; nbgrader's
        DeduplicateIds keeps it too), the first of a locked cell. Also from grade_ids the release
        lacks: nbgrader would abort on them."""
        copies: dict[str, list[Cell]] = {}
        for cell in self.cells:
            gid = grade_id(cell.metadata)
            if gid in self.graded:
                copies.setdefault(gid, []).append(cell)
                continue
            if gid:
                self.note(None, f"A cell posed as nbgrader cell '{gid}', which this notebook lacks; it ran as is.")
            cell.metadata.pop("nbgrader", None)
        kept = {}
        for gid, found in copies.items():
            answer = nbgrader_meta(self.graded[gid].metadata).get("solution")
            kept[gid] = found[-1] if answer else found[0]
            for extra in found:
                if extra is not kept[gid]:
                    del extra.metadata["nbgrader"]
            if len(found) > 1:
                which = "last" if answer else "first"
                self.note(
                    "cells-restored",
                    f"The {describe(self.graded[gid])} appeared {len(found)} times; the {which} copy was graded "
                    "and the others ran as ordinary cells.",
                )
        return kept

    def check(self, cell: Cell, release_cell: NotebookNode) -> Cell:
        """The graded version of a kept cell: an answer keeps its text but gets the release's
        nbgrader metadata and cell type back; a retyped or changed locked cell is replaced by its
        release version."""
        what, original = describe(release_cell), nbgrader_meta(release_cell.metadata)
        if original.get("solution"):
            meta = nbgrader_meta(cell.metadata)
            changed = [key for key in GRADING_KEYS if meta.get(key) != original.get(key)]
            if changed:
                self.note("tampered", f"The {what} had its nbgrader {', '.join(changed)} changed; put back.")
            if cell.cell_type != release_cell.cell_type:
                self.note("cells-restored", f"The {what} had been turned into a {cell.cell_type} cell; turned back.")
                cell.cell_type = release_cell.cell_type
        elif cell.cell_type != release_cell.cell_type:
            self.note("cells-restored", f"The {what} had been turned into a {cell.cell_type} cell; put back.")
            return self.replace(cell, release_cell)
        elif found := changes(cell, release_cell):
            self.note("tampered", f"The {what} was changed ({', '.join(found)}); the original was put back.")
            return self.replace(cell, release_cell)
        cell.metadata["nbgrader"] = copy.deepcopy(dict(original))  # as the release has it, checksum included
        return cell

    def replace(self, cell: Cell, release_cell: NotebookNode) -> Cell:
        """Puts the release version in the cell's place, keeping the cell's id."""
        restored = from_release(release_cell, cell.ids)
        self.cells[self.position(cell)] = restored
        return restored

    def position(self, cell: Cell) -> int:
        return next(i for i, c in enumerate(self.cells) if c is cell)

    def put_back_missing(self, kept: dict[str, Cell]) -> None:
        """Release nbgrader cells the hand-in lacks: a locked cell retyped without its metadata gets
        it back in place; other locked cells, and written answers as their stub, are put back after
        the nearest preceding release cell present. A code answer is only noted: the answer may sit
        in another cell, which a restored stub after it would override."""
        if len(kept) == len(self.graded):
            return
        present = self.present(kept)
        for index, (gid, release_cell) in enumerate(self.release):
            if not gid or gid in kept:
                continue
            what = describe(release_cell)
            answer = nbgrader_meta(release_cell.metadata).get("solution")
            if answer and release_cell.cell_type == "code":
                self.note(None, f"The {what} was deleted; not put back, as the answer may sit in another cell.")
            elif not answer and (retyped := self.retyped(release_cell, present)):
                present[index] = self.replace(retyped, release_cell)
                self.note("cells-restored", f"The {what} had lost its nbgrader metadata (retyped?); put back.")
            else:
                before = [present[j] for j in range(index - 1, -1, -1) if j in present]
                present[index] = from_release(release_cell, [])
                self.cells.insert(self.position(before[0]) + 1 if before else 0, present[index])
                self.note("cells-restored", f"The {what} was missing; put back.")

    def present(self, kept: dict[str, Cell]) -> dict[int, Cell]:
        """Release cell index → the hand-in's cell for it: nbgrader cells by grade_id, the others by
        their own cell id or, failing that (Colab's 4.0 saves drop ids), by identical text."""
        present: dict[int, Cell] = {}
        free = [c for c in self.cells if all(c is not k for k in kept.values())]
        for index, (gid, release_cell) in enumerate(self.release):
            if gid:
                if gid in kept:
                    present[index] = kept[gid]
                continue
            same_id = (c for c in free if c.ids[:1] == [release_cell.get("id")])
            same_text = (c for c in free if (c.cell_type, c.source) == (release_cell.cell_type, release_cell.source))
            if match := next(same_id, None) or next(same_text, None):
                present[index] = match
                free.remove(match)
        return present

    def retyped(self, release_cell: NotebookNode, present: dict[int, Cell]) -> Cell | None:
        """An ordinary cell holding exactly a locked cell's text: that cell, its metadata lost."""
        claimed = list(present.values())
        return next(
            (
                c
                for c in self.cells
                if "nbgrader" not in c.metadata
                and all(c is not p for p in claimed)
                and c.cell_type == release_cell.cell_type
                and c.source.strip() == release_cell.source.strip()
            ),
            None,
        )


# --- cells → a valid nbformat 4.5 notebook --------------------------------------------------------


def notebook(metadata: dict, cells: list[Cell]) -> dict:
    taken: set[str] = set()
    return {
        "nbformat": 4,
        "nbformat_minor": 5,
        "metadata": metadata,
        "cells": [cell_json(cell, unique_id(cell, i, taken)) for i, cell in enumerate(cells)],
    }


def unique_id(cell: Cell, index: int, taken: set[str]) -> str:
    """The cell's own id when valid and not yet taken, else the next candidate (release id, Colab's
    id), else a fresh one: duplicated ids make nbgrader abort."""
    fresh = (f"cell-{index}-{n}" if n else f"cell-{index}" for n in itertools.count())
    chosen = next(i for i in itertools.chain(cell.ids, fresh) if CELL_ID.match(i) and i not in taken)
    taken.add(chosen)
    return chosen


def cell_json(cell: Cell, cell_id: str) -> dict:
    out = {"id": cell_id, "cell_type": cell.cell_type, "metadata": cell.metadata, "source": cell.source}
    if cell.cell_type == "code":
        out |= {"outputs": [], "execution_count": None}
    elif cell.attachments is not None:
        out["attachments"] = cell.attachments
    return out


def is_valid(nb: dict) -> bool:
    """nbformat's schema check; fast (fastjsonschema, compiled once per process)."""
    try:
        get_validator(version=4, version_minor=5).validate(nb)
    except ValidationError:
        return False
    return True


def minimal_metadata(metadata: dict) -> dict:
    """Notebook metadata reduced to what is surely valid: the kernelspec when well formed."""
    spec = metadata.get("kernelspec")
    ok = isinstance(spec, dict) and all(isinstance(spec.get(k), str) for k in ("name", "display_name"))
    return {"kernelspec": {"name": spec["name"], "display_name": spec["display_name"]}} if ok else {}


def grading_metadata(cell: Cell) -> dict:
    """A cell's metadata reduced to what grading needs (nbgrader's, already checked against the
    release)."""
    return {k: v for k, v in cell.metadata.items() if k == "nbgrader"}
