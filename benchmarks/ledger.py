"""Ledger throughput next to the raw-insert ceiling of the same database, same run.

``python -m benchmarks.ledger`` prints one JSON document. For each database (a temporary
SQLite file; a temporary PostgreSQL database on ``POINTS_BENCH_POSTGRES_URL``, default
``postgresql+psycopg://postgres@127.0.0.1:5432/postgres``) and each batch size it reports:

- ``ledger_eps``: events/s of the bootstrapped ledger's ``handle_batch`` (one transaction per batch:
  payment locks, inbox insert, entries, payment and balance projections);
- ``ceiling_eps``: rows/s of plain multi-row ``INSERT … VALUES`` of the same rows (the
  inbox rows of the same events, prepared before the clock starts) into a bare table,
  one transaction per batch of the same size, sent straight to the driver connection;
- ``ratio``: ledger / ceiling over the whole run, and ``median_round_ratio`` (the
  headline), ``best_round_ratio`` and ``worst_round_ratio`` of the per-round ratios (the
  two are measured in alternating rounds, see ``compare``);
- ``core_insert_eps`` and ``ratio_to_core_insert``: the same plain inserts written through
  SQLAlchemy Core the ordinary way (``connection.execute(sa.insert(table), rows)``), a
  second baseline: what a plain insert of the same rows costs through the same library.

Events are decoded before the clock starts (the worker hands the ledger decoded events);
hashing and canonicalisation are inside the measured time. ``measure`` returns the
numbers as a dict for ``make bench``.
"""

from __future__ import annotations

import json
import os
import platform
import random
import sqlite3
import statistics
import tempfile
import time
import uuid
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from functools import lru_cache
from pathlib import Path
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from consumers.bootstrap import Ledger, bootstrap_ledger
from consumers.db import make_engine
from consumers.points.tables import (
    ledger_balances,
    ledger_entries,
    ledger_events,
    ledger_months,
    ledger_payments,
)
from infra.settings import Config
from schemas.canonical import canonical_json, content_hash
from schemas.events import (
    Authorization,
    Brand,
    Clearing,
    EventType,
    Merchant,
    PaymentEvent,
    Refund,
)

DEFAULT_POSTGRES: Final = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
BATCH_SIZES: Final = (1, 10, 100)
#: Events per measurement, by batch size: enough for a stable number, small enough for CI.
EVENTS: Final = {1: 600, 10: 3000, 100: 6000}


@dataclass(frozen=True)
class Point:
    batch_size: int
    events: int
    ledger_eps: float
    ceiling_eps: float
    core_insert_eps: float
    #: ledger/ceiling of each interleaved round: the median is robust to load spikes.
    round_ratios: tuple[float, ...]

    def as_dict(self) -> dict[str, Any]:
        return {
            "batch_size": self.batch_size,
            "events": self.events,
            "ledger_eps": round(self.ledger_eps),
            "ceiling_eps": round(self.ceiling_eps),
            "ratio": round(self.ledger_eps / self.ceiling_eps, 3),
            "median_round_ratio": round(statistics.median(self.round_ratios), 3),
            "best_round_ratio": round(max(self.round_ratios), 3),
            "worst_round_ratio": round(min(self.round_ratios), 3),
            "core_insert_eps": round(self.core_insert_eps),
            "ratio_to_core_insert": round(self.ledger_eps / self.core_insert_eps, 3),
        }


def workload(count: int, seed: int = 1) -> list[PaymentEvent]:
    """Payment stories as a card issuer sees them: auth, final clearing, some refunds."""
    rng = random.Random(seed)
    base = datetime(2026, 11, 1, tzinfo=UTC)
    lawson = Merchant(name="LAWSON", mcc="5411", country="JP")
    events: list[PaymentEvent] = []
    n = 0
    while len(events) < count:
        n += 1
        common: dict[str, Any] = {
            "schema_version": 1,
            "brand": rng.choice([Brand.VISA, Brand.QUICPAY]),
            "payment_id": f"pay-{n}",
            "account_id": f"acct-{rng.randrange(max(1, count // 20))}",
            "currency": "JPY",
            "merchant": lawson,
        }
        amount = rng.randint(100, 20000)
        at = base + timedelta(minutes=n)
        events.append(
            Authorization(
                event_type=EventType.AUTHORIZATION,
                event_id=f"a-{n}",
                occurred_at=at,
                amount=amount,
                **common,
            )
        )
        events.append(
            Clearing(
                event_type=EventType.CLEARING,
                event_id=f"c-{n}",
                final=True,
                occurred_at=at + timedelta(days=2),
                amount=amount,
                **common,
            )
        )
        if rng.random() < 0.2:
            events.append(
                Refund(
                    event_type=EventType.REFUND,
                    event_id=f"r-{n}",
                    occurred_at=at + timedelta(days=5),
                    amount=amount // 2,
                    **common,
                )
            )
    # Deliveries interleave payments, as a queue with many producers would.
    window = 50
    for start in range(0, len(events), window):
        chunk = events[start : start + window]
        rng.shuffle(chunk)
        events[start : start + window] = chunk
    return events[:count]


