"""Execute: grade one hand-in, in a worker. A function of the hand-in and the course only.

normalize → nbgrader's sanitizing preprocessors → Execute (a kernel forked from the warm template,
under a wall-clock limit for the whole notebook) → nbgrader's output limits → `determine_grade`
for every graded cell. Only the coordinator writes the gradebook and renders pages.
"""

import copy
import threading
import time
from dataclasses import dataclass, field

import nbformat
from nbclient.exceptions import CellTimeoutError, DeadKernelError
from nbformat import NotebookNode
from nbgrader import utils as nbgrader_utils
from nbgrader.preprocessors import Execute

from grading import integrity, preprocessors
from grading.compat import OutputBudget
from grading.course import Course
from grading.kernel.template import Template, TemplateGone
from grading.normalize import Unreadable, normalize
from grading.outputs import visible_text
from grading.records import ERROR, GRADED, UNREADABLE, CellResult, HandIn, Result

STARTUP = "template start"  # waiting for the worker's template: once a run, not any hand-in's time


class Laps(dict):
    """Seconds spent in each phase of grading one notebook (for the benchmark's breakdown)."""

    def __init__(self):
        super().__init__()
        self.last = time.monotonic()

    def __call__(self, phase: str) -> None:
        now = time.monotonic()
        self[phase] = self.get(phase, 0.0) + now - self.last
        self.last = now


@dataclass
class Graded:
    """What a worker hands back: the row, and for a graded hand-in the notebook as it ran."""

    result: Result
    executed: str | None = None  # the autograded notebook, as nbformat JSON
    timings: dict[str, float] = field(default_factory=dict)


class Grader:
    """One worker's grader: its kernel template and nbgrader's preprocessors, made once."""

    def __init__(self, course: Course, template: Template, timeout: float, cell_timeout: float | None = None):
        self.course, self.template, self.timeout = course, template, timeout
        self.sandbox = template.sandbox
        course_config = course.nbgrader_config()
        self.cell_timeout = min(cell_timeout or Execute(config=course_config).timeout or timeout, timeout)
        # Through the config: nbconvert's ExecutePreprocessor re-reads it for every notebook.
        config = self.config = copy.deepcopy(course_config)
        config.Execute.timeout = self.cell_timeout
        cells = preprocessors.CourseCells(f"sqlite:///{course.folder / 'gradebook.db'}")
        self.sanitize = preprocessors.sanitizing(config, cells)
        self.finish = preprocessors.finishing(config)
        self.skip_tag = Execute(config=config).skip_cells_with_tag
        self.first_cells = {name: first_cells(course.release(name), self.skip_tag) for name in course.notebooks}

    def close(self) -> None:
        """Nothing to release: each notebook's kernel is gone when `grade` returns."""

    def grade(self, handin: HandIn) -> Graded:
        laps = Laps()
        result = new_result(handin, self.course)
        notes = list(handin.notes)
        student_version = self.course.release(handin.notebook)
        try:
            clean = normalize(handin.content, student_version)
            laps("normalize")
        except Unreadable as why:
            result.status, result.message = UNREADABLE, "; ".join([*notes, str(why)])
            return Graded(result)
        result.flags += clean.flags
        notes += clean.notes
        try:
            executed, run_flags, run_notes = self.run(clean.notebook, handin, laps)
        except Exception as error:  # the grader failed on this hand-in: say so, never stop the batch
            result.status = ERROR
            result.message = "; ".join([*notes, f"the grader failed: {type(error).__name__}: {error}"])
            return Graded(result)
        result.flags += run_flags
        notes += run_notes
        reasons = integrity.suspicious(clean.notebook, self.course.check_names, self.course.helper_module_prefix)
        if reasons:
            result.flags.append("suspicious")
            notes.append("suspicious: " + "; ".join(reasons))
        result.cells = cell_results(executed)
        result.score = sum(c.score or 0 for c in result.cells)
        result.max_score = sum(c.max_score for c in result.cells)
        result.misconceptions = sorted({tag for c in result.cells for tag in self.course.misconceptions(c.text)})
        pending = sum(c.max_score for c in result.cells if c.score is None)
        if pending:
            notes.append(f"{pending:g} points wait for manual grading")
        result.flags = sorted(set(result.flags))
        result.message = "; ".join(notes)
        laps("grades")
        result.seconds = sum(seconds for phase, seconds in laps.items() if phase != STARTUP)
        return Graded(result, nbformat.writes(executed), laps)

    def run(self, nb: NotebookNode, handin: HandIn, laps: Laps) -> tuple[NotebookNode, list[str], list[str]]:
        """nbgrader's autograde of one notebook: sanitize, execute, limit output."""
        resources = {
            "nbgrader": {
                "notebook": handin.notebook,
                "assignment": handin.notebook,
                "student": handin.student,
            },
            "metadata": {"path": str(self.template.workdir)},
        }
        for preprocessor in self.sanitize:
            nb, resources = preprocessor(nb, resources)
        laps("sanitize")
        flags, notes = [], []
        expired = threading.Event()
        kernel_pid: list[int] = []

        def stop_the_clock() -> None:
            expired.set()
            for pid in kernel_pid:
                self.template.signal(pid, 9)

        starting = not self.template.ready
        self.template.ensure_running()  # also waits for the template to finish the last reset
        laps(STARTUP if starting else "kernel start")
        watchdog = threading.Timer(self.timeout, stop_the_clock)
        watchdog.start()
        execute = kernel = None
        try:
            first = self.first_cells[handin.notebook]
            first = first if executed_sources(nb.cells, self.skip_tag)[: len(first)] == first else []
            pid, kernel = self.template.fork_kernel(self.sandbox.limits.for_kernel(), OutputBudget.output_left, first)
            kernel_pid.append(pid)
            if expired.is_set():  # the clock ran out while the kernel started
                self.template.signal(pid, 9)
            laps("kernel start")
            execute = preprocessors.TemplateExecute(kernel, config=self.config)
            nb, resources = execute(nb, resources)
            laps("cells")
        except (DeadKernelError, TemplateGone, CellTimeoutError, RuntimeError) as error:
            if expired.is_set():
                flags.append("timeout")
                notes.append(f"the notebook ran out of time ({self.timeout:g} s); later cells did not run")
            elif isinstance(error, CellTimeoutError):  # interrupted, it still did not stop: killed
                flags.append("timeout")
                notes.append(
                    f"a cell ran past {self.cell_timeout:g} s and ignored the interrupt; later cells did not run"
                )
            else:
                flags.append("kernel-died")
                notes.append(f"the kernel died ({type(error).__name__}: {error}); later cells did not run")
        finally:
            watchdog.cancel()
            if kernel is not None:
                kernel.close()
            self.template.reset()
            laps("kernel stop")
        if any(o.get("ename") == "CellTimeoutError" for c in nb.cells for o in c.get("outputs", [])):
            flags.append("timeout")
            notes.append(f"a cell ran longer than {self.cell_timeout:g} s and was interrupted")
        replied = execute.replied if execute is not None else set()
        fail_unanswered(nb, replied, "the notebook stopped before this cell ran")
        for preprocessor in self.finish:
            nb, resources = preprocessor(nb, resources)
        laps("finish")
        return nb, sorted(set(flags)), notes


