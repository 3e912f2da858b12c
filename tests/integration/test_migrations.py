"""Alembic migrations create exactly the tables the code declares."""

from __future__ import annotations

import pytest
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext

from consumers.db import DatabaseNotMigrated, make_engine, require_migrated, upgrade
from consumers.tables import all_tables


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


def test_migrations_match_the_declared_tables(database_url: str) -> None:
    """After `upgrade`, autogenerate finds no difference between schema and metadata."""
    engine = make_engine(database_url)
    upgrade(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), all_tables())
    engine.dispose()
    assert diff == []


def test_upgrade_twice_is_harmless(database_url: str) -> None:
    """`points db upgrade` is idempotent."""
    engine = make_engine(database_url)
    upgrade(engine)
    upgrade(engine)
    require_migrated(engine)
    engine.dispose()


def test_unmigrated_database_is_refused(database_url: str) -> None:
    """Code refuses a database whose schema is behind, naming the command to run."""
    engine = make_engine(database_url)
    with pytest.raises(DatabaseNotMigrated, match="points db upgrade"):
        require_migrated(engine)
    engine.dispose()
