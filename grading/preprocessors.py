"""nbgrader's autograde preprocessors, set up to grade many notebooks in one process.

`nbgrader autograde` runs, per notebook, a sanitizing chain (ClearOutput, DeduplicateIds,
OverwriteKernelspec, OverwriteCells, CheckCellMetadata) and an autograding chain (Execute,
IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades, AssignLatePenalties,
CheckCellMetadata). The same preprocessors run here, with three changes that keep their logic:
  - the course's cells are read from the gradebook once per worker, not once per notebook;
  - Execute runs the cells in a kernel forked from the warm template, talking to it over a socket
    instead of the kernel protocol (kernel/client.py), and keeps at most 2 MB of printed output;
  - CheckCellMetadata runs once, its JSON schema compiled once: the notebook stays in memory, so
    its metadata cannot change between the chains as a file could;
SaveAutoGrades runs in the coordinator, the only writer of the gradebook (see gradebook.py).
The parts that rely on nbgrader's and nbclient's internals are in compat.py.
"""

import json
from types import SimpleNamespace

from nbconvert.preprocessors import ClearMetadataPreprocessor
from nbformat import NotebookNode
from nbgrader import utils as nbgrader_utils
from nbgrader.api import Gradebook, MissingEntry
from nbgrader.nbgraderformat import ValidationError
from nbgrader.preprocessors import (
    CheckCellMetadata,
    ClearOutput,
    DeduplicateIds,
    Execute,
    IgnorePattern,
    LimitOutput,
    NbGraderPreprocessor,
    OverwriteCells,
)
from traitlets.config import Config

from grading import compat
from grading.kernel.client import KernelSocket, RunnerExecution

HIDDEN_BEGIN = "BEGIN HIDDEN TESTS"  # nbgrader's delimiter


class CourseCells:
    """The gradebook's record of the course (source cells, points, kernelspecs), read once.
    Answers the two lookups OverwriteCells makes, as nbgrader's Gradebook would."""

    def __init__(self, db_url: str):
        self.source: dict[tuple[str, str], SimpleNamespace] = {}
        self.graded: dict[tuple[str, str], SimpleNamespace] = {}
        self.kernelspecs: dict[str, str | None] = {}
        with Gradebook(db_url) as gb:
            for assignment in gb.assignments:
                for notebook in assignment.notebooks:
                    self.kernelspecs[notebook.name] = notebook.kernelspec
                    for cell in notebook.source_cells:
                        self.source[(notebook.name, cell.name)] = SimpleNamespace(
                            name=cell.name,
                            cell_type=cell.cell_type,
                            locked=cell.locked,
                            checksum=cell.checksum,
                            source=cell.source,
                        )
                    for cell in notebook.grade_cells:
                        self.graded[(notebook.name, cell.name)] = SimpleNamespace(max_score=cell.max_score)

    def find_source_cell(self, grade_id: str, notebook: str, assignment: str) -> SimpleNamespace:
        try:
            return self.source[(notebook, grade_id)]
        except KeyError:
            raise MissingEntry() from None

    def find_graded_cell(self, grade_id: str, notebook: str, assignment: str) -> SimpleNamespace:
        try:
            return self.graded[(notebook, grade_id)]
        except KeyError:
            raise MissingEntry() from None


class OverwriteCellsFromMemory(OverwriteCells):
    """nbgrader's OverwriteCells (restore locked cells, points, checksums), on CourseCells."""

    def __init__(self, cells: CourseCells, **kwargs):
        super().__init__(**kwargs)
        self.cells = cells

    def preprocess(self, nb, resources):
        assert not self.add_missing_cells, "normalize puts missing cells back"
        return compat.preprocess_with_gradebook(self, nb, resources, self.cells)


class OverwriteKernelspecFromMemory(NbGraderPreprocessor):
    """nbgrader's OverwriteKernelspec: the source notebook's kernelspec replaces the student's."""

    def __init__(self, cells: CourseCells, **kwargs):
        super().__init__(**kwargs)
        self.cells = cells

    def preprocess(self, nb, resources):
        kernelspec = self.cells.kernelspecs.get(resources["nbgrader"]["notebook"])
        if kernelspec:
            nb.metadata["kernelspec"] = json.loads(kernelspec)
        return nb, resources


class CheckCellMetadataOnce(CheckCellMetadata):
    """nbgrader's CheckCellMetadata, with one validator for every notebook of the worker."""

    validator = compat.compiled_metadata_validator()

    def preprocess(self, nb, resources):
        try:
            self.validator.validate_nb(nb)
        except ValidationError as error:
            raise ValidationError("Notebook failed to validate; the nbgrader metadata may be corrupted.") from error
        return nb, resources


class TemplateExecute(compat.OutputBudget, RunnerExecution, Execute):
    """nbgrader's Execute preprocessor, on a kernel forked from the template, with a cap on the
    output kept, and a record of which cells got a reply from the kernel."""

    def __init__(self, kernel: KernelSocket, **kwargs):
        super().__init__(**kwargs)
        self.template_kernel = kernel
        self.replied: set[int] = set()

    def preprocess(self, nb, resources=None, km=None):
        """As nbconvert's ExecutePreprocessor.preprocess, on the kernel given."""
        self.nb = nb
        self.reset_execution_trackers()
        self._check_assign_resources(resources)
        self.run_cells(self.template_kernel)
        return self.nb, self.resources

    def on_cell_executed(self, **kwargs):
        super().on_cell_executed(**kwargs)
        self.replied.add(kwargs["cell_index"])

    def hidden_tests(self, cell: NotebookNode) -> tuple[str, str | None]:
        return hidden_tests(cell)


def hidden_tests(cell: NotebookNode) -> tuple[str, str | None]:
    """A test cell's code before its first hidden-test block, and from that block on; None for a
    cell without one, and for a student's own cell. A block that does not start a line at the
    cell's top level (one inside a `def`, or in a cell magic's cell) takes the whole cell."""
    if not nbgrader_utils.is_grade(cell) or nbgrader_utils.is_solution(cell):
        return cell.source, None
    lines = cell.source.splitlines(keepends=True)
    begin = next((i for i, line in enumerate(lines) if HIDDEN_BEGIN in line), None)
    if begin is None:
        return cell.source, None
    if lines[begin][:1].isspace() or cell.source.lstrip().startswith("%%"):
        begin = 0
    return "".join(lines[:begin]), "".join(lines[begin:])


def sanitizing(config: Config, cells: CourseCells) -> list[NbGraderPreprocessor]:
    return [
        ClearOutput(config=config),
        DeduplicateIds(config=config),
        OverwriteKernelspecFromMemory(cells, config=config),
        OverwriteCellsFromMemory(cells, config=config),
        CheckCellMetadataOnce(config=config),
    ]


def finishing(config: Config) -> list:
    """What follows Execute in nbgrader's autograde chain, up to SaveAutoGrades."""
    return [IgnorePattern(config=config), ClearMetadataPreprocessor(config=config), LimitOutput(config=config)]
