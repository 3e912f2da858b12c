"""Dialect-aware statements shared by the ledger, expiry and verify.

PostgreSQL and SQLite both speak ``INSERT … ON CONFLICT`` with ``RETURNING`` (SQLite
3.35+), so one set of statements serves both.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import lru_cache
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from consumers.db import DatabaseUnavailable, is_transient_db_error
from consumers.points.domain import Anchor, PaymentFacts, Points, as_utc
from consumers.points.tables import ledger_balances, ledger_entries, ledger_events, ledger_payments
from schemas.events import Brand

MAX_REASON: Final = 300
T = TypeVar("T")


class RaceLost(Exception):
    """A concurrent commit invalidated this transaction's plan; roll back and start again."""


def _retryable(exc: BaseException) -> bool:
    return isinstance(exc, RaceLost) or is_transient_db_error(exc)


def db_reason(exc: sa.exc.StatementError) -> str:
    """The driver's own first line (SQLAlchemy's text would echo the event's parameters)."""
    text = str(exc.orig if exc.orig is not None else exc).strip().splitlines()
    return (text[0] if text else type(exc).__name__)[:MAX_REASON]


def with_retries(work: Callable[[], T], *, attempts: int = 8, max_wait: float = 1.0) -> T:
    """Run a transaction, retrying transient failures (bounded, jittered backoff).

    Lock waits are normal under contention; deadlocks and serialization failures should
    not happen with sorted locking but are retried anyway. When the attempts run out the
    caller gets ``DatabaseUnavailable`` (a ``TransientError``): the message will come back.
    """
    try:
        return work()  # the common case, without building a Retrying
    except Exception as exc:
        if attempts <= 1 or not _retryable(exc):
            _raise_as_transient(exc)
            raise
    retrying = Retrying(
        stop=stop_after_attempt(attempts - 1),
        wait=wait_random_exponential(multiplier=0.005, max=max_wait),
        retry=retry_if_exception(_retryable),
        reraise=True,
    )
    try:
        return retrying(work)
    except Exception as exc:
        _raise_as_transient(exc)
        raise


def _raise_as_transient(exc: Exception) -> None:
    """Retryable failures that outlived the retries become ``DatabaseUnavailable``."""
    if isinstance(exc, RaceLost):
        raise DatabaseUnavailable("gave up after repeated concurrent conflicts") from exc
    if is_transient_db_error(exc):
        reason = db_reason(exc) if isinstance(exc, sa.exc.StatementError) else str(exc)
        raise DatabaseUnavailable(reason) from exc


FACT_COLUMNS = (
    "account_id",
    "brand",
    "authorized",
    "reversed",
    "cleared",
    "refunded",
    "final",
    "expired",
    "anchor_occurred_at",
    "anchor_event_id",
    "anchor_mcc",
    "latest_authorized_at",
    "event_count",
    "confirmed",
    "provisional",
    "updated_at",
)


def multirow_insert(
    connection: sa.Connection,
    table: sa.Table,
    rows: Sequence[Mapping[str, Any]],
    on_conflict: str = "",
    returning: tuple[str, ...] = (),
) -> sa.CursorResult[Any]:
    """One multi-row ``INSERT … ON CONFLICT … [RETURNING]`` for ``rows`` (all keyed alike).

    PostgreSQL and SQLite (3.35+) share this syntax. SQLAlchemy does not cache compiled
    dialect ``on_conflict`` inserts, and compiling one per batch cost more than executing
    it; this text statement is built once per (table, clause, row count) and cached, with
    typed bind parameters so dates are stored exactly as Core stores them.
    """
    keys = tuple(rows[0])
    statement = _insert_text(table, keys, len(rows), on_conflict, returning)
    params = {f"p{i}_{j}": row[key] for i, row in enumerate(rows) for j, key in enumerate(keys)}
    return connection.execute(statement, params)


@lru_cache(maxsize=512)
def _insert_text(
    table: sa.Table, keys: tuple[str, ...], count: int, on_conflict: str, returning: tuple[str, ...]
) -> sa.TextClause:
    names = ", ".join(f'"{key}"' for key in keys)
    # Short bind names keep the SQL under psycopg's 4 kB query-conversion cache limit.
    values = ", ".join(
        "(" + ", ".join(f":p{i}_{j}" for j in range(len(keys))) + ")" for i in range(count)
    )
    sql = f'INSERT INTO "{table.name}" ({names}) VALUES {values} {on_conflict}'
    if returning:
        sql += " RETURNING " + ", ".join(f'"{name}"' for name in returning)
    statement = sa.text(sql).bindparams(
        *(
            sa.bindparam(f"p{i}_{j}", type_=table.c[key].type)
            for i in range(count)
            for j, key in enumerate(keys)
        )
    )
    if returning:
        return statement.columns(*(table.c[name] for name in returning))  # type: ignore[return-value]
    return statement


