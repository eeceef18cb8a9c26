"""Inline the student helpers: `from coursework.helpers.X import ...` in a notebook becomes X's code,
loaded as a module named `course_X`, so that a notebook needs no file beside it (Colab has none)
and behaves like its source."""

import ast
from collections.abc import Callable

from nbformat import NotebookNode

from coursework.config import HELPERS
from coursework.helpers.contract import HELPER_MODULE_PREFIX

HELPER_PACKAGE = "coursework.helpers."

INSTALLER = '''import sys as _sys
import types as _types


def _install(name, code):
    """Load helper code as a module of its own, as if it were a file beside this notebook."""
    module = _types.ModuleType(name)
    _sys.modules[name] = module
    exec(compile(code, name + ".py", "exec"), module.__dict__)'''


def module_name(module: str) -> str:
    """The name a helper module has inside a notebook."""
    return f"{HELPER_MODULE_PREFIX}{module}"


def helper_code(module: str) -> str:
    return (HELPERS / f"{module}.py").read_text()


def helper_imports(source: str) -> list[tuple[int, int, str, str]]:
    """Each `from coursework.helpers.X import a, b` in source: its first and last line (1-based), X,
    and the imported names."""
    found = []
    for node in ast.parse(source).body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith(HELPER_PACKAGE):
            names = ", ".join(a.name + (f" as {a.asname}" if a.asname else "") for a in node.names)
            found.append((node.lineno, node.end_lineno or node.lineno, node.module.removeprefix(HELPER_PACKAGE), names))
    return found


def replace_imports(source: str, replacement: Callable[[str, str], list[str]]) -> str:
    """source, with each helper import replaced by replacement(module, names) (lines, maybe none)."""
    lines = source.splitlines()
    for first, last, module, names in reversed(helper_imports(source)):
        lines[first - 1 : last] = replacement(module, names)
    return "\n".join(lines)


def helper_source(module: str) -> str:
    """A helper module's code, importing its sibling helpers by their names inside a notebook."""
    text = helper_code(module)
    if "'''" in text:
        raise ValueError(f"coursework/helpers/{module}.py: write strings with \"\"\"; ''' delimits inlined code")
    return replace_imports(text, lambda m, names: [f"from {module_name(m)} import {names}"]).strip()


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


def inline_helpers(nb: NotebookNode) -> None:
    """Replace every helper import in nb's code cells with the helpers' code."""
    for cell in nb.cells:
        imports = helper_imports(cell.source) if cell.cell_type == "code" and HELPER_PACKAGE in cell.source else []
        if not imports:
            continue
        kept = replace_imports(cell.source, lambda m, names: []).strip()
        installs = [
            f"_install(\"{module_name(m)}\", r'''\n{helper_source(m)}\n''')"
            for m in with_dependencies([m for _, _, m, _ in imports])
        ]
        uses = [f"from {module_name(m)} import {names}" for _, _, m, names in imports]
        cell.source = "\n\n".join([kept, INSTALLER, *installs, "\n".join(uses)]).strip()


def check_names() -> list[str]:
    """Every name the helpers give a notebook (their `__all__`): a student who redefines one is
    flagged by the grader."""
    names: set[str] = set()
    for path in HELPERS.glob("*.py"):
        for node in ast.parse(path.read_text()).body:
            if isinstance(node, ast.Assign) and any(getattr(t, "id", "") == "__all__" for t in node.targets):
                names.update(ast.literal_eval(node.value))
    return sorted(names)
