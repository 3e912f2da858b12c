"""The outbox end to end on real databases and a real moto server.

A payment transaction writes a row of its own (``payments``) and records the event with
the same connection, as a payment service would; the relay then publishes to the topic and
the tests read the ``points`` queue.
"""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import sys
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any, cast

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from consumers.db import make_engine, upgrade
from consumers.handler import Outcome
from consumers.points.tables import ledger_entries, ledger_events
from infra.apply import ApplyResult, apply_topology
from infra.aws import sns_client, sqs_client
from infra.local import free_port
from infra.resolve import topology
from infra.settings import Config
from producers.fake_sns import FakeSns
from producers.outbox import create_outbox_table, outbox_status, outbox_table, record
from producers.publisher import RetryPolicy, SnsPublisher
from producers.relay import Relay, RelaySettings
from schemas.envelope import decode_body
from tests.support.factories import make_event, make_grant
from tests.support.ledger import ledger_on

pytestmark = pytest.mark.moto
FAST = RetryPolicy(attempts=2, initial_wait=0, max_wait=0.01)

payments_metadata = sa.MetaData()
payments = sa.Table(
    "payments",
    payments_metadata,
    sa.Column("payment_id", sa.String(128), primary_key=True),
    sa.Column("amount", sa.Integer, nullable=False),
)


class PaymentDeclined(Exception):
    """The payment service's own reason to roll back."""


@dataclass
class World:
    config: Config
    applied: ApplyResult
    engine: Engine

    def relay(self, config: Config | None = None, **kwargs: Any) -> Relay:
        sns = sns_client((config or self.config).aws)
        settings = kwargs.pop("settings", RelaySettings(batch_size=10))
        publisher = SnsPublisher(sns, self.applied.topic_arn, FAST)
        return Relay(self.engine, publisher, settings, **kwargs)

    def points_queue(self) -> list[dict[str, Any]]:
        """Drain the points queue (moto delivers synchronously: empty means all seen)."""
        sqs, url = sqs_client(self.config.aws), self.applied.queues["points"].url
        bodies: list[dict[str, Any]] = []
        while messages := sqs.receive_message(
            QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
        ).get("Messages"):
            for message in messages:
                bodies.append(json.loads(message["Body"]))
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
        return bodies

    def pay(self, event_id: str, *, fail: bool = False) -> None:
        """One payment transaction: the payment row and its event commit or vanish together."""
        with self.engine.begin() as conn:
            conn.execute(payments.insert().values(payment_id=f"pay-{event_id}", amount=1200))
            record(conn, make_event(event_id=event_id, payment_id=f"pay-{event_id}"))
            if fail:
                raise PaymentDeclined

    def pending(self) -> int:
        with self.engine.connect() as conn:
            return int(outbox_status(conn)["pending"])


def _world(config: Config, url: str) -> Iterator[World]:
    applied = apply_topology(topology(config), sns_client(config.aws), sqs_client(config.aws))
    engine = make_engine(url)
    create_outbox_table(engine)
    payments_metadata.create_all(engine)
    yield World(config, applied, engine)
    engine.dispose()


@pytest.fixture
def sqlite_world(aws: Config, sqlite_url: str) -> Iterator[World]:
    yield from _world(aws, sqlite_url)


@pytest.fixture
def pg_world(aws: Config, postgres_url: str) -> Iterator[World]:
    yield from _world(aws, postgres_url)


@pytest.fixture(params=["sqlite", "postgresql"])
def world(request: pytest.FixtureRequest) -> World:
    name = "sqlite_world" if request.param == "sqlite" else "pg_world"
    result: World = request.getfixturevalue(name)
    return result


def test_rolled_back_payment_leaves_no_event(world: World) -> None:
    """A payment that rolls back takes its event with it: nothing to relay, nothing on SNS."""
    with pytest.raises(PaymentDeclined):
        world.pay("e-1", fail=True)
    report = world.relay().run_once()
    assert report.published == 0
    assert world.pending() == 0
    assert world.points_queue() == []


def test_committed_payment_is_published(world: World) -> None:
    """A committed payment's event reaches the points queue, with its canonical body."""
    world.pay("e-1")
    assert world.relay().run_once().published == 1
    (delivered,) = world.points_queue()
    assert delivered["event_id"] == "e-1"
    assert world.pending() == 0


def test_a_grant_is_recorded_without_a_payment_and_published(world: World) -> None:
    """A rewards service records a points grant in its own transaction: the row has no
    payment_id, and the relay publishes the grant's canonical body like any event."""
    with world.engine.begin() as conn:
        assert record(conn, make_grant(event_id="g-1"))
    with world.engine.connect() as conn:
        assert conn.scalar(sa.select(outbox_table.c.payment_id)) is None
    assert world.relay().run_once().published == 1
    (delivered,) = world.points_queue()
    assert (delivered["event_type"], delivered["points"]) == ("points_grant", 500)


