"""Migration 0007's indexes built beforehand, concurrently (issue #16), on real PostgreSQL.

``points db upgrade --concurrent-indexes`` migrates to 0006, builds 0007's indexes with
``CREATE INDEX CONCURRENTLY``, drops the replaced account index concurrently, then runs
0007, which keeps the valid indexes it finds: the schema is a plain upgrade's. An INVALID
index (what an interrupted concurrent build leaves) is dropped and built again by either
path. SQLite upgrades as before (``test_migration_0007``).
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy.engine import Engine

from consumers.db import (
    alembic_config,
    current_revision,
    head_revision,
    make_engine,
    upgrade,
    upgrade_concurrently,
)
from consumers.migrations.indexes import (
    IndexConflict,
    OnlineIndex,
    OnlineIndexes,
    found,
    matches,
    prebuild,
)
from consumers.points.ledger import PointsLedger
from consumers.points.rules import DEFAULT_RULES
from consumers.points.store import open_store
from consumers.tables import all_tables
from tests.support.cli import run_points
from tests.support.factories import make_event
from tests.support.ledger_kit import wait_for_lock_wait

pytestmark = pytest.mark.postgres

ONLINE: OnlineIndexes = (
    ScriptDirectory.from_config(alembic_config()).get_revision("0007").module.ONLINE
)
PAYMENTS_BY_MONTH, GRANTS = ONLINE.build
[PAYMENTS_BY_ACCOUNT] = ONLINE.replaces


@pytest.fixture
def engine(postgres_url: str) -> Iterator[Engine]:
    engine = make_engine(postgres_url)
    yield engine
    engine.dispose()


def catalog(engine: Engine) -> dict[str, tuple[str, bool]]:
    """Every index of the schema: name → (definition, valid)."""
    query = sa.text(
        "SELECT c.relname AS name, pg_get_indexdef(i.indexrelid) AS definition, "
        "i.indisvalid AS valid FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid "
        "WHERE c.relnamespace = current_schema()::regnamespace"
    )
    with engine.connect() as connection:
        return {r.name: (r.definition, r.valid) for r in connection.execute(query)}


def oid(engine: Engine, name: str) -> int:
    with engine.connect() as connection:
        return int(
            connection.execute(
                sa.text("SELECT CAST(CAST(:n AS regclass) AS oid)"), {"n": name}
            ).scalar_one()
        )


def state(engine: Engine, index: OnlineIndex) -> tuple[bool, bool] | None:
    """(valid, defined as declared) of ``index``, or ``None`` when it does not exist."""
    with engine.connect() as connection:
        existing = found(connection, index.name)
    return None if existing is None else (existing.valid, matches(existing, index))


def wipe_schema(engine: Engine) -> None:
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        connection.execute(sa.text("DROP SCHEMA public CASCADE"))
        connection.execute(sa.text("CREATE SCHEMA public"))


def interrupted_build(engine: Engine, index: OnlineIndex) -> None:
    """Leave ``index`` INVALID as an interrupted concurrent build does: the build waits for
    an open writer's transaction on its table and is cancelled (statement timeout) there,
    after PostgreSQL has committed its catalog entry."""
    with engine.connect() as writer, engine.connect() as builder:
        writer.execute(sa.text(f"LOCK TABLE {index.table} IN ROW EXCLUSIVE MODE"))
        builder.execute(sa.text("SET statement_timeout = '1s'"))
        builder.commit()
        builder = builder.execution_options(isolation_level="AUTOCOMMIT")
        with pytest.raises(sa.exc.OperationalError, match="statement timeout"):
            builder.execute(sa.schema.CreateIndex(index.ddl(concurrently=True)))
        writer.rollback()
    assert state(engine, index) == (False, True)


def test_indexes_built_beforehand_are_kept_by_0007(engine: Engine) -> None:
    """Built concurrently at 0006, the two indexes are the very ones (same oid) after 0007,
    which only records its revision; the replaced account index is gone."""
    upgrade(engine, "0006")
    actions = prebuild(engine, ONLINE)
    built = {i.name: oid(engine, i.name) for i in ONLINE.build}
    upgrade(engine)
    kept = {i.name: oid(engine, i.name) for i in ONLINE.build}
    assert actions == [
        (PAYMENTS_BY_MONTH.name, "built"),
        (GRANTS.name, "built"),
        (PAYMENTS_BY_ACCOUNT.name, "dropped"),
    ]
    assert kept == built
    assert PAYMENTS_BY_ACCOUNT.name not in catalog(engine)


def test_a_concurrent_upgrade_gives_the_schema_of_a_plain_upgrade(engine: Engine) -> None:
    """Every index (definition and validity) is the plain upgrade's, and autogenerate finds
    no difference from the declared tables."""
    upgrade(engine)
    plain = catalog(engine)
    wipe_schema(engine)
    upgrade_concurrently(engine)
    with engine.connect() as connection:
        diff = compare_metadata(MigrationContext.configure(connection), all_tables())
    assert catalog(engine) == plain
    assert all(valid for _, valid in plain.values())
    assert diff == []


def test_an_invalid_leftover_is_rebuilt_by_the_plain_upgrade(engine: Engine) -> None:
    """An interrupted build's INVALID payments index is not trusted by 0007: dropped and
    built again in the upgrade's transaction, valid."""
    upgrade(engine, "0006")
    interrupted_build(engine, PAYMENTS_BY_MONTH)
    upgrade(engine)
    assert state(engine, PAYMENTS_BY_MONTH) == (True, True)


