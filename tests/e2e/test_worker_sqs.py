"""The worker against a real moto server and real databases: the delivery promises."""

from __future__ import annotations

import asyncio
import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pytest
from sqlalchemy.engine import make_url

from consumers.db import make_engine, upgrade
from consumers.runtime.app import run_worker
from consumers.runtime.deadletter import read_failure
from consumers.runtime.settings import WorkerSettings
from consumers.runtime.transport import decode_attributes
from infra.apply import ApplyResult, apply_topology
from infra.aws import sns_client, sqs_client
from infra.resolve import topology
from infra.settings import Config
from producers.publisher import SnsPublisher
from schemas.envelope import parse_event
from tests.support.cli import POINTS, run_points
from tests.support.proxy import postgres_behind_proxy
from tests.support.stories import authorize_then_clear, expected_balances

if TYPE_CHECKING:
    from mypy_boto3_sqs.type_defs import MessageTypeDef

FAST = {
    # One poller: moto now and then hands one message to two concurrent receives (its
    # ReceiveMessage takes no lock; CI, stop 24), which would put a reject in the DLQ twice.
    "concurrency": 1,
    "drain_idle_seconds": 1.0,
    "backoff_base_seconds": 1,
    "backoff_max_seconds": 2,
    "transient_wait_initial": 0.05,
    "transient_wait_max": 0.2,
}


def _setup(aws: Config, database_url: str) -> tuple[Config, ApplyResult]:
    applied = apply_topology(topology(aws), sns_client(aws.aws), sqs_client(aws.aws))
    upgrade(make_engine(database_url))
    return Config.resolve(endpoint_url=aws.aws.endpoint_url, database_url=database_url), applied


def _publish(config: Config, topic_arn: str, events: list[dict[str, Any]]) -> None:
    SnsPublisher(sns_client(config.aws), topic_arn).publish_batch([parse_event(e) for e in events])


def _drain(config: Config, tmp_path: Path, **overrides: Any) -> int:
    settings = WorkerSettings(
        queue="points", health_file=tmp_path / "health", **{**FAST, **overrides}
    )
    return asyncio.run(run_worker(config, settings, drain=True, emit_metrics=False))


def _balances(database_url: str) -> list[dict[str, Any]]:
    result = run_points("--database-url", database_url, "ledger", "balances", "--json")
    assert result.returncode == 0, result.stderr
    balances: list[dict[str, Any]] = json.loads(result.stdout)
    return balances


def _dead_letters(config: Config, dlq_url: str) -> list[MessageTypeDef]:
    sqs = sqs_client(config.aws)
    found: list[MessageTypeDef] = []
    while True:
        response = sqs.receive_message(
            QueueUrl=dlq_url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
            VisibilityTimeout=60,
        )
        if not response.get("Messages"):
            return found
        found.extend(response["Messages"])


def test_poison_is_dead_lettered_after_one_receive_and_the_batch_commits(
    aws: Config, sqlite_url: str, tmp_path: Path
) -> None:
    """Invalid bodies reach the DLQ with their reason after one receive; valid ones apply."""
    config, applied = _setup(aws, sqlite_url)
    queue = applied.queues["points"]
    events = authorize_then_clear(3)
    _publish(config, applied.topic_arn, events)
    sqs = sqs_client(config.aws)
    sqs.send_message(QueueUrl=queue.url, MessageBody="{broken")
    sqs.send_message(QueueUrl=queue.url, MessageBody=json.dumps({**events[0], "amount": 0}))
    _drain(config, tmp_path)
    dead = _dead_letters(config, queue.dlq_url)
    reasons = sorted(
        (info.error_type, info.receive_count)
        for info in (read_failure(decode_attributes(m["MessageAttributes"])) for m in dead)
        if info is not None
    )
    assert reasons == [("invalid_body", 1), ("invalid_event", 1)]
    assert _balances(sqlite_url) == expected_balances(events)


def test_conflicting_redelivery_is_dead_lettered_with_its_reason(
    aws: Config, sqlite_url: str, tmp_path: Path
) -> None:
    """An event id reused with other content is an idempotency conflict, not a silent skip."""
    config, applied = _setup(aws, sqlite_url)
    events = authorize_then_clear(1)
    _publish(config, applied.topic_arn, events)
    _drain(config, tmp_path)
    _publish(config, applied.topic_arn, [{**events[0], "amount": events[0]["amount"] + 1}])
    _drain(config, tmp_path)
    (dead,) = _dead_letters(config, applied.queues["points"].dlq_url)
    info = read_failure(decode_attributes(dead["MessageAttributes"]))
    assert info is not None
    assert info.error_type == "idempotency_conflict"
    assert _balances(sqlite_url) == expected_balances(events)