def test_payment_commits_while_sns_is_down_and_relay_catches_up(world: World) -> None:
    """SNS unreachable: payments still commit, the relay keeps rows pending, then delivers."""
    dead = Config.resolve(endpoint_url=f"http://127.0.0.1:{free_port()}")
    world.pay("e-1")
    world.pay("e-2")
    down = world.relay(dead).run_once()
    assert not down.ok
    assert world.pending() == 2
    assert world.relay().run_once().published == 2
    assert sorted(b["event_id"] for b in world.points_queue()) == ["e-1", "e-2"]


_KILLED_RELAY = """
import os, signal, sys
from consumers.db import make_engine
from infra.aws import sns_client
from infra.settings import AwsSettings
from producers.publisher import SnsPublisher
from producers.relay import Relay

def die(_rows):
    os.kill(os.getpid(), signal.SIGKILL)

publisher = SnsPublisher(sns_client(AwsSettings()), sys.argv[2])
Relay(make_engine(sys.argv[1]), publisher, after_publish=die).run_once()
"""


def test_relay_killed_between_publish_and_mark_is_counted_once(
    sqlite_world: World, tmp_path: Any
) -> None:
    """SIGKILL after SNS accepted: the event goes out twice, same id; the ledger counts it once."""
    world = sqlite_world
    world.pay("e-1")
    url = world.engine.url.render_as_string(hide_password=False)
    killed = subprocess.run(
        [sys.executable, "-c", _KILLED_RELAY, url, world.applied.topic_arn],
        env=os.environ.copy(),
        capture_output=True,
        timeout=60,
        check=False,
    )
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    assert world.pending() == 1
    assert world.relay().run_once().published == 1
    first, second = world.points_queue()
    assert first == second
    ledger_url = f"sqlite:///{tmp_path}/ledger.sqlite3"
    upgrade(make_engine(ledger_url))
    ledger = ledger_on(ledger_url)
    outcomes = [
        ledger.handle_batch([decode_body(json.dumps(b))])[0].outcome for b in (first, second)
    ]
    assert outcomes == [Outcome.APPLIED, Outcome.DUPLICATE]
    ledger.close()
    with make_engine(ledger_url).connect() as conn:
        assert conn.execute(sa.select(sa.func.count()).select_from(ledger_events)).scalar() == 1
        assert conn.execute(sa.select(sa.func.count()).select_from(ledger_entries)).scalar() == 1


@pytest.mark.postgres
def test_two_relays_on_postgresql_publish_every_row_exactly_once(pg_world: World) -> None:
    """Two relays at once (SKIP LOCKED): 40 rows, 40 messages, no duplicate, both worked."""
    for i in range(40):
        pg_world.pay(f"e-{i:02d}")
    start = threading.Barrier(2)

    def slow(_rows: object) -> None:
        threading.Event().wait(0.05)  # widen the window in which the other relay runs

    reports: list[Any] = []

    def run() -> None:
        relay = pg_world.relay(settings=RelaySettings(batch_size=4), after_publish=slow)
        start.wait()
        reports.append(relay.run_once())

    threads = [threading.Thread(target=run) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    delivered = [b["event_id"] for b in pg_world.points_queue()]
    assert sorted(delivered) == [f"e-{i:02d}" for i in range(40)]
    assert sum(r.published for r in reports) == 40
    assert all(r.published > 0 for r in reports)
    assert pg_world.pending() == 0


@pytest.mark.postgres
def test_prune_on_postgresql_keeps_pending_and_recent_rows(postgres_url: str) -> None:
    """Sent rows past the retention are deleted; pending and recently sent rows remain."""
    engine = make_engine(postgres_url)
    create_outbox_table(engine)
    with engine.begin() as conn:
        for event_id in ("old", "recent", "pending"):
            record(conn, make_event(event_id=event_id))
    now = datetime.now(UTC)
    with engine.begin() as conn:
        conn.execute(
            outbox_table.update()
            .where(outbox_table.c.event_id == "old")
            .values(sent_at=now - timedelta(days=8))
        )
        conn.execute(
            outbox_table.update().where(outbox_table.c.event_id == "recent").values(sent_at=now)
        )
    relay = Relay(engine, SnsPublisher(cast(Any, FakeSns()), "arn:fake"), clock=lambda: now)
    assert relay.prune() == 1
    with engine.connect() as conn:
        left = conn.execute(sa.select(outbox_table.c.event_id).order_by(outbox_table.c.id))
        assert list(left.scalars()) == ["recent", "pending"]
    engine.dispose()


@pytest.mark.postgres
def test_asyncio_service_records_through_run_sync(postgres_url: str) -> None:
    """An asyncio payment service (AsyncSession on psycopg) records with ``run_sync``."""
    from sqlalchemy.ext.asyncio import AsyncSession, create_async_engine

    async def pay() -> bool:
        engine = create_async_engine(postgres_url)
        async with engine.begin() as conn:
            await conn.run_sync(create_outbox_table)
        async with AsyncSession(engine) as session, session.begin():
            recorded = await session.run_sync(record, make_event(event_id="async-1"))
        await engine.dispose()
        return recorded

    assert asyncio.run(pay()) is True
    engine = make_engine(postgres_url)
    with engine.connect() as conn:
        assert outbox_status(conn)["pending"] == 1
    engine.dispose()
