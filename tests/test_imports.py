"""Modules import one another without cycles, and each one in a package's cycle imports first.

The import graph is read from the source, annotation-only imports (`if TYPE_CHECKING:`)
included: a cycle between modules (as `services.documents` <-> `services.notify` had over
`Audit`) is a knot even when it does not break at run time; only a package and its own
modules may import one another. Whether such a cycle works depends on which module comes
first, so each module in one is imported first in a fresh interpreter (forked from one
that has loaded the third-party libraries only, which keeps it quick).
"""

from __future__ import annotations

import ast
import json
import subprocess
import sys
import textwrap
from pathlib import Path

from tests.conftest import REPO

PACKAGES = {
    "webapp": REPO / "webapp",
    "bridge": REPO / "bridge",
    "card": REPO / "card",
    "jpkisim": REPO / "hardware-sim" / "jpkisim",
}
NEEDS_A_PHONE = {"bridge.providers.android", "bridge.providers.ios"}  # Chaquopy, Rubicon
ANNOTATION_CYCLES_ALLOWED = {"webapp.db"}
"""ORM classes whose relationships are typed both ways (`Document.recipients` and
`Recipient.document`) name each other in annotations only."""


def module_files() -> dict[str, Path]:
    modules: dict[str, Path] = {}
    for package, root in PACKAGES.items():
        for path in root.rglob("*.py"):
            parts = list(path.relative_to(root).with_suffix("").parts)
            if "migrations" in parts or parts[-1] == "__main__":
                continue
            if parts[-1] == "__init__":
                parts.pop()
            modules[".".join([package, *parts])] = path
    return modules


def _imported_names(module: str, path: Path) -> set[str]:
    """Everything a module imports at module level, annotation-only imports included."""
    tree = ast.parse(path.read_text(encoding="utf-8"))
    package = module if path.name == "__init__.py" else module.rpartition(".")[0]
    names: set[str] = set()
    for node in _module_level(tree.body):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parent = package.split(".")[: len(package.split(".")) - node.level + 1]
                base = ".".join([*parent, *([node.module] if node.module else [])])
            names.add(base)
            names.update(f"{base}.{alias.name}" for alias in node.names)
    return names


def _module_level(body: list[ast.stmt]) -> list[ast.stmt]:
    statements: list[ast.stmt] = []
    for node in body:
        if isinstance(node, ast.If):
            statements += _module_level(node.body) + _module_level(node.orelse)
        elif isinstance(node, ast.Try):
            statements += _module_level(node.body) + _module_level(node.finalbody)
            for handler in node.handlers:
                statements += _module_level(handler.body)
        else:
            statements.append(node)
    return statements


def import_graph() -> dict[str, set[str]]:
    """Module -> the modules of ours it imports (a submodule's import loads its parents)."""
    modules = module_files()
    graph: dict[str, set[str]] = {}
    for module, path in modules.items():
        targets: set[str] = set()
        for name in _imported_names(module, path):
            parts = name.split(".")
            targets.update(".".join(parts[:i]) for i in range(1, len(parts) + 1))
        graph[module] = {target for target in targets if target in modules} - {module}
    return graph


def _reachable(graph: dict[str, set[str]], start: str) -> set[str]:
    seen: set[str] = set()
    todo = [start]
    while todo:
        for target in graph[todo.pop()] - seen:
            seen.add(target)
            todo.append(target)
    return seen


def cycles(graph: dict[str, set[str]]) -> list[set[str]]:
    """The groups of modules that each reach one another through their imports."""
    reach = {module: _reachable(graph, module) for module in graph}
    groups = {
        frozenset({module} | {other for other in reach[module] if module in reach[other]})
        for module in graph
        if module in reach[module]
    }
    return [set(group) for group in groups]


def _is_one_package(group: set[str]) -> bool:
    """A package and modules inside it (its `__init__` re-exports what they define)."""
    return any(all(m == p or m.startswith(p + ".") for m in group) for p in group)


def test_modules_import_one_another_without_cycles_across_packages() -> None:
    knots = [
        sorted(group)
        for group in cycles(import_graph())
        if not _is_one_package(group)
        and not any(all(m.startswith(p + ".") for m in group) for p in ANNOTATION_CYCLES_ALLOWED)
    ]
    assert knots == []


def test_the_cycle_finder_finds_a_cycle() -> None:
    graph = {"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}
    assert cycles(graph) == [{"a", "b", "c"}]
    assert _is_one_package({"webapp.pdf", "webapp.pdf.seal"})
    assert not _is_one_package({"webapp.services.documents", "webapp.services.notify"})


def test_each_module_in_a_cycle_imports_first_in_a_fresh_interpreter() -> None:
    """Only where modules import one another does it matter which comes first: a module
    outside every cycle imports the same way whichever module is imported before it."""
    files = module_files()
    ours = sorted(set().union(*cycles(import_graph())) - NEEDS_A_PHONE)
    assert "webapp.pdf.seal" in ours  # the package re-exports it: a cycle of its own
    theirs = sorted(
        name
        for module in ours
        for name in _imported_names(module, files[module])
        if name.partition(".")[0] not in {*PACKAGES, *sys.stdlib_module_names}
    )
    script = textwrap.dedent(
        """
        import importlib, json, os, sys, traceback
        ours, theirs = json.loads(sys.stdin.read())
        for name in theirs:  # loaded once, before the forks: each child loads only ours
            try:
                importlib.import_module(name)
            except Exception:
                pass  # a name imported from a module, or a library for another platform
        assert not {"webapp", "bridge", "card", "jpkisim"} & set(sys.modules)
        failed = []
        for name in ours:
            pid = os.fork()
            if pid == 0:
                try:
                    importlib.import_module(name)
                except BaseException:
                    traceback.print_exc()
                    os._exit(1)
                os._exit(0)
            if os.waitpid(pid, 0)[1] != 0:
                failed.append(name)
        print("failed:", failed)
        sys.exit(1 if failed else 0)
        """
    )
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", script], input=json.dumps([ours, theirs]),
        cwd=REPO, capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr[-5000:]
