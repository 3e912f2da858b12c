"""Migration 0004 on rows written by the first canonical form (SQLite and PostgreSQL): stored
bodies and hashes are rewritten, and redeliveries of those old events stay duplicates."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import pytest
import sqlalchemy as sa

from consumers.db import make_engine, upgrade
from infra.settings import Config
from schemas.canonical import canonical_json, content_hash
from schemas.envelope import decode_body
from tests.support.pipeline import deploy, drain, publish_raw, queue_bodies

_MERCHANT = '"merchant": {"name": "LAWSON", "mcc": "5411", "country": "JP"}'
_COMMON = '"brand": "visa", "account_id": "acct-old", "amount": 1200, "currency": "JPY"'

#: (what the producer sent, canonical body and content hash the pre-0004 code stored), as
#: printed by that code (git main at 9acfb99) for these inputs.
OLD_ROWS = [
    (
        '{"schema_version": 1, "event_type": "authorization", "payment_id": "pay-old", '
        f'{_COMMON}, {_MERCHANT}, "approved": true, "event_id": "old-0", '
        '"occurred_at": "2026-11-21T10:00:00+09:00"}',
        '{"account_id":"acct-old","amount":1200,"approved":true,"brand":"visa","currency":"JPY",'
        '"event_id":"old-0","event_type":"authorization","merchant":{"country":"JP","mcc":"5411",'
        '"name":"LAWSON"},"occurred_at":"2026-11-21T10:00:00+09:00","payment_id":"pay-old",'
        '"schema_version":1}',
        "818c54ac45147eef4ce7c4efeb4ccdc3684b67079c549326d66adb5b3a4579dd",
    ),
    (
        '{"schema_version": 1, "event_type": "clearing", "payment_id": "pay-old", '
        f'{_COMMON}, {_MERCHANT}, "event_id": "old-1", '
        '"occurred_at": "2026-11-22T01:00:00Z", "final": true}',
        '{"account_id":"acct-old","amount":1200,"brand":"visa","currency":"JPY","event_id":"old-1",'
        '"event_type":"clearing","final":true,"merchant":{"country":"JP","mcc":"5411",'
        '"name":"LAWSON"},"occurred_at":"2026-11-22T01:00:00Z","payment_id":"pay-old",'
        '"schema_version":1}',
        "57d6d5c614ec90ebcedae40c2a682a22aaf06fc7afbe0d692c0ef722151effcf",
    ),
    (
        '{"schema_version": 1, "event_type": "authorization_reversal", "payment_id": "pay-old", '
        f'{_COMMON}, {_MERCHANT}, "event_id": "old-2", '
        '"occurred_at": "2026-11-21T10:30:00.250+09:00"}',
        '{"account_id":"acct-old","amount":1200,"brand":"visa","currency":"JPY","event_id":"old-2",'
        '"event_type":"authorization_reversal","merchant":{"country":"JP","mcc":"5411",'
        '"name":"LAWSON"},"occurred_at":"2026-11-21T10:30:00.250000+09:00",'
        '"payment_id":"pay-old","schema_version":1}',
        "2e0dfe5f877a0c30ecd18cfe27bbf6e1ec19c07495583edb1d7ec9c0b49b5c2c",
    ),
    (
        '{"schema_version": 1, "event_type": "refund", "payment_id": "pay-old", '
        f'{_COMMON}, {_MERCHANT}, "event_id": "old-3", '
        '"occurred_at": "2026-11-23T08:15:30.123456-05:00"}',
        '{"account_id":"acct-old","amount":1200,"brand":"visa","currency":"JPY","event_id":"old-3",'
        '"event_type":"refund","merchant":{"country":"JP","mcc":"5411","name":"LAWSON"},'
        '"occurred_at":"2026-11-23T08:15:30.123456-05:00","payment_id":"pay-old",'
        '"schema_version":1}',
        "944fe2e40493788a9ad98be5633c91ac1a5ce2e8fb46ccb41380cca699218287",
    ),
]


@pytest.fixture(params=["sqlite", "postgres"])
def database_url(request: pytest.FixtureRequest) -> str:
    name = "sqlite_url" if request.param == "sqlite" else "postgres_url"
    url: str = request.getfixturevalue(name)
    return url


def _ledger_events() -> sa.TableClause:
    names = ["event_id", "content_hash", "payment_id", "account_id", "brand", "event_type"]
    names += ["occurred_at", "amount", "mcc", "approved", "final", "body", "received_at"]
    return sa.table("ledger_events", *(sa.column(name) for name in names))


def _old_row(stored_body: str, stored_hash: str) -> dict[str, object]:
    document = json.loads(stored_body)
    return {
        "event_id": document["event_id"],
        "content_hash": stored_hash,
        "payment_id": document["payment_id"],
        "account_id": document["account_id"],
        "brand": document["brand"],
        "event_type": document["event_type"],
        "occurred_at": datetime.fromisoformat(document["occurred_at"]),
        "amount": document["amount"],
        "mcc": document["merchant"]["mcc"],
        "approved": document.get("approved", True),
        "final": document.get("final", False),
        "body": stored_body,
        "received_at": datetime(2026, 11, 23, tzinfo=UTC),
    }


def _write_old_rows(database_url: str, rows: list[dict[str, object]]) -> sa.Engine:
    engine = make_engine(database_url)
    upgrade(engine, "0002")
    with engine.begin() as connection:
        connection.execute(sa.insert(_ledger_events()), rows)
    return engine


def _stored(engine: sa.Engine) -> dict[str, tuple[str, str]]:
    query = sa.select(sa.text("event_id, body, content_hash")).select_from(sa.text("ledger_events"))
    with engine.connect() as connection:
        return {row.event_id: (row.body, row.content_hash) for row in connection.execute(query)}


def test_stored_hashes_become_the_canonical_hashes_of_the_sent_events(database_url: str) -> None:
    """After 0004 each stored body is the new canonical form of what the producer sent, and
    its hash the new content hash (so ``ledger verify``'s body-hash check still holds)."""
    engine = _write_old_rows(database_url, [_old_row(body, digest) for _, body, digest in OLD_ROWS])
    upgrade(engine)
    stored = _stored(engine)
    engine.dispose()
    for sent, _, old_hash in OLD_ROWS:
        event = decode_body(sent)
        body, digest = stored[event.event_id]
        assert (body, digest) == (canonical_json(event), content_hash(event))
        assert digest == hashlib.sha256(body.encode("utf-8")).hexdigest() != old_hash


def test_the_migration_pages_through_many_rows(sqlite_url: str) -> None:
    """Rows beyond one page (1,000) are all rewritten; a second run changes nothing."""
    _, body, digest = OLD_ROWS[0]
    rows = []
    for index in range(2_345):
        row = _old_row(body.replace('"old-0"', f'"old-{index:05d}"'), digest)
        rows.append(row)
    engine = _write_old_rows(sqlite_url, rows)
    upgrade(engine)
    stored = _stored(engine)
    engine.dispose()
    assert len(stored) == 2_345
    assert all('"occurred_at":"2026-11-21T01:00:00.000000Z"' in b for b, _ in stored.values())
    assert all(hashlib.sha256(b.encode()).hexdigest() == h for b, h in stored.values())


@pytest.mark.moto
def test_redeliveries_of_events_applied_before_the_migration_are_duplicates(
    aws: Config, database_url: str, tmp_path: Path
) -> None:
    """The old events, re-sent as first spelled and re-spelled in UTC: all duplicates, none
    an idempotency conflict."""
    engine = _write_old_rows(database_url, [_old_row(body, digest) for _, body, digest in OLD_ROWS])
    engine.dispose()
    applied = deploy(aws, database_url)  # `points db upgrade`: 0002 -> head
    for sent, _, _ in OLD_ROWS:
        publish_raw(aws, applied.topic_arn, sent)
        respelled = json.loads(sent)
        respelled["occurred_at"] = decode_body(sent).occurred_at.isoformat()
        publish_raw(aws, applied.topic_arn, json.dumps(respelled))
    assert drain(database_url, tmp_path) == {"duplicate": 2 * len(OLD_ROWS)}
    assert queue_bodies(aws, applied.queues["points"].dlq_url) == []
