"""The operator path in incident conditions (issue 14), with the real ``points`` commands.

A live ``points worker`` keeps consuming while the operator acts, as on ECS. The failures
are real: events whose id the ledger already holds with other content
(``idempotency_conflict``), which the worker dead-letters again every time they come back.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from infra.apply import ApplyResult
from infra.aws import sqs_client
from infra.settings import Config
from schemas.envelope import parse_event
from tests.support.cli import POINTS, run_points
from tests.support.dlq import (  # noqa: F401 (pytest fixtures)
    aws_fixture,
    contract_attributes,
    counts,
    dead_letter_like_worker,
    drain,
    ops_db_fixture,
    topo_fixture,
)
from tests.support.factories import event_dict
from tests.support.ledger import ledger_on

pytestmark = [pytest.mark.moto, pytest.mark.slow]

WORKER_ENV = {
    "POINTS_WORKER_WAIT_SECONDS": "1",
    "POINTS_WORKER_DRAIN_IDLE_SECONDS": "1",
    "POINTS_WORKER_BACKOFF_BASE_SECONDS": "1",
}


def _conflicts(aws: Config, topo: ApplyResult, n: int, prefix: str) -> list[str]:
    """``n`` events applied, then a different version of each dead-lettered (as the worker
    would after an idempotency conflict). Returns their event ids."""
    ledger = ledger_on(aws.points.database_url)
    sqs = sqs_client(aws.aws)
    ids = []
    for i in range(n):
        event = event_dict(event_id=f"{prefix}{i}", payment_id=f"pay-{prefix}{i}")
        ledger.handle_batch([parse_event(event)])
        changed = {**event, "amount": event["amount"] + 1}
        dead_letter_like_worker(
            sqs,
            topo.queues["points"].dlq_url,
            json.dumps(changed),
            error_type="idempotency_conflict",
            attributes=contract_attributes(),
        )
        ids.append(event["event_id"])
    return ids


@pytest.fixture
def worker(aws: Config, tmp_path: Path) -> Iterator[Path]:
    """A real ``points worker`` on the points queue; yields its log file."""
    log = tmp_path / "worker.log"
    env = {**os.environ, **WORKER_ENV, "POINTS_WORKER_HEALTH_FILE": str(tmp_path / "health")}
    with log.open("wb") as handle:
        process = subprocess.Popen(
            [str(POINTS), "worker", "--queue", "points", "--no-metrics"],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=handle,
        )
    deadline = time.monotonic() + 60
    while '"worker started"' not in log.read_text(errors="replace"):
        assert process.poll() is None, log.read_text()
        assert time.monotonic() < deadline, "the worker did not start"
        time.sleep(0.1)
    try:
        yield log
    finally:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_until(condition: Any, what: str, timeout: float = 60, diagnose: Any = lambda: "") -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, f"timed out waiting: {what} {diagnose()}"
        time.sleep(0.2)


def test_redrive_ends_after_one_pass_while_a_worker_fails_every_copy_again(
    aws: Config, topo: ApplyResult, worker: Path
) -> None:
    """20 conflicts, a live worker that dead-letters every copy again at once: the paced
    redrive ends by itself, moved exactly 20, skipped only copies of its own that came
    back; after the worker is done, ``dlq status`` says all 20 failed again (and why), and
    the DLQ holds a copy of each of the 20 events, each marked with the redrive's id.

    A copy of each, not exactly 20 messages: SQS delivers at least once, so a worker may
    dead-letter one message twice (seen under load: moto handed one message to both
    pollers, with the same receive count, 60 ms apart)."""
    _conflicts(aws, topo, 20, "c")
    result = run_points(
        *("dlq", "redrive", "--rate", "10", "--reason", "INC-1", "--yes", "--json"), timeout=120
    )
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)
    assert (summary["moved"], summary["failed"]) == (20, 0)
    if summary["skipped"]:  # copies that came back while the pass was still running
        assert f"{summary['skipped']} of the skipped came back failing again" in result.stderr
    found = re.search(r"\(redrive (\d+)", result.stderr)
    assert found, result.stderr
    redrive_id = int(found.group(1))
    dlq_url = topo.queues["points"].dlq_url
    sqs = sqs_client(aws.aws)
    _wait_until(lambda: counts(sqs, topo.queues["points"].url) == (0, 0), "worker done")
    seen: list[tuple[int, int]] = []

    def settled() -> bool:  # the worker sends a DLQ copy before it deletes the source
        seen.append(counts(sqs, dlq_url))
        visible, held = seen[-1]
        return visible >= 20 and held == 0

    _wait_until(settled, "20 copies back in the DLQ, none held", diagnose=lambda: seen[-1:])
    status = run_points("dlq", "status", str(redrive_id), "--json")
    assert status.returncode == 0, status.stderr
    report = json.loads(status.stdout)
    assert (report["moved"], report["failed_again"], report["applied"]) == (20, 20, 0)
    assert {m["reason"].split(":")[0] for m in report["messages"]} == {"idempotency_conflict"}
    copies = drain(sqs, dlq_url)
    assert {json.loads(m["Body"])["event_id"] for m in copies} == {f"c{i}" for i in range(20)}
    marks = {m["MessageAttributes"]["points.redrive_id"]["StringValue"] for m in copies}
    assert marks == {str(redrive_id)}


def test_the_worker_log_names_both_ids_and_redrive_takes_the_logged_one(
    aws: Config, topo: ApplyResult, worker: Path
) -> None:
    """The worker's "dead-lettered" line names the message id it received and the DLQ
    copy's id; the copy carries the first; ``--id`` with the logged id finds the copy."""
    sqs = sqs_client(aws.aws)
    (event_id,) = _conflicts(aws, topo, 1, "t")
    first = run_points("dlq", "redrive", "--id", event_id, "--reason", "try", "--json")
    assert first.returncode == 0, first.stderr
    _wait_until(lambda: '"dead-lettered"' in worker.read_text(), "the worker dead-letters it")
    line = next(
        json.loads(text)
        for text in worker.read_text().splitlines()
        if '"dead-lettered"' in text and event_id in text
    )
    assert line["message_id"] != line["dlq_message_id"]
    _wait_until(lambda: counts(sqs, topo.queues["points"].dlq_url)[0] == 1, "copy in the DLQ")
    shown = run_points("dlq", "show", "--json")
    (copy,) = json.loads(shown.stdout)
    assert copy["message_id"] == line["dlq_message_id"]
    dry = run_points("dlq", "redrive", "--id", line["message_id"], "--dry-run", "--json")
    assert json.loads(dry.stdout)["moved"] == 1


