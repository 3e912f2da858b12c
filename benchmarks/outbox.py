"""Outbox benchmark: what ``record()`` adds to a payment transaction, and relay throughput.

``python -m benchmarks.outbox`` prints one JSON document; ``measure()`` returns it as a dict.

- ``record_latency``: on PostgreSQL, payment transactions (insert a payment row, commit) with
  and without ``record()``, interleaved on one connection as a service would hold it. The
  time of the ``record()`` call itself is reported too (the target: under 1 ms at the median).
- ``relay_throughput``: rows/s of one ``Relay.run_once`` over a pre-filled outbox, against an
  in-memory SNS (measures our code: database, JSON, publisher), fauxqs (the fair emulator;
  skipped when ``make bench`` has not installed it) and moto (measures mostly moto, DESIGN
  §8). Beside each, the backbone's own ceiling: the same events through the publisher
  alone (one thread, no database).

PostgreSQL comes from ``POINTS_BENCH_POSTGRES_URL`` (else ``POINTS_TEST_POSTGRES_URL``, else
the local server); a scratch database is created and dropped.
"""

from __future__ import annotations

import json
import os
import platform
import statistics
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any, cast

import sqlalchemy as sa
from sqlalchemy.engine import Engine, make_url

from benchmarks.backbones import BackboneUnavailable, Fauxqs, clients, points_topology
from benchmarks.workload import make_event
from consumers.db import make_engine
from infra.aws import sns_client
from infra.local import DUMMY_CREDENTIALS, EmbeddedAws
from infra.settings import Config
from producers.fake_sns import FakeSns
from producers.outbox import create_outbox_table, outbox_metadata, record
from producers.publisher import SnsPublisher
from producers.relay import Relay, RelaySettings
from schemas.events import PaymentEvent

DEFAULT_SERVER = "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"

payments_metadata = sa.MetaData()
payments = sa.Table(
    "bench_payments",
    payments_metadata,
    sa.Column("payment_id", sa.String(128), primary_key=True),
    sa.Column("account_id", sa.String(128), nullable=False),
    sa.Column("amount", sa.Integer, nullable=False),
)


def measure(
    *, transactions: int = 2000, relay_rows: int = 3000, moto_rows: int = 300
) -> dict[str, Any]:
    """Run every measurement; the dict ``main`` prints."""
    with scratch_postgres() as url, tempfile.TemporaryDirectory() as scratch:
        result: dict[str, Any] = {"machine": machine(url)}
        result["record_latency"] = record_latency(url, transactions)
        result["relay_throughput"] = {
            "postgresql_fake_sns": relay_fake(url, relay_rows),
            "sqlite_fake_sns": relay_fake(f"sqlite:///{scratch}/outbox.sqlite3", relay_rows),
            "fauxqs_sns": relay_fauxqs(url, relay_rows),
            "moto_sns": relay_moto(url, moto_rows),
        }
    return result


def record_latency(url: str, transactions: int) -> dict[str, Any]:
    engine = make_engine(url)
    _reset(engine)
    events = _events(transactions + 200, "lat")
    with_ms: list[float] = []
    without_ms: list[float] = []
    record_ms: list[float] = []
    with engine.connect() as conn:
        for index, event in enumerate(events):
            recorded = index % 2 == 0
            start = time.perf_counter()
            with conn.begin():
                conn.execute(payments.insert(), _payment_row(event))
                if recorded:
                    before = time.perf_counter()
                    record(conn, event)
                    spent = time.perf_counter() - before
            total = time.perf_counter() - start
            if index < 200:  # warm-up: connection, statement caches
                continue
            (with_ms if recorded else without_ms).append(total * 1000)
            if recorded:
                record_ms.append(spent * 1000)
    engine.dispose()
    return {
        "backend": "postgresql (loopback, synchronous_commit default)",
        "transactions_each": len(with_ms),
        "record_call_ms": _stats(record_ms),
        "payment_tx_with_record_ms": _stats(with_ms),
        "payment_tx_without_record_ms": _stats(without_ms),
        "added_median_ms": round(statistics.median(with_ms) - statistics.median(without_ms), 4),
    }


def relay_fake(url: str, rows: int) -> dict[str, Any]:
    """Relay from the database at ``url`` to the in-memory SNS: our own cost per row."""
    engine = make_engine(url)
    events = _events(rows, "fake")
    _reset(engine)
    _fill(engine, events)
    relay = Relay(engine, SnsPublisher(cast(Any, FakeSns()), "arn:fake"), RelaySettings())
    elapsed, report = _timed(relay.run_once)
    ceiling, _ = _timed(
        lambda: SnsPublisher(cast(Any, FakeSns()), "arn:fake").publish_batch(events)
    )
    engine.dispose()
    return {
        "label": f"relay {engine.dialect.name} -> in-memory fake SNS (our code, not AWS)",
        "rows": rows,
        "published": report.published,
        "rows_per_second": round(rows / elapsed),
        "backbone_ceiling_msgs_per_second": round(rows / ceiling),
        "backbone": "FakeSns.publish_batch through SnsPublisher, no database",
    }