def executed_sources(cells: list[NotebookNode], skip_tag: str) -> list[str]:
    """The sources of the cells that nbclient runs, in order."""
    return [
        c.source
        for c in cells
        if c.cell_type == "code" and c.source.strip() and skip_tag not in c.metadata.get("tags", [])
    ]


def first_cells(release: NotebookNode, skip_tag: str) -> list[str]:
    """The course's own first cells of a notebook, which every hand-in that left them alone runs
    alike: the cells run before its first exercise (a graded or a solution cell), up to the last
    locked one (the helpers). A zygote runs them once (kernel/fork.py)."""
    before = []
    for cell in release.cells:
        if nbgrader_utils.is_grade(cell) or nbgrader_utils.is_solution(cell):
            break
        before.append(cell)
    locked = [i for i, c in enumerate(before) if c.cell_type == "code" and nbgrader_utils.is_locked(c)]
    return executed_sources(before[: locked[-1] + 1], skip_tag) if locked else []


def new_result(handin: HandIn, course: Course, status: str = GRADED, message: str = "") -> Result:
    """The row of a hand-in before it runs: what collect found out about it."""
    return Result(
        handin.student,
        handin.notebook,
        status,
        max_score=course.max_scores[handin.notebook],
        flags=list(handin.flags),
        message=message,
        source=handin.source,
        submitted_at=handin.submitted_at,
    )


def fail_unanswered(nb: NotebookNode, replied: set[int], why: str) -> None:
    """A graded cell the kernel never answered (it died, or time ran out) must score 0: without
    an error output, nbgrader would give it full marks."""
    for index, cell in enumerate(nb.cells):
        if cell.cell_type == "code" and nbgrader_utils.is_grade(cell) and index not in replied:
            cell.outputs.append(nbformat.v4.new_output("error", ename="NotRun", evalue=why, traceback=[]))


def cell_results(nb: NotebookNode) -> list[CellResult]:
    results = []
    for cell in nb.cells:
        if nbgrader_utils.is_grade(cell):
            score, max_score = nbgrader_utils.determine_grade(cell)
            manual = nbgrader_utils.is_solution(cell)
            results.append(CellResult(cell.metadata.nbgrader["grade_id"], max_score, score, manual, visible_text(cell)))
    return results
