"""``points demo``: the whole pipeline on the embedded default, end to end."""

from __future__ import annotations

import os
import tempfile
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import TYPE_CHECKING

import typer
from rich.table import Table

from infra.apply import apply_topology
from infra.aws import sns_client, sqs_client
from infra.local import EmbeddedAws
from infra.resolve import topology
from infra.settings import Config
from ops.output import console
from producers.publisher import SnsPublisher
from schemas.envelope import decode_body
from schemas.events import (
    Authorization,
    Brand,
    Clearing,
    EventType,
    Merchant,
    PaymentEvent,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

JST = timezone(timedelta(hours=9))


def demo(ctx: typer.Context) -> None:
    """Start an embedded AWS, apply the topology, publish a Visa and a QUICPay story."""
    with (
        tempfile.TemporaryDirectory(prefix="points-demo-") as workdir,
        EmbeddedAws(log=Path(workdir) / "moto.log") as aws,
    ):
        os.environ.update(aws.environment())
        config = Config.resolve(
            endpoint_url=aws.endpoint_url,
            database_url=f"sqlite:///{Path(workdir) / 'points.sqlite3'}",
        )
        console.rule("points-pipeline demo (embedded AWS + SQLite)")
        console.print(f"moto server on {aws.endpoint_url}, work dir {workdir}", highlight=False)
        sns, sqs = sns_client(config.aws), sqs_client(config.aws)
        applied = apply_topology(topology(config), sns, sqs)
        console.print(f"topology applied: {len(applied.changes)} changes", highlight=False)
        events = demo_stories()
        SnsPublisher(sns, applied.topic_arn).publish_batch(events)
        console.print(f"published {len(events)} events to {applied.topic_arn}", highlight=False)
        table = Table(title="what arrived where")
        for column in ("queue", "event_type", "brand", "payment_id", "amount"):
            table.add_column(column)
        for name, queue in applied.queues.items():
            for event in _drain(sqs, queue.url):
                table.add_row(
                    name, event.event_type, event.brand, event.payment_id, f"¥{event.amount:,}"
                )
        console.print(table)


def demo_stories() -> list[PaymentEvent]:
    at = datetime(2026, 11, 21, 10, 0, tzinfo=JST)
    lawson = Merchant(name="LAWSON", mcc="5411", country="JP")
    return [
        Authorization(
            schema_version=1,
            event_type=EventType.AUTHORIZATION,
            event_id="demo-visa-auth",
            occurred_at=at,
            brand=Brand.VISA,
            payment_id="visa-pay-1",
            account_id="acct-alice",
            amount=1200,
            currency="JPY",
            merchant=lawson,
        ),
        Clearing(
            schema_version=1,
            event_type=EventType.CLEARING,
            event_id="demo-visa-clear",
            occurred_at=at + timedelta(days=2),
            brand=Brand.VISA,
            payment_id="visa-pay-1",
            account_id="acct-alice",
            amount=1200,
            currency="JPY",
            merchant=lawson,
            final=True,
        ),
        Clearing(
            schema_version=1,
            event_type=EventType.CLEARING,
            event_id="demo-qp-offline",
            occurred_at=at,
            brand=Brand.QUICPAY,
            payment_id="qp-pay-1",
            account_id="acct-bob",
            amount=800,
            currency="JPY",
            merchant=lawson,
            final=True,
        ),
    ]


def _drain(sqs: SQSClient, url: str) -> list[PaymentEvent]:
    events: list[PaymentEvent] = []
    while True:
        response = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
        messages = response.get("Messages", [])
        if not messages:
            return events
        for message in messages:
            events.append(decode_body(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
