"""The batch's statements on SQLite through the sqlite3 connection itself.

On SQLite nothing waits on a network: the cost of a batch is Python, and SQLAlchemy's
per-statement machinery was about half of it. These statements go to the driver directly
with values already in the form SQLAlchemy's SQLite types store (UTC ``YYYY-MM-DD
HH:MM:SS.ffffff`` text for timestamps, 0/1 for booleans), so rows written here and rows
written through Core are indistinguishable. Transactions stay SQLAlchemy's (``BEGIN
IMMEDIATE`` from ``consumers.db``); driver errors become SQLAlchemy's exceptions.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from typing import Any, Final

import sqlalchemy as sa

from consumers.points.domain import PaymentFacts, as_utc
from consumers.points.store import (
    BALANCE_CONFLICT,
    INBOX_CONFLICT,
    PAYMENT_COLUMNS,
    PAYMENT_LOCK_CONFLICT,
    PAYMENT_SAVE_CONFLICT,
    Statements,
    facts_from_row,
)
from consumers.points.tables import ledger_balances, ledger_entries, ledger_events, ledger_payments

#: Rows per statement: far below SQLite's bound-parameter limit (32,766) for every table.
CHUNK: Final = 500


def _stored(value: Any) -> Any:
    """A Python value as SQLAlchemy's SQLite types store it."""
    if isinstance(value, datetime):
        return as_utc(value).replace(tzinfo=None).isoformat(" ", "microseconds")
    return value


_PAYMENT_TIMES: Final = tuple(
    c.name for c in ledger_payments.columns if isinstance(c.type, sa.DateTime)
)


def _loaded(row: dict[str, Any]) -> dict[str, Any]:
    """Stored timestamps (text) back into datetimes, as SQLAlchemy would read them."""
    for name in _PAYMENT_TIMES:
        if isinstance(row[name], str):
            row[name] = datetime.fromisoformat(row[name])
    return row


class SqliteStatements(Statements):
    """``Statements`` executed on the raw ``sqlite3`` connection."""

    def __init__(self, connection: sa.Connection) -> None:
        super().__init__(connection)
        raw = connection.connection.driver_connection
        assert isinstance(raw, sqlite3.Connection)
        self.raw = raw

    def lock_and_insert(
        self, payment_rows: list[dict[str, Any]], inbox_rows: list[dict[str, Any]]
    ) -> tuple[dict[str, PaymentFacts], set[str]]:
        payments: dict[str, PaymentFacts] = {}
        with self._errors():
            for row in self._insert(
                ledger_payments, payment_rows, PAYMENT_LOCK_CONFLICT, PAYMENT_COLUMNS
            ):
                facts = facts_from_row(_loaded(dict(zip(PAYMENT_COLUMNS, row, strict=True))))
                payments[facts.payment_id] = facts
            inserted = {
                row[0]
                for row in self._insert(ledger_events, inbox_rows, INBOX_CONFLICT, ("event_id",))
            }
        return payments, inserted

    def write_and_commit(
        self,
        entries: list[dict[str, Any]],
        payment_rows: list[dict[str, Any]],
        balances: list[dict[str, Any]],
    ) -> None:
        with self._errors():
            self._insert(ledger_entries, entries)
            self._insert(ledger_payments, payment_rows, PAYMENT_SAVE_CONFLICT)
            self._insert(ledger_balances, balances, BALANCE_CONFLICT)

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.Error as exc:
            raise sa.exc.DBAPIError.instance("ledger statements", None, exc, sqlite3.Error) from exc

    def _insert(
        self,
        table: sa.Table,
        rows: Sequence[dict[str, Any]],
        on_conflict: str = "",
        returning: tuple[str, ...] = (),
    ) -> list[Any]:
        keys = tuple(rows[0])
        out: list[Any] = []
        for start in range(0, len(rows), CHUNK):
            chunk = rows[start : start + CHUNK]
            params = [_stored(row[key]) for row in chunk for key in keys]
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
