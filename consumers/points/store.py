"""Dialect-aware statements shared by the ledger, expiry and verify.

PostgreSQL and SQLite both speak ``INSERT … ON CONFLICT`` with ``RETURNING`` (SQLite
3.35+), so one set of statements serves both; only the ``insert`` construct differs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, Final, TypeVar

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from consumers.db import DatabaseUnavailable, is_transient_db_error
from consumers.points.domain import Anchor, PaymentFacts, Points, as_utc
from consumers.points.tables import ledger_balances, ledger_payments
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
    retrying = Retrying(
        stop=stop_after_attempt(attempts),
        wait=wait_random_exponential(multiplier=0.005, max=max_wait),
        retry=retry_if_exception(_retryable),
        reraise=True,
    )
    try:
        return retrying(work)
    except RaceLost as exc:
        raise DatabaseUnavailable("gave up after repeated concurrent conflicts") from exc
    except Exception as exc:
        if is_transient_db_error(exc):
            reason = db_reason(exc) if isinstance(exc, sa.exc.StatementError) else str(exc)
            raise DatabaseUnavailable(reason) from exc
        raise


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


def dialect_insert(connection: sa.Connection, table: sa.Table) -> Any:
    """``INSERT`` with ``on_conflict_*`` for the connection's dialect."""
    if connection.dialect.name == "postgresql":
        return postgresql.insert(table)
    if connection.dialect.name == "sqlite":
        return sqlite.insert(table)
    raise NotImplementedError(
        f"the ledger supports PostgreSQL and SQLite, not {connection.dialect.name}"
    )


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


def lock_payments(
    connection: sa.Connection, placeholders: list[dict[str, Any]]
) -> dict[str, PaymentFacts]:
    """Lock (creating placeholders for new ones) payments in ``payment_id`` order.

    One ``INSERT … ON CONFLICT DO UPDATE … RETURNING`` both creates a placeholder row for a
    payment never seen (``event_count = 0``) and row-locks an existing one, in the order of
    the rows given: callers sort them, so concurrent batches lock in one global order and
    cannot deadlock on payments. The no-op update returns the current committed state.
    """
    stmt = dialect_insert(connection, ledger_payments)
    stmt = stmt.on_conflict_do_update(
        index_elements=["payment_id"],
        set_={"event_count": ledger_payments.c.event_count},
    ).returning(*ledger_payments.c)
    rows = connection.execute(stmt, placeholders).mappings().all()
    return {row["payment_id"]: facts_from_row(row) for row in rows}


def save_payments(connection: sa.Connection, rows: list[dict[str, Any]]) -> None:
    """Write payment projections (the rows exist: ``lock_payments`` created them)."""
    stmt = dialect_insert(connection, ledger_payments)
    stmt = stmt.on_conflict_do_update(
        index_elements=["payment_id"],
        set_={name: stmt.excluded[name] for name in FACT_COLUMNS},
    )
    connection.execute(stmt, rows)


def add_to_balances(connection: sa.Connection, deltas: dict[str, Points], now: Any) -> None:
    """Add per-account deltas to the balance projection, in ``account_id`` order."""
    if not deltas:
        return
    stmt = dialect_insert(connection, ledger_balances)
    stmt = stmt.on_conflict_do_update(
        index_elements=["account_id"],
        set_={
            "confirmed": ledger_balances.c.confirmed + stmt.excluded.confirmed,
            "provisional": ledger_balances.c.provisional + stmt.excluded.provisional,
            "updated_at": stmt.excluded.updated_at,
        },
    )
    rows = [
        {
            "account_id": account,
            "confirmed": delta.confirmed,
            "provisional": delta.provisional,
            "updated_at": now,
        }
        for account, delta in sorted(deltas.items())
    ]
    connection.execute(stmt, rows)