def relay_moto(url: str, rows: int) -> dict[str, Any]:
    """Relay from PostgreSQL to moto's SNS (topic without subscribers: no SQS depth cost)."""
    with EmbeddedAws() as aws:
        for key, value in DUMMY_CREDENTIALS.items():  # moto takes any; boto3 wants some
            os.environ.setdefault(key, value)
        sns = sns_client(Config.resolve(endpoint_url=aws.endpoint_url, region=aws.region).aws)
        topic = sns.create_topic(Name="bench-events")["TopicArn"]
        measured = _relay_against(url, sns, topic, _events(rows, "moto"))
    return {
        "label": "relay PostgreSQL -> moto SNS PublishBatch (measures mostly moto)",
        **measured,
        "backbone": "moto 5.2 server, same events through SnsPublisher, no database",
    }


def relay_fauxqs(url: str, rows: int) -> dict[str, Any]:
    """Relay from PostgreSQL to fauxqs: SNS with the real fan-out to the points queue."""
    try:
        with Fauxqs() as fauxqs:
            sns, _ = clients(fauxqs.endpoint_url)
            topic = points_topology(fauxqs.endpoint_url).topic_arn
            measured = _relay_against(url, sns, topic, _events(rows, "fauxqs"))
    except BackboneUnavailable as exc:
        return {"skipped": str(exc)}
    return {
        "label": "relay PostgreSQL -> fauxqs SNS -> points queue (fair emulator, DESIGN §8)",
        **measured,
        "backbone": "fauxqs 1.9.2, same events through SnsPublisher, no database",
    }


def _relay_against(url: str, sns: Any, topic: str, events: list[PaymentEvent]) -> dict[str, Any]:
    engine = make_engine(url)
    _reset(engine)
    _fill(engine, events)
    relay = Relay(engine, SnsPublisher(sns, topic), RelaySettings())
    elapsed, report = _timed(relay.run_once)
    ceiling, _ = _timed(lambda: SnsPublisher(sns, topic).publish_batch(events))
    engine.dispose()
    return {
        "rows": len(events),
        "published": report.published,
        "rows_per_second": round(len(events) / elapsed),
        "backbone_ceiling_msgs_per_second": round(len(events) / ceiling),
    }


def machine(url: str) -> dict[str, Any]:
    engine = make_engine(url)
    with engine.connect() as conn:
        version = conn.execute(sa.text("show server_version")).scalar()
    engine.dispose()
    return {
        "cpus": os.cpu_count(),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "postgresql": version,
        "note": "shared machine; other test suites may run concurrently",
    }


@contextmanager
def scratch_postgres() -> Iterator[str]:
    server = os.environ.get(
        "POINTS_BENCH_POSTGRES_URL", os.environ.get("POINTS_TEST_POSTGRES_URL", DEFAULT_SERVER)
    )
    name = f"points_bench_{os.getpid()}_{uuid.uuid4().hex[:6]}"
    admin = sa.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield make_url(server).set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


def _reset(engine: Engine) -> None:
    outbox_metadata.drop_all(engine)
    payments_metadata.drop_all(engine)
    create_outbox_table(engine)
    payments_metadata.create_all(engine)


def _fill(engine: Engine, events: list[PaymentEvent]) -> None:
    with engine.begin() as conn:
        for event in events:
            record(conn, event)


def _events(count: int, tag: str) -> list[PaymentEvent]:
    return [
        make_event(event_id=f"{tag}-{i}", payment_id=f"{tag}-pay-{i}", account_id=f"acct-{i % 97}")
        for i in range(count)
    ]


def _payment_row(event: PaymentEvent) -> dict[str, Any]:
    return {"payment_id": event.payment_id, "account_id": event.account_id, "amount": event.amount}


def _timed(call: Callable[[], Any]) -> tuple[float, Any]:
    start = time.perf_counter()
    result = call()
    return time.perf_counter() - start, result


def _stats(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "median": round(statistics.median(ordered), 4),
        "p99": round(ordered[min(len(ordered) - 1, int(len(ordered) * 0.99))], 4),
        "mean": round(statistics.fmean(ordered), 4),
    }


def main() -> None:
    print(json.dumps(measure(), indent=2))


if __name__ == "__main__":
    main()
