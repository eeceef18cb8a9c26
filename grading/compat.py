"""Every place where the grader relies on another library's internals, in one module.

Each patch names what it touches and why, and the versions it was checked against (CHECKED);
tests/test_compat.py fails loudly when an installed version differs from these, and tests each
patch's behaviour. Imports are made inside the functions: the kernel template imports this module
too (inside the sandbox), and only the patch it uses may cost it anything.
"""

import sys
import zlib
from pathlib import Path

# The pinned versions every patch below was checked against (requirements.txt pins the same).
CHECKED = {
    "alembic": "1.20.1",
    "ipython": "9.18.1",
    "ipykernel": "7.4.0",
    "jsonschema": "4.26.0",
    "jupyter_client": "8.10.0",
    "nbclient": "0.11.0",
    "nbgrader": "0.9.6",
}


def skip_rfc3987_grammar() -> None:
    """jsonschema compiles the grammars of rfc3987-syntax, an optional format checker that jupyter's
    packages install, when nbformat first imports it: 1.7 s at every start, for the "iri" formats
    that neither nbformat's nor nbgrader's schemas use. Without the module, jsonschema skips those
    formats and nothing else changes. (jsonschema's format checker; rfc3987-syntax 1.1.)"""
    sys.modules.setdefault("rfc3987_syntax", None)


def cheap_cell_names() -> None:
    """ipykernel names each cell's code after a hash computed in pure Python
    (`ipykernel.compiler.murmur2_x86`): 15 ms for a long helpers cell. Any hash that tells the
    cells apart does. Called in the kernel template, before it forks kernels."""
    import ipykernel.compiler

    ipykernel.compiler.murmur2_x86 = lambda data, seed: zlib.crc32(data.encode(), seed)


def execute_reply(shell, result) -> dict:
    """ipykernel's reply to an execute request (`IPythonKernel.do_execute`), for a cell that the
    grader's own kernel (kernel/runner.py) ran in ipykernel's shell, `ZMQInteractiveShell`. It reads
    what that shell keeps of the last error: its traceback (`_last_traceback`) and whether it came
    from showing the cell's result (`_last_traceback_during_displayhook`), both private. `result`
    is IPython's ExecutionResult, or None for a cell interrupted before it started."""
    if result is None:
        error = KeyboardInterrupt()
    else:
        error = result.error_before_exec if result.error_before_exec is not None else result.error_in_exec
    reply = {"execution_count": shell.execution_count - 1, "user_expressions": {}}
    if result is not None and result.success and not getattr(shell, "_last_traceback_during_displayhook", False):
        reply["status"] = "ok"
    else:
        reply["status"] = "error"
        reply.update(traceback=shell._last_traceback or [], ename=type(error).__name__, evalue=str(error))
    reply["payload"] = shell.payload_manager.read_payload()
    shell.payload_manager.clear_payload()
    return reply


class OutputBudget:
    """A mixin for nbclient's NotebookClient (nbgrader's Execute): keeps at most `output_left`
    characters of printed output per notebook, so that a 50 MB print never reaches the grader.
    Overrides `NotebookClient.output(outs, msg, display_id, cell_index)`, which turns one IOPub
    message into one output."""

    output_left = 2_000_000

    def output(self, outs, msg, display_id, cell_index):
        out = super().output(outs, msg, display_id, cell_index)
        if out is not None and out.output_type == "stream":
            kept = out.text[: max(self.output_left, 0)]
            self.output_left -= len(out.text)
            if len(kept) < len(out.text):
                out.text = kept + "\n[the grader kept only the first 2 MB of output]\n"
        return out


def preprocess_with_gradebook(preprocessor, nb, resources, gradebook):
    """Run one of nbgrader's gradebook preprocessors (OverwriteCells, SaveAutoGrades) on an open
    gradebook, or anything answering the lookups they make. Their own `preprocess` opens a new
    database connection per notebook, then sets the instance attributes that their per-cell code
    reads; here those attributes are set and the base class's cell loop runs directly."""
    from nbgrader.preprocessors import NbGraderPreprocessor

    preprocessor.notebook_id = resources["nbgrader"]["notebook"]
    preprocessor.assignment_id = resources["nbgrader"]["assignment"]
    preprocessor.student_id = resources["nbgrader"].get("student")
    preprocessor.gradebook = gradebook
    return NbGraderPreprocessor.preprocess(preprocessor, nb, resources)


def compiled_metadata_validator():
    """nbgrader's MetadataValidator with its JSON schema compiled once: its per-cell check
    (`BaseMetadataValidator.validate_cell`) calls `jsonschema.validate`, which compiles the schema
    again for every cell. Cells of another schema version keep nbgrader's own verdict."""
    import jsonschema
    from nbgrader.nbgraderformat import MetadataValidator
    from nbgrader.nbgraderformat.common import BaseMetadataValidator

    class CompiledSchema(BaseMetadataValidator):
        def validate_cell(self, cell):
            meta = cell.metadata.get("nbgrader")
            if meta is None or meta.get("schema_version", 0) != self.schema_version:
                return super().validate_cell(cell)
            if not hasattr(self, "compiled"):
                self.compiled = jsonschema.validators.validator_for(self.schema)(self.schema)
            error = jsonschema.exceptions.best_match(self.compiled.iter_errors(meta))
            if error is not None:
                raise error

    class CompiledMetadataValidator(MetadataValidator, CompiledSchema):
        """MetadataValidator's `super().validate_cell` reaches CompiledSchema first."""

    return CompiledMetadataValidator()


def new_gradebook(path: Path) -> None:
    """An empty gradebook exactly as nbgrader's `Gradebook` creates one (its tables from
    `nbgrader.api.Base`, stamped with the schema's head revision), without the `alembic heads`
    subprocess nbgrader runs for the revision: seconds, for one line of text."""
    from alembic.script import ScriptDirectory
    from nbgrader.api import Base
    from nbgrader.dbutil import ALEMBIC_DIR
    from sqlalchemy import create_engine, text

    head = ScriptDirectory(ALEMBIC_DIR).get_current_head()
    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(bind=engine)
    with engine.begin() as db:
        db.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL);"))
        db.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": head})
    engine.dispose()
