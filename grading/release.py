"""Release: turn the source notebooks in solutions/ into the student notebooks in notebooks/.

Three steps, each a plain function:
  prepare_source  stamps the Colab badge and inlines the student helpers (one source notebook);
  build_course    runs nbgrader's generate_assignment on every prepared notebook (a course folder);
  release         writes the student versions to notebooks/ and the notebook table to README.md.
"""

import ast
import shutil
import tempfile
from pathlib import Path

import nbformat
from nbformat import NotebookNode
from traitlets.config import Config
from traitlets.config.loader import PyFileConfigLoader

from grading import course

BADGE_IMAGE = "https://colab.research.google.com/assets/colab-badge.svg"
HELPER_PACKAGE = "grading.student."
PATH_LINE = 'import sys; sys.path.insert(0, "..")'
TABLE_START, TABLE_END = "<!-- notebooks:start -->", "<!-- notebooks:end -->"


def badge(pub: course.Publication, name: str) -> str:
    return f'<a href="{pub.colab_url(name)}" target="_parent"><img src="{BADGE_IMAGE}" alt="Open In Colab"/></a>'


def stamp_badge(nb: NotebookNode, name: str, pub: course.Publication) -> None:
    """Cell 0 is the title; its first line becomes the badge pointing at this notebook."""
    title = nb.cells[0]
    lines = [line for line in title.source.splitlines() if "colab-badge.svg" not in line]
    title.source = "\n".join([badge(pub, name), *lines])


def helper_module_name(module: str) -> str:
    return f"course_{module}"


def helper_code(module: str) -> str:
    return (course.STUDENT_HELPERS / f"{module}.py").read_text()


def helper_imports(source: str) -> list[tuple[int, int, str, str]]:
    """Each `from grading.student.X import a, b` in source: its first and last line (1-based), X,
    and the imported names."""
    found = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(HELPER_PACKAGE):
            names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in node.names)
            found.append((node.lineno, node.end_lineno or node.lineno, node.module.removeprefix(HELPER_PACKAGE), names))
    return found


def replace_imports(source: str, replacement) -> str:
    """source, with each helper import replaced by replacement(module, names) (lines, maybe none)."""
    lines = source.splitlines()
    for first, last, module, names in reversed(helper_imports(source)):
        lines[first - 1 : last] = replacement(module, names)
    return "\n".join(lines)


def helper_source(module: str) -> str:
    """A student helper module's code, importing its sibling helpers by their installed names."""
    text = helper_code(module)
    if "'''" in text:
        raise ValueError(f"grading/student/{module}.py: write strings with \"\"\"; ''' delimits inlined code")
    return replace_imports(text, lambda m, names: [f"from {helper_module_name(m)} import {names}"]).strip()


def with_dependencies(modules: list[str]) -> list[str]:
    """The helper modules and those they import, each after the ones it needs."""
    ordered: list[str] = []

    def visit(module: str) -> None:
        if module not in ordered:
            for _, _, needed, _ in helper_imports(helper_code(module)):
                visit(needed)
            ordered.append(module)

    for module in modules:
        visit(module)
    return ordered


INSTALLER = '''import sys as _sys
import types as _types


def _install(name, code):
    """Load helper code as a module of its own, as if it were a file beside this notebook."""
    module = _types.ModuleType(name)
    _sys.modules[name] = module
    exec(compile(code, name + ".py", "exec"), module.__dict__)'''


def inline_helpers(nb: NotebookNode) -> None:
    """Replace `from grading.student.X import ...` with the code of X, loaded as a module, so
    that a notebook needs no file beside it (Colab has none) and behaves like its source."""
    for cell in nb.cells:
        imports = helper_imports(cell.source) if cell.cell_type == "code" and HELPER_PACKAGE in cell.source else []
        if not imports:
            continue
        kept = replace_imports(cell.source, lambda m, names: [])
        kept = "\n".join(line for line in kept.splitlines() if line.strip() != PATH_LINE)
        installs = [
            f"_install(\"{helper_module_name(m)}\", r'''\n{helper_source(m)}\n''')"
            for m in with_dependencies([m for _, _, m, _ in imports])
        ]
        uses = [f"from {helper_module_name(m)} import {names}" for _, _, m, names in imports]
        cell.source = "\n\n".join([kept.strip(), INSTALLER, *installs, "\n".join(uses)]).strip()


def prepare_source(name: str, pub: course.Publication) -> NotebookNode:
    nb = nbformat.read(course.SOLUTIONS / f"{name}.ipynb", as_version=4)
    stamp_badge(nb, name, pub)
    inline_helpers(nb)
    return nb


