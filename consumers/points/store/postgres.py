"""The ledger store on PostgreSQL (psycopg 3): the batch in two round trips, pipelined.

Every round trip costs a context switch on both sides, which on a busy host dwarfs the
statements themselves (measured: ~0.3 ms of server time per statement, 1.5–5 ms per round
trip under load). The statements of each step do not depend on each other's results, so
they are sent together: (BEGIN,) the rules lock + the rules revision + lock payments +
insert inbox rows (reading the hashes of ids stored already) + lock account-months
(``claim``; the months the locked payments count in are read by that statement itself,
so they cost no round trip), then entries + payment projections + account-months +
balances + COMMIT (``commit``: the unit of work deferred the writes for exactly this).
Their order on the server is the order sent, so the locking
order (rules, payments, inbox, account-months, balances, each sorted) holds, and the
revision, a statement of its own, reads after the rules lock is granted. Rows travel as one
JSON document per statement, an array of positional arrays read by ``jsonb_array_elements``
(``rows_select``), so each statement has one text whatever the batch size and the server
reuses its prepared plan.

Driver errors become SQLAlchemy's exceptions, which the unit of work classifies.
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from datetime import datetime
from functools import lru_cache
from operator import itemgetter
from typing import Any, Final, Self

import orjson
import psycopg
import sqlalchemy as sa

from consumers.db import DatabaseUnavailable
from consumers.points.earning import MonthRef
from consumers.points.facts import PaymentFacts
from consumers.points.store import rows, rule_rows
from consumers.points.store.core import CoreLedgerStore, CoreUnitOfWork, write_statements
from consumers.points.store.persistence import LedgerUnitOfWork, Writes
from consumers.points.store.records import Claim, PaymentRecord, StoredEvent
from consumers.points.tables import ledger_events, ledger_payments

#: Lock (creating at zero) the given account-months and those the given payments count
#: in, in (account, month) order — ``COLLATE "C"`` is code-point order, Python's ``sorted``,
#: so every path that locks months (``lock_months`` sends them sorted) agrees.
#: The payments are looked up one key at a time (``LATERAL … LIMIT 1``: the key is unique,
#: and the limit keeps the lookup from being flattened into a join): psycopg prepares the
#: statement, and the generic plan of ``payment_id = ANY(%s)`` was a sequential scan of
#: ``ledger_payments`` comparing every row with every id (5 ms a batch of 100 at 14,000
#: payments, growing with the table; measured).
_LOCK_MONTHS: Final = (
    "WITH wanted AS ("
    "SELECT r->>0 AS account_id, r->>1 AS month FROM jsonb_array_elements(%s::jsonb) AS r "
    "UNION SELECT p.account_id, p.month "
    "FROM jsonb_array_elements_text(%s::jsonb) AS locked(payment_id), "
    "LATERAL (SELECT account_id, month FROM ledger_payments "
    "WHERE payment_id = locked.payment_id LIMIT 1) AS p WHERE p.month IS NOT NULL) "
    "INSERT INTO ledger_months (" + ", ".join(f'"{c}"' for c in rows.MONTH_COLUMNS) + ") "
    'SELECT account_id, month, 0, 0, 0, 0, %s FROM wanted ORDER BY account_id COLLATE "C", '
    'month COLLATE "C" '
    + rows.MONTH_LOCK_CONFLICT
    + " RETURNING "
    + ", ".join(f'"{c}"' for c in rows.MONTH_STATE_COLUMNS)
).encode()


class PostgresUnitOfWork(CoreUnitOfWork):
    """``claim`` and ``commit`` through the raw psycopg connection in pipeline mode.

    The unit of work sends its own ``BEGIN``, as the first statement of its first round
    trip: psycopg, left to begin the transaction in pipeline mode, sends its ``BEGIN``
    followed by a sync and waits for the answer — one round trip more per batch (measured:
    4 socket reads per transaction instead of 2). So the driver connection runs in
    autocommit mode while the unit holds it (psycopg then begins nothing by itself, and
    ``commit``/``rollback`` still end whatever transaction the server has open); the
    ``BEGIN`` is queued at the head of the first pipeline, or sent on its own before the
    first statement that goes through SQLAlchemy (``connection``). The mode is restored
    before the connection goes back to the pool.
    """

    _begin_pending: bool = False

    def __enter__(self) -> Self:
        super().__enter__()
        raw = self.connection.connection.driver_connection
        assert isinstance(raw, psycopg.Connection)
        self.raw: psycopg.Connection[Any] = raw
        try:
            raw.autocommit = True
        except psycopg.Error as exc:
            # psycopg refuses while libpq reports the connection in a transaction or broken
            # (a server that went away while it sat in the pool): never hand it out again.
            self._connection.invalidate()
            self._connection.close()
            raise DatabaseUnavailable(f"pooled connection unusable: {exc}") from exc
        self._begin_pending = True
        return self

    @property
    def connection(self) -> sa.Connection:
        """The SQLAlchemy connection, inside the unit's transaction once it is used."""
        if self._begin_pending:
            self._begin_pending = False
            self.raw.execute(b"BEGIN")
        return self._connection

    @connection.setter
    def connection(self, connection: sa.Connection) -> None:
        self._connection = connection

    def _release(self) -> None:
        self._begin_pending = False
        try:
            self.raw.autocommit = False
        except Exception:  # still in a transaction (rollback failed) or broken: never reuse
            self._connection.invalidate()
        self._connection.close()

    def claim(
        self,
        payments: Sequence[PaymentFacts],
        events: Sequence[StoredEvent],
        months: Sequence[MonthRef] | None,
    ) -> Claim:
        month_lock: psycopg.Cursor[Any] | None = None
        inserted: psycopg.Cursor[Any] | None = None
        with self._pipeline():
            # The rules lock first, in the same round trip (unless this unit holds it).
            revision = None if self._rules_revision is not None else self._send_rules_lock()
            placeholders = rows.placeholder_rows(payments, self.now)
            locked = self._send(
                ledger_payments, placeholders, rows.PAYMENT_LOCK_CONFLICT, rows.PAYMENT_COLUMNS
            )
            inbox = self._event_rows(events)
            if inbox:
                inserted = self.raw.cursor()
                ids = [row["event_id"] for row in inbox]
                inserted.execute(_inbox_sql(tuple(inbox[0])), [_json(inbox), _json_list(ids)])
            if months is not None:
                month_lock = self.raw.cursor()
                month_lock.execute(
                    _LOCK_MONTHS,
                    [
                        _json(_month_keys(months)),
                        _json_list([row["payment_id"] for row in placeholders]),
                        self.now,
                    ],
                )
        if revision is not None:
            self._rules_revision = _revision(revision)
        records: dict[str, PaymentRecord] = {}
        for row in locked.fetchall() if locked else ():
            found = rows.record_from_row(dict(zip(rows.PAYMENT_COLUMNS, row, strict=True)))
            records[found.facts.payment_id] = found
        month_rows = month_lock.fetchall() if month_lock else []
        month_records = (rows.month_from_values(row) for row in month_rows)
        recorded: set[str] = set()
        stored: dict[str, str] = {}
        for event_id, content_hash in inserted.fetchall() if inserted else ():
            if content_hash is None:
                recorded.add(event_id)
            else:
                stored[event_id] = content_hash
        return Claim(records, {record.ref: record for record in month_records}, recorded, stored)

    def _take_rules_lock(self, *, exclusive: bool) -> int:
        """The lock and the revision in one round trip (with the BEGIN)."""
        with self._pipeline():
            revision = self._send_rules_lock(exclusive=exclusive)
        return _revision(revision)

    def _send_rules_lock(self, *, exclusive: bool = False) -> psycopg.Cursor[Any]:
        """Queue the rules lock, then the revision read (``rule_rows``); returns the
        cursor of the revision, to be read once the pipeline has run."""
        lock = rule_rows.PSYCOPG_LOCK_EXCLUSIVE if exclusive else rule_rows.PSYCOPG_LOCK_SHARED
        self.raw.cursor().execute(lock, [rule_rows.RULES_LOCK_KEY])
        revision = self.raw.cursor()
        revision.execute(rule_rows.PSYCOPG_REVISION)
        return revision

    def _write_and_commit(self, writes: Writes) -> None:
        """The writes and the COMMIT in one round trip.

        ``COMMIT`` is sent as a statement: psycopg's ``commit()`` in pipeline mode syncs
        and waits, and leaving the pipeline syncs again — a round trip more. The
        SQLAlchemy transaction then commits a connection that is already idle, which
        psycopg treats as a no-op; a failed COMMIT raises here and the unit of work rolls
        back as for any other error.
        """
        with self._pipeline():
            for table, values, on_conflict in write_statements(writes, self.now):
                self._send(table, values, on_conflict)
            self.raw.cursor().execute(b"COMMIT")
        self._finish()

    @contextmanager
    def _pipeline(self) -> Iterator[None]:
        """Send everything inside at once; driver errors become SQLAlchemy's."""
        try:
            with self.raw.pipeline():
                if self._begin_pending:
                    self._begin_pending = False
                    self.raw.cursor().execute(b"BEGIN")
                yield
        except psycopg.Error as exc:
            raise sa.exc.DBAPIError.instance(
                "pipelined ledger statements",
                None,
                exc,
                psycopg.Error,
                connection_invalidated=self.raw.closed,
            ) from exc

    def _send(
        self,
        table: sa.Table,
        values: Sequence[rows.Row],
        on_conflict: str = "",
        returning: tuple[str, ...] = (),
    ) -> psycopg.Cursor[Any] | None:
        if not values:
            return None
        cursor = self.raw.cursor()
        cursor.execute(
            _insert_sql(table, tuple(values[0]), on_conflict, returning), [_json(values)]
        )
        return cursor


