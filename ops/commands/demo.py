"""``points demo``: the whole pipeline on the embedded default, told as a story.

A payment service records Visa and QUICPay events in its own transaction (outbox), the
relay publishes them to SNS, workers apply them from SQS (provisional points after
authorization, confirmed after clearing), notifications are rendered, and an operator
triages the dead-letter queue: a poison event is shown with its reason and stays, a
message that crash-looping workers left behind is redriven and applied.
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import tempfile
from collections.abc import Sized
from datetime import timedelta
from pathlib import Path

import sqlalchemy as sa
import typer
from rich.table import Table
from sqlalchemy.orm import Session

from consumers.bootstrap import bootstrap_ledger, database
from consumers.notifications.tables import notifications
from consumers.runtime.app import run_worker
from consumers.runtime.settings import WorkerSettings
from infra.apply import ApplyResult, apply_topology
from infra.aws import sns_client, sqs_client
from infra.local import EmbeddedAws
from infra.resolve import topology
from infra.settings import Config
from ops.commands.demo_v2 import tell_v2
from ops.dlq import show
from ops.output import console
from ops.redrive import redrive
from ops.selection import Selection
from producers import visa
from producers.outbox import create_outbox_table, record
from producers.publisher import SnsPublisher, message_attributes
from producers.relay import Relay
from producers.stories import DEMO_START, VISA_ACCOUNT, story_events
from schemas.canonical import canonical_json
from schemas.events import EventType, PaymentEvent

AUTHORIZATIONS = {EventType.AUTHORIZATION}


def demo(ctx: typer.Context) -> None:
    """Run the pipeline end to end on an embedded AWS (moto server) and SQLite."""
    logging.getLogger("points").addHandler(logging.NullHandler())
    logging.getLogger("points").propagate = False
    with (
        tempfile.TemporaryDirectory(prefix="points-demo-") as tmp,
        EmbeddedAws(log=Path(tmp) / "moto.log") as aws,
    ):
        os.environ.update(aws.environment())
        workdir = Path(tmp)
        config = Config.resolve(
            endpoint_url=aws.endpoint_url, database_url=f"sqlite:///{workdir / 'points.sqlite3'}"
        )
        Story(config, workdir).tell()


class Story:
    def __init__(self, config: Config, workdir: Path) -> None:
        self.config = config
        self.workdir = workdir
        self.database = database(config.points.database_url, "job")
        self.payments = database(f"sqlite:///{workdir / 'payments.sqlite3'}", "job")
        self.topology: ApplyResult | None = None

    def tell(self) -> None:
        console.rule("points-pipeline demo: embedded AWS (moto server) + SQLite")
        self.set_up()
        events = story_events()
        console.rule("1. authorizations: provisional points")
        self.pay([e for e in events if e.event_type in AUTHORIZATIONS])
        self.consume("points")
        self.print_balances()
        console.rule("2. clearings and sales (incl. a QUICPay offline sale): confirmed")
        self.pay([e for e in events if e.event_type not in AUTHORIZATIONS])
        self.consume("points")
        self.print_balances()
        self.consume("notifications")
        self.print_notifications()
        console.rule("3. operations: the dead-letter queue")
        self.operations()
        tell_v2(self)
        self.ledger.close()
        self.database.dispose()
        self.payments.dispose()

    def set_up(self) -> None:
        self.topology = apply_topology(
            topology(self.config), sns_client(self.config.aws), sqs_client(self.config.aws)
        )
        self.ledger = bootstrap_ledger(self.config, migrate=True)
        create_outbox_table(self.payments)
        console.print(
            f"topology applied ({len(self.topology.changes)} changes): topic payment-events, "
            "queues points and notifications with DLQs; ledger migrated; outbox created",
            highlight=False,
        )

    @property
    def topic_arn(self) -> str:
        assert self.topology is not None
        return self.topology.topic_arn

    def pay(self, events: list[PaymentEvent]) -> None:
        """The payment service commits payments and their events in one transaction each."""
        for event in events:
            with Session(self.payments) as session, session.begin():
                record(session, event)
        with Session(self.payments) as session:
            try:
                with session.begin():
                    record(session, _declined_copy(events[0]))
                    raise _PaymentFailed
            except _PaymentFailed:
                pass
        report = Relay(self.payments, SnsPublisher(sns_client(self.config.aws), self.topic_arn))
        published = report.run_once().published
        console.print(
            f"payment service committed {_count(events, 'event')} to its outbox (a rolled-back "
            f"payment left none); the relay published {published} to SNS",
            highlight=False,
        )

    def consume(self, queue: str) -> int:
        settings = WorkerSettings(
            queue=queue, drain_idle_seconds=0.5, health_file=self.workdir / f"{queue}.health"
        )
        handled = asyncio.run(run_worker(self.config, settings, drain=True, emit_metrics=False))
        console.print(
            f"`points worker --queue {queue} --drain` handled {_count(range(handled), 'message')}"
        )
        return handled

    def print_balances(self) -> None:
        table = Table(title="points ledger balances")
        for column in ("account_id", "confirmed", "provisional"):
            table.add_column(column)
        for balance in self.ledger.store.balances():
            table.add_row(balance.account_id, str(balance.confirmed), str(balance.provisional))
        console.print(table)

    def print_notifications(self) -> None:
        table = Table(title="notifications rendered")
        table.add_column("account_id")
        table.add_column("text")
        with self.database.connect() as connection:
            query = sa.select(notifications.c.account_id, notifications.c.text).order_by(
                notifications.c.account_id, notifications.c.kind, notifications.c.event_id
            )
            for account_id, text in connection.execute(query):
                table.add_row(account_id, text)
        console.print(table)

    def operations(self) -> None:
        self.publish_poison()
        self.consume("points")
        refund = self.crash_looped_refund()
        self.print_dead_letters()
        summary = redrive(
            self.config, queue="points", selection=Selection.parse(where=["event_type=refund"])
        )
        console.print(
            "after rolling back the crashing release: `points dlq redrive --where "
            f"event_type=refund` → {json.dumps(summary.as_json())}",
            highlight=False,
        )
        self.consume("points")
        self.print_balances()
        report = self.ledger.verify()
        verdict = "clean" if report.clean else f"{len(report.drifts)} drifts"
        console.print(
            f"`points ledger verify`: {verdict}; the {refund.event_id} "
            "refund is applied once; the schema v2 event waits in points-dlq for the consumer "
            "upgrade (`points dlq export` keeps a copy)",
            highlight=False,
        )

    def publish_poison(self) -> None:
        """A producer upgraded ahead of its consumers publishes schema_version 2."""
        body = json.loads(canonical_json(story_events()[0]))
        body.update(schema_version=2, event_id="visa-v2-early")
        attributes = dict(message_attributes(story_events()[0]))
        attributes["schema_version"] = {"DataType": "Number", "StringValue": "2"}
        sns_client(self.config.aws).publish(
            TopicArn=self.topic_arn, Message=json.dumps(body), MessageAttributes=attributes
        )
        console.print("a producer published a schema_version 2 event (poison for v1 workers)")

    def crash_looped_refund(self) -> PaymentEvent:
        """A refund whose worker crashed five times (e.g. OOM): SQS dead-letters it natively."""
        credit = visa.VisaCredit(
            transaction_id="386112345678901",
            acquirer_reference_number="24692166327000000000099",
            account_id=VISA_ACCOUNT,
            billing_amount=200,
            merchant_name="LAWSON",
            mcc="5411",
            merchant_country="JP",
            processed_at=DEMO_START + timedelta(days=5),
        )
        refund = visa.to_event(credit)
        self.pay([refund])
        assert self.topology is not None
        url = self.topology.queues["points"].url
        sqs = sqs_client(self.config.aws)
        for _ in range(6):  # the sixth receive is where SQS applies maxReceiveCount 5
            for message in sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1).get("Messages", []):
                sqs.change_message_visibility(
                    QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
                )
        console.print("a release crash-looped on the refund: received 5 times, never deleted")
        return refund

    def print_dead_letters(self) -> None:
        table = Table(title="points dlq show")
        for column in ("event_id", "event_type", "receive_count", "error"):
            table.add_column(column)
        for message in show(self.config, "points"):
            table.add_row(
                message.event_id or "-",
                message.event_type or "-",
                str(message.receive_count),
                message.error,
            )
        console.print(table)


class _PaymentFailed(Exception):
    """The card network declined after the service had recorded the event: roll back."""


def _count(items: Sized, noun: str) -> str:
    return f"{len(items)} {noun}{'' if len(items) == 1 else 's'}"


def _declined_copy(event: PaymentEvent) -> PaymentEvent:
    return event.model_copy(update={"event_id": f"{event.event_id}-rolled-back"})
