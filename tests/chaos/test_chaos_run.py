"""The chaos run: nothing lost, nothing doubled, never down (issue 9, part 1).

Payment stories covering every ledger edge case, 30 % duplicated and shuffled, are
published through SNS to SQS on the real moto server while four ``points worker``
processes drain the queue into PostgreSQL. Meanwhile one worker is SIGKILLed at random
moments and restarted, several times, and PostgreSQL goes away once (a real restart under
``POINTS_CHAOS_RESTART_POSTGRES=1``, as in CI; a cut TCP proxy otherwise).

Afterwards the ledger equals the independent reference model, ``points ledger verify`` is
clean, every valid event is applied exactly once and the DLQ holds exactly the deliberate
rejections, each with its reason. The run prints its figures (README "Reliability").
"""

from __future__ import annotations

import json
import random
import threading
import time
from collections import Counter
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from consumers.db import make_engine, upgrade
from consumers.points.tables import ledger_events
from infra.aws import sns_client
from infra.settings import Config
from producers.publisher import SnsPublisher
from schemas.envelope import parse_event
from tests.chaos import workload
from tests.chaos.support import (
    WorkerPool,
    assert_applied_exactly_once,
    points_queue,
    postgres_outage,
    queue_depth,
    read_all,
    reasons,
)
from tests.support import reference
from tests.support.cli import run_points
from tests.support.ledger_kit import ledger_state
from tests.support.proxy import postgres_behind_proxy

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.moto, pytest.mark.timeout(400)]

WORKERS = 4
MIN_KILLS = 5
CHUNKS = 16


def _publish(sns: Any, topic_arn: str, bodies: list[str], queue: tuple[Any, str]) -> None:
    """Valid events through the producer library; the two invalid ones raw, as a buggy
    producer would send them. Subscriptions filter on the body (DESIGN §3), which SNS only
    reads when it is a JSON object: the broken body goes onto the queue directly."""
    valid: list[Any] = []
    for body in bodies:
        try:
            valid.append(parse_event(json.loads(body)))
        except json.JSONDecodeError:
            sqs, queue_url = queue
            sqs.send_message(QueueUrl=queue_url, MessageBody=body)
        except Exception:
            sns.publish(
                TopicArn=topic_arn,
                Message=body,
                MessageAttributes={
                    "event_type": {"DataType": "String", "StringValue": "clearing"},
                    "brand": {"DataType": "String", "StringValue": "visa"},
                    "schema_version": {"DataType": "Number", "StringValue": "1"},
                },
            )
    SnsPublisher(sns, topic_arn).publish_batch(valid)


class Chaos(threading.Thread):
    """SIGKILLs worker 0 at random moments and restarts it (until told to stop and at least
    ``MIN_KILLS`` were done), and records any worker that exits by itself: none may (a
    worker waits for PostgreSQL instead of exiting), so the run fails at once, never
    restarting it behind the test's back."""

    def __init__(self, pool: WorkerPool, rng: random.Random) -> None:
        super().__init__(daemon=True)
        self.pool = pool
        self.rng = rng
        self.kills = 0
        self.crashes: list[str] = []
        self.stop_kills = threading.Event()
        self.stop_all = threading.Event()

    def run(self) -> None:
        next_kill = time.monotonic() + self.rng.uniform(1.5, 4.0)
        while not self.stop_all.is_set() and not self.crashes:
            killing = not (self.stop_kills.is_set() and self.kills >= MIN_KILLS)
            if killing and time.monotonic() >= next_kill:
                self.pool.kill(0)
                self.kills += 1
                time.sleep(self.rng.uniform(0.2, 1.5))
                self.pool.start(0)
                next_kill = time.monotonic() + self.rng.uniform(1.5, 4.0)
            for index in self.pool.exited():
                code = self.pool.processes[index].returncode
                self.crashes.append(
                    f"worker {index} exited by itself ({code}):\n" + self.pool.tail(index)
                )
            time.sleep(0.1)

    @property
    def done_killing(self) -> bool:
        return self.stop_kills.is_set() and self.kills >= MIN_KILLS


def _applied_ids(engine: sa.Engine) -> set[str]:
    with engine.connect() as connection:
        return set(connection.execute(sa.select(ledger_events.c.event_id)).scalars())


def _wait(chaos: Chaos, condition: Any, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert not chaos.crashes, "\n".join(chaos.crashes)
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.5)


