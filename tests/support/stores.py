"""The ``store`` fixture of the store contract suites: every ``LedgerStore`` implementation.

Import it as ``from tests.support.stores import every_store  # noqa: F401`` (it registers
as ``store``): the in-memory fake the unit tests use, then the SQLite and PostgreSQL
drivers on migrated databases.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from consumers.points.store import LedgerStore, open_store
from tests.support.ledger_kit import migrated_engine
from tests.support.memory_store import MemoryLedgerStore


@pytest.fixture(
    name="store",
    params=["memory", "sqlite", pytest.param("postgres", marks=pytest.mark.postgres)],
)
def every_store(request: pytest.FixtureRequest) -> Iterator[LedgerStore]:
    """The in-memory fake, then the SQLite and PostgreSQL drivers on migrated databases."""
    if request.param == "memory":
        yield MemoryLedgerStore()
        return
    url: str = request.getfixturevalue(
        "sqlite_url" if request.param == "sqlite" else "postgres_url"
    )
    store = open_store(migrated_engine(url))
    yield store
    store.close()
