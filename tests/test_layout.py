"""The two packages' boundaries: `grading` never imports `coursework` (but for its composition
root, cli.py), `coursework` reaches `grading` only for the patches of compat.py, and no module
imports itself through others."""

import ast
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("coursework", "grading")


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def imports_of(path: Path, modules: set[str]) -> set[str]:
    """The project modules `path` imports anywhere in it (in functions too)."""
    found = set()
    for node in ast.walk(ast.parse(path.read_text())):
        names = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        found |= {name for name in names if name in modules}
    return found


def graph() -> dict[str, set[str]]:
    paths = {module_name(p): p for package in PACKAGES for p in (ROOT / package).rglob("*.py")}
    return {name: imports_of(path, set(paths)) - {name} for name, path in paths.items()}


def test_grading_never_imports_coursework_but_in_its_composition_root():
    reaching = {
        m for m, deps in graph().items() if m.startswith("grading") and any(d.startswith("coursework") for d in deps)
    }
    assert reaching == {"grading.cli"}


def test_coursework_uses_only_the_graders_compat_module():
    used = {d for m, deps in graph().items() if m.startswith("coursework") for d in deps if d.startswith("grading")}
    assert used <= {"grading", "grading.compat"}, used


def test_no_import_cycle():
    edges = graph()
    # A package's __init__ is not a dependency of its modules: `from grading import x` names x.
    edges = {m: {d for d in deps if d not in PACKAGES} for m, deps in edges.items()}
    done: set[str] = set()

    def visit(module: str, path: list[str]) -> None:
        assert module not in path, " → ".join([*path[path.index(module) :], module])
        if module in done:
            return
        for dependency in sorted(edges.get(module, ())):
            visit(dependency, [*path, module])
        done.add(module)

    for module in sorted(edges):
        visit(module, [])
