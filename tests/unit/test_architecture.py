"""The layout's rules, checked on the import graph of ``bot``, ``handlers`` and ``storage``.

Every import counts, including the lazy ones inside functions (they are how the CLI keeps its
start-up light, and an upward lazy import is still an upward import). The layers, lowest first:

1. ``storage.models``, ``storage.errors``: the shared vocabulary;
2. ``storage.base``: the Storage protocol;
3. ``storage.sqlite``: a backend (nothing outside ``storage`` and the factory names it);
4. leaves: settings, clock, logging, progress, NLP, and the local Bot API server (a stand-in for
   Telegram, which knows nothing of the bot);
5. pure rules: parsing, normalising, fetching, query language, schedules, composing digests,
   rendering Telegram HTML;
6. use-cases: ``bot.*.service``, feed polling;
7. wiring without Telegram: ``bot.services``, ``bot.factory``;
8. the Telegram runtime: ``bot.runtime``;
9. handlers;
10. entry points: ``bot.app``, ``bot.__main__``, ``bot.sandbox.console``.

A module may import its own layer or lower ones, never a higher one; the graph has no cycle;
only ``storage`` speaks SQL; only the runtime, the handlers and ``bot.app`` import ``telegram``.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGES = ("bot", "handlers", "storage")

# (module prefix, layer): the longest matching prefix decides.
LAYERS: tuple[tuple[str, int], ...] = (
    ("storage.models", 1),
    ("storage.errors", 1),
    ("storage", 1),
    ("storage.base", 2),
    ("storage.sqlite", 3),
    ("bot", 4),
    ("bot.config", 4),
    ("bot.clock", 4),
    ("bot.urls", 4),
    ("bot.logs", 4),
    ("bot.progress", 4),
    ("bot.nlp", 4),
    ("bot.sandbox", 4),
    ("bot.ingest", 5),
    ("bot.search", 5),
    ("bot.chats", 5),
    ("bot.feeds", 5),
    ("bot.digests", 5),
    ("bot.render", 5),
    ("bot.ingest.service", 6),
    ("bot.search.service", 6),
    ("bot.chats.service", 6),
    ("bot.feeds.service", 6),
    ("bot.feeds.poll", 6),
    ("bot.digests.service", 6),
    ("bot.services", 7),
    ("bot.factory", 7),
    ("bot.runtime", 8),
    ("handlers", 9),
    ("bot.app", 10),
    ("bot.__main__", 10),
    ("bot.sandbox.console", 10),
)
SQL_DRIVERS = ("sqlite3", "aiosqlite", "asyncpg", "psycopg")
TELEGRAM_ALLOWED = ("bot.app", "bot.runtime", "handlers")


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def modules() -> dict[str, Path]:
    found: dict[str, Path] = {}
    for package in PACKAGES:
        for path in sorted((ROOT / package).rglob("*.py")):
            found[module_name(path)] = path
    return found


MODULES = modules()


def imports(name: str, path: Path) -> Iterator[str]:
    """Every module ``name`` imports (absolute names; ``from x import y`` yields ``x.y`` when
    that is a module, else ``x``)."""
    is_package = path.name == "__init__.py"
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            yield from (alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                anchor = name.split(".") if is_package else name.split(".")[:-1]
                anchor = anchor[: len(anchor) - (node.level - 1)]
                base = ".".join([*anchor, base] if base else anchor)
            for alias in node.names:
                candidate = f"{base}.{alias.name}"
                yield candidate if candidate in MODULES else base


def layer(name: str) -> int:
    best = max(
        (prefix for prefix, _ in LAYERS if name == prefix or name.startswith(prefix + ".")),
        key=len,
    )
    return dict(LAYERS)[best]


def project_graph() -> dict[str, set[str]]:
    graph: dict[str, set[str]] = {}
    for name, path in MODULES.items():
        graph[name] = {dep for dep in imports(name, path) if dep in MODULES and dep != name}
    return graph


def test_every_module_is_found_and_placed() -> None:
    assert len(MODULES) > 60
    assert {"bot.app", "storage.base", "handlers.search", "bot.runtime.context"} <= set(MODULES)
    for name in MODULES:
        assert layer(name) >= 1


def upward_edges(graph: dict[str, set[str]]) -> list[str]:
    return [
        f"{name} (layer {layer(name)}) imports {dep} (layer {layer(dep)})"
        for name, deps in sorted(graph.items())
        for dep in sorted(deps)
        if layer(dep) > layer(name)
    ]


def find_cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    state: dict[str, int] = {}  # 1: on the current path, 2: done
    cycles: list[list[str]] = []

    def visit(node: str, path: list[str]) -> None:
        state[node] = 1
        for dep in sorted(graph.get(node, ())):
            if state.get(dep) == 1:
                cycles.append([*path[path.index(dep) :], dep])
            elif dep not in state:
                visit(dep, [*path, dep])
        state[node] = 2

    for node in sorted(graph):
        if node not in state:
            visit(node, [node])
    return cycles


def test_no_module_imports_a_layer_above_it() -> None:
    assert upward_edges(project_graph()) == []


def test_the_import_graph_has_no_cycle() -> None:
    assert find_cycles(project_graph()) == []


def test_the_checks_see_violations() -> None:
    """The checks are not vacuous: an upward edge and a cycle planted in a copy are reported."""
    graph = project_graph()
    assert "storage.base" in graph["bot.services"]
    planted = {**graph, "bot.render": {*graph["bot.render"], "handlers.search"}}
    assert upward_edges(planted) == ["bot.render (layer 5) imports handlers.search (layer 9)"]
    looped = {**graph, "bot.clock": {"bot.config"}, "bot.config": {"bot.clock"}}
    assert any({"bot.clock", "bot.config"} == set(cycle) for cycle in find_cycles(looped))


@pytest.mark.parametrize("driver", SQL_DRIVERS)
def test_only_storage_speaks_sql(driver: str) -> None:
    users = sorted(
        name
        for name, path in MODULES.items()
        if not name.startswith("storage")
        and any(dep.split(".")[0] == driver for dep in imports(name, path))
    )
    assert users == []


def test_only_the_runtime_handlers_and_app_import_telegram() -> None:
    users = sorted(
        name
        for name, path in MODULES.items()
        if any(dep.split(".")[0] == "telegram" for dep in imports(name, path))
    )
    assert users
    strays = [
        name
        for name in users
        if not any(name == a or name.startswith(a + ".") for a in TELEGRAM_ALLOWED)
    ]
    assert strays == []
