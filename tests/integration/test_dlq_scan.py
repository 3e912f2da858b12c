"""``ops.scan.DlqScan`` on a real moto server: every message once, completeness from the queue.

The issue's failure in miniature: a scan that takes longer than its visibility timeout (on
a big DLQ, or a slow caller) used to see its first messages come back, take "only repeats"
for the end, and stop early. Here the timeout is 1 s and the caller is slow on purpose.
"""

from __future__ import annotations

import json
import threading
import time
from typing import TYPE_CHECKING, Any

import pytest

from infra.apply import ApplyResult
from infra.aws import sqs_client
from infra.settings import Config
from ops.scan import DlqScan, ScanOptions
from tests.support.dlq import (  # noqa: F401 (pytest fixtures)
    aws_fixture,
    counts,
    event_body,
    ops_db_fixture,
    topo_fixture,
)

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

pytestmark = pytest.mark.moto

#: A short hold, so that a slow scan outlives it many times over.
SHORT = ScanOptions(hold_seconds=1, wait_seconds=0, settle_seconds=0)


def _fill(sqs: SQSClient, url: str, n: int) -> set[str]:
    ids: set[str] = set()
    for start in range(0, n, 10):
        entries: Any = [
            {"Id": str(i), "MessageBody": event_body(f"e{start + i}")}
            for i in range(min(10, n - start))
        ]
        ids |= {
            ok["MessageId"]
            for ok in sqs.send_message_batch(QueueUrl=url, Entries=entries)["Successful"]
        }
    return ids


def test_a_scan_longer_than_the_visibility_timeout_sees_each_message_once(
    aws: Config, topo: ApplyResult
) -> None:
    """40 messages, 1 s timeout, a caller that takes 0.7 s per batch (about 3 s in all): the
    heartbeat keeps every held message hidden, so each is yielded once and the scan is
    complete; on exit all 40 are visible again."""
    sqs = sqs_client(aws.aws)
    url = topo.queues["points"].dlq_url
    sent = _fill(sqs, url, 40)
    yielded: list[str] = []
    with DlqScan(sqs, url, SHORT) as scan:
        for batch in scan.batches():
            yielded += [m.message_id for m in batch]
            time.sleep(0.7)
    assert sorted(yielded) == sorted(sent)
    assert scan.complete
    assert counts(sqs, url) == (40, 0)


def test_messages_held_by_another_reader_make_the_scan_incomplete(
    aws: Config, topo: ApplyResult
) -> None:
    """Another reader holds 3 of 12 for 30 s: the scan sees 9, waits its settle time, then
    says what it could not see instead of claiming the queue is done."""
    sqs = sqs_client(aws.aws)
    url = topo.queues["points"].dlq_url
    _fill(sqs, url, 12)
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3, VisibilityTimeout=30)
    waits: list[str] = []
    options = ScanOptions(hold_seconds=5, wait_seconds=0, settle_seconds=0.5)
    with DlqScan(sqs, url, options, on_wait=waits.append) as scan:
        seen = sum(len(batch) for batch in scan.batches())
    assert (seen, scan.complete) == (9, False)
    assert scan.incomplete_reason is not None
    assert "3 message(s) held by another reader" in scan.incomplete_reason
    assert waits == [scan.incomplete_reason]


def test_the_scan_waits_for_what_another_reader_gives_back(aws: Config, topo: ApplyResult) -> None:
    """Held by someone else for 2 s, within the settle time: the scan waits and sees all."""
    sqs = sqs_client(aws.aws)
    url = topo.queues["points"].dlq_url
    sent = _fill(sqs, url, 12)
    sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=3, VisibilityTimeout=2)
    options = ScanOptions(hold_seconds=5, wait_seconds=0, settle_seconds=10)
    with DlqScan(sqs, url, options) as scan:
        seen = {m.message_id for batch in scan.batches() for m in batch}
    assert seen == sent
    assert scan.complete


def test_a_stopped_scan_releases_what_it_holds_at_once(aws: Config, topo: ApplyResult) -> None:
    """Stopped (Ctrl-C) after the first batch: not complete, interrupted, and all 25 are
    visible again at once rather than after the visibility timeout."""
    sqs = sqs_client(aws.aws)
    url = topo.queues["points"].dlq_url
    _fill(sqs, url, 25)
    stop = threading.Event()
    options = ScanOptions(hold_seconds=60, wait_seconds=0, settle_seconds=0)
    with DlqScan(sqs, url, options, stop=stop) as scan:
        for _batch in scan.batches():
            stop.set()
    assert (scan.complete, scan.interrupted, scan.seen) == (False, True, 10)
    assert counts(sqs, url) == (25, 0)


def test_bodies_come_back_unchanged(aws: Config, topo: ApplyResult) -> None:
    """A scan never alters what it looks at."""
    sqs = sqs_client(aws.aws)
    url = topo.queues["points"].dlq_url
    _fill(sqs, url, 3)
    with DlqScan(sqs, url, SHORT) as scan:
        bodies = sorted(json.loads(m.body)["event_id"] for b in scan.batches() for m in b)
    assert bodies == ["e0", "e1", "e2"]