def nbgrader_config(course_dir: Path) -> Config:
    config = PyFileConfigLoader(course.NBGRADER_CONFIG.name, path=str(course.PACKAGE)).load_config()
    config.CourseDirectory.root = str(course_dir)
    return config


def alembic_head() -> str:
    """The schema revision of nbgrader's gradebook: the one migration no other one builds on.
    (nbgrader asks a subprocess, `alembic heads`, for it: seconds, for one line of text.)"""
    from nbgrader.dbutil import ALEMBIC_DIR

    revisions, parents = set(), set()
    for script in (Path(ALEMBIC_DIR) / "versions").glob("*.py"):
        for node in ast.parse(script.read_text()).body:
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Constant):
                name = getattr(node.targets[0], "id", "")
                if name == "revision":
                    revisions.add(node.value.value)
                elif name == "down_revision" and node.value.value:
                    parents.add(node.value.value)
    (head,) = revisions - parents
    return head


def new_gradebook(path: Path) -> None:
    """An empty gradebook, exactly as nbgrader's Gradebook creates one (its tables, stamped
    with the schema revision), without nbgrader's `alembic heads` subprocess."""
    from nbgrader.api import Base
    from sqlalchemy import create_engine, text

    engine = create_engine(f"sqlite:///{path}")
    Base.metadata.create_all(bind=engine)
    with engine.begin() as db:
        db.execute(text("CREATE TABLE alembic_version (version_num VARCHAR(32) NOT NULL);"))
        db.execute(text("INSERT INTO alembic_version (version_num) VALUES (:v)"), {"v": alembic_head()})
    engine.dispose()


def build_course(course_dir: Path, pub: course.Publication | None = None) -> list[str]:
    """Create an nbgrader course folder: one assignment per notebook, named like it, with its
    source, release version and gradebook. Returns the notebook names."""
    from nbgrader.apps import NbGraderAPI

    pub = pub or course.publication()
    names = course.notebook_names()
    course_dir.mkdir(parents=True, exist_ok=True)
    shutil.copy(course.NBGRADER_CONFIG, course_dir / "nbgrader_config.py")
    new_gradebook(course_dir / "gradebook.db")
    for name in names:
        source = course_dir / "source" / name / f"{name}.ipynb"
        source.parent.mkdir(parents=True, exist_ok=True)
        nbformat.write(prepare_source(name, pub), source)
    api = NbGraderAPI(config=nbgrader_config(course_dir))
    for name in names:
        result = api.generate_assignment(name, force=True, create=True)
        if not result["success"]:
            raise RuntimeError(f"nbgrader could not release {name}:\n{result.get('log', '')}")
    return names


def notebook_text(nb: NotebookNode) -> str:
    """nbformat's own layout: stable bytes, so that a regenerated notebook shows no diff."""
    return nbformat.writes(nb) + "\n"


def notebook_table(names: list[str], pub: course.Publication) -> str:
    rows = ["| notebook | open in Colab |", "|---|---|"]
    for name in names:
        rows.append(
            f"| [`{name}`]({pub.github_url(name)}) | [![Open In Colab]({BADGE_IMAGE})]({pub.colab_url(name)}) |"
        )
    return "\n".join(rows)


def readme_text(names: list[str], pub: course.Publication) -> str:
    text = course.README.read_text()
    start, end = text.index(TABLE_START) + len(TABLE_START), text.index(TABLE_END)
    return text[:start] + "\n" + notebook_table(names, pub) + "\n" + text[end:]


def released_files(pub: course.Publication | None = None) -> dict[Path, bytes]:
    """What `release` writes: every student notebook, README.md with its notebook table, and the
    example hand-ins made from these very notebooks."""
    from grading.samples.examples import handins_zip

    pub = pub or course.publication()
    with tempfile.TemporaryDirectory() as tmp:
        names = build_course(Path(tmp), pub)
        students = {n: nbformat.read(Path(tmp) / "release" / n / f"{n}.ipynb", as_version=4) for n in names}
    sources = {n: nbformat.read(course.SOLUTIONS / f"{n}.ipynb", as_version=4) for n in names}
    files = {course.NOTEBOOKS / f"{n}.ipynb": notebook_text(nb).encode() for n, nb in students.items()}
    files[course.README] = readme_text(names, pub).encode()
    files[course.EXAMPLE_HANDINS] = handins_zip(sources, students)
    return files


def release(pub: course.Publication | None = None) -> list[Path]:
    """Regenerate notebooks/, README's notebook table and the example hand-ins from solutions/.
    Deterministic: running it twice changes no byte."""
    files = released_files(pub)
    for stale in set(course.NOTEBOOKS.glob("*.ipynb")) - set(files):
        stale.unlink()
    for path, content in files.items():
        path.parent.mkdir(exist_ok=True)
        path.write_bytes(content)
    return sorted(files)
