"""``points dlq …`` and ``points replay`` as operators run them: the real console script."""

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
from ops.redrive import redrive
from ops.scan import DlqScan
from tests.support.cli import POINTS, run_points
from tests.support.dlq import (  # noqa: F401 (pytest fixtures)
    FAST,
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

SHOW_KEYS = ["message_id", "event_id", "event_type", "payment_id", "receive_count", "error"]


def _seed(aws: Config, topo: ApplyResult, n: int) -> tuple[str, str]:
    outputs = topo.queues["points"]
    sqs = sqs_client(aws.aws)
    for i in range(n):
        kind = "refund" if i % 2 else "clearing"
        dead_letter_like_worker(
            sqs,
            outputs.dlq_url,
            event_body(f"k{i}", kind),
            attributes=contract_attributes(kind),
            error_type="invalid_event" if i % 2 else "payment_conflict",
        )
    return outputs.url, outputs.dlq_url


def _event_ids(aws: Config, url: str) -> list[str]:
    """Event ids in a queue, looked at without consuming (duplicates kept)."""
    found: list[str] = []
    with DlqScan(sqs_client(aws.aws), url, FAST) as scan:
        for batch in scan.batches():
            found += [json.loads(m.body)["event_id"] for m in batch]
    return found


def test_show_json_has_the_contract_shape(aws: Config, topo: ApplyResult) -> None:
    """``dlq show --json``: a list of objects whose first keys are the DESIGN §6 ones."""
    _seed(aws, topo, 2)
    result = run_points("dlq", "show", "--json")
    assert result.returncode == 0, result.stderr
    shown = json.loads(result.stdout)
    assert len(shown) == 2
    for item in shown:
        assert list(item)[:6] == SHOW_KEYS
        assert item["error"].startswith(("invalid_event: ", "payment_conflict: "))


def test_list_json_names_every_dlq(aws: Config, topo: ApplyResult) -> None:
    """``dlq list --json`` has the four DLQs with their depths."""
    _seed(aws, topo, 3)
    result = run_points("dlq", "list", "--json")
    assert result.returncode == 0, result.stderr
    depths = {q["queue"]: q["depth"] for q in json.loads(result.stdout)}
    assert depths == {
        "points-dlq": 3,
        "points-delivery-dlq": 0,
        "notifications-dlq": 0,
        "notifications-delivery-dlq": 0,
    }


def test_redrive_json_summary_and_effect(aws: Config, topo: ApplyResult) -> None:
    """``dlq redrive --where … --json`` prints exactly the four summary keys and moves."""
    url, dlq_url = _seed(aws, topo, 4)
    result = run_points("dlq", "redrive", "--where", "event_type=refund", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"moved": 2, "skipped": 2, "failed": 0, "dry_run": False}
    assert sorted(_event_ids(aws, url)) == ["k1", "k3"]
    assert sorted(_event_ids(aws, dlq_url)) == ["k0", "k2"]


@pytest.mark.parametrize(
    ("args", "expected"),
    [
        (["dlq", "show", "--queue", "pionts"], "known: points, notifications, points-dlq"),
        (["dlq", "redrive", "--where", "brand"], "expected KEY=VALUE with KEY one of event_id"),
        (
            ["dlq", "redrive", "--native", "--reason", "r", "--yes"],
            "does not support StartMessageMoveTask",
        ),
        (["dlq", "purge"], "a purge needs --reason TEXT"),
        (["dlq", "redrive"], "redriving a whole DLQ needs --reason TEXT"),
        (["dlq", "purge", "--reason", "r"], "pass --yes (no terminal to ask on)"),
    ],
    ids=[
        "unknown-queue",
        "malformed-where",
        "native-on-moto",
        "purge-without-reason",
        "whole-redrive-without-reason",
        "purge-unconfirmed",
    ],
)
def test_bad_input_is_one_line_without_traceback(
    aws: Config, args: list[str], expected: str
) -> None:
    """Operator mistakes exit 2 with one line that says what is expected."""
    result = run_points(*args)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr


def test_export_purge_replay_round_trip_on_the_command_line(
    aws: Config, topo: ApplyResult, tmp_path: Path
) -> None:
    """export → purge (allowed by the fresh export) → replay --to-queue points-dlq."""
    _, dlq_url = _seed(aws, topo, 4)
    env = {"POINTS_EXPORT_MARKER_DIR": str(tmp_path / "markers")}
    out = tmp_path / "dlq.jsonl"
    before = sorted(_event_ids(aws, dlq_url))
    exported = run_points("dlq", "export", "--out", str(out), "--json", env=env)
    assert exported.returncode == 0, exported.stderr
    assert json.loads(exported.stdout)["exported"] == 4
    purged = run_points("dlq", "purge", "--reason", "saved", "--yes", "--json", env=env)
    assert purged.returncode == 0, purged.stderr
    assert counts(sqs_client(aws.aws), dlq_url) == (0, 0)
    replayed = run_points("replay", str(out), "--to-queue", "points-dlq", "--json")
    assert replayed.returncode == 0, replayed.stderr
    assert json.loads(replayed.stdout)["replayed"] == 4
    assert sorted(_event_ids(aws, dlq_url)) == before


def _kill_midway(sqs: SQSClient, url: str, rng: random.Random) -> None:
    """Start a paced redrive and SIGKILL it once a random number of messages has moved."""
    process = subprocess.Popen(
        [
            *(str(POINTS), "dlq", "redrive", "--rate", "8", "--visibility-timeout", "1"),
            *("--reason", "kill test", "--yes", "--json"),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=os.environ.copy(),
    )
    threshold = counts(sqs, url)[0] + rng.randint(1, 8)
    deadline = time.monotonic() + 30
    while process.poll() is None and time.monotonic() < deadline:
        if counts(sqs, url)[0] >= threshold:
            time.sleep(rng.uniform(0, 0.4))
            break
        time.sleep(0.05)
    process.send_signal(signal.SIGKILL)
    process.wait()


def test_killed_redrive_loses_no_message(aws: Config, topo: ApplyResult) -> None:
    """SIGKILL ``dlq redrive`` at random points, three times: every message is always in the
    DLQ or the source queue (at worst in both); a final redrive then moves the rest."""
    url, dlq_url = _seed(aws, topo, 24)
    sqs = sqs_client(aws.aws)
    expected = {f"k{i}" for i in range(24)}
    seed = random.randrange(2**32)
    rng = random.Random(seed)
    for _ in range(3):
        _kill_midway(sqs, url, rng)
        time.sleep(2.2)  # held messages become visible again (hold ≥ 1 batch at 8/s = 2 s)
        in_dlq, in_source = _event_ids(aws, dlq_url), _event_ids(aws, url)
        assert set(in_dlq) | set(in_source) == expected, f"seed {seed}"
    redrive(aws, options=FAST)
    assert set(_event_ids(aws, url)) == expected, f"seed {seed}"
    assert counts(sqs, dlq_url) == (0, 0)
