"""Integrity: find student code that interferes with checking, so that it cannot gain points silently.

The checks are built to resist the common tricks by themselves (they keep their own references to
`abs`, `math.isclose` & co., taken before student code runs; nbgrader restores the test cells; a
swallowed exception still fails its cell, because nbgrader reads the kernel's reply). What they
cannot undo is flagged here, by reading the student's cells: the `suspicious` flag, with a reason.
"""

import ast

from IPython.core.inputtransformer2 import TransformerManager
from nbformat import NotebookNode
from nbgrader import utils as nbgrader_utils

# Modules whose attributes the checks rely on; assigning to them changes what the checks see.
GUARDED_MODULES = {"builtins", "math", "torch", "numpy", "np", "sys", "IPython", "__builtins__"}
# Builtins the checks use; a notebook-wide redefinition changes them for the test cells too.
GUARDED_NAMES = {"abs", "isinstance", "float", "round", "len", "all", "any", "print", "AssertionError", "Exception"}
TRICKS = {
    "set_custom_exc": "installs an IPython exception handler (it could swallow failing checks)",
    "excepthook": "replaces sys.excepthook",
    "register": "registers an IPython event hook",
    "input_transformers_post": "changes how IPython reads cells",
    "input_transformers_cleanup": "changes how IPython reads cells",
    "ast_transformers": "changes how IPython runs cells",
}


def student_cells(nb: NotebookNode) -> list[NotebookNode]:
    """Code the student could write: every code cell that nbgrader does not restore."""
    return [c for c in nb.cells if c.cell_type == "code" and not nbgrader_utils.is_locked(c)]


def parse(source: str) -> ast.Module | None:
    """The cell's syntax tree; IPython's own reading (magics, `!` commands) only when plain Python
    fails, as it is ten times slower."""
    try:
        return ast.parse(source)
    except (SyntaxError, ValueError):
        pass
    try:
        return ast.parse(TransformerManager().transform_cell(source))
    except (SyntaxError, ValueError):
        return None


def root_name(node: ast.AST) -> str | None:
    while isinstance(node, ast.Attribute | ast.Subscript):
        node = node.value
    return node.id if isinstance(node, ast.Name) else None


def reasons_in(tree: ast.Module, check_names: frozenset[str], helper_prefix: str) -> list[str]:
    reasons = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and node.attr in TRICKS:
            reasons.append(TRICKS[node.attr])
        targets = []
        if isinstance(node, ast.Assign):
            targets = node.targets
        elif isinstance(node, ast.AugAssign | ast.AnnAssign):
            targets = [node.target]
        elif isinstance(node, ast.FunctionDef | ast.ClassDef):
            targets = [ast.Name(node.name)]
        elif isinstance(node, ast.Import | ast.ImportFrom):
            targets = [ast.Name(alias.asname or alias.name) for alias in node.names]
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "setattr":
            targets = [ast.Attribute(node.args[0], "?")] if node.args else []
        for target in targets:
            for leaf in ast.walk(target):
                if isinstance(leaf, ast.Name) and leaf.id in check_names:
                    reasons.append(f"redefines the course's `{leaf.id}`")
                elif isinstance(leaf, ast.Name) and leaf.id in GUARDED_NAMES:
                    reasons.append(f"redefines the builtin `{leaf.id}`")
            if isinstance(target, ast.Attribute | ast.Subscript) and root_name(target) in GUARDED_MODULES:
                reasons.append(f"changes `{ast.unparse(target)}`")
            if isinstance(target, ast.Subscript) and root_name(target) in {"globals", "sys"}:
                reasons.append(f"changes `{ast.unparse(target)}`")
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id in {"exec", "eval"}:
            reasons.append(f"runs code from a string with {node.func.id}()")
        if isinstance(node, ast.Name) and node.id.startswith(helper_prefix):
            reasons.append(f"reaches into the course's helper module `{node.id}`")
    return reasons


def suspicious(nb: NotebookNode, check_names: frozenset[str], helper_prefix: str) -> list[str]:
    """Why this notebook's student code may interfere with checking (empty: no reason found)."""
    found: list[str] = []
    for cell in student_cells(nb):
        tree = parse(cell.source)
        for reason in reasons_in(tree, check_names, helper_prefix) if tree else []:
            if reason not in found:
                found.append(reason)
    return found
