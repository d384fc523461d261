"""The layering of the package, read from the source with ``ast``.

Every module of core/, server/ and schema/ sits on a floor:

    core 0 < server.base 1 < server.formats 2 < server.store 3 < server.runs 4
           < schema 5 < server.api 6 < server.cli 7

(``server/__init__.py`` is a leaf on floor 1 that only knows ``__version__``.)  A module may
import its own floor and those below, never one above; the imports between the project's
modules form no cycle; core imports nothing of server or schema.  Every import counts: at
module level, inside functions and under ``if TYPE_CHECKING:``, plus
``importlib.import_module("...")`` with a literal name.  The implicit import of a module's
parent packages is left out of the graph (Python initialises the parent first, so that is
never a cycle).

``python -m tests.test_layers`` prints the longest import chain and the floors.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
PACKAGES = ("core", "server", "schema")
FLOORS = {
    "core": 0,
    "server": 1,
    "server.base": 1,
    "server.formats": 2,
    "server.store": 3,
    "server.runs": 4,
    "schema": 5,
    "server.api": 6,
    "server.cli": 7,
}
# first-party code that is not the product: the product never imports it
OUTSIDE = ("tests", "benchmarks", "scripts")
# Python-level imports in a Cython file (``cimport`` lines are C-level and left out)
_PYX_IMPORT = re.compile(r"^\s*(?:import\s+([\w.]+)|from\s+([\w.]+)\s+import\s+(?!\())", re.M)


@dataclass(frozen=True, repr=False)
class Import:
    source: str  # importing module
    target: str  # imported module (a project module, or a name under OUTSIDE)
    path: Path
    line: int

    def __str__(self) -> str:
        return f"{self.path.relative_to(ROOT)}:{self.line}: {self.source} imports {self.target}"

    __repr__ = __str__


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


@cache
def modules() -> dict[str, Path]:
    """Every module of the product: name -> file (the .pyx source for the compiled one)."""
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*")):
            if path.suffix in (".py", ".pyx") and "static" not in path.parts:
                found[module_name(path)] = path
    return found


def floor(module: str) -> int:
    """The floor of ``module``: that of its longest prefix in FLOORS."""
    parts = module.split(".")
    for n in range(len(parts), 0, -1):
        prefix = ".".join(parts[:n])
        if prefix in FLOORS:
            return FLOORS[prefix]
    raise AssertionError(f"{module} is on no floor: add its package to FLOORS")


def _resolve(name: str) -> str | None:
    """The project module that importing ``name`` loads (``a.b.c`` where ``c`` is a name
    defined in ``a.b`` -> ``a.b``), or the name itself under OUTSIDE; None for third party."""
    top = name.split(".", 1)[0]
    if top in OUTSIDE:
        return name
    if top not in PACKAGES:
        return None
    known = modules()
    parts = name.split(".")
    for n in range(len(parts), 0, -1):
        candidate = ".".join(parts[:n])
        if candidate in known:
            return candidate
    return name  # an import of a project module that does not exist: still an edge


def _absolute(module: str, is_package: bool, level: int, name: str | None) -> str:
    """``from <level dots><name> import ...`` in ``module``, made absolute."""
    if level == 0:
        return name or ""
    base = module.split(".")
    base = base if is_package else base[:-1]
    base = base[: len(base) - (level - 1)]
    return ".".join([*base, name] if name else base)


def _imports_in(module: str, path: Path) -> Iterator[Import]:
    source = path.read_text(encoding="utf-8")
    if path.suffix == ".pyx":
        for match in _PYX_IMPORT.finditer(source):
            target = _resolve(match.group(1) or match.group(2))
            if target is not None:
                yield Import(module, target, path, source.count("\n", 0, match.start()) + 1)
        return
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(source, filename=str(path))):
        names: list[str] = []
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = _absolute(module, is_package, node.level, node.module)
            # ``from a.b import c`` loads a.b.c when c is a module, else it reads c from a.b
            names = [f"{base}.{alias.name}" for alias in node.names if alias.name != "*"]
            names = names or [base]
        elif (
            isinstance(node, ast.Call)
            and ast.unparse(node.func) in ("importlib.import_module", "import_module")
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            names = [node.args[0].value]
        for name in names:
            target = _resolve(name)
            if target is not None and target != module:
                yield Import(module, target, path, node.lineno)


@cache
def imports() -> tuple[Import, ...]:
    """Every import of a project module (or of tests/benchmarks/scripts) by the product."""
    return tuple(i for name, path in modules().items() for i in _imports_in(name, path))


def graph() -> dict[str, dict[str, Import]]:
    """module -> {imported project module -> its first import (file:line)}."""
    edges: dict[str, dict[str, Import]] = {name: {} for name in modules()}
    for i in imports():
        if i.target in edges:
            edges[i.source].setdefault(i.target, i)
    return edges


def cycles() -> list[list[Import]]:
    """One concrete cycle (as its imports) per strongly connected group of modules."""
    edges = graph()
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    groups: list[list[str]] = []

    def visit(node: str) -> None:  # Tarjan; the graph is small enough for recursion
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in edges[node]:
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            group = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                group.append(member)
                if member == node:
                    break
            if len(group) > 1:
                groups.append(sorted(group))

    for node in sorted(edges):
        if node not in index:
            visit(node)
    return [_cycle_through(group[0], set(group), edges) for group in groups]


def _cycle_through(start: str, group: set[str], edges) -> list[Import]:
    """A shortest path of imports from ``start`` back to itself inside ``group``."""
    came_from: dict[str, Import] = {}
    frontier = [start]
    while frontier:
        following = []
        for node in frontier:
            for nxt, imp in sorted(edges[node].items()):
                if nxt not in group or nxt in came_from:
                    continue
                came_from[nxt] = imp
                if nxt == start:
                    path = [imp]
                    while path[0].source != start:
                        path.insert(0, came_from[path[0].source])
                    return path
                following.append(nxt)
        frontier = following
    raise AssertionError(f"no cycle through {start}")  # pragma: no cover


def longest_chain() -> list[Import]:
    """The longest chain of imports between project modules (a ``DAG``: call it once
    ``test_no_import_cycle`` passes)."""
    edges = graph()
    best: dict[str, list[Import]] = {}

    def from_(node: str, seen: tuple[str, ...]) -> list[Import]:
        if node in best:
            return best[node]
        if node in seen:
            raise ValueError(f"import cycle through {node}: see cycles()")
        chains = [[imp, *from_(nxt, (*seen, node))] for nxt, imp in sorted(edges[node].items())]
        best[node] = max(chains, key=len, default=[])
        return best[node]

    return max((from_(node, ()) for node in sorted(edges)), key=len, default=[])


def _listing(found: list[Import]) -> str:
    return "\n  " + "\n  ".join(map(str, found))


def test_every_module_is_found_and_on_a_floor():
    found = modules()
    assert {"core.dixon_coles", "core._kernel", "schema", "server", "server.cli"} <= set(found)
    assert {"server.api.app", "server.store.db", "server.runs.registry"} <= set(found)
    for name in found:
        floor(name)
    # the parser sees function-level imports too (server.cli imports lazily)
    lazy = [i for i in imports() if i.source.startswith("server.cli.")]
    assert any(i.target == "server.api.app" for i in lazy)


def test_nothing_imports_a_higher_floor():
    upward = [
        i
        for i in imports()
        if i.target.split(".", 1)[0] not in OUTSIDE and floor(i.target) > floor(i.source)
    ]
    assert not upward, "imports of a higher floor:" + _listing(upward)


def test_the_product_imports_no_tests_benchmarks_or_scripts():
    outside = [i for i in imports() if i.target.split(".", 1)[0] in OUTSIDE]
    assert not outside, "imports of code that is not shipped:" + _listing(outside)


def test_no_import_cycle():
    found = cycles()
    assert not found, "import cycles:\n" + "\n".join(_listing(cycle) for cycle in found)


def test_core_imports_nothing_of_server_or_schema():
    leaks = [
        i
        for i in imports()
        if i.source.split(".", 1)[0] == "core" and i.target.split(".", 1)[0] != "core"
    ]
    assert not leaks, "core imports outside core:" + _listing(leaks)


def test_the_server_package_is_a_leaf():
    from_init = [i for i in imports() if i.source == "server"]
    assert not from_init, "server/__init__.py imports project modules:" + _listing(from_init)


def test_imports_are_parsed_with_their_lines(tmp_path):
    """The parser on a made-up module: relative, function-level, TYPE_CHECKING and
    import_module imports are all seen, with their lines."""
    source = (
        "from typing import TYPE_CHECKING\n"
        "from . import keys\n"
        "if TYPE_CHECKING:\n"
        "    from server.api import app\n"
        "def f():\n"
        "    import importlib\n"
        "    from ..store.db import create_engine\n"
        "    return importlib.import_module('schema.resolvers')\n"
    )
    path = tmp_path / "made_up.py"
    path.write_text(source)
    found = {(i.target, i.line) for i in _imports_in("server.runs.made_up", path)}
    assert found == {
        ("server.runs.keys", 2),
        ("server.api.app", 4),
        ("server.store.db", 7),
        ("schema.resolvers", 8),
    }


if __name__ == "__main__":
    chain = longest_chain()
    print(f"longest import chain ({len(chain)} imports):")
    for imp in chain:
        print(f"  {imp}")
    for name in sorted(modules(), key=lambda m: (floor(m), m)):
        print(f"{floor(name)}  {name}")
