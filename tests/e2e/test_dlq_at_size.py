"""Every DLQ command sees the whole queue when a scan outlasts its visibility timeout.

The CI-sized form of ``benchmarks/dlq.py`` (20,000 dead letters on fauxqs, 1,500 on moto):
200 dead letters on moto with a 2 s visibility timeout, so every scan takes longer than the
timeout (moto's receives slow down with depth), as a 20,000-message scan does at 30 s.
Then a worker drains the redriven events and the ledger equals the reference model.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from benchmarks.dlq import dead_letter_bodies, fill
from benchmarks.workload import payment_bodies
from infra.apply import ApplyResult
from infra.aws import sqs_client
from infra.settings import Config
from tests.support.cli import run_points
from tests.support.dlq import (  # noqa: F401 (pytest fixtures)
    aws_fixture,
    counts,
    ops_db_fixture,
    topo_fixture,
)
from tests.support.reference import ledger_state

pytestmark = [pytest.mark.moto, pytest.mark.slow]

MESSAGES = 200
HOLD = ("--visibility-timeout", "2")


def test_show_export_dry_run_and_redrive_see_every_message(
    aws: Config, topo: ApplyResult, tmp_path: Path, sqlite_url: str
) -> None:
    """200 dead letters (5 % redelivered copies among them): ``show --limit 50000 --json``
    lists 200 distinct messages, ``export`` writes 200 lines, the dry run counts 200, the
    redrive moves 200; after ``worker --drain`` the balances equal the reference model."""
    events = [json.loads(body) for body in payment_bodies(MESSAGES, duplicates=0.05)]
    outputs = topo.queues["points"]
    fill(os.environ["AWS_ENDPOINT_URL"], outputs.dlq_url, dead_letter_bodies(events))
    env = {"POINTS_EXPORT_MARKER_DIR": str(tmp_path / "m")}

    shown = run_points("dlq", "show", "--limit", "50000", "--json", *HOLD)
    assert shown.returncode == 0, shown.stderr
    assert len({m["message_id"] for m in json.loads(shown.stdout)}) == MESSAGES
    out = tmp_path / "all.jsonl"
    exported = run_points("dlq", "export", "--out", str(out), *HOLD, env=env)
    assert exported.returncode == 0, exported.stderr
    assert len(out.read_text().splitlines()) == MESSAGES
    dry = run_points("dlq", "redrive", "--dry-run", "--json", *HOLD)
    assert json.loads(dry.stdout)["moved"] == MESSAGES
    moved = run_points("dlq", "redrive", "--reason", "outage over", "--yes", "--json", *HOLD)
    assert moved.returncode == 0, moved.stderr
    assert json.loads(moved.stdout)["moved"] == MESSAGES
    assert counts(sqs_client(aws.aws), outputs.dlq_url) == (0, 0)

    ledger = {"POINTS_DATABASE_URL": sqlite_url, "POINTS_WORKER_DRAIN_IDLE_SECONDS": "2"}
    assert run_points("db", "upgrade", env=ledger).returncode == 0
    drained = run_points("worker", "--queue", "points", "--drain", "--no-metrics", env=ledger)
    assert drained.returncode == 0, drained.stderr[-2000:]
    balances = run_points("ledger", "balances", "--json", env=ledger)
    distinct = list({e["event_id"]: e for e in events}.values())
    assert json.loads(balances.stdout) == ledger_state(distinct)[1]
