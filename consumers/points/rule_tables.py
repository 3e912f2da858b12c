"""Rule tables (migration 0006): the published rule versions, append-only (DESIGN §4.6).

- ``ledger_rule_publications``: one row per ``points rules publish`` (or adoption of
  ``POINTS_RULES_FILE``) that added at least one version: who, why, when, and whether it
  was backdated. Its largest ``id`` is the *rules revision*: a worker re-reads the versions
  only when it moved (one primary-key lookup per batch).
- ``ledger_rule_versions``: every published version in its canonical JSON
  (``consumers.points.rules.canonical_version_json``) with its digest and publication.
  At most one version per ``effective_from`` (the unique index; an open-ended version has
  none, and ``plan_publication`` admits only one). Never updated or deleted.
"""

from __future__ import annotations

import sqlalchemy as sa

from consumers.db import metadata
from consumers.points.tables import ID_TYPE, ledger_months, ledger_payments

ledger_rule_publications = sa.Table(
    "ledger_rule_publications",
    metadata,
    sa.Column("id", ID_TYPE, primary_key=True),
    sa.Column("published_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("actor", sa.String(512), nullable=False),
    sa.Column("reason", sa.Text(), nullable=False),
    sa.Column("backdated", sa.Boolean(), nullable=False),
)

ledger_rule_versions = sa.Table(
    "ledger_rule_versions",
    metadata,
    sa.Column("id", ID_TYPE, primary_key=True),
    sa.Column("effective_from", sa.DateTime(timezone=True), unique=True),
    sa.Column("digest", sa.String(64), nullable=False),
    sa.Column("document", sa.Text(), nullable=False),
    sa.Column(
        "publication_id",
        ID_TYPE,
        sa.ForeignKey("ledger_rule_publications.id"),
        nullable=False,
        index=True,
    ),
)

# What a backdated publication reads (``store.correction_rows``): payments by anchor
# instant, account-months by month.
sa.Index("ix_ledger_payments_anchor_occurred_at", ledger_payments.c.anchor_occurred_at)
sa.Index("ix_ledger_months_month", ledger_months.c.month)
