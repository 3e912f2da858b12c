"""The demo stories through the whole producer side into the ledger (moto + SQLite).

This is what ``points demo`` wires: adapters -> outbox (one payment transaction) -> relay
-> SNS -> points queue -> ledger; the balances must be ``EXPECTED_BALANCES``.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from consumers.db import make_engine, upgrade
from consumers.handler import Outcome
from infra.apply import apply_topology
from infra.aws import sns_client, sqs_client
from infra.resolve import topology
from infra.settings import Config
from producers.outbox import create_outbox_table
from producers.publisher import SnsPublisher
from producers.relay import Relay
from producers.stories import EXPECTED_BALANCES, record_stories
from schemas.envelope import decode_body
from schemas.events import PaymentEvent
from tests.support.ledger import ledger_on

pytestmark = pytest.mark.moto


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
    delivered: list[PaymentEvent] = []
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
