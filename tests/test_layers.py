"""fs_cgr's packages import each other in one direction only: no two of them (or chains of
them) import each other, so a lower layer never reaches back up into a higher one.

Imports inside functions count too: they are how a cycle hides. The embedded handler's
own rule (no gevent inside FreeSWITCH) is tested in tests/embedded."""

import ast
from collections import defaultdict
from pathlib import Path

PACKAGE = Path(__file__).resolve().parent.parent / "fs_cgr"


def unit_of(module: str) -> str:
    """The layer a dotted module belongs to: its subpackage, or itself at the top."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else parts[0]


def import_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = defaultdict(set)
    for path in PACKAGE.rglob("*.py"):
        relative = path.relative_to(PACKAGE.parent).with_suffix("")
        source = unit_of(".".join(relative.parts))
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            elif isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            else:
                continue
            for name in names:
                if is_module(name) and unit_of(name) != source:
                    graph[source].add(unit_of(name))
    return graph


def is_module(name: str) -> bool:
    """Whether a dotted name is one of fs_cgr's modules or packages (not a class or
    function imported from one)."""
    path = PACKAGE.parent / name.replace(".", "/")
    return name.startswith("fs_cgr.") and (path.with_suffix(".py").exists() or path.is_dir())


def find_cycle(graph: dict[str, set[str]]) -> list[str] | None:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    path: list[str] = []

    def visit(unit: str) -> list[str] | None:
        state[unit] = 1
        path.append(unit)
        for target in sorted(graph.get(unit, ())):
            if state.get(target) == 1:
                return path[path.index(target) :] + [target]
            if target not in state and (cycle := visit(target)):
                return cycle
        path.pop()
        state[unit] = 2
        return None

    for unit in sorted(graph):
        if unit not in state and (cycle := visit(unit)):
            return cycle
    return None


def test_the_graph_is_read():
    graph = import_graph()
    assert "storage" in graph["accounts"] and "rating" in graph["accounts"]
    assert "sessions" in graph["agents"]


def test_no_package_imports_back_up():
    assert find_cycle(import_graph()) is None


def test_a_cycle_is_found():
    assert find_cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert find_cycle({"a": {"b"}, "b": set()}) is None
