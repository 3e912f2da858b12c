"""Graceful stop under load (issue 9, part 3): SIGTERM → exit 0 within 30 s, and a
restarted worker completes the ledger with nothing lost or doubled.

Two workers with the production shutdown grace (20 s) are stopped while busy, once with
the database healthy and once while it is unreachable (batches stuck in retries are then
released to SQS, not awaited forever).
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from pathlib import Path

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from consumers.db import make_engine, upgrade
from consumers.points.tables import ledger_entries
from consumers.runtime.processing import in_daemon_thread
from infra.apply import apply_topology
from infra.aws import sns_client, sqs_client
from infra.resolve import topology
from infra.settings import Config
from producers.publisher import SnsPublisher
from schemas.envelope import parse_event
from tests.chaos.support import (
    VISIBILITY_SECONDS,
    StallingProxy,
    WorkerPool,
    queue_depth,
    read_all,
)
from tests.cli import run_points
from tests.proxy import postgres_behind_proxy
from tests.stories import authorize_then_clear, expected_balances

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.moto, pytest.mark.timeout(300)]

PRODUCTION_GRACE = {"POINTS_WORKER_SHUTDOWN_GRACE_SECONDS": "20"}


def _busy(pool: WorkerPool, engine: sa.Engine, at_least: int, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while True:
        with engine.connect() as connection:
            done = connection.execute(sa.select(sa.func.count()).select_from(ledger_entries))
            if done.scalar_one() >= at_least:
                return
        assert time.monotonic() < deadline, "workers never became busy"
        time.sleep(0.1)


@pytest.mark.parametrize("database", ["healthy", "unreachable"])
def test_sigterm_under_load_exits_within_30_s_and_loses_nothing(
    aws: Config,
    postgres_url: str,
    tmp_path: Path,
    database: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """Both workers exit 0 within 30 s of SIGTERM; a fresh drain then applies the rest
    once: balances as expected, one entry per event, nothing dead-lettered."""
    events = authorize_then_clear(80, seed=5)
    applied = apply_topology(topology(aws), sns_client(aws.aws), sqs_client(aws.aws))
    queue = applied.queues["points"]
    sqs = sqs_client(aws.aws)
    sqs.set_queue_attributes(
        QueueUrl=queue.url, Attributes={"VisibilityTimeout": str(VISIBILITY_SECONDS)}
    )
    upgrade(make_engine(postgres_url))
    reader = make_engine(postgres_url, pool_pre_ping=True)
    publisher = SnsPublisher(sns_client(aws.aws), applied.topic_arn)
    logs = tmp_path / "logs"
    logs.mkdir()
    with postgres_behind_proxy(make_url(postgres_url)) as (proxy, proxied):
        pool = WorkerPool(proxied, logs, env=PRODUCTION_GRACE)
        try:
            for index in range(2):
                pool.start(index)
            publisher.publish_batch([parse_event(e) for e in events[:60]])
            for index in range(2):
                pool.wait_started(index)
            _busy(pool, reader, 10)
            if database == "unreachable":
                proxy.cut()
            publisher.publish_batch([parse_event(e) for e in events[60:]])
            time.sleep(1.0)  # batches in flight (and, when cut, stuck in retries)
            stopped = pool.terminate_all(timeout=30)
            proxy.restore()
        finally:
            pool.kill_all()
        with capsys.disabled():
            print(
                f"\n[graceful stop, database {database}] exit (code, s): "
                + json.dumps({i: [c, round(s, 1)] for i, (c, s) in stopped.items()})
            )
        assert all(code == 0 for code, _ in stopped.values()), stopped
        assert max(seconds for _, seconds in stopped.values()) < 30

        drain = WorkerPool(proxied, tmp_path, extra_args=("--drain",))
        drain.start(9)
        try:
            assert drain.processes[9].wait(timeout=120) == 0
        finally:
            drain.kill_all()

    assert queue_depth(sqs, queue.url) == 0
    assert read_all(sqs, queue.dlq_url) == []
    balances = run_points("--database-url", postgres_url, "ledger", "balances", "--json")
    assert json.loads(balances.stdout) == expected_balances(events)
    with reader.connect() as connection:
        entries = connection.execute(sa.select(sa.func.count()).select_from(ledger_entries))
        assert entries.scalar_one() == len(events)
    reader.dispose()


def test_sigterm_while_the_database_hangs_exits_within_30_s(
    aws: Config, postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The database stops answering (connections open, no bytes move) while batches are in
    flight; SIGTERM must still end the worker within 30 s, and nothing is lost."""
    events = authorize_then_clear(60, seed=8)
    applied = apply_topology(topology(aws), sns_client(aws.aws), sqs_client(aws.aws))
    queue = applied.queues["points"]
    sqs = sqs_client(aws.aws)
    sqs.set_queue_attributes(
        QueueUrl=queue.url, Attributes={"VisibilityTimeout": str(VISIBILITY_SECONDS)}
    )
    upgrade(make_engine(postgres_url))
    reader = make_engine(postgres_url, pool_pre_ping=True)
    publisher = SnsPublisher(sns_client(aws.aws), applied.topic_arn)
    url = make_url(postgres_url)
    proxy = StallingProxy(url.host or "127.0.0.1", url.port or 5432)
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    logs = tmp_path / "logs"
    logs.mkdir()
    pool = WorkerPool(through, logs, env=PRODUCTION_GRACE)
    try:
        pool.start(0)
        publisher.publish_batch([parse_event(e) for e in events[:40]])
        pool.wait_started(0)
        _busy(pool, reader, 10)
        proxy.stall()
        publisher.publish_batch([parse_event(e) for e in events[40:]])
        time.sleep(2.0)
        stopped = pool.terminate_all(timeout=35)
    finally:
        proxy.resume()
        pool.kill_all()
        proxy.close()
    with capsys.disabled():
        print(f"\n[graceful stop, database hanging] exit (code, s): {stopped}")
    assert stopped[0][0] == 0
    assert stopped[0][1] < 30

    drain = WorkerPool(postgres_url, tmp_path, extra_args=("--drain",))
    drain.start(9)
    try:
        assert drain.processes[9].wait(timeout=120) == 0
    finally:
        drain.kill_all()
    balances = run_points("--database-url", postgres_url, "ledger", "balances", "--json")
    assert json.loads(balances.stdout) == expected_balances(events)
    reader.dispose()


def test_in_daemon_thread_returns_raises_and_survives_cancellation() -> None:
    """The helper behind the fix: results and errors come back like ``to_thread``; a
    cancelled wait neither blocks nor errors when the thread finishes later."""
    release = threading.Event()

    def boom() -> None:
        raise ValueError("from the thread")

    async def scenario() -> None:
        assert await in_daemon_thread(lambda x: x * 2, 21) == 42
        with pytest.raises(ValueError, match="from the thread"):
            await in_daemon_thread(boom)
        stuck = asyncio.create_task(in_daemon_thread(release.wait))
        await asyncio.sleep(0.05)
        stuck.cancel()
        with pytest.raises(asyncio.CancelledError):
            await stuck
        release.set()
        await asyncio.sleep(0.05)  # the thread settles a cancelled future: ignored

    asyncio.run(scenario())
