"""The pipeline as a producer in any language meets it: the declared topology on a real moto
server, raw SNS publishes, and the real ``points`` console script draining into SQLite."""

from __future__ import annotations

import json
import os
from collections import Counter
from pathlib import Path
from typing import Any

from infra.apply import ApplyResult, apply_topology
from infra.aws import sns_client, sqs_client
from infra.resolve import topology
from infra.settings import Config
from tests.support.cli import run_points

#: One poller: these tests count the worker's outcomes exactly, and moto's ReceiveMessage takes
#: no lock, so two pollers' concurrent receives can both get one message (both responses then
#: show receive count 2 and one receipt handle): a ninth "duplicate" for eight sends, the red CI
#: of 2d0b5c7. Real SQS may also deliver twice; the worker judges the copy a duplicate, which is
#: right but not what an exact count can assert. Concurrent pollers are the chaos run's subject.
FAST_WORKER = {
    "POINTS_WORKER_CONCURRENCY": "1",
    "POINTS_WORKER_DRAIN_IDLE_SECONDS": "1",
    "POINTS_WORKER_BACKOFF_BASE_SECONDS": "1",
    "POINTS_WORKER_BACKOFF_MAX_SECONDS": "2",
}


def deploy(aws: Config, database_url: str) -> ApplyResult:
    """``points infra apply`` (as a function) and ``points db upgrade`` (as operators run it)."""
    applied = apply_topology(topology(aws), sns_client(aws.aws), sqs_client(aws.aws))
    migrated = run_points("--database-url", database_url, "db", "upgrade")
    assert migrated.returncode == 0, migrated.stderr
    return applied


def publish_raw(aws: Config, topic_arn: str, body: str) -> None:
    """What a producer in another language does: the body, and no message attribute at all."""
    sns_client(aws.aws).publish(TopicArn=topic_arn, Message=body)


def drain(database_url: str, tmp_path: Path, queue: str = "points") -> Counter[str]:
    """Run ``points worker --drain`` to the end; the outcomes it logged, counted."""
    env = {**FAST_WORKER, "POINTS_WORKER_HEALTH_FILE": str(tmp_path / f"{queue}.health")}
    result = run_points(
        "--database-url",
        database_url,
        "worker",
        "--queue",
        queue,
        "--drain",
        "--no-metrics",
        env=env,
        timeout=180,
    )
    assert result.returncode == 0, result.stderr[-2000:]
    return Counter(_outcomes(result.stderr))


def _outcomes(log: str) -> list[str]:
    found = []
    for line in log.splitlines():
        try:
            record = json.loads(line)
        except ValueError:
            continue
        if isinstance(record, dict) and record.get("outcome") in {"applied", "duplicate"}:
            found.append(str(record["outcome"]))
    return found


def payment(database_url: str, payment_id: str) -> dict[str, Any]:
    result = run_points("--database-url", database_url, "ledger", "payment", payment_id, "--json")
    assert result.returncode == 0, result.stderr
    shown: dict[str, Any] = json.loads(result.stdout)
    return shown


def queue_bodies(aws: Config, queue_url: str) -> list[dict[str, Any]]:
    """Every message on a queue, received and deleted."""
    sqs = sqs_client(aws.aws)
    found: list[dict[str, Any]] = []
    while True:
        response = sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        messages = response.get("Messages", [])
        if not messages:
            return found
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])


def aws_cli_env(aws: Config) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_ENDPOINT_URL": aws.aws.endpoint_url or "",
        "AWS_DEFAULT_REGION": aws.aws.region,
    }
