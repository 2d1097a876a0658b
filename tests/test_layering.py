"""Data flows one way: no import cycles anywhere, packages depend downwards
only, and the rewriter's modules import only earlier stages.

Every import counts, including those inside functions and under TYPE_CHECKING:
a lazy import is how a cycle hides.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from functools import cache
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("dpsql", "rewriter", "accountant", "proxy")
# which of our packages each may import
ALLOWED = {
    "dpsql": set(),
    "rewriter": {"dpsql"},
    "accountant": {"dpsql"},
    "proxy": {"dpsql", "rewriter", "accountant"},
}

# The rewriter's stages in the order a query meets them (rewriter/__init__.py says
# what each does); a module imports only modules before it. A new module must be
# placed here.
REWRITER_ORDER = (
    # what every stage shares
    "errors", "metadata", "naming", "distributed", "keys", "catalog", "limits", "shape",
    # row expressions: values and helpers, the compilers, the checker that runs them
    "typed", "row_scalars", "row_casts", "row_predicates", "expressions",
    # reading the text
    "parse", "google", "sugar", "names",
    # the plan as plain data, and the registry of aggregate kinds
    "plan", "kinds",
    # name resolution, then the checks of each clause
    "scope", "aggregates", "joins", "rowclauses", "groups", "post",
    # derived tables, public-only queries, the validated Shape
    "derived", "inline", "public", "validate",
    # measures and their sensitivity, the bounding SQL
    "measures", "bound_parts", "bound",
    # after noise
    "finish",
    # the passes
    "planner",
)


def _modules() -> Iterator[tuple[str, Path]]:
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts = parts[:-1]
            yield ".".join(parts), path


@cache
def _graph() -> dict[str, set[str]]:
    paths = dict(_modules())
    graph: dict[str, set[str]] = {}
    for name, path in paths.items():
        here = name.split(".") if path.name == "__init__.py" else name.split(".")[:-1]
        deps: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom):
                base = ".".join(here[:len(here) - node.level + 1]) if node.level else ""
                module = ".".join(p for p in (base, node.module or "") if p)
                # `from . import sibling` depends on the sibling, not on the package
                named = [f"{module}.{a.name}" for a in node.names
                         if f"{module}.{a.name}" in paths]
                deps.update(named or [module])
            elif isinstance(node, ast.Import):
                deps.update(a.name for a in node.names)
        graph[name] = {d for d in deps if d.split(".")[0] in PACKAGES and d != name}
    return graph


def _known(module: str) -> str | None:
    """The module itself, or the package an imported name lives in."""
    graph = _graph()
    while module and module not in graph:
        module = module.rpartition(".")[0]
    return module or None


def test_there_are_modules_to_check() -> None:
    assert len(_graph()) > 100


def test_packages_depend_downwards_only() -> None:
    wrong = sorted(
        (name, dep) for name, deps in _graph().items() for dep in deps
        if dep.split(".")[0] != name.split(".")[0]
        and dep.split(".")[0] not in ALLOWED[name.split(".")[0]]
    )
    assert not wrong, wrong


def test_no_import_cycles() -> None:
    graph = {m: {k for d in deps if (k := _known(d)) is not None and k != m}
             for m, deps in _graph().items()}
    # a submodule importing its own package's __init__ is how Python starts it
    # anyway; a cycle through an __init__ that imports the submodule back is still one
    state: dict[str, int] = {}
    stack: list[str] = []
    cycles: list[list[str]] = []

    def visit(node: str) -> None:
        state[node] = 1
        stack.append(node)
        for nxt in sorted(graph[node]):
            if state.get(nxt) == 1:
                cycles.append(stack[stack.index(nxt):] + [nxt])
            elif nxt not in state:
                visit(nxt)
        stack.pop()
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node)
    assert not cycles, "\n".join(" → ".join(c) for c in cycles)


def test_every_rewriter_module_has_its_stage() -> None:
    modules = {m.split(".", 1)[1] for m in _graph() if m.startswith("rewriter.")}
    assert modules == set(REWRITER_ORDER)


@pytest.mark.parametrize("module", REWRITER_ORDER)
def test_a_rewriter_stage_imports_only_earlier_stages(module: str) -> None:
    position = REWRITER_ORDER.index(module)
    later = sorted(
        dep for dep in _graph()[f"rewriter.{module}"]
        if dep.startswith("rewriter.")
        and REWRITER_ORDER.index(dep.split(".")[1]) >= position
    )
    assert not later, f"rewriter.{module} imports later stages: {later}"
    assert "rewriter" not in _graph()[f"rewriter.{module}"], "import the module, not the package"
