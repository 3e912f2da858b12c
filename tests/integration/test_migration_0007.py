"""Migration 0007 (SQLite and PostgreSQL): the indexes ``explain --month`` reads by
replace the payments' account index, and the grants' index is partial; down again, the
account index is back. The declared tables match it (``test_migrations``)."""

from __future__ import annotations

import json
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from sqlalchemy.engine import Engine

from consumers.db import alembic_config, make_engine, upgrade
from tests.support.cli import run_points


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def engine(request: pytest.FixtureRequest) -> Engine:
    url: str = request.getfixturevalue(f"{request.param}_url")
    return make_engine(url)


def indexes(engine: Engine, table: str) -> dict[str | None, list[Any]]:
    """Index name → its columns."""
    return {i["name"]: i["column_names"] for i in sa.inspect(engine).get_indexes(table)}


def downgrade(engine: Engine, revision: str) -> None:
    with engine.begin() as connection:
        command.downgrade(alembic_config(connection), revision)


def test_payments_are_indexed_by_account_and_month_instead_of_account(engine: Engine) -> None:
    """After 0007 one payment index leads with ``account_id`` (then ``month``); downgrading
    to 0006 restores the account index alone."""
    upgrade(engine)
    after = indexes(engine, "ledger_payments")
    downgrade(engine, "0006")
    before = indexes(engine, "ledger_payments")
    engine.dispose()
    assert after["ix_ledger_payments_account_id_month"] == ["account_id", "month"]
    assert "ix_ledger_payments_account_id" not in after
    assert before["ix_ledger_payments_account_id"] == ["account_id"]
    assert "ix_ledger_payments_account_id_month" not in before


def test_the_grants_index_holds_the_entries_without_a_payment_only(engine: Engine) -> None:
    """The entries index of 0007 is partial: ``payment_id IS NULL``."""
    upgrade(engine)
    with engine.connect() as connection:
        if engine.dialect.name == "postgresql":
            definition = connection.execute(
                sa.text("SELECT indexdef FROM pg_indexes WHERE indexname = :name"),
                {"name": "ix_ledger_entries_account_id_grants"},
            ).scalar_one()
        else:
            definition = connection.execute(
                sa.text("SELECT sql FROM sqlite_master WHERE name = :name"),
                {"name": "ix_ledger_entries_account_id_grants"},
            ).scalar_one()
    engine.dispose()
    assert "WHERE" in definition
    assert "payment_id IS NULL" in definition.replace("(", "").replace(")", "")


def test_on_sqlite_the_flag_is_the_plain_upgrade(sqlite_url: str) -> None:
    """SQLite has no concurrent build: the same upgrade as without the flag, said so."""
    result = run_points(
        "db", "upgrade", "--concurrent-indexes", "--json", env={"POINTS_DATABASE_URL": sqlite_url}
    )
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["indexes"] == []
    assert "SQLite" in result.stderr
