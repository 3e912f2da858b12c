"""The transactional outbox: events written in the producing service's own transaction.

A payment service cannot publish to SNS inside its database transaction (the publish may
succeed and the transaction roll back, or the reverse), and must never fail a payment
because SNS is down. So it inserts the event into this table with the same connection or
session that writes the payment; the commit makes both durable or neither. The relay
(``producers.relay``) publishes committed rows later and marks them sent.

The table hangs off its own ``MetaData`` (``outbox_metadata``) so that a payment service
adds it to its database with its own migrations, independently of the consumers' schema.
``create_outbox_table`` is for the demo and tests. The DDL on PostgreSQL is::

    CREATE TABLE points_outbox (
        id BIGSERIAL NOT NULL,
        event_id VARCHAR(128) NOT NULL,
        event_type VARCHAR(32) NOT NULL,
        payment_id VARCHAR(128),
        body TEXT NOT NULL,
        recorded_at TIMESTAMP WITH TIME ZONE NOT NULL,
        sent_at TIMESTAMP WITH TIME ZONE,
        attempts INTEGER DEFAULT 0 NOT NULL,
        last_error TEXT,
        CONSTRAINT pk_points_outbox PRIMARY KEY (id),
        CONSTRAINT uq_points_outbox_event_id UNIQUE (event_id)
    );
    CREATE INDEX ix_points_outbox_pending ON points_outbox (id) WHERE sent_at IS NULL;
    CREATE INDEX ix_points_outbox_sent ON points_outbox (sent_at) WHERE sent_at IS NOT NULL;

(``outbox_ddl("postgresql")`` or ``points outbox ddl`` prints it.) ``payment_id`` is empty
for points grants, which belong to no payment; a table created before grants existed needs
``ALTER TABLE points_outbox ALTER COLUMN payment_id DROP NOT NULL`` to record them.
Services on asyncio record with ``await session.run_sync(record, event)`` on their
``AsyncSession``. Rows are published in ``id`` order; ``body`` is the event's canonical JSON,
exactly what goes on the wire.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any, Final

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.orm import Session
from sqlalchemy.schema import CreateIndex, CreateTable

from schemas.canonical import canonical_json
from schemas.events import Event, payment_of

TABLE_NAME: Final = "points_outbox"

outbox_metadata = sa.MetaData()

outbox_table = sa.Table(
    TABLE_NAME,
    outbox_metadata,
    sa.Column(
        "id",
        sa.BigInteger().with_variant(sa.Integer(), "sqlite"),
        primary_key=True,
        autoincrement=True,
    ),
    sa.Column("event_id", sa.String(128), nullable=False),
    sa.Column("event_type", sa.String(32), nullable=False),
    sa.Column("payment_id", sa.String(128), nullable=True),  # None for points grants
    sa.Column("body", sa.Text(), nullable=False),
    sa.Column("recorded_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("sent_at", sa.DateTime(timezone=True), nullable=True),
    sa.Column("attempts", sa.Integer(), nullable=False, server_default=sa.text("0")),
    sa.Column("last_error", sa.Text(), nullable=True),
    sa.PrimaryKeyConstraint("id", name="pk_points_outbox"),
    sa.UniqueConstraint("event_id", name="uq_points_outbox_event_id"),
    sa.Index(
        "ix_points_outbox_pending",
        "id",
        postgresql_where=sa.text("sent_at IS NULL"),
        sqlite_where=sa.text("sent_at IS NULL"),
    ),
    sa.Index(
        "ix_points_outbox_sent",
        "sent_at",
        postgresql_where=sa.text("sent_at IS NOT NULL"),
        sqlite_where=sa.text("sent_at IS NOT NULL"),
    ),
)


def utcnow() -> datetime:
    return datetime.now(UTC)


def record(target: Session | Connection, event: Event, *, now: datetime | None = None) -> bool:
    """Add ``event`` to the outbox inside the caller's open transaction; never commits.

    Returns False when an event with the same ``event_id`` is already in the outbox: a
    re-sent brand record then leaves the first copy in place instead of failing the
    payment's transaction with a unique violation (PostgreSQL and SQLite; other dialects
    raise ``IntegrityError`` as usual).
    """
    payment = payment_of(event)
    values = {
        "event_id": event.event_id,
        "event_type": event.event_type.value,
        "payment_id": None if payment is None else payment.payment_id,
        "body": canonical_json(event),
        "recorded_at": now or utcnow(),
    }
    result: Any = target.execute(_insert_for(_dialect_name(target)), values)
    return bool(result.rowcount == 1)


def create_outbox_table(bind: Engine | Connection) -> None:
    """Create the table and its indexes if missing (demo and tests; services migrate)."""
    outbox_metadata.create_all(bind)


def outbox_ddl(dialect_name: str = "postgresql") -> str:
    """The CREATE statements for ``dialect_name``, for a payment service's migration."""
    dialect: Any = {"postgresql": postgresql.dialect, "sqlite": sqlite.dialect}[dialect_name]()
    statements: list[Any] = [
        CreateTable(outbox_table),
        *(CreateIndex(i) for i in sorted(outbox_table.indexes, key=_index_name)),
    ]
    return ";\n".join(str(s.compile(dialect=dialect)).strip() for s in statements) + ";\n"


