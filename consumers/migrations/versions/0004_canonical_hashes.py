"""Canonical hashes name the event, not its spelling: rewrite stored bodies and hashes.

Contract v1's first canonical form kept ``occurred_at`` as the producer wrote it, so the
same event re-sent as ``…01:00:00Z`` instead of ``…10:00:00+09:00`` hashed differently and
was refused as an idempotency conflict. The canonical form now writes instants in UTC with
six fraction digits (``schemas.instants``). Every stored ``ledger_events`` row gets its body
rewritten in that form and ``content_hash`` recomputed from it, so a redelivery of an event
applied before this release is still recognised as a duplicate.

The transformation is written out here rather than imported, so that this migration keeps
meaning what it meant when later code changes. Rows are read in keyset pages, and only rows
whose body changes are written.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-30
"""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision = "0003"
branch_labels = None
depends_on = None

PAGE = 1000

_events = sa.table(
    "ledger_events",
    sa.column("event_id", sa.String),
    sa.column("body", sa.Text),
    sa.column("content_hash", sa.String),
)


def canonical_body(body: str) -> str:
    """A first-form canonical body in the second form: the instant in UTC, microseconds."""
    document = json.loads(body)
    instant = datetime.fromisoformat(document["occurred_at"]).astimezone(UTC)
    document["occurred_at"] = instant.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def upgrade() -> None:
    connection = op.get_bind()
    after = ""
    while True:
        page = connection.execute(
            sa.select(_events.c.event_id, _events.c.body)
            .where(_events.c.event_id > after)
            .order_by(_events.c.event_id)
            .limit(PAGE)
        ).all()
        if not page:
            return
        rewritten = (_rewritten(row.event_id, row.body) for row in page)
        changed = [row for row in rewritten if row is not None]
        if changed:
            connection.execute(
                _events.update()
                .where(_events.c.event_id == sa.bindparam("old_id"))
                .values(body=sa.bindparam("new_body"), content_hash=sa.bindparam("new_hash")),
                changed,
            )
        after = page[-1].event_id


def _rewritten(event_id: str, body: str) -> dict[str, str] | None:
    new = canonical_body(body)
    if new == body:
        return None
    digest = hashlib.sha256(new.encode("utf-8")).hexdigest()
    return {"old_id": event_id, "new_body": new, "new_hash": digest}


def downgrade() -> None:
    """Nothing to undo: the producers' original spellings are not kept, and the new bodies
    are valid first-form input. Code older than this revision would treat a redelivery
    spelled differently as a conflict again, as it always did."""
