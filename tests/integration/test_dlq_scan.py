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


class _LoadedSqs:
    """The real client with every call ``delay`` seconds slower: SQS (or an emulator) under
    load. ``refuse_extensions`` makes every visibility change fail as a lapsed handle does."""

    def __init__(self, sqs: SQSClient, delay: float, *, refuse_extensions: bool = False):
        self._sqs = sqs
        self._delay = delay
        self._refuse = refuse_extensions

    def __getattr__(self, name: str) -> Any:
        call = getattr(self._sqs, name)

        def delayed(*args: Any, **kwargs: Any) -> Any:
            time.sleep(self._delay)
            if self._refuse and name == "change_message_visibility_batch":
                return {"Successful": [], "Failed": []}
            return call(*args, **kwargs)

        return delayed


def _scan_all(sqs: Any, url: str, options: ScanOptions) -> tuple[list[str], DlqScan]:
    """Every message id a whole scan yields (in order), and the ended scan."""
    with DlqScan(sqs, url, options) as scan:
        return [m.message_id for batch in scan.batches() for m in batch], scan


def test_a_heartbeat_slower_than_the_timeout_stretches_it_and_the_scan_ends(
    aws: Config, topo: ApplyResult
) -> None:
    """200 held, a 2 s timeout, every call 0.2 s slower (a loaded emulator: the CI hang):
    a round of one call per 10 held messages in one thread no longer fits in the timeout;
    extending in several threads, and asking for a longer timeout when a round still takes
    more than a quarter of it, keeps every held message hidden instead of letting them lapse
    back faster than they can be received again; each is seen once and the scan ends."""
    sqs = sqs_client(aws.aws)
    url = topo.queues["points"].dlq_url
    sent = _fill(sqs, url, 200)
    options = ScanOptions(hold_seconds=2, wait_seconds=0, settle_seconds=5)
    yielded, scan = _scan_all(_LoadedSqs(sqs, 0.2), url, options)
    assert sorted(yielded) == sorted(sent)
    assert scan.complete  # before the fix: a lapse storm, no end (pytest-timeout fails it)


def test_a_scan_that_cannot_hold_what_it_has_ends_incomplete_instead_of_spinning(
    aws: Config, topo: ApplyResult
) -> None:
    """Extensions never take (every handle refused), a 1 s timeout, 100 messages and every
    call 0.1 s slower: receiving them all takes longer than they stay hidden, so receives
    bring back only lapsed ones; after its lapse patience the scan stops, incomplete, and
    says why (instead of the hang it was)."""
    sqs = sqs_client(aws.aws)
    url = topo.queues["points"].dlq_url
    _fill(sqs, url, 100)
    options = ScanOptions(
        hold_seconds=1, wait_seconds=0, settle_seconds=0, lapse_patience_seconds=3
    )
    seen, scan = _scan_all(_LoadedSqs(sqs, 0.1, refuse_extensions=True), url, options)
    assert len(seen) == len(set(seen))  # what it did see, it saw once
    assert not scan.complete
    assert scan.incomplete_reason is not None
    assert "kept lapsing back" in scan.incomplete_reason


def test_a_round_longer_than_a_quarter_of_the_timeout_stretches_it(
    aws: Config, topo: ApplyResult
) -> None:
    """A 1 s timeout and every call 0.5 s slower: any heartbeat round that extends anything
    takes at least half the timeout, so the scan asks for a longer one (and still sees each
    of its 30 messages once, complete)."""
    sqs = sqs_client(aws.aws)
    url = topo.queues["points"].dlq_url
    sent = _fill(sqs, url, 30)
    options = ScanOptions(hold_seconds=1, wait_seconds=0, settle_seconds=5)
    yielded, scan = _scan_all(_LoadedSqs(sqs, 0.5), url, options)
    assert sorted(yielded) == sorted(sent)
    assert scan.complete
    assert scan.visibility_seconds > options.hold_seconds
