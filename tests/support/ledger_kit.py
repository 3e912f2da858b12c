"""Helpers for ledger tests on real databases: migrate, apply, read the final state."""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import asdict
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from consumers.bootstrap import Ledger
from consumers.db import make_engine, upgrade
from consumers.handler import Outcome, Result
from consumers.points.store import open_store
from consumers.points.tables import (
    ledger_balances,
    ledger_entries,
    ledger_events,
    ledger_months,
    ledger_payments,
)
from schemas.envelope import decode_body, parse_event
from schemas.events import Event

LEDGER_TABLES = (ledger_entries, ledger_events, ledger_payments, ledger_months, ledger_balances)


def migrated_engine(url: str) -> Engine:
    engine = make_engine(url)
    upgrade(engine)
    return engine


@pytest.fixture(
    name="engine", params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)]
)
def both_databases(request: pytest.FixtureRequest) -> Iterator[Engine]:
    """A migrated engine on SQLite, then on PostgreSQL (import it as a pytest fixture)."""
    url: str = request.getfixturevalue(
        "sqlite_url" if request.param == "sqlite" else "postgres_url"
    )
    engine = migrated_engine(url)
    yield engine
    engine.dispose()


def migrated_engine_for(request: pytest.FixtureRequest) -> Engine:
    """A migrated engine on the database a test is parametrized with: ``sqlite`` or
    ``postgres`` (the conftest's ``sqlite_url``/``postgres_url``)."""
    url: str = request.getfixturevalue(f"{request.param}_url")
    return migrated_engine(url)


def wait_for_lock_wait(engine: Engine, timeout: float = 10.0) -> None:
    """Block until some session of this (PostgreSQL) database waits on a lock."""
    query = sa.text(
        "SELECT count(*) FROM pg_stat_activity "
        "WHERE datname = current_database() AND wait_event_type = 'Lock'"
    )
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        with engine.connect() as connection:
            if connection.execute(query).scalar_one():
                return
        time.sleep(0.02)
    raise AssertionError("no session ever waited on a lock")


def wipe(engine: Engine) -> None:
    """Empty the ledger tables (between hypothesis examples on one database)."""
    with engine.begin() as connection:
        for table in LEDGER_TABLES:
            connection.execute(sa.delete(table))


def events_of(documents: Iterable[dict[str, Any]]) -> list[Event]:
    """Wire dicts through the real decoder, as the worker would get them."""
    return [decode_body(json.dumps(d)) for d in documents]


def apply_batches(ledger: Ledger, batches: Sequence[Sequence[dict[str, Any]]]) -> None:
    for batch in batches:
        results = ledger.handle_batch([parse_event(d) for d in batch])
        rejected = [r for r in results if r.outcome is Outcome.REJECTED]
        assert not rejected, rejected


def outcomes(results: Sequence[Result]) -> list[str]:
    return [str(r.outcome) if r.error is None else r.error.code for r in results]


def ledger_state(engine: Engine) -> tuple[dict[str, dict[str, Any]], list[dict[str, Any]]]:
    """(payment documents by id, balance documents) exactly as the CLI prints them."""
    with engine.connect() as connection:
        ids = list(connection.execute(sa.select(ledger_payments.c.payment_id)).scalars())
    store = open_store(engine)
    payments: dict[str, dict[str, Any]] = {}
    for payment_id in ids:
        view = store.payment(payment_id)
        assert view is not None
        payments[payment_id] = asdict(view)
    return payments, [asdict(b) for b in store.balances()]


def entry_rows(engine: Engine) -> list[tuple[Any, ...]]:
    with engine.connect() as connection:
        rows = connection.execute(sa.select(ledger_entries).order_by(ledger_entries.c.id))
        return [tuple(row) for row in rows]


def count(engine: Engine, table: sa.Table) -> int:
    with engine.connect() as connection:
        return int(connection.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