def _month_keys(months: Sequence[MonthRef]) -> list[rows.Row]:
    """The account-months to lock, as the keys alone (the statement reads nothing else)."""
    return [{"account_id": account, "month": month} for account, month in set(months)]


def _revision(cursor: psycopg.Cursor[Any]) -> int:
    """The revision a pipelined read returned (0: nothing published)."""
    row = cursor.fetchone()
    return int(row[0] or 0) if row is not None else 0


def _json(values: Sequence[rows.Row]) -> str:
    """The rows as one JSON array of positional arrays, each row's values in the order of
    the first row's keys (the columns ``rows_select`` reads them as; a row without one of
    them raises ``KeyError`` here rather than sending a shifted row).

    orjson (instants as ISO 8601, as ``isoformat`` writes them), at a tenth of
    ``json.dumps``'s CPU — it was a tenth of a batch's client time at batch 10. What orjson
    refuses (a lone surrogate in a string, an integer past 64 bits) goes through the
    standard encoder, so the database refuses it as before (``DataRefused``: the batch
    falls back to one event per transaction)."""
    keys = tuple(values[0]) if values else ()
    values_of = itemgetter(*keys) if len(keys) > 1 else lambda row: (row[keys[0]],)
    return _dumps([values_of(row) for row in values])


def _json_list(values: Sequence[str]) -> str:
    """Keys (event or payment ids) as one JSON array, read by ``jsonb_array_elements_text``:
    psycopg dumps a ``text[]`` parameter element by element in Python, with a regular
    expression per element to decide its quoting (0.14 s of client time per 30,000 events
    at batch 100, profiled); orjson writes the array in C."""
    return _dumps(values)


