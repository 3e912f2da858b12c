"""The operator audit in the ledger database (migration 0003).

``operator_actions``: one row per state-changing operator command — who (the AWS caller
identity, else the OS user), when, the arguments, the counts, the ``--reason`` and how it
ended. Its id numbers the operation (``points dlq status ID`` for a redrive).
``redrive_moves``: one row per message a redrive sent back to its source queue, linking
the DLQ copy, the new message in the source queue and the event, so the fate of each can
be followed in the failure journal and the ledger.
"""

from __future__ import annotations

import sqlalchemy as sa

from consumers.db import metadata

_ID = sa.BigInteger().with_variant(sa.Integer(), "sqlite")

operator_actions = sa.Table(
    "operator_actions",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("command", sa.String(80), nullable=False),
    sa.Column("actor", sa.String(512), nullable=False),
    sa.Column("os_user", sa.String(128), nullable=False),
    sa.Column("started_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("outcome", sa.String(20), nullable=False),
    sa.Column("reason", sa.Text()),
    sa.Column("arguments", sa.Text(), nullable=False),
    sa.Column("counts", sa.Text(), nullable=False),
)

redrive_moves = sa.Table(
    "redrive_moves",
    metadata,
    sa.Column("id", _ID, primary_key=True),
    sa.Column("action_id", _ID, sa.ForeignKey("operator_actions.id"), nullable=False, index=True),
    sa.Column("queue", sa.String(80), nullable=False),
    sa.Column("dlq_message_id", sa.String(128), nullable=False),
    sa.Column("message_id", sa.String(128), nullable=False, index=True),
    sa.Column("original_message_id", sa.String(128)),
    sa.Column("event_id", sa.String(128)),
    sa.Column("moved_at", sa.DateTime(timezone=True), nullable=False),
)
