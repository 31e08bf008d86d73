"""The package map stays true: no import cycles, web and API are siblings, the application never names
its workers, and no view queues index jobs. Read from the source with `ast`. Imports under
`if TYPE_CHECKING:` never run and are left out; cycles are looked for among every other import,
inside functions too, because a cycle dodged by a late import is still a cycle."""
from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = ("docsvc", "workers", "storage")
# The entry points wire the application to its workers (docsvc.runtime.use_job_queues); nothing else may.
ENTRY_POINTS = {"docsvc.cli", "docsvc.wsgi"}


def _modules() -> dict[str, Path]:
    found = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            if "migrations" in path.parts:
                continue  # Alembic scripts, loaded by Alembic only
            parts = list(path.relative_to(ROOT).with_suffix("").parts)
            if parts[-1] == "__init__":
                parts.pop()
            found[".".join(parts)] = path
    return found


MODULES = _modules()


def _imports(tree: ast.Module, late: bool) -> Iterator[ast.Import | ast.ImportFrom]:
    never_run = {id(inner) for node in ast.walk(tree)
                 if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test) for inner in ast.walk(node)}
    inside_functions = {id(inner) for node in ast.walk(tree)
                        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)) for inner in ast.walk(node)}
    for node in ast.walk(tree):
        if (isinstance(node, (ast.Import, ast.ImportFrom)) and id(node) not in never_run
                and (late or id(node) not in inside_functions)):
            yield node


def imports_of(module: str, *, late: bool = True) -> set[str]:
    """The project modules `module` imports: on import, and with `late` also inside its functions."""
    tree = ast.parse(MODULES[module].read_text(encoding="utf-8"))
    targets: set[str] = set()
    for node in _imports(tree, late):
        if isinstance(node, ast.Import):
            names = [alias.name for alias in node.names]
        else:
            base = node.module or ""
            if node.level:  # relative: resolve against this module's package
                package = module.split(".") if MODULES[module].name == "__init__.py" else module.split(".")[:-1]
                base = ".".join(package[:len(package) - node.level + 1] + ([base] if base else []))
            # `from a import b` imports the module a.b when there is one, else a name from a
            names = [f"{base}.{alias.name}" if f"{base}.{alias.name}" in MODULES else base for alias in node.names]
        for name in names:
            while name and name not in MODULES:
                name = name.rpartition(".")[0]
            if name and name != module:
                targets.add(name)
    return targets


GRAPH = {module: imports_of(module) for module in MODULES}  # every import that can run
ON_IMPORT = {module: imports_of(module, late=False) for module in MODULES}  # what importing a module runs


def unit(module: str) -> str:
    """The package a module belongs to on the map: docsvc.files.filing → docsvc.files; docsvc.models stays
    itself (a top-level module of docsvc is a room of its own); workers.* → workers; storage.* → storage."""
    parts = module.split(".")
    if parts[0] != "docsvc" or len(parts) == 1:
        return parts[0]
    sub = ".".join(parts[:2])
    return sub if (ROOT / "docsvc" / parts[1]).is_dir() else module


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one member (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for nxt in graph.get(node, ()):
            if nxt not in index:
                visit(nxt)
                low[node] = min(low[node], low[nxt])
            elif nxt in on_stack:
                low[node] = min(low[node], index[nxt])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_no_module_imports_itself_back() -> None:
    assert cycles(GRAPH) == []


def test_no_cycle_between_packages() -> None:
    packages: dict[str, set[str]] = {}
    for module, targets in GRAPH.items():
        packages.setdefault(unit(module), set()).update(unit(t) for t in targets if unit(t) != unit(module))
    assert cycles(packages) == []


def test_web_and_api_are_siblings_that_never_import_each_other() -> None:
    for module, targets in GRAPH.items():
        for other in ("docsvc.web", "docsvc.api"):
            if unit(module) in {"docsvc.web", "docsvc.api"} - {other}:
                assert not {t for t in targets if unit(t) == other}, f"{module} imports {other}"


def test_the_application_never_imports_its_workers() -> None:
    """Not even on import: workers import docsvc, and only the entry points wire the two together."""
    offenders = {m for m, targets in ON_IMPORT.items()
                 if unit(m) != "workers" and m not in ENTRY_POINTS and any(unit(t) == "workers" for t in targets)}
    assert offenders == set()


def test_storage_knows_nothing_of_the_application() -> None:
    assert {m for m, targets in GRAPH.items() if unit(m) == "storage" and any(unit(t) != "storage" for t in targets)} == set()


def test_views_and_api_handlers_never_queue_index_jobs() -> None:
    """Use cases that change what the index holds ask for the index job themselves."""
    for folder in ("web", "api"):
        for path in (ROOT / "docsvc" / folder).rglob("*.py"):
            assert "enqueue_index" not in path.read_text(encoding="utf-8"), path
