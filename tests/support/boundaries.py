"""What keeps the test suites apart (#12 item 5), read from the code, not grepped.

* A module under ``tests/unit`` reaches no real backend itself: it imports no AWS emulator,
  no database driver, no engine factory (SQLAlchemy's or ours), no bootstrap that opens a
  database or a queue, and no test helper built on those; checked on its syntax tree, with
  import aliases followed (``sa.create_engine`` is ``sqlalchemy.create_engine``). It may
  import production modules that use SQLAlchemy: what counts is what the test itself uses.
* A unit test uses none of the real-backend fixtures, directly or through another fixture
  (``tests/unit/conftest.py`` asks pytest for the fixture closure of each test, and where
  each fixture is defined: a fake of the same name is fine).
* ``benchmarks`` import nothing from ``tests``.
"""

from __future__ import annotations

import ast
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

#: Modules (and everything inside them) a unit test must not import.
REAL_BACKEND_MODULES = (
    "moto",
    "infra.local",  # EmbeddedAws: the moto server process
    "psycopg",
    "psycopg2",
    "psycopg_pool",
    "asyncpg",
    "sqlite3",
    "aiosqlite",
    # test helpers on real databases, moto or the console script
    "tests.support.cli",
    "tests.support.dlq",
    "tests.support.ledger",
    "tests.support.ledger_kit",
    "tests.support.pipeline",
    "tests.support.proxy",
)
#: Functions that open a database or a queue (the modules around them are fine to import).
REAL_BACKEND_CALLS = (
    "sqlalchemy.create_engine",
    "sqlalchemy.engine.create_engine",
    "sqlalchemy.engine_from_config",
    "sqlalchemy.ext.asyncio.create_async_engine",
    "consumers.db.make_engine",
    "consumers.db.upgrade",
    "consumers.bootstrap.database",
    "consumers.bootstrap.bootstrap_journal",
    "consumers.bootstrap.bootstrap_ledger",
    "consumers.bootstrap.bootstrap_relay",
    "consumers.bootstrap.bootstrap_worker",
)
#: Fixtures that hand out a real backend, by the module that defines them.
REAL_BACKEND_FIXTURES: Mapping[str, frozenset[str]] = {
    "tests.conftest": frozenset(
        {"moto_server", "aws", "postgres_database", "postgres_url", "sqlite_url"}
    ),
    "tests.support.dlq": frozenset({"ops_db", "topo", "aws"}),
}
#: Markers that say a test needs a real backend.
REAL_BACKEND_MARKERS = ("moto", "postgres")


@dataclass(frozen=True)
class Violation:
    line: int
    name: str

    def __str__(self) -> str:
        return f"line {self.line}: {self.name}"


def _within(name: str, roots: Iterable[str]) -> bool:
    return any(name == root or name.startswith(root + ".") for root in roots)


def _dotted(node: ast.expr) -> list[str] | None:
    """``a.b.c`` as ["a", "b", "c"]; None for anything but names and attributes."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def used_names(tree: ast.AST) -> Iterator[tuple[int, str]]:
    """Every module or object the code imports or reaches through an imported name, as a
    full dotted name (imports inside functions count: they run all the same)."""
    aliases: dict[str, str] = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                aliases[alias.asname or alias.name.split(".")[0]] = (
                    alias.name if alias.asname else alias.name.split(".")[0]
                )
                yield node.lineno, alias.name
        elif isinstance(node, ast.ImportFrom) and node.module and not node.level:
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{node.module}.{alias.name}"
                yield node.lineno, f"{node.module}.{alias.name}"
    for node in ast.walk(tree):
        if isinstance(node, ast.Attribute) and not isinstance(node.ctx, ast.Store):
            parts = _dotted(node)
            if parts and parts[0] in aliases:
                yield node.lineno, ".".join([aliases[parts[0]], *parts[1:]])


def unit_violations(source: str) -> list[Violation]:
    """What a unit-test module uses that reaches a real backend."""
    found = {
        Violation(line, name)
        for line, name in used_names(ast.parse(source))
        if _within(name, REAL_BACKEND_MODULES) or _within(name, REAL_BACKEND_CALLS)
    }
    return sorted(found, key=lambda v: (v.line, v.name))


def benchmark_violations(source: str) -> list[Violation]:
    """What a benchmark module imports from the test suites."""
    found = {
        Violation(line, name)
        for line, name in used_names(ast.parse(source))
        if _within(name, ["tests"])
    }
    return sorted(found, key=lambda v: (v.line, v.name))


def violations_under(root: Path, judge: Callable[[str], list[Violation]]) -> dict[str, list[str]]:
    """``judge`` on every Python file under ``root`` (not Node packages): the files with any."""
    report: dict[str, list[str]] = {}
    for path in sorted(root.rglob("*.py")):
        if "node_modules" in path.parts:
            continue
        found = judge(path.read_text(encoding="utf-8"))
        if found:
            report[path.relative_to(root.parent).as_posix()] = [str(v) for v in found]
    return report


class FixtureDefinition(Protocol):
    """What pytest's FixtureDef tells about a fixture: its name and the function behind it."""

    argname: str

    @property
    def func(self) -> object: ...


def real_fixtures(closure: Mapping[str, Sequence[FixtureDefinition]]) -> list[str]:
    """The real-backend fixtures in a test's fixture closure (name → its definitions, the one
    in force last, as pytest keeps them)."""
    found = []
    for name, definitions in closure.items():
        if not definitions:
            continue
        module = getattr(definitions[-1].func, "__module__", "")
        if name in REAL_BACKEND_FIXTURES.get(module, ()):
            found.append(f"{name} (from {module})")
    return sorted(found)