def test_chaos_run_loses_and_doubles_nothing(
    aws: Config, postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Kills, a database restart, duplicates and disorder: the ledger is exactly right."""
    seed = 20261122
    rng = random.Random(seed)
    work = workload.build(seed)
    applied_topology, sqs = points_queue(aws)
    queue = applied_topology.queues["points"]
    upgrade(make_engine(postgres_url))
    reader = make_engine(postgres_url, pool_pre_ping=True)
    sns = sns_client(aws.aws)
    logs = tmp_path / "logs"
    logs.mkdir()
    started = time.monotonic()
    with postgres_behind_proxy(make_url(postgres_url)) as (proxy, proxied_url):
        pool = WorkerPool(proxied_url, logs)
        chaos = Chaos(pool, rng)
        try:
            for index in range(WORKERS):
                pool.start(index)
            chaos.start()
            size = -(-len(work.deliveries) // CHUNKS)
            outage = "none"
            for n in range(CHUNKS):
                _publish(
                    sns,
                    applied_topology.topic_arn,
                    work.deliveries[n * size : (n + 1) * size],
                    (sqs, queue.url),
                )
                if n == CHUNKS // 2:
                    # Mid-run for real: once the workers are busy applying.
                    _wait(chaos, lambda: len(_applied_ids(reader)) >= 40, 120, "busy workers")
                    outage = postgres_outage(proxy, make_url(postgres_url))
                time.sleep(rng.uniform(0.5, 1.5))
            _wait(chaos, lambda: set(work.waits_for) <= _applied_ids(reader), 120, "targets")
            late = [json.dumps(e) for e in work.late]
            _publish(sns, applied_topology.topic_arn, late, (sqs, queue.url))
            chaos.stop_kills.set()
            _wait(chaos, lambda: chaos.done_killing, 60, "the last kills")
            expected_ids = {e["event_id"] for e in work.events}
            _wait(
                chaos,
                lambda: (
                    _applied_ids(reader) == expected_ids
                    and queue_depth(sqs, queue.url) == 0
                    and queue_depth(sqs, queue.dlq_url) >= len(work.rejections)
                ),
                150,
                "the ledger to complete and the queue to empty",
            )
            chaos.stop_all.set()
            chaos.join(timeout=30)
            assert not chaos.crashes, "\n".join(chaos.crashes)
            for index in range(WORKERS):
                pool.wait_started(index)
            stopped = pool.terminate_all(timeout=30)
        finally:
            chaos.stop_all.set()
            pool.kill_all()
    elapsed = time.monotonic() - started

    # Graceful stop of all four under no load: exit 0 within 30 s.
    assert all(code == 0 for code, _ in stopped.values()), stopped
    assert max(seconds for _, seconds in stopped.values()) < 30

    # Exactly once: every valid event has one inbox row and one entry; nothing else is in.
    assert_applied_exactly_once(reader, expected_ids)

    # The ledger is the reference model's, and verify agrees.
    payments, balances = ledger_state(reader)
    expected_payments, expected_balances = reference.ledger_state(work.events)
    assert balances == expected_balances
    assert payments == expected_payments
    verified = run_points("--database-url", postgres_url, "ledger", "verify", "--json")
    assert verified.returncode == 0, verified.stdout + verified.stderr

    # The DLQ holds exactly the deliberate rejections, each with its reason (a worker killed
    # between the DLQ send and the delete may leave a second copy: duplicated, never lost).
    dead = [
        (workload.rejection_key(body), why) for body, why in reasons(read_all(sqs, queue.dlq_url))
    ]
    assert set(dead) == set(work.rejections.items()), dead
    assert queue_depth(sqs, queue.url) == 0
    reader.dispose()

    outcomes = pool.outcomes()
    figures = {
        "payments": len(work.stories),
        "edge-case templates": len({story.case for story in work.stories}),
        "messages published": len(work.deliveries) + len(work.late),
        "distinct valid events": len(work.events),
        "duplicates published": work.duplicates,
        "deliberate rejections published": len(work.rejections),
        "applied (exactly once)": len(expected_ids),
        "duplicates absorbed (worker logs)": outcomes["duplicate"],
        "dead-lettered with a reason": len(dead),
        "DLQ by reason": dict(sorted(Counter(why for _, why in dead).items())),
        "SIGKILLs survived": chaos.kills,
        "workers that exited by themselves": len(chaos.crashes),
        "worker starts": sum(pool.starts.values()),
        "events retried later (transient)": outcomes["retry later"],
        "postgres outage": outage,
        "max SIGTERM exit (s)": round(max(s for _, s in stopped.values()), 1),
        "elapsed (s)": round(elapsed, 1),
    }
    with capsys.disabled():
        print("\n[chaos run] " + json.dumps(figures, ensure_ascii=False))
    assert chaos.kills >= MIN_KILLS