def test_an_invalid_leftover_is_rebuilt_concurrently(engine: Engine) -> None:
    """The same for the grants index under --concurrent-indexes: reported as rebuilt."""
    upgrade(engine, "0006")
    interrupted_build(engine, GRANTS)
    actions = upgrade_concurrently(engine)
    assert (GRANTS.name, "rebuilt") in actions
    assert state(engine, GRANTS) == (True, True)


def test_a_valid_index_defined_otherwise_is_refused(engine: Engine) -> None:
    """An index of 0007's name on other columns (made by hand) is neither kept nor dropped:
    the upgrade stops, naming it, and the database stays at 0006."""
    upgrade(engine, "0006")
    with engine.begin() as connection:
        connection.execute(
            sa.text(f"CREATE INDEX {PAYMENTS_BY_MONTH.name} ON ledger_payments (month)")
        )
    with pytest.raises(IndexConflict, match=PAYMENTS_BY_MONTH.name):
        upgrade(engine)
    assert state(engine, PAYMENTS_BY_MONTH) == (True, False)
    assert current_revision(engine) == "0006"


def test_downgrade_after_a_concurrent_upgrade_restores_the_account_index(engine: Engine) -> None:
    """Down to 0006 again: the account index is back, 0007's are gone."""
    upgrade_concurrently(engine)
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), "0006")
    indexes = catalog(engine)
    assert PAYMENTS_BY_ACCOUNT.name in indexes
    assert {PAYMENTS_BY_MONTH.name, GRANTS.name}.isdisjoint(indexes)


def test_payment_writes_commit_while_the_indexes_build(engine: Engine, postgres_url: str) -> None:
    """While the concurrent build waits for a writer's open transaction, a batch of
    payments (as a worker at 0006 applies it, bounded by a lock timeout) commits; the
    build then completes."""
    upgrade(engine, "0006")
    writer = make_engine(postgres_url, connect_args={"options": "-c lock_timeout=5000"})
    outcome: list[Any] = []
    with engine.connect() as in_flight:
        in_flight.execute(sa.text("LOCK TABLE ledger_payments IN ROW EXCLUSIVE MODE"))
        build = threading.Thread(target=lambda: outcome.append(prebuild(engine, ONLINE)))
        build.start()
        wait_for_lock_wait(engine)
        PointsLedger(open_store(writer), DEFAULT_RULES).handle_batch(
            [make_event(event_id="during", payment_id="during")]
        )
        assert build.is_alive(), "the build did not wait for the open transaction"
        in_flight.rollback()
    build.join(timeout=60)
    writer.dispose()
    with engine.connect() as connection:
        applied = connection.execute(sa.text("SELECT count(*) FROM ledger_payments")).scalar_one()
    assert applied == 1
    assert [done for _, done in outcome[0]] == ["built", "built", "dropped"]


def test_the_command_builds_concurrently_then_upgrades(postgres_url: str) -> None:
    """`points db upgrade --concurrent-indexes --json`: the plain document plus what was
    done to each index; progress on stderr."""
    result = run_points(
        "db", "upgrade", "--concurrent-indexes", "--json", env={"POINTS_DATABASE_URL": postgres_url}
    )
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert (document["from"], document["to"]) == (None, head_revision())
    assert document["indexes"] == [
        {"index": PAYMENTS_BY_MONTH.name, "action": "built"},
        {"index": GRANTS.name, "action": "built"},
        {"index": PAYMENTS_BY_ACCOUNT.name, "action": "dropped"},
    ]
    assert "concurrently" in result.stderr