def _batches(events: Sequence[PaymentEvent], size: int) -> Iterator[Sequence[PaymentEvent]]:
    for start in range(0, len(events), size):
        yield events[start : start + size]


def _raw_table(metadata: sa.MetaData, name: str = "bench_raw_inserts") -> sa.Table:
    """A bare table shaped like the inbox (same columns and primary key, no indexes)."""
    return sa.Table(
        name,
        metadata,
        *(sa.Column(c.name, c.type, primary_key=c.primary_key) for c in ledger_events.columns),
    )


def _raw_rows(events: Sequence[PaymentEvent]) -> list[dict[str, Any]]:
    now = datetime.now(UTC)
    return [
        {
            "event_id": e.event_id,
            "content_hash": content_hash(e),
            "payment_id": e.payment_id,
            "account_id": e.account_id,
            "brand": str(e.brand),
            "event_type": str(e.event_type),
            "occurred_at": e.occurred_at,
            "amount": e.amount,
            "mcc": e.merchant.mcc,
            "approved": True,
            "final": False,
            "body": canonical_json(e),
            "received_at": now,
            "country": e.merchant.country,
            "points": None,
            "reason": None,
            "source": None,
        }
        for e in events
    ]


def _wipe(engine: Engine, tables: Sequence[sa.Table]) -> None:
    with engine.begin() as connection:
        for table in tables:
            connection.execute(sa.delete(table))


ROUNDS: Final = 10


def _time_ceiling(engine: Engine, table: sa.Table, rows: list[dict[str, Any]], size: int) -> float:
    """Seconds for plain multi-row INSERTs of ``rows``, one transaction per batch.

    The statement goes to the driver connection inside the engine's own transaction
    (``BEGIN IMMEDIATE`` on SQLite), with values already in stored form: the cheapest
    way this process can write those rows, hence the ceiling.
    """
    keys = tuple(rows[0])
    marker = "?" if engine.dialect.name == "sqlite" else "%s"
    stored = [[_stored(row[key]) for key in keys] for row in rows]
    started = time.perf_counter()
    for start in range(0, len(rows), size):
        chunk = stored[start : start + size]
        sql = _values_sql(table.name, keys, len(chunk), marker)
        with engine.begin() as connection:
            cursor = connection.connection.driver_connection.cursor()  # type: ignore[union-attr]
            cursor.execute(sql, [value for row in chunk for value in row])
            cursor.close()
    return time.perf_counter() - started


def _time_core_insert(
    engine: Engine, table: sa.Table, rows: list[dict[str, Any]], size: int
) -> float:
    """The same inserts through SQLAlchemy Core as ordinary code writes them,
    ``connection.execute(sa.insert(table), rows)``: one cached statement, the rows as
    parameters (SQLAlchemy batches them into multi-row VALUES, "insertmanyvalues")."""
    statement = sa.insert(table)
    started = time.perf_counter()
    for start in range(0, len(rows), size):
        with engine.begin() as connection:
            connection.execute(statement, rows[start : start + size])
    return time.perf_counter() - started


@lru_cache(maxsize=64)
def _values_sql(table: str, keys: tuple[str, ...], count: int, marker: str) -> str:
    row = "(" + ", ".join([marker] * len(keys)) + ")"
    names = ", ".join(f'"{key}"' for key in keys)
    return f'INSERT INTO "{table}" ({names}) VALUES {", ".join([row] * count)}'


def _stored(value: Any) -> Any:
    """Timestamps as text in SQLAlchemy's SQLite form (PostgreSQL takes datetimes as is)."""
    if isinstance(value, datetime):
        return value.astimezone(UTC).replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


def _time_ledger(ledger: Ledger, events: Sequence[PaymentEvent], size: int) -> float:
    """Seconds for ``handle_batch`` over ``events`` in batches of ``size``."""
    started = time.perf_counter()
    for batch in _batches(events, size):
        ledger.handle_batch(batch)
    return time.perf_counter() - started


