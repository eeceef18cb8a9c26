"""grading/compat.py: each patch of a third-party internal still does what it says, on the versions
it was checked against. When a pinned version changes, the first test fails and names the patches
to check again. (OutputBudget is tested by the 50 MB print in test_grade.py; the metadata
validator and preprocess_with_gradebook against nbgrader's own in test_autograde.py.)"""

import importlib.metadata
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from grading import compat


@pytest.mark.parametrize("package", sorted(compat.CHECKED))
def test_installed_versions_are_the_checked_ones(package):
    installed = importlib.metadata.version(package)
    assert installed == compat.CHECKED[package], (
        f"compat.py's patches were checked against {package}=={compat.CHECKED[package]}, but {installed} is "
        f"installed: check every patch in grading/compat.py that touches {package}, then update CHECKED"
    )


def test_without_the_rfc3987_grammar_notebooks_are_still_validated():
    code = (
        "import sys, grading, nbformat\n"
        "assert sys.modules['rfc3987_syntax'] is None\n"
        "nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell('1')])\n"
        "nbformat.validate(nb)\n"
        "nb.cells[0]['execution_count'] = 'one'\n"
        "try:\n    nbformat.validate(nb)\nexcept nbformat.ValidationError:\n    print('rejected')\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.stdout.strip() == "rejected", run.stderr


def test_cheap_cell_names_still_tell_cells_apart():
    code = (
        "from grading import compat\n"
        "compat.cheap_cell_names()\n"
        "import ipykernel.compiler as c\n"
        "names = {c.get_file_name(code) for code in ('x = 1', 'x = 2', 'print(x)')}\n"
        "print(len(names), c.murmur2_x86.__module__)\n"
    )
    run = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    assert run.stdout.split() == ["3", "grading.compat"], run.stderr


def test_new_gradebook_is_the_one_nbgrader_makes(tmp_path, monkeypatch):
    from nbgrader.api import Gradebook

    monkeypatch.setenv("PATH", f"{Path(sys.executable).parent}:{os.environ['PATH']}")  # nbgrader runs `alembic`
    Gradebook(f"sqlite:///{tmp_path / 'nbgraders.db'}").close()
    compat.new_gradebook(tmp_path / "ours.db")

    def schema(path):
        with sqlite3.connect(path) as db:
            tables = db.execute("SELECT type, name, sql FROM sqlite_master ORDER BY name").fetchall()
            return tables, db.execute("SELECT * FROM alembic_version").fetchall()

    assert schema(tmp_path / "ours.db") == schema(tmp_path / "nbgraders.db")


def test_compat_loads_without_the_libraries_it_patches():
    """The kernel template loads compat.py by its path, inside the sandbox: at module level it may
    import nothing but the standard library."""
    code = (
        "import runpy, sys\n"
        "runpy.run_path(sys.argv[1])\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('nbformat', 'nbgrader', 'jupyter_client', "
        "'ipykernel', 'nbclient', 'jsonschema', 'alembic', 'sqlalchemy')))"
    )
    run = subprocess.run([sys.executable, "-c", code, compat.__file__], capture_output=True, text=True)
    assert run.stdout.strip() == "[]", run.stdout + run.stderr