def test_ctrl_c_prints_the_summary_and_releases_the_batch(aws: Config, topo: ApplyResult) -> None:
    """SIGINT during a paced redrive: exit 130, the JSON summary on stdout, and nothing
    left in flight in the DLQ right away (not after the visibility timeout)."""
    _conflicts(aws, topo, 30, "i")
    process = subprocess.Popen(
        [
            *(str(POINTS), "dlq", "redrive", "--rate", "4", "--visibility-timeout", "300"),
            *("--reason", "interrupted on purpose", "--yes", "--json"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    sqs = sqs_client(aws.aws)
    _wait_until(lambda: counts(sqs, topo.queues["points"].url)[0] >= 4, "some moved")
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=60)
    assert process.returncode == 130, err
    summary = json.loads(out)
    visible, in_flight = counts(sqs, topo.queues["points"].dlq_url)
    assert in_flight == 0
    assert visible + summary["moved"] == 30
    assert "interrupted" in err


def test_audit_shows_every_state_changing_action(
    aws: Config, topo: ApplyResult, tmp_path: Path
) -> None:
    """redrive, export --delete, purge and replay each appear in ``points audit --json``
    with the actor, the counts and the reason; ``--since`` filters by time."""
    _conflicts(aws, topo, 3, "a")
    env = {"POINTS_EXPORT_MARKER_DIR": str(tmp_path / "m")}
    out = tmp_path / "x.jsonl"
    steps = [
        ("dlq", "redrive", "--where", "event_id=a0", "--reason", "R1"),
        ("dlq", "export", "--out", str(out), "--delete", "--reason", "R2"),
        ("dlq", "purge", "--reason", "R3", "--yes"),
        ("replay", str(out), "--to-queue", "points-dlq", "--reason", "R4"),
    ]
    for step in steps:
        result = run_points(*step, env=env)
        assert result.returncode == 0, (step, result.stderr)
    audit = run_points("audit", "--json")
    assert audit.returncode == 0, audit.stderr
    entries = json.loads(audit.stdout)[:4]
    assert [(e["command"], e["reason"]) for e in entries] == [
        ("replay", "R4"),
        ("dlq purge", "R3"),
        ("dlq export", "R2"),
        ("dlq redrive", "R1"),
    ]
    assert [
        e["counts"].get(k)
        for e, k in zip(entries, ["replayed", "purged", "deleted", "moved"], strict=True)
    ] == [
        2,
        0,
        2,
        1,
    ]
    assert all(e["actor"] and e["os_user"] and e["outcome"] == "completed" for e in entries)
    later = run_points("audit", "--since", "2999-01-01", "--json")
    assert json.loads(later.stdout) == []