def facts_from_row(row: Mapping[Any, Any]) -> PaymentFacts:
    """A payment projection row back into domain facts."""
    anchor = None
    if row["anchor_event_id"] is not None:
        anchor = Anchor(
            as_utc(row["anchor_occurred_at"]), row["anchor_event_id"], row["anchor_mcc"]
        )
    latest = row["latest_authorized_at"]
    return PaymentFacts(
        payment_id=row["payment_id"],
        account_id=row["account_id"],
        brand=Brand(row["brand"]),
        authorized=row["authorized"],
        reversed=row["reversed"],
        cleared=row["cleared"],
        refunded=row["refunded"],
        final=bool(row["final"]),
        expired=bool(row["expired"]),
        anchor=anchor,
        latest_authorized_at=None if latest is None else as_utc(latest),
        event_count=row["event_count"],
    )


def row_from_facts(facts: PaymentFacts, earned: Points, now: Any) -> dict[str, Any]:
    """Domain facts and their points as a payment projection row."""
    anchor = facts.anchor
    return {
        "payment_id": facts.payment_id,
        "account_id": facts.account_id,
        "brand": str(facts.brand),
        "authorized": facts.authorized,
        "reversed": facts.reversed,
        "cleared": facts.cleared,
        "refunded": facts.refunded,
        "final": facts.final,
        "expired": facts.expired,
        "anchor_occurred_at": None if anchor is None else anchor.occurred_at,
        "anchor_event_id": None if anchor is None else anchor.event_id,
        "anchor_mcc": None if anchor is None else anchor.mcc,
        "latest_authorized_at": facts.latest_authorized_at,
        "event_count": facts.event_count,
        "confirmed": earned.confirmed,
        "provisional": earned.provisional,
        "updated_at": now,
    }


PAYMENT_COLUMNS: Final = tuple(c.name for c in ledger_payments.columns)


def lock_payments(
    connection: sa.Connection, placeholders: list[dict[str, Any]]
) -> dict[str, PaymentFacts]:
    """Lock (creating placeholders for new ones) payments in ``payment_id`` order.

    One ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` both creates a placeholder row for a
    payment never seen (``event_count = 0``) and row-locks an existing one, in the order of
    the rows given: callers sort them, so concurrent batches lock in one global order and
    cannot deadlock on payments. The no-op update returns the current committed state.
    """
    result = multirow_insert(
        connection, ledger_payments, placeholders, PAYMENT_LOCK_CONFLICT, PAYMENT_COLUMNS
    )
    return {row["payment_id"]: facts_from_row(row) for row in result.mappings()}


def save_payments(connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Write payment projections in one statement (rows exist, locked by ``lock_payments``)."""
    multirow_insert(connection, ledger_payments, rows, PAYMENT_SAVE_CONFLICT)


BALANCE_CONFLICT: Final = (
    'ON CONFLICT ("account_id") DO UPDATE SET '
    '"confirmed" = ledger_balances."confirmed" + excluded."confirmed", '
    '"provisional" = ledger_balances."provisional" + excluded."provisional", '
    '"updated_at" = excluded."updated_at"'
)
PAYMENT_LOCK_CONFLICT: Final = (
    'ON CONFLICT ("payment_id") DO UPDATE SET "event_count" = ledger_payments."event_count"'
)
PAYMENT_SAVE_CONFLICT: Final = 'ON CONFLICT ("payment_id") DO UPDATE SET ' + ", ".join(
    f'"{name}" = excluded."{name}"' for name in FACT_COLUMNS
)
INBOX_CONFLICT: Final = 'ON CONFLICT ("event_id") DO NOTHING'


def balance_rows(deltas: dict[str, Points], now: Any) -> list[dict[str, Any]]:
    """Per-account deltas as balance upsert rows, in ``account_id`` (lock) order."""
    return [
        {
            "account_id": account,
            "confirmed": delta.confirmed,
            "provisional": delta.provisional,
            "updated_at": now,
        }
        for account, delta in sorted(deltas.items())
    ]


def add_to_balances(connection: sa.Connection, deltas: dict[str, Points], now: Any) -> None:
    """Add per-account deltas to the balance projection, in ``account_id`` order."""
    if deltas:
        multirow_insert(connection, ledger_balances, balance_rows(deltas, now), BALANCE_CONFLICT)


class Statements:
    """The two round trips of a batch, through SQLAlchemy (SQLite, and the fallback)."""

    def __init__(self, connection: sa.Connection) -> None:
        self.connection = connection

    def lock_and_insert(
        self, payment_rows: list[dict[str, Any]], inbox_rows: list[dict[str, Any]]
    ) -> tuple[dict[str, PaymentFacts], set[str]]:
        """Lock payments (sorted), then insert inbox rows (sorted); ids actually inserted."""
        payments = lock_payments(self.connection, payment_rows)
        result = multirow_insert(
            self.connection, ledger_events, inbox_rows, INBOX_CONFLICT, ("event_id",)
        )
        return payments, set(result.scalars())

    def write_and_commit(
        self,
        entries: list[dict[str, Any]],
        payment_rows: list[dict[str, Any]],
        balances: list[dict[str, Any]],
    ) -> None:
        """Entries, payment projections and balance increments: the transaction's last
        statements. Here the commit is left to the enclosing ``engine.begin()``; a
        pipelined implementation may send it along to save a round trip."""
        multirow_insert(self.connection, ledger_entries, entries)
        multirow_insert(self.connection, ledger_payments, payment_rows, PAYMENT_SAVE_CONFLICT)
        multirow_insert(self.connection, ledger_balances, balances, BALANCE_CONFLICT)
