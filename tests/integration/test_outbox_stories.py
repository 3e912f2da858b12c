"""The demo stories into the outbox (SQLite), and through the whole producer side into the
ledger (moto + SQLite).

This is what ``points demo`` wires: adapters -> outbox (one payment transaction) -> relay
-> SNS -> points queue -> ledger; the balances must be ``EXPECTED_BALANCES``.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from consumers.db import make_engine, upgrade
from consumers.handler import Outcome
from infra.apply import apply_topology
from infra.aws import sns_client, sqs_client
from infra.resolve import topology
from infra.settings import Config
from producers.outbox import create_outbox_table, outbox_table
from producers.publisher import SnsPublisher
from producers.relay import Relay
from producers.stories import EXPECTED_BALANCES, record_stories
from schemas.envelope import decode_body
from schemas.events import Event
from tests.support.ledger import ledger_on


def test_stories_are_recorded_in_the_outbox(tmp_path: Path) -> None:
    """Every story event lands in the outbox in order, with the adapters' ids."""
    engine = sa.create_engine(f"sqlite:///{tmp_path}/s.sqlite3")
    create_outbox_table(engine)
    with engine.begin() as conn:
        recorded = record_stories(conn)
    with engine.connect() as conn:
        rows = conn.execute(
            sa.select(outbox_table.c.event_id).order_by(outbox_table.c.id)
        ).scalars()
        assert list(rows) == [e.event_id for e in recorded]


def test_recording_the_stories_twice_adds_nothing(tmp_path: Path) -> None:
    """Ids come from brand identifiers, so a second run is a no-op."""
    engine = sa.create_engine(f"sqlite:///{tmp_path}/s.sqlite3")
    create_outbox_table(engine)
    for _ in range(2):
        with engine.begin() as conn:
            record_stories(conn)
    with engine.connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(outbox_table)).scalar() == 5


@pytest.mark.moto
def test_stories_reach_the_ledger_with_the_expected_balances(aws: Config, tmp_path: Path) -> None:
    """Visa auth+clearing and QUICPay online+offline sales end as 12 and 19 confirmed points."""
    sns, sqs = sns_client(aws.aws), sqs_client(aws.aws)
    applied = apply_topology(topology(aws), sns, sqs)
    outbox = make_engine(f"sqlite:///{tmp_path}/payments.sqlite3")
    create_outbox_table(outbox)
    with outbox.begin() as conn:
        recorded = record_stories(conn)
    report = Relay(outbox, SnsPublisher(sns, applied.topic_arn)).run_once()
    assert report.published == len(recorded) == 5

    url = applied.queues["points"].url
    delivered: list[Event] = []
    while messages := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    ).get("Messages"):
        for message in messages:
            delivered.append(decode_body(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert sorted(e.event_id for e in delivered) == sorted(e.event_id for e in recorded)

    ledger_url = f"sqlite:///{tmp_path}/ledger.sqlite3"
    upgrade(make_engine(ledger_url))
    ledger = ledger_on(ledger_url)
    assert {r.outcome for r in ledger.handle_batch(delivered)} == {Outcome.APPLIED}
    found = {b.account_id: (b.confirmed, b.provisional) for b in ledger.store.balances()}
    assert found == EXPECTED_BALANCES