def _dumps(document: Any) -> str:
    """orjson, or the standard encoder for what orjson refuses (see ``_json``)."""
    try:
        return orjson.dumps(document).decode("utf-8")
    except orjson.JSONEncodeError:
        return json.dumps(document, default=_json_default, separators=(",", ":"))


def _json_default(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.isoformat()
    raise TypeError(f"cannot send {type(value).__name__} to the ledger tables")


@lru_cache(maxsize=4)
def _inbox_sql(keys: tuple[str, ...]) -> bytes:
    """Insert the inbox rows and, in the same statement, read the content hash of the ids
    stored already: ``(event_id, NULL)`` for a row this unit inserted, ``(event_id,
    content_hash)`` for one found — a redelivered event costs no round trip of its own
    (it cost one per batch holding a duplicate: 2.87 → 2.58 ms per batch of 10 with one
    event in eleven a redelivery, alternating runs). The read sees what was committed when the
    statement began; an id that a concurrent unit inserted and committed while this
    statement waited for it is neither inserted nor seen, and the ledger reads its hash
    afterwards (``stored_hashes``). Only the ids not inserted are looked up, one key at a
    time (``LATERAL … LIMIT 1``, as in ``_LOCK_MONTHS``: the generic plan of a semi-join
    was a sequential scan of the inbox), from the ids sent beside the rows (a CTE of the
    rows themselves, read twice, was materialised: +12 % server time of the statement;
    this form +4 %, per-statement durations of 3 runs at batch 100 without duplicates)."""
    names = ", ".join(f'"{key}"' for key in keys)
    return (
        f'WITH inserted AS (INSERT INTO "ledger_events" ({names}) '
        f"{rows_select(ledger_events, keys)} "
        f'WHERE true {rows.INBOX_CONFLICT} RETURNING "event_id") '
        "SELECT event_id, NULL::text FROM inserted UNION ALL "
        "SELECT found.event_id, found.content_hash FROM "
        "(SELECT jsonb_array_elements_text(%s::jsonb) EXCEPT SELECT event_id FROM inserted) "
        "AS known(event_id), "
        "LATERAL (SELECT event_id, content_hash FROM ledger_events "
        "WHERE event_id = known.event_id LIMIT 1) AS found"
    ).encode()


@lru_cache(maxsize=64)
def _insert_sql(
    table: sa.Table, keys: tuple[str, ...], on_conflict: str, returning: tuple[str, ...]
) -> bytes:
    """``INSERT … SELECT …`` of the rows of one JSON parameter (``rows_select``).

    The rows travel as one JSON parameter: the statement text is the same for every batch
    size (psycopg caches its conversion, the server reuses one prepared plan) and the
    client does one C-speed encode instead of adapting every value (per-value adaptation
    was half of the ledger's CPU). ``WHERE true`` stops ``ON CONFLICT`` being parsed as a
    join condition.
    """
    names = ", ".join(f'"{key}"' for key in keys)
    sql = (
        f'INSERT INTO "{table.name}" ({names}) {rows_select(table, keys)} WHERE true {on_conflict}'
    )
    if returning:
        sql += " RETURNING " + ", ".join(f'"{name}"' for name in returning)
    return sql.encode()


def rows_select(table: sa.Table, keys: tuple[str, ...]) -> str:
    """``SELECT`` the rows of a JSON array of positional arrays (``_json``) as ``table``'s
    columns ``keys``, each element cast to its column's type.

    Positional arrays read by ``jsonb_array_elements``, not objects through
    ``json_populate_recordset``, which matched every object's keys to the row type's
    columns: 100 rows into a copy of the table without indexes (rolled back, 7 × 100
    alternating) cost 2.11 ms (1.25–2.38) as objects against 1.77 ms (1.11–1.80) for the
    inbox, 2.23 ms (1.80–2.30) against 1.88 ms (1.19–2.05) for payments. ``jsonb``, not
    ``json``: ``->>`` on a ``json`` array rescans it from its first element, which made
    inbox rows (with their bodies) four times dearer than as objects. Strings are cast to
    ``text``, not to the column's ``varchar(n)``: an explicit cast would cut an over-long
    value silently, the insert's assignment refuses it (``DataRefused``), as before.
    """
    casts = ", ".join(
        f'(r->>{index})::{_base_type(table.c[key])} AS "{key}"' for index, key in enumerate(keys)
    )
    return f"SELECT {casts} FROM jsonb_array_elements(%s::jsonb) AS r"


def _base_type(column: sa.Column[Any]) -> str:
    """The PostgreSQL type a JSON element's text is cast to for ``column``."""
    kind = column.type
    if isinstance(kind, sa.Boolean):
        return "boolean"
    if isinstance(kind, sa.BigInteger):
        return "bigint"
    if isinstance(kind, sa.Integer):
        return "integer"
    if isinstance(kind, sa.DateTime):
        return "timestamptz" if kind.timezone else "timestamp"
    if isinstance(kind, sa.String):  # Text too
        return "text"
    raise TypeError(f"no JSON cast for {column.table.name}.{column.name} ({kind})")


class PostgresLedgerStore(CoreLedgerStore):
    """The ledger store on PostgreSQL through psycopg 3."""

    def unit_of_work(self) -> LedgerUnitOfWork:
        return PostgresUnitOfWork(self.engine)
