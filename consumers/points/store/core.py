"""The ledger store on SQLAlchemy Core: any dialect with ``INSERT … ON CONFLICT … RETURNING``.

The SQLite and PostgreSQL drivers subclass it and replace only the batch's hot path
(``claim`` and the deferred writes); every read and every rare statement is here.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from functools import lru_cache
from typing import Any, Self

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from consumers.db import raise_classified
from consumers.points.earning import MonthRef
from consumers.points.facts import PaymentFacts
from consumers.points.months import MonthKey
from consumers.points.store import correction_rows, reads, rows, rule_rows, story_rows
from consumers.points.store.persistence import LedgerStore, LedgerUnitOfWork, Writes
from consumers.points.store.records import (
    Balance,
    Claim,
    HistoryEntry,
    MonthRecord,
    PaymentRecord,
    PaymentView,
    Snapshot,
    StoredEvent,
    stored_months,
)
from consumers.points.tables import (
    ledger_balances,
    ledger_entries,
    ledger_events,
    ledger_months,
    ledger_payments,
)


def multirow_insert(
    connection: sa.Connection,
    table: sa.Table,
    values: Sequence[Mapping[str, Any]],
    on_conflict: str = "",
    returning: tuple[str, ...] = (),
) -> sa.CursorResult[Any]:
    """One multi-row ``INSERT … ON CONFLICT … [RETURNING]`` for ``values`` (keyed alike).

    SQLAlchemy does not cache compiled dialect ``on_conflict`` inserts, and compiling one
    per batch cost more than executing it; this text statement is built once per (table,
    clause, row count) and cached, with typed bind parameters so dates are stored exactly
    as Core stores them.
    """
    keys = tuple(values[0])
    statement = _insert_text(table, keys, len(values), on_conflict, returning)
    params = {f"p{i}_{j}": row[key] for i, row in enumerate(values) for j, key in enumerate(keys)}
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


def claimed_months(
    months: Sequence[MonthRef] | None, payments: dict[str, PaymentRecord]
) -> list[MonthRef]:
    """What a claim locks: ``months`` and the locked payments' stored months, or nothing
    (``None``: a batch under rules without a cap, see ``LedgerUnitOfWork.claim``)."""
    return [] if months is None else [*months, *stored_months(payments)]


def write_statements(writes: Writes, now: datetime) -> list[tuple[sa.Table, list[rows.Row], str]]:
    """The deferred writes as (table, rows, conflict clause), in lock order, empty ones
    left out: entries, payments, account-months (saved, or added to), balances."""
    statements = [
        (ledger_entries, [rows.entry_row(e, now) for e in writes.entries], ""),
        (
            ledger_payments,
            [rows.payment_row(p, now) for p in writes.payments],
            rows.PAYMENT_SAVE_CONFLICT,
        ),
        (
            ledger_months,
            [rows.month_row(m, now) for m in writes.months],
            rows.MONTH_SAVE_CONFLICT,
        ),
        (ledger_months, rows.month_delta_rows(writes.month_deltas, now), rows.MONTH_ADD_CONFLICT),
        (ledger_balances, rows.balance_rows(writes.balances, now), rows.BALANCE_CONFLICT),
    ]
    return [statement for statement in statements if statement[1]]


class CoreUnitOfWork(LedgerUnitOfWork):
    """A unit of work on one pooled connection, through SQLAlchemy Core."""

    def __init__(self, engine: Engine) -> None:
        super().__init__()
        self._engine = engine
        self._committed = False
        #: The rules revision as this unit sees it once it holds the rules lock.
        self._rules_revision: int | None = None

    def __enter__(self) -> Self:
        self.now = datetime.now(UTC)
        try:
            self.connection = self._engine.connect()
            self._transaction = self.connection.begin()
        except Exception as exc:
            raise_classified(exc)
            raise
        return self

    def __exit__(self, *exc_info: object) -> None:
        """Roll back unless committed; re-raise a driver error classified."""
        try:
            if not self._committed and self._transaction.is_active:
                self._transaction.rollback()
        except Exception:  # noqa: S110 - a dead connection rolls back by dying
            pass
        finally:
            self._release()
        if isinstance(exc := exc_info[1], BaseException):
            raise_classified(exc)

    def _release(self) -> None:
        """Give the connection back to the pool (a driver may first restore what it set)."""
        self.connection.close()

    def claim(
        self,
        payments: Sequence[PaymentFacts],
        events: Sequence[StoredEvent],
        months: Sequence[MonthRef] | None,
    ) -> Claim:
        self.lock_rules()  # before any row lock; held already: nothing sent
        locked: dict[str, PaymentRecord] = {}
        if payments:
            result = multirow_insert(
                self.connection,
                ledger_payments,
                rows.placeholder_rows(payments, self.now),
                rows.PAYMENT_LOCK_CONFLICT,
                rows.PAYMENT_COLUMNS,
            )
            locked = {row["payment_id"]: rows.record_from_row(row) for row in result.mappings()}
        recorded: set[str] = set()
        if events:
            inserted = multirow_insert(
                self.connection,
                ledger_events,
                self._event_rows(events),
                rows.INBOX_CONFLICT,
                ("event_id",),
            )
            recorded = set(inserted.scalars())
        return Claim(locked, self.lock_months(claimed_months(months, locked)), recorded)

    def _event_rows(self, events: Sequence[StoredEvent]) -> list[rows.Row]:
        """Inbox rows in ``event_id`` (lock) order."""
        ordered = sorted(events, key=lambda e: e.facts.event_id)
        return [rows.event_row(event, self.now) for event in ordered]

    def stored_hashes(self, event_ids: Sequence[str]) -> dict[str, str]:
        e = ledger_events.c
        query = sa.select(e.event_id, e.content_hash).where(e.event_id.in_(sorted(event_ids)))
        return {row.event_id: row.content_hash for row in self.connection.execute(query)}

    def forget_events(self, event_ids: Sequence[str]) -> None:
        if event_ids:
            self.connection.execute(
                sa.delete(ledger_events).where(ledger_events.c.event_id.in_(sorted(event_ids)))
            )

    def forget_placeholders(self, payment_ids: Sequence[str]) -> None:
        if payment_ids:
            p = ledger_payments.c
            self.connection.execute(
                sa.delete(ledger_payments).where(
                    p.payment_id.in_(sorted(payment_ids)), p.event_count == 0
                )
            )

    def expiry_candidates(self, cutoff: datetime) -> list[str]:
        p = ledger_payments.c
        query = (
            sa.select(p.payment_id)
            .where(
                p.final == sa.false(),
                p.expired == sa.false(),
                p.provisional > 0,
                p.latest_authorized_at < cutoff,
            )
            .order_by(p.payment_id)
        )
        return list(self.connection.execute(query).scalars())

    def lock_payments(self, payment_ids: Sequence[str]) -> dict[str, PaymentRecord]:
        query = (
            sa.select(ledger_payments)
            .where(ledger_payments.c.payment_id.in_(sorted(payment_ids)))
            .order_by(ledger_payments.c.payment_id)
            .with_for_update()
        )
        result = self.connection.execute(query).mappings()
        return {row["payment_id"]: rows.record_from_row(row) for row in result}

    def lock_rules(self, *, exclusive: bool = False) -> int:
        if exclusive or self._rules_revision is None:
            self._rules_revision = self._take_rules_lock(exclusive=exclusive)
        return self._rules_revision

    def _take_rules_lock(self, *, exclusive: bool) -> int:
        """The lock, then the revision (a statement of its own: see ``rule_rows``)."""
        rule_rows.lock_rules(self.connection, exclusive=exclusive)
        return rule_rows.rules_revision(self.connection)

    def published_versions(self) -> list[rule_rows.PublishedVersion]:
        return rule_rows.published_versions(self.connection)

    def append_publication(self, publication: rule_rows.NewPublication) -> int:
        revision = rule_rows.append_publication(self.connection, publication, self.now)
        if self._rules_revision is not None:
            self._rules_revision = revision  # this unit sees its own publication
        return revision

    def anchored_between(self, start: datetime | None, end: datetime | None) -> list[str]:
        return correction_rows.anchored_between(self.connection, start, end)

    def months_between(self, first: MonthKey | None, last: MonthKey | None) -> list[MonthRef]:
        return correction_rows.months_between(self.connection, first, last)

    def lock_months(self, months: Sequence[MonthRef]) -> dict[MonthRef, MonthRecord]:
        if not months:
            return {}
        result = multirow_insert(
            self.connection,
            ledger_months,
            rows.month_rows(months, self.now),
            rows.MONTH_LOCK_CONFLICT,
            rows.MONTH_STATE_COLUMNS,
        )
        found = (rows.month_from_row(row) for row in result.mappings())
        return {record.ref: record for record in found}

    def _write_and_commit(self, writes: Writes) -> None:
        for table, values, on_conflict in write_statements(writes, self.now):
            multirow_insert(self.connection, table, values, on_conflict)
        self._finish()

    def _finish(self) -> None:
        self._transaction.commit()
        self._committed = True


class CoreLedgerStore(LedgerStore):
    """The store on an engine; drivers override ``unit_of_work`` only."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def unit_of_work(self) -> LedgerUnitOfWork:
        return CoreUnitOfWork(self.engine)

    def _read(self, query: sa.Executable) -> list[sa.RowMapping]:
        try:
            with self.engine.connect() as connection:
                return list(connection.execute(query).mappings())
        except Exception as exc:
            raise_classified(exc)
            raise

    def balances(
        self, account_id: str | None = None, *, after: str | None = None, limit: int | None = None
    ) -> list[Balance]:
        query = reads.balances_query(account_id, after, limit)
        return [reads.balance_from_row(row) for row in self._read(query)]

    def payment(self, payment_id: str) -> PaymentView | None:
        p = ledger_payments.c
        query = sa.select(ledger_payments).where(p.payment_id == payment_id, p.event_count > 0)
        found = self._read(query)
        return PaymentView.of(rows.record_from_row(found[0])) if found else None

    def history(
        self,
        account_id: str,
        *,
        after: int | None = None,
        before: int | None = None,
        limit: int | None = None,
    ) -> list[HistoryEntry]:
        found = self._read(reads.history_query(account_id, after, before, limit))
        entries = [reads.history_entry(row) for row in found]
        return entries[::-1] if before is not None else entries

    def published_versions(self) -> list[rule_rows.PublishedVersion]:
        try:
            with self.engine.connect() as connection:
                return rule_rows.published_versions(connection)
        except Exception as exc:
            raise_classified(exc)
            raise

    def account_story(self, account_id: str) -> story_rows.AccountStory:
        try:
            with self.engine.connect() as connection:
                _one_snapshot(connection)
                return story_rows.account_story(connection, account_id)
        except Exception as exc:
            raise_classified(exc)
            raise

    def month_story(self, account_id: str, month: MonthKey) -> story_rows.MonthStory:
        try:
            with self.engine.connect() as connection:
                _one_snapshot(connection)
                return story_rows.month_story(connection, account_id, month)
        except Exception as exc:
            raise_classified(exc)
            raise

    def account_ids(
        self,
        limit: int,
        *,
        after: str | None = None,
        first: str | None = None,
        last: str | None = None,
        max_entries: int | None = None,
    ) -> list[str]:
        try:
            with self.engine.connect() as connection:
                return reads.account_ids(connection, limit, after, first, last, max_entries)
        except Exception as exc:
            raise_classified(exc)
            raise

    def accounts_snapshot(self, account_ids: Sequence[str]) -> Snapshot:
        try:
            with self.engine.connect() as connection:
                _one_snapshot(connection)
                return reads.accounts_snapshot(connection, account_ids)
        except Exception as exc:
            raise_classified(exc)
            raise

    def orphan_events(self, limit: int, *, after: str | None = None) -> list[StoredEvent]:
        return [
            rows.event_from_row(row) for row in self._read(reads.orphan_events_query(after, limit))
        ]

    def close(self) -> None:
        self.engine.dispose()


def _one_snapshot(connection: sa.Connection) -> None:
    """Make the connection's next transaction one consistent read: REPEATABLE READ on
    PostgreSQL (READ COMMITTED would give each statement its own snapshot); a SQLite
    transaction is one already (``BEGIN IMMEDIATE`` holds the write lock)."""
    if connection.dialect.name == "postgresql":
        connection.execute(sa.text("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ"))
