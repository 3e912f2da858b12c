"""Redrive under kill, end to end (issue 9, part 4).

``tests/e2e/test_dlq_cli.py::test_killed_redrive_loses_no_message`` proves that a SIGKILLed
``points dlq redrive`` leaves every message in the DLQ or the source queue. This extends it
to the promise that matters to users: with a worker consuming the source queue while the
redrive is killed again and again, every dead-lettered event ends up applied exactly once
(copies that a kill duplicated, and events applied before they were dead-lettered, are
absorbed as duplicates), and the DLQ ends empty.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import time
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from consumers.db import make_engine, upgrade
from infra.settings import Config
from schemas.envelope import parse_event
from tests.chaos.support import (
    WorkerPool,
    assert_applied_exactly_once,
    points_queue,
    queue_depth,
    read_all,
)
from tests.support.cli import POINTS, run_points
from tests.support.dlq import contract_attributes, dead_letter_like_worker
from tests.support.ledger import ledger_on
from tests.support.stories import authorize_then_clear, expected_balances

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

pytestmark = [pytest.mark.slow, pytest.mark.postgres, pytest.mark.moto, pytest.mark.timeout(300)]

KILLS = 4


def _kill_a_redrive_midway(
    sqs: SQSClient, dlq_url: str, rng: random.Random, env: dict[str, str]
) -> int:
    """Start a paced redrive; SIGKILL it at a random moment once it has moved a random
    number of messages (1-10, or the DLQ is empty). Returns how many it had moved."""
    before = queue_depth(sqs, dlq_url)
    process = subprocess.Popen(
        [
            *(str(POINTS), "dlq", "redrive", "--rate", "3", "--visibility-timeout", "2"),
            *("--reason", "kill test", "--yes", "--json"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env,
    )
    target = max(0, before - rng.randint(1, 10))
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        if queue_depth(sqs, dlq_url) <= target:
            time.sleep(rng.uniform(0, 0.4))
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()
    return before - queue_depth(sqs, dlq_url)


def test_killed_redrives_then_a_full_one_apply_every_event_exactly_once(
    aws: Config, postgres_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """40 dead-lettered events (10 of them applied before): 4 redrives SIGKILLed at random
    moments while a worker consumes, then one to completion → ledger exact, DLQ empty."""
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    events = authorize_then_clear(20, seed=3)
    applied, sqs = points_queue(aws)
    queue = applied.queues["points"]
    engine = make_engine(postgres_url)
    upgrade(engine)
    ledger_on(engine).handle_batch([parse_event(e) for e in events[:10]])
    for event in events:
        dead_letter_like_worker(
            sqs,
            queue.dlq_url,
            json.dumps(event),
            attributes=contract_attributes(event["event_type"], event["brand"]),
            error_type="database_unavailable",
            error_message="gave up after repeated connection failures",
            receive_count=5,
        )
    env = {**os.environ, "POINTS_DATABASE_URL": postgres_url}
    logs = tmp_path / "logs"
    logs.mkdir()
    pool = WorkerPool(postgres_url, logs)
    try:
        pool.start(0)
        pool.wait_started(0)
        moved = [_kill_a_redrive_midway(sqs, queue.dlq_url, rng, env) for _ in range(KILLS)]
        time.sleep(3.0)  # what the killed redrives held becomes visible again
        final = run_points(
            *("dlq", "redrive", "--reason", "final", "--yes", "--json"),
            env={"POINTS_DATABASE_URL": postgres_url},
        )
        assert final.returncode == 0, final.stderr
        assert queue_depth(sqs, queue.dlq_url) == 0, f"the full redrive left messages (seed {seed})"
        deadline = time.monotonic() + 120
        while queue_depth(sqs, queue.url) or queue_depth(sqs, queue.dlq_url):
            assert time.monotonic() < deadline, f"not drained (seed {seed})"
            time.sleep(0.5)
        stopped = pool.terminate_all()
    finally:
        pool.kill_all()
    assert stopped[0][0] == 0

    balances = run_points("--database-url", postgres_url, "ledger", "balances", "--json")
    assert json.loads(balances.stdout) == expected_balances(events), f"seed {seed}"
    assert_applied_exactly_once(engine, [e["event_id"] for e in events])
    assert read_all(sqs, queue.dlq_url) == []
    engine.dispose()
    outcomes = pool.outcomes()
    with capsys.disabled():
        print(
            f"\n[redrive under kill] seed {seed}: {KILLS} redrives SIGKILLed after moving "
            f"{moved} messages, final redrive {json.loads(final.stdout)}; "
            f"worker applied {outcomes['applied']}, absorbed "
            f"{outcomes['duplicate']} duplicates, dead-lettered {outcomes['dead-lettered']}"
        )
