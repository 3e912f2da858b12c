"""Graceful stop under load (issue 9, part 3): SIGTERM → exit 0 within 30 s, and a
restarted worker completes the ledger with nothing lost or doubled.

Workers with the production shutdown grace (20 s) get SIGTERM while a batch is observably
in flight (PostgreSQL shows its transaction waiting, or SQS shows its messages received),
with the database healthy, unreachable and hanging. Each test then checks from the
workers' logs that the batch was handled after the signal, and that a fresh drain leaves
one inbox row and one ledger entry per event and an empty DLQ.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.engine import make_url

from consumers.db import make_engine, upgrade
from consumers.points.tables import ledger_entries
from consumers.runtime.processing import in_daemon_thread
from infra.aws import sns_client
from infra.settings import Config
from producers.publisher import SnsPublisher
from schemas.envelope import parse_event
from tests.chaos.support import (
    StallingProxy,
    WorkerPool,
    assert_applied_exactly_once,
    blocked_transactions,
    in_flight,
    inbox_blocked,
    points_queue,
    queue_depth,
    read_all,
)
from tests.support.cli import run_points
from tests.support.proxy import postgres_behind_proxy
from tests.support.stories import authorize_then_clear, expected_balances

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.moto, pytest.mark.timeout(300)]

PRODUCTION_GRACE = {"POINTS_WORKER_SHUTDOWN_GRACE_SECONDS": "20"}


@dataclass
class Scene:
    """A topic, its points queue (short visibility) and a migrated database."""

    sqs: Any
    queue: Any
    publisher: SnsPublisher
    reader: sa.Engine

    def publish(self, events: list[dict[str, Any]]) -> None:
        self.publisher.publish_batch([parse_event(e) for e in events])


def _scene(aws: Config, postgres_url: str) -> Scene:
    applied, sqs = points_queue(aws)
    queue = applied.queues["points"]
    upgrade(make_engine(postgres_url))
    publisher = SnsPublisher(sns_client(aws.aws), applied.topic_arn)
    return Scene(sqs, queue, publisher, make_engine(postgres_url, pool_pre_ping=True))


def _until(condition: Callable[[], bool], what: str, timeout: float = 120) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting for {what}"
        time.sleep(0.1)


def _entries(engine: sa.Engine) -> int:
    with engine.connect() as connection:
        count = connection.execute(sa.select(sa.func.count()).select_from(ledger_entries))
        return int(count.scalar_one())


def _drain_then_check(scene: Scene, url: str, logs: Path, events: list[dict[str, Any]]) -> None:
    """A fresh ``--drain`` worker applies the rest: queue and DLQ empty, one inbox row and
    one entry per event, balances as the stories give them."""
    drain = WorkerPool(url, logs, extra_args=("--drain",))
    drain.start(9)
    try:
        assert drain.processes[9].wait(timeout=120) == 0
    finally:
        drain.kill_all()
    assert queue_depth(scene.sqs, scene.queue.url) == 0
    assert read_all(scene.sqs, scene.queue.dlq_url) == []
    assert_applied_exactly_once(scene.reader, [e["event_id"] for e in events])
    balances = run_points("--database-url", url, "ledger", "balances", "--json")
    assert json.loads(balances.stdout) == expected_balances(events)
    scene.reader.dispose()


@pytest.mark.parametrize("database", ["healthy", "unreachable"])
def test_sigterm_under_load_exits_within_30_s_and_loses_nothing(
    aws: Config,
    postgres_url: str,
    tmp_path: Path,
    database: str,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """SIGTERM lands while PostgreSQL shows a batch in the middle of its transaction (held
    on a lock the test owns). Healthy: the lock is released 1 s later and the worker
    finishes that batch before exiting. Unreachable: the connection is cut first and the
    batch ends in retries. Both workers exit 0 within 30 s, the batch's outcome logged
    after the signal; a fresh drain then completes the ledger exactly once, DLQ empty."""
    events = authorize_then_clear(80, seed=5)
    scene = _scene(aws, postgres_url)
    logs = tmp_path / "logs"
    logs.mkdir()
    with postgres_behind_proxy(make_url(postgres_url)) as (proxy, proxied):
        pool = WorkerPool(proxied, logs, env=PRODUCTION_GRACE)
        try:
            for index in range(2):
                pool.start(index)
            scene.publish(events[:60])
            for index in range(2):
                pool.wait_started(index)
            _until(lambda: _entries(scene.reader) >= 10, "the workers to be busy")
            with inbox_blocked(postgres_url):
                scene.publish(events[60:])
                _until(lambda: blocked_transactions(scene.reader) > 0, "a batch to block")
                if database == "unreachable":
                    proxy.cut()
                sent = pool.sigterm_all()
                time.sleep(1.0)  # the blocked batch stays in flight after the signal
            stopped = pool.wait_all(sent, timeout=30)
            proxy.restore()
        finally:
            pool.kill_all()
        after = pool.logged_after_sigterm()
        with capsys.disabled():
            print(
                f"\n[graceful stop, database {database}] exit (code, s): "
                + json.dumps({i: [c, round(s, 1)] for i, (c, s) in stopped.items()})
                + f"; logged after SIGTERM: {dict(after)}"
            )
        assert all(code == 0 for code, _ in stopped.values()), stopped
        assert max(seconds for _, seconds in stopped.values()) < 30
        finished = "applied" if database == "healthy" else "retry later"
        assert after[finished] > 0, f"no batch was in flight at SIGTERM: {dict(after)}"
        _drain_then_check(scene, proxied, tmp_path, events)


def test_sigterm_while_the_database_hangs_exits_within_30_s(
    aws: Config, postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """The database stops answering (connections open, no bytes move) while a batch is in
    flight; SIGTERM still ends the worker within 30 s, which releases that batch's messages
    after the grace; a fresh drain then applies everything exactly once, DLQ empty."""
    events = authorize_then_clear(60, seed=8)
    scene = _scene(aws, postgres_url)
    url = make_url(postgres_url)
    proxy = StallingProxy(url.host or "127.0.0.1", url.port or 5432)
    through = url.set(host="127.0.0.1", port=proxy.port).render_as_string(hide_password=False)
    logs = tmp_path / "logs"
    logs.mkdir()
    pool = WorkerPool(through, logs, env=PRODUCTION_GRACE)
    try:
        pool.start(0)
        scene.publish(events[:40])
        pool.wait_started(0)
        _until(lambda: _entries(scene.reader) >= 10, "the worker to be busy")
        proxy.stall()
        scene.publish(events[40:])
        _until(lambda: in_flight(scene.sqs, scene.queue.url) > 0, "a batch to be received")
        stopped = pool.terminate_all(timeout=35)
    finally:
        proxy.resume()
        pool.kill_all()
        proxy.close()
    released = [
        line for line in pool.log_lines() if line.get("msg") == "released in-flight messages"
    ]
    with capsys.disabled():
        print(
            f"\n[graceful stop, database hanging] exit (code, s): {stopped}; "
            f"released in flight: {[line.get('count') for line in released]}"
        )
    assert stopped[0][0] == 0
    assert stopped[0][1] < 30
    assert released, "no batch was in flight at SIGTERM"
    assert all(line["count"] > 0 for line in released)
    _drain_then_check(scene, postgres_url, tmp_path, events)


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
