"""The ledger store on SQLite: the batch path through the sqlite3 connection itself.

On SQLite nothing waits on a network: the cost of a batch is Python, and SQLAlchemy's
per-statement machinery was about half of it. These statements go to the driver directly
with values already in the form SQLAlchemy's SQLite types store (UTC ``YYYY-MM-DD
HH:MM:SS.ffffff`` text for timestamps, 0/1 for booleans), so rows written here and rows
written through Core are indistinguishable. Transactions stay SQLAlchemy's (``BEGIN
IMMEDIATE`` from ``consumers.db``); driver errors become SQLAlchemy's exceptions, which the
unit of work classifies like any other.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any, Final, Self

import sqlalchemy as sa

from consumers.points.amounts import as_utc
from consumers.points.earning import MonthRef
from consumers.points.facts import PaymentFacts
from consumers.points.store import rows
from consumers.points.store.core import (
    CoreLedgerStore,
    CoreUnitOfWork,
    claimed_months,
    write_statements,
)
from consumers.points.store.persistence import LedgerUnitOfWork, Writes
from consumers.points.store.records import Claim, MonthRecord, PaymentRecord, StoredEvent
from consumers.points.tables import (
    ledger_balances,
    ledger_entries,
    ledger_events,
    ledger_months,
    ledger_payments,
)

#: Rows per statement: far below SQLite's bound-parameter limit (32,766) for every table.
CHUNK: Final = 500


def _stored(value: Any) -> Any:
    """A Python value as SQLAlchemy's SQLite types store it."""
    if isinstance(value, datetime):
        return _stored_instant(value)
    return value


@lru_cache(maxsize=4096)  # a batch writes its own ``now`` and its anchors many times over
def _stored_instant(value: datetime) -> str:
    return as_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")


_PAYMENT_TIMES: Final = tuple(
    c.name for c in ledger_payments.columns if isinstance(c.type, sa.DateTime)
)
#: Timestamp columns by table: the only values the batch path converts.
_TIMES: Final = {
    table.name: frozenset(c.name for c in table.columns if isinstance(c.type, sa.DateTime))
    for table in (ledger_events, ledger_entries, ledger_payments, ledger_months, ledger_balances)
}


def _loaded(row: dict[str, Any]) -> dict[str, Any]:
    """Stored timestamps (text) back into datetimes, as SQLAlchemy would read them."""
    for name in _PAYMENT_TIMES:
        if isinstance(row[name], str):
            row[name] = datetime.fromisoformat(row[name])
    return row


class SqliteUnitOfWork(CoreUnitOfWork):
    """``claim`` and the deferred writes on the raw ``sqlite3`` connection."""

    def __enter__(self) -> Self:
        super().__enter__()
        raw = self.connection.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        self.raw = raw
        return self

    def claim(
        self,
        payments: Sequence[PaymentFacts],
        events: Sequence[StoredEvent],
        months: Sequence[MonthRef] | None,
    ) -> Claim:
        self.lock_rules()  # no lock on SQLite (see ``rule_rows``): the revision, once
        locked: dict[str, PaymentRecord] = {}
        with self._errors():
            placeholders = rows.placeholder_rows(payments, self.now)
            for row in self._insert(
                ledger_payments, placeholders, rows.PAYMENT_LOCK_CONFLICT, rows.PAYMENT_COLUMNS
            ):
                record = rows.record_from_row(
                    _loaded(dict(zip(rows.PAYMENT_COLUMNS, row, strict=True)))
                )
                locked[record.facts.payment_id] = record
            recorded = {
                row[0]
                for row in self._insert(
                    ledger_events, self._event_rows(events), rows.INBOX_CONFLICT, ("event_id",)
                )
            }
        return Claim(locked, self.lock_months(claimed_months(months, locked)), recorded)

    def lock_months(self, months: Sequence[MonthRef]) -> dict[MonthRef, MonthRecord]:
        with self._errors():
            found = self._insert(
                ledger_months,
                rows.month_rows(months, self.now),
                rows.MONTH_LOCK_CONFLICT,
                rows.MONTH_STATE_COLUMNS,
            )
        records = (rows.month_from_values(r) for r in found)
        return {record.ref: record for record in records}

    def _write_and_commit(self, writes: Writes) -> None:
        with self._errors():
            for table, values, on_conflict in write_statements(writes, self.now):
                self._insert(table, values, on_conflict)
        self._finish()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise sa.exc.DBAPIError.instance("ledger statements", None, exc, sqlite3.Error) from exc

    def _insert(
        self,
        table: sa.Table,
        values: Sequence[rows.Row],
        on_conflict: str = "",
        returning: tuple[str, ...] = (),
    ) -> list[Any]:
        if not values:
            return []
        keys = tuple(values[0])
        row_values = itemgetter(*keys) if len(keys) > 1 else lambda row: (row[keys[0]],)
        times = [i for i, key in enumerate(keys) if key in _TIMES[table.name]]
        out: list[Any] = []
        for start in range(0, len(values), CHUNK):
            chunk = values[start : start + CHUNK]
            params: list[Any] = []
            for row in chunk:
                stored = list(row_values(row))
                for i in times:  # only timestamps need converting: one C call per row else
                    stored[i] = _stored(stored[i])
                params += stored
            cursor = self.raw.execute(
                _insert_sql(table.name, keys, len(chunk), on_conflict, returning), params
            )
            if returning:
                out += cursor.fetchall()
            cursor.close()
        return out


@lru_cache(maxsize=512)
def _insert_sql(
    table: str, keys: tuple[str, ...], count: int, on_conflict: str, returning: tuple[str, ...]
) -> str:
    names = ", ".join(f'"{key}"' for key in keys)
    row = "(" + ", ".join("?" * len(keys)) + ")"
    sql = f'INSERT INTO "{table}" ({names}) VALUES {", ".join([row] * count)} {on_conflict}'
    if returning:
        sql += " RETURNING " + ", ".join(f'"{name}"' for name in returning)
    return sql


class SqliteLedgerStore(CoreLedgerStore):
    """The ledger store on SQLite (pysqlite)."""

    def unit_of_work(self) -> LedgerUnitOfWork:
        return SqliteUnitOfWork(self.engine)