def test_database_outage_loses_and_doubles_nothing(
    aws: Config, postgres_url: str, tmp_path: Path
) -> None:
    """The database drops mid-run: messages wait and retry; after it returns, all apply once."""
    events = authorize_then_clear(20)
    with postgres_behind_proxy(make_url(postgres_url)) as (proxy, proxied):
        config, applied = _setup(aws, proxied)
        _publish(config, applied.topic_arn, events[:20])
        worker = threading.Thread(
            target=_drain, args=(config, tmp_path), kwargs={"drain_idle_seconds": 6.0}
        )
        worker.start()
        time.sleep(1.0)
        proxy.cut()
        _publish(config, applied.topic_arn, events[20:])
        time.sleep(3.0)
        proxy.restore()
        worker.join(timeout=120)
        assert not worker.is_alive()
    assert _dead_letters(config, applied.queues["points"].dlq_url) == []
    assert _balances(postgres_url) == expected_balances(events)


def _start_worker(database_url: str, tmp_path: Path, name: str) -> subprocess.Popen[str]:
    env = {
        **os.environ,
        **{f"POINTS_WORKER_{k.upper()}": str(v) for k, v in FAST.items()},
        "POINTS_WORKER_HEALTH_FILE": str(tmp_path / f"{name}.health"),
    }
    return subprocess.Popen(
        [
            str(POINTS),
            "--database-url",
            database_url,
            "worker",
            "--queue",
            "points",
            "--drain",
            "--no-metrics",
        ],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=(tmp_path / f"{name}.log").open("w"),
        text=True,
    )


def _wait_until_busy(log: Path, timeout: float = 60.0) -> None:
    """Until the worker has applied something (SIGTERM before that tests start-up, not this)."""
    deadline = time.monotonic() + timeout
    while '"applied"' not in log.read_text():
        assert time.monotonic() < deadline, "worker never became busy"
        time.sleep(0.05)


def test_sigterm_during_a_busy_drain_exits_cleanly_and_resumes(
    aws: Config, postgres_url: str, tmp_path: Path
) -> None:
    """SIGTERM mid-drain: exit 0 well within 30 s; a restarted worker completes the ledger."""
    config, applied = _setup(aws, postgres_url)
    events = authorize_then_clear(40)
    _publish(config, applied.topic_arn, events)
    worker = _start_worker(postgres_url, tmp_path, "first")
    _wait_until_busy(tmp_path / "first.log")
    stopped_at = time.monotonic()
    worker.send_signal(signal.SIGTERM)
    assert worker.wait(timeout=30) == 0
    assert time.monotonic() - stopped_at < 30
    restarted = _start_worker(postgres_url, tmp_path, "second")
    assert restarted.wait(timeout=120) == 0
    assert _balances(postgres_url) == expected_balances(events)


def test_two_workers_produce_the_same_ledger_as_one(
    aws: Config, postgres_url: str, tmp_path: Path
) -> None:
    """Two workers on one queue and one PostgreSQL ledger end where one worker would."""
    config, applied = _setup(aws, postgres_url)
    events = authorize_then_clear(30, seed=11)
    _publish(config, applied.topic_arn, events + events[:10])  # with redeliveries
    workers = [_start_worker(postgres_url, tmp_path, f"w{i}") for i in range(2)]
    assert [w.wait(timeout=120) for w in workers] == [0, 0]
    assert _balances(postgres_url) == expected_balances(events)


def test_worker_refuses_an_unmigrated_database(aws: Config, tmp_path: Path) -> None:
    """A worker on an empty database exits with one line telling to run the migration."""
    apply_topology(topology(aws), sns_client(aws.aws), sqs_client(aws.aws))
    result = run_points("--database-url", f"sqlite:///{tmp_path}/empty.db", "worker", "--drain")
    assert result.returncode == 2
    assert "points db upgrade" in result.stderr
    assert "Traceback" not in result.stderr


@pytest.mark.parametrize("queue", ["nope"])
def test_worker_names_unknown_queues(aws: Config, sqlite_url: str, queue: str) -> None:
    """An unknown queue is a one-line error listing the known ones."""
    result = run_points("--database-url", sqlite_url, "worker", "--queue", queue, "--migrate")
    assert result.returncode == 2
    assert "notifications, points" in result.stderr


def test_worker_waits_for_a_database_that_is_briefly_away(
    aws: Config, postgres_url: str, tmp_path: Path
) -> None:
    """A worker starting during a short database outage waits for it instead of exiting."""
    events = authorize_then_clear(3)
    with postgres_behind_proxy(make_url(postgres_url)) as (proxy, proxied):
        config, applied = _setup(aws, proxied)
        _publish(config, applied.topic_arn, events)
        proxy.cut()
        threading.Timer(2.0, proxy.restore).start()
        _drain(config, tmp_path)
    assert _balances(postgres_url) == expected_balances(events)
