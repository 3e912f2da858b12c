"""SIGKILL ``dlq redrive``, ``dlq export --delete`` and ``dlq purge`` at random moments
(issue 14): no dead letter is ever lost.

Each command is started again and again and SIGKILLed once it has taken a random number of
messages out of the DLQ (seeded; the seed is in every failure message). After each kill,
once the killed command's holds have lapsed, every seeded event is still in the DLQ, in the
source queue, or in an export file — and a last run to completion finishes the job.
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

from infra.apply import ApplyResult
from infra.aws import sqs_client
from infra.settings import Config
from ops.scan import DlqScan, ScanOptions
from tests.support.cli import POINTS, run_points
from tests.support.dlq import (  # noqa: F401 (pytest fixtures)
    aws_fixture,
    contract_attributes,
    counts,
    dead_letter_like_worker,
    event_body,
    ops_db_fixture,
    topo_fixture,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

pytestmark = [pytest.mark.moto, pytest.mark.slow, pytest.mark.timeout(600)]

MESSAGES = 60
#: Kills per command; raise it for a longer trial (``POINTS_DLQ_KILLS=20``).
KILLS = int(os.environ.get("POINTS_DLQ_KILLS", "2"))
HOLD = ("--visibility-timeout", "1", "--settle", "5")
LOOK = ScanOptions(hold_seconds=5, wait_seconds=0, settle_seconds=5)


def _top_up(sqs: SQSClient, dlq_url: str, expected: set[str]) -> None:
    """Fill the DLQ back up to ``MESSAGES`` with new events (added to ``expected``), so that
    every round has work to be killed in."""
    for _ in range(MESSAGES - sum(counts(sqs, dlq_url))):
        event_id = f"k{len(expected)}"
        dead_letter_like_worker(sqs, dlq_url, event_body(event_id))
        expected.add(event_id)


def _event_ids(sqs: SQSClient, url: str) -> set[str]:
    with DlqScan(sqs, url, LOOK) as scan:
        found = {json.loads(m.body)["event_id"] for batch in scan.batches() for m in batch}
    assert scan.complete, scan.incomplete_reason
    return found


def _in_files(directory: Path) -> set[str]:
    return {
        json.loads(line)["event_id"]
        for path in directory.glob("*.jsonl")
        for line in path.read_text().splitlines()
        if line.strip()
    }


def _kill_midway(args: list[str], sqs: SQSClient, dlq_url: str, rng: random.Random) -> bool:
    """Run ``points ARGS``; SIGKILL it once it has taken a random 1-40 messages out of the
    DLQ. False if it ended first."""
    total = sum(counts(sqs, dlq_url))
    target = total - rng.randint(1, 40)
    process = subprocess.Popen(
        [str(POINTS), *args], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    deadline = time.monotonic() + 60
    while process.poll() is None and time.monotonic() < deadline:
        if sum(counts(sqs, dlq_url)) <= target:
            break
        time.sleep(0.02)
    ended = process.poll() is not None
    process.send_signal(signal.SIGKILL)
    process.wait()
    return not ended


def _everything_somewhere(
    aws: Config, topo: ApplyResult, files: Path, expected: set[str], seed: int
) -> None:
    time.sleep(1.5)  # what the killed command held becomes visible again
    sqs = sqs_client(aws.aws)
    # The source queue first: looking is receiving, and after 5 looks SQS moves a message
    # to the DLQ (maxReceiveCount) — where the second look then finds it.
    where = (
        _event_ids(sqs, topo.queues["points"].url)
        | _event_ids(sqs, topo.queues["points"].dlq_url)
        | _in_files(files)
    )
    assert expected <= where, f"lost {sorted(expected - where)} (seed {seed})"


@pytest.mark.parametrize("command", ["redrive", "export-delete", "purge"])
def test_killed_dlq_commands_lose_nothing(
    aws: Config,
    topo: ApplyResult,
    tmp_path: Path,
    command: str,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """``KILLS`` rounds, each on a DLQ topped up to 60 events and SIGKILLed once it has taken
    a random 1-40 of them out, then one run to completion: after every kill each event is
    in the DLQ, the source queue or an export file, and at the end the DLQ is empty."""
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    sqs, dlq_url = sqs_client(aws.aws), topo.queues["points"].dlq_url
    expected: set[str] = set()
    files = tmp_path / "exports"
    files.mkdir()
    monkeypatch.setenv("POINTS_EXPORT_MARKER_DIR", str(tmp_path / "markers"))
    env = dict(os.environ)

    def args(round_: int) -> list[str]:
        match command:
            case "redrive":
                return ["dlq", "redrive", "--rate", "30", "--reason", "k", "--yes", *HOLD]
            case "export-delete":
                return ["dlq", "export", "--out", str(files / f"{round_}.jsonl"), "--delete", *HOLD]
            case _:  # a purge deletes what the export made just before holds
                out = str(files / f"base-{round_}.jsonl")
                assert run_points("dlq", "export", "--out", out, env=env).returncode == 0
                return ["dlq", "purge", "--reason", "k", "--yes", *HOLD]

    midway = 0
    for round_ in range(KILLS):
        _top_up(sqs, dlq_url, expected)
        midway += _kill_midway(args(round_), sqs, dlq_url, rng)
        _everything_somewhere(aws, topo, files, expected, seed)
    time.sleep(1.5)
    final = run_points(*args(KILLS), env=env)
    assert final.returncode == 0, f"{final.stderr} (seed {seed})"
    assert counts(sqs, dlq_url) == (0, 0), seed  # before looking at the source again
    _everything_somewhere(aws, topo, files, expected, seed)
    with capsys.disabled():
        print(
            f"\n[dlq {command} under kill] seed {seed}: {midway} of {KILLS} kills mid-work, "
            f"{len(expected)} events, none lost"
        )
