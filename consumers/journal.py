"""The failure journal: why each dead-lettered (or retried) message failed.

SQS's own redrive policy moves a message to the DLQ without saying why; the journal lets
``points dlq show`` explain those too, by message id or event id. Entries are append-only.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from consumers.db import metadata

MAX_ERROR_MESSAGE: Final = 1000

failures = sa.Table(
    "failures",
    metadata,
    sa.Column("id", sa.BigInteger().with_variant(sa.Integer(), "sqlite"), primary_key=True),
    sa.Column("queue", sa.String(80), nullable=False),
    sa.Column("message_id", sa.String(128), nullable=False, index=True),
    sa.Column("event_id", sa.String(128), index=True),
    sa.Column("event_type", sa.String(40)),
    sa.Column("payment_id", sa.String(128)),
    sa.Column("error_type", sa.String(80), nullable=False),
    sa.Column("error_message", sa.String(MAX_ERROR_MESSAGE), nullable=False),
    sa.Column("permanent", sa.Boolean(), nullable=False),
    sa.Column("attempts", sa.Integer(), nullable=False),
    sa.Column("failed_at", sa.DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True)
class Failure:
    queue: str
    message_id: str
    error_type: str
    error_message: str
    permanent: bool
    attempts: int
    event_id: str | None = None
    event_type: str | None = None
    payment_id: str | None = None
    failed_at: datetime | None = None


def _text(value: str | None) -> str | None:
    """PostgreSQL refuses NUL in text; one hostile id must not lose the batch's entries."""
    return None if value is None else value.replace("\x00", "\ufffd")


def record_failures(engine: Engine, entries: list[Failure]) -> None:
    if not entries:
        return
    now = datetime.now(UTC)
    rows = [
        {
            "queue": f.queue,
            "message_id": f.message_id,
            "event_id": _text(f.event_id),
            "event_type": f.event_type,
            "payment_id": _text(f.payment_id),
            "error_type": f.error_type,
            "error_message": _text(f.error_message[:MAX_ERROR_MESSAGE]),
            "permanent": f.permanent,
            "attempts": f.attempts,
            "failed_at": f.failed_at or now,
        }
        for f in entries
    ]
    with engine.begin() as connection:
        connection.execute(failures.insert(), rows)


def latest_failures(
    engine: Engine, *, message_ids: list[str], event_ids: list[str]
) -> dict[str, Failure]:
    """The newest journal entry per message id and per event id (keys of both kinds)."""
    if not message_ids and not event_ids:
        return {}
    query = (
        sa.select(failures)
        .where(sa.or_(failures.c.message_id.in_(message_ids), failures.c.event_id.in_(event_ids)))
        .order_by(failures.c.id)
    )
    found: dict[str, Failure] = {}
    with engine.connect() as connection:
        for row in connection.execute(query).mappings():
            failure = Failure(
                queue=row["queue"],
                message_id=row["message_id"],
                error_type=row["error_type"],
                error_message=row["error_message"],
                permanent=row["permanent"],
                attempts=row["attempts"],
                event_id=row["event_id"],
                event_type=row["event_type"],
                payment_id=row["payment_id"],
                failed_at=row["failed_at"],
            )
            found[row["message_id"]] = failure
            if row["event_id"]:
                found[row["event_id"]] = failure
    return found
