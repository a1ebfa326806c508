"""The packages import one way: agents <- scenarios <- sim <- analysis <- viz <- cli (and
specbound, beside it), with no cycles.

Imports under ``if TYPE_CHECKING:`` are exempt (they never run); so is
``sim/__main__.py``, the documented ``python -m sim`` entry point, which only
hands over to the command line and is imported by nothing.
"""

from __future__ import annotations

import ast
from pathlib import Path

import networkx as nx
import pytest

ROOT = Path(__file__).resolve().parent.parent
LAYERS = ["agents", "scenarios", "sim", "analysis", "viz", "cli", "specbound"]
RANK = {name: i for i, name in enumerate(LAYERS)}
RANK["specbound"] = RANK["cli"]  # bridges to other ecosystems sit beside the command line
EXEMPT = {"sim.__main__"}


def _module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def _is_type_checking(node: ast.If) -> bool:
    test = node.test
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING")


def _runtime_imports(tree: ast.AST, module: str) -> set[str]:
    """Every module a file imports when it runs (functions' bodies included)."""
    found: set[str] = set()
    pkg = module.split(".")

    def visit(node: ast.AST) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, ast.If) and _is_type_checking(child):
                for sub in child.orelse:
                    visit(sub)
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom):
                base = child.module or ""
                if child.level:
                    base = ".".join(pkg[: len(pkg) - child.level] + ([base] if base else []))
                found.add(base)
                found.update(f"{base}.{a.name}" for a in child.names)
            visit(child)

    visit(tree)
    return found


def _graph() -> nx.DiGraph:
    files = {_module_name(p): p for layer in LAYERS for p in (ROOT / layer).rglob("*.py")}
    g = nx.DiGraph()
    g.add_nodes_from(files)
    for mod, path in files.items():
        if mod in EXEMPT:
            continue
        for target in _runtime_imports(ast.parse(path.read_text()), mod):
            if target in files and target != mod:
                g.add_edge(mod, target)
    return g


GRAPH = _graph()


@pytest.mark.parametrize("module", sorted(GRAPH))
def test_no_import_from_a_higher_layer(module: str) -> None:
    mine = RANK[module.split(".")[0]]
    higher = [t for t in GRAPH.successors(module) if RANK[t.split(".")[0]] > mine]
    assert not higher, f"{module} imports from a higher layer: {higher}"


def test_no_import_cycles() -> None:
    # A package's __init__ importing its own submodules is registration, not a cycle.
    g = GRAPH.copy()
    g.remove_edges_from([(a, b) for a, b in GRAPH.edges if b.startswith(a + ".")])
    cycles = list(nx.simple_cycles(g))
    assert not cycles, f"import cycles: {cycles[:5]}"


def test_the_check_sees_imports() -> None:
    # Guards the checker itself: a known import must appear as an edge.
    assert GRAPH.has_edge("sim.model", "agents.chain")
    assert GRAPH.has_edge("cli.main", "cli.base")
