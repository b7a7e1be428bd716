"""The package's import graph runs one way: no module of fer_core imports (directly or round a circle) itself.

A circle works only while every import in it sits inside a function or under TYPE_CHECKING, and breaks at the
first one moved to the top of a file; it also means neither module can be understood, tested or replaced alone.
So every import counts here: top level, inside functions and under TYPE_CHECKING.
"""

from __future__ import annotations

import ast
from graphlib import CycleError, TopologicalSorter
from pathlib import Path

PACKAGE_DIR = Path(__file__).resolve().parent.parent / "fer_core"


def module_names(package_dir: Path = PACKAGE_DIR) -> dict[str, Path]:
    """Every module of the package by dotted name (a package by its own name, for its __init__.py)."""
    modules = {}
    for path in sorted(package_dir.rglob("*.py")):
        parts = list(path.relative_to(package_dir.parent).with_suffix("").parts)
        if parts[-1] == "__init__":
            parts.pop()
        modules[".".join(parts)] = path
    return modules


def imported_modules(name: str, path: Path, modules: dict[str, Path]) -> set[str]:
    """The package's modules that `name` imports anywhere in its file."""
    is_package = path.name == "__init__.py"
    found: set[str] = set()

    def known(dotted: str) -> str | None:
        """The module itself, or the nearest enclosing one of the package (`fer_core.x.name` -> `fer_core.x`)."""
        while dotted and dotted not in modules:
            dotted = dotted.rpartition(".")[0]
        return dotted or None

    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"), str(path))):
        if isinstance(node, ast.Import):
            targets = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name if is_package else name.rpartition(".")[0]
                for _ in range(node.level - 1):
                    base = base.rpartition(".")[0]
                base = f"{base}.{node.module}" if node.module else base
            else:
                base = node.module or ""
            # `from .pkg import mod` imports the module pkg.mod; `from .mod import name` the module mod.
            targets = [f"{base}.{alias.name}" for alias in node.names]
        else:
            continue
        for target in targets:
            module = known(target)
            if module is not None and module != name:
                found.add(module)
    return found


def import_graph(package_dir: Path = PACKAGE_DIR) -> dict[str, set[str]]:
    modules = module_names(package_dir)
    return {name: imported_modules(name, path, modules) for name, path in modules.items()}


def import_circle(graph: dict[str, set[str]]) -> list[str] | None:
    """One circle of the graph (its first module repeated at the end), or None when the imports run one way."""
    try:
        tuple(TopologicalSorter(graph).static_order())
    except CycleError as error:
        return list(error.args[1])
    return None


def test_the_graph_sees_function_level_and_type_checking_imports():
    """The parser finds the imports a circle hides in: inside functions and under TYPE_CHECKING."""
    graph = import_graph()
    assert "fer_core.pipeline" in graph["fer_core.batch.tasks"]  # only inside a function and under TYPE_CHECKING
    assert "fer_core.batch.stitch" in graph["fer_core.batch.tasks"]  # only inside a function
    assert "fer_core.training.torch_engine" in graph["fer_core.training.loop"]  # only inside a function
    assert "fer_core.training.augmentation_layer" in graph["fer_core.training.loop"]  # `from . import module`
    assert len(graph) > 40


def test_a_circle_hidden_in_a_function_and_under_type_checking_is_found(tmp_path):
    package = tmp_path / "fer_core"
    (package / "sub").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "sub" / "__init__.py").write_text("")
    (package / "a.py").write_text("def f():\n    from .sub import b\n")
    (package / "sub" / "b.py").write_text("from typing import TYPE_CHECKING\n\nif TYPE_CHECKING:\n    from ..a import f\n")
    graph = import_graph(package)
    assert graph == {"fer_core": set(), "fer_core.sub": set(), "fer_core.a": {"fer_core.sub.b"},
                     "fer_core.sub.b": {"fer_core.a"}}
    assert set(import_circle(graph)) == {"fer_core.a", "fer_core.sub.b"}


def test_fer_core_has_no_import_cycles():
    circle = import_circle(import_graph())
    assert circle is None, f"fer_core has an import circle: {' -> '.join(circle or [])}"