def _index_name(index: sa.Index) -> str:
    return str(index.name)


def _dialect_name(target: Session | Connection) -> str:
    if isinstance(target, Session):
        return target.get_bind().dialect.name
    return target.dialect.name


def _insert_for(dialect_name: str) -> sa.Executable:
    """The INSERT of ``record``; ``ON CONFLICT DO NOTHING`` where the dialect has it.

    Written as text on purpose: SQLAlchemy does not cache the compiled form of its
    dialect-specific ``insert().on_conflict_do_nothing()`` and recompiled it on every call,
    which cost about half of ``record()``'s time (see benchmarks/outbox.py).
    """
    if dialect_name in {"postgresql", "sqlite"}:
        return _UPSERT_SQL
    return outbox_table.insert()


_UPSERT_SQL: Final = sa.text(
    f"INSERT INTO {TABLE_NAME} (event_id, event_type, payment_id, body, recorded_at) "
    "VALUES (:event_id, :event_type, :payment_id, :body, :recorded_at) "
    "ON CONFLICT (event_id) DO NOTHING"
).bindparams(sa.bindparam("recorded_at", type_=sa.DateTime(timezone=True)))


def outbox_status(conn: Connection, now: datetime | None = None) -> dict[str, Any]:
    """What operators watch: backlog, rows that keep failing, age of the oldest pending row."""
    t = outbox_table
    pending = t.c.sent_at.is_(None)
    row = conn.execute(
        sa.select(
            sa.func.count().filter(pending),
            sa.func.count().filter(pending, t.c.attempts > 0),
            sa.func.count().filter(t.c.sent_at.is_not(None)),
            sa.func.min(t.c.recorded_at).filter(pending),
        )
    ).one()
    last_error = conn.execute(
        sa.select(t.c.last_error).where(pending, t.c.last_error.is_not(None)).order_by(t.c.id)
    ).first()
    return {
        "pending": row[0],
        "failing": row[1],
        "sent": row[2],
        "oldest_pending_age_seconds": _age_seconds(row[3], now or utcnow()),
        "last_error": last_error[0] if last_error else None,
    }


def has_outbox_table(bind: Engine | Connection) -> bool:
    return sa.inspect(bind).has_table(TABLE_NAME)


def _age_seconds(recorded_at: datetime | None, now: datetime) -> float | None:
    if recorded_at is None:
        return None
    if recorded_at.tzinfo is None:  # SQLite returns naive values; they were written in UTC
        recorded_at = recorded_at.replace(tzinfo=UTC)
    return round((now - recorded_at).total_seconds(), 3)