def compare(ledger: Ledger, engine: Engine, events: Sequence[PaymentEvent], size: int) -> Point:
    """Ledger vs ceiling on the same rows, interleaved in rounds.

    The host is shared and its load drifts within seconds; alternating the two in
    ``ROUNDS`` slices (and their order) exposes both to the same conditions.
    """
    _wipe(engine, (ledger_entries, ledger_events, ledger_payments, ledger_months, ledger_balances))
    metadata = sa.MetaData()
    table, core_table = _raw_table(metadata), _raw_table(metadata, "bench_core_inserts")
    metadata.drop_all(engine)
    metadata.create_all(engine)
    rows = _raw_rows(events)
    raw_seconds: list[float] = []
    core_seconds: list[float] = []
    ledger_seconds: list[float] = []
    slice_size = -(-len(events) // ROUNDS)
    try:
        for n, start in enumerate(range(0, len(events), slice_size)):
            chunk = slice(start, start + slice_size)
            if n % 2:
                ledger_seconds.append(_time_ledger(ledger, events[chunk], size))
                raw_seconds.append(_time_ceiling(engine, table, rows[chunk], size))
                core_seconds.append(_time_core_insert(engine, core_table, rows[chunk], size))
            else:
                core_seconds.append(_time_core_insert(engine, core_table, rows[chunk], size))
                raw_seconds.append(_time_ceiling(engine, table, rows[chunk], size))
                ledger_seconds.append(_time_ledger(ledger, events[chunk], size))
    finally:
        metadata.drop_all(engine)
    ratios = tuple(raw / ours for raw, ours in zip(raw_seconds, ledger_seconds, strict=True))
    return Point(
        size,
        len(events),
        len(events) / sum(ledger_seconds),
        len(events) / sum(raw_seconds),
        len(events) / sum(core_seconds),
        ratios,
    )


def measure(url: str, batch_sizes: Sequence[int] = BATCH_SIZES) -> list[dict[str, Any]]:
    """Ledger and ceiling for each batch size on the (migrated) database at ``url``."""
    ledger = bootstrap_ledger(Config.resolve(database_url=url), migrate=True)
    # The ceiling writes through the ledger's own engine: on SQLite a second connection's
    # writes would invalidate the ledger connection's page cache every round.
    engine = ledger.engine
    points: list[dict[str, Any]] = []
    try:
        for size in batch_sizes:
            compare(ledger, engine, workload(100, seed=99), size)  # warm pools, caches, plans
            events = workload(EVENTS.get(size, 1000 * size))
            points.append(compare(ledger, engine, events, size).as_dict())
    finally:
        ledger.close()
    return points


@contextmanager
def temporary_sqlite() -> Iterator[str]:
    with tempfile.TemporaryDirectory(prefix="points-bench-") as workdir:
        yield f"sqlite:///{Path(workdir) / 'bench.sqlite3'}"


@contextmanager
def temporary_postgres(server_url: str) -> Iterator[str]:
    admin = sa.create_engine(server_url, isolation_level="AUTOCOMMIT")
    name = f"points_bench_{uuid.uuid4().hex[:8]}"
    try:
        with admin.connect() as connection:
            connection.execute(sa.text(f'CREATE DATABASE "{name}"'))
        yield make_url(server_url).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as connection:
            connection.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def run(
    postgres_server: str | None = None, batch_sizes: Sequence[int] = BATCH_SIZES
) -> dict[str, Any]:
    """The whole benchmark as a dict: machine context, then results per database."""
    result: dict[str, Any] = {
        "benchmark": "points ledger batch application vs raw multi-row insert ceiling",
        "machine": {
            "python": platform.python_version(),
            "cpus": os.cpu_count(),
            "load_average_1m": round(os.getloadavg()[0], 2),
            "sqlite": sqlite3.sqlite_version,
        },
        "databases": {},
    }
    with temporary_sqlite() as url:
        result["databases"]["sqlite"] = measure(url, batch_sizes)
    server = postgres_server or os.environ.get("POINTS_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    try:
        with temporary_postgres(server) as url:
            engine = make_engine(url)
            with engine.connect() as connection:
                version = connection.execute(sa.text("show server_version")).scalar_one()
                sync = connection.execute(sa.text("show synchronous_commit")).scalar_one()
            engine.dispose()
            result["machine"]["postgresql"] = f"{version} (synchronous_commit={sync})"
            result["databases"]["postgresql"] = measure(url, batch_sizes)
    except sa.exc.OperationalError as exc:
        result["databases"]["postgresql"] = {"skipped": str(exc.orig).splitlines()[0]}
    return result


def main() -> None:
    print(json.dumps(run(), indent=2))


if __name__ == "__main__":
    main()
