"""The rule tables through SQLAlchemy Core: versions, publications, the revision, the lock.

Every driver uses these (a publication is rare and a revision read is one statement, so
there is no hot path to hand-tune). The *rules lock* orders batches and publications on
PostgreSQL: a transaction-level advisory lock, shared for whatever applies rules (batches,
expiry), exclusive for a publication. Whoever takes it shared and then reads the revision
sees every publication that committed before, and a publication waits for the batches
that computed with the old rules (DESIGN §4.6: no event is applied under a rule set older
than one committed before it). SQLite needs none: its write transactions are exclusive
(``BEGIN IMMEDIATE``), so a batch and a publication never overlap at all.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

import sqlalchemy as sa

from consumers.points.amounts import as_utc
from consumers.points.rule_tables import ledger_rule_publications, ledger_rule_versions
from consumers.points.rules import (
    RuleVersion,
    canonical_version_json,
    parse_rules,
    version_digest,
)

#: The advisory lock key of the rules lock (any fixed 64-bit number; "points rules").
RULES_LOCK_KEY: Final = 0x706F696E7473_0052
_LOCK_SHARED: Final = sa.text("SELECT pg_advisory_xact_lock_shared(:key)")
_LOCK_EXCLUSIVE: Final = sa.text("SELECT pg_advisory_xact_lock(:key)")
#: The same lock and the revision for a driver that sends them itself (psycopg, which
#: pipelines them with the statements after them). The revision is a statement of its own
#: after the lock: under READ COMMITTED its snapshot is taken once the lock is granted, so
#: it sees every publication that committed before (one statement would read with a
#: snapshot taken before waiting for the lock).
PSYCOPG_LOCK_SHARED: Final = b"SELECT pg_advisory_xact_lock_shared(%s)"
PSYCOPG_LOCK_EXCLUSIVE: Final = b"SELECT pg_advisory_xact_lock(%s)"
PSYCOPG_REVISION: Final = b"SELECT max(id) FROM ledger_rule_publications"


@dataclass(frozen=True, slots=True)
class NewPublication:
    """Versions to append in one publication, and who appends them why."""

    versions: tuple[RuleVersion, ...]
    actor: str
    reason: str
    backdated: bool


@dataclass(frozen=True, slots=True)
class PublishedVersion:
    """A version as published: its digest and the publication that added it."""

    version: RuleVersion
    digest: str
    publication_id: int
    published_at: datetime
    actor: str
    reason: str
    backdated: bool


def lock_rules(connection: sa.Connection, *, exclusive: bool) -> None:
    """Take the rules lock until the transaction ends (PostgreSQL; a no-op elsewhere)."""
    if connection.dialect.name != "postgresql":
        return
    statement = _LOCK_EXCLUSIVE if exclusive else _LOCK_SHARED
    connection.execute(statement, {"key": RULES_LOCK_KEY})


def rules_revision(connection: sa.Connection) -> int:
    """The id of the latest publication, 0 before the first (a primary-key lookup)."""
    query = sa.select(sa.func.max(ledger_rule_publications.c.id))
    return int(connection.execute(query).scalar() or 0)


def published_versions(connection: sa.Connection) -> list[PublishedVersion]:
    """Every published version, in publication order."""
    v, p = ledger_rule_versions.c, ledger_rule_publications.c
    query = (
        sa.select(v.document, v.digest, p.id, p.published_at, p.actor, p.reason, p.backdated)
        .select_from(ledger_rule_versions.join(ledger_rule_publications))
        .order_by(v.id)
    )
    return [
        PublishedVersion(
            version=version_from_json(row.document),
            digest=row.digest,
            publication_id=row.id,
            published_at=as_utc(row.published_at),
            actor=row.actor,
            reason=row.reason,
            backdated=bool(row.backdated),
        )
        for row in connection.execute(query)
    ]


def append_publication(
    connection: sa.Connection, publication: NewPublication, now: datetime
) -> int:
    """Append a publication and its versions; returns its id (the new revision)."""
    result = connection.execute(
        ledger_rule_publications.insert().values(
            published_at=now,
            actor=publication.actor[:512],
            reason=publication.reason,
            backdated=publication.backdated,
        )
    )
    key = result.inserted_primary_key
    assert key is not None
    publication_id = int(key[0])
    if publication.versions:
        connection.execute(
            ledger_rule_versions.insert(), _version_rows(publication.versions, publication_id)
        )
    return publication_id


def _version_rows(versions: Sequence[RuleVersion], publication_id: int) -> list[dict[str, object]]:
    return [
        {
            # UTC: SQLite stores a timestamp's wall-clock fields and drops the offset.
            "effective_from": None
            if version.effective_from is None
            else as_utc(version.effective_from),
            "digest": version_digest(version),
            "document": canonical_version_json(version),
            "publication_id": publication_id,
        }
        for version in versions
    ]


def version_from_json(document: str) -> RuleVersion:
    """A version back from its canonical JSON (the stored form is a valid rules file)."""
    return parse_rules(f'{{"versions": [{document}]}}').versions[0]
