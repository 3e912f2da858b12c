"""``points dlq list`` and ``points dlq show`` as Python functions (the CLI is a thin skin).

Both look without consuming: see ``ops.scan``. ``show`` also explains each message (see
``ops.examine``) and can group them by error fingerprint, which is how an operator finds
"the one bug" behind a thousand dead letters.

This module is also the Python entry point for every DLQ operation (the demo uses it)::

    from ops import dlq
    dlq.show(config, "points")                        # -> list[ShownMessage]
    dlq.redrive(config, queue="points", selection=dlq.Selection.parse(where=["event_type=refund"]))
    dlq.export(config, out=path); dlq.purge(config, reason="..."); dlq.replay(config, path)
"""

from __future__ import annotations

import dataclasses
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from infra.aws import sqs_client
from infra.resolve import queue_url, topology
from infra.settings import Config
from ops.dlq_queues import DeadLetterQueue, dead_letter_queues, find_dlq
from ops.examine import Examined, Journal, examine
from ops.export import ExportSummary, export
from ops.native import native_redrive
from ops.purge import PurgeSummary, purge
from ops.redrive import RedriveSummary, redrive
from ops.replay import ReplaySummary, replay
from ops.scan import DlqScan, ScanEnd, ScanOptions, queue_counts
from ops.selection import Selection

__all__ = [
    "DlqStatus",
    "ErrorGroup",
    "Examination",
    "ExportSummary",
    "PurgeSummary",
    "RedriveSummary",
    "ReplaySummary",
    "ScanOptions",
    "Selection",
    "ShownMessage",
    "examine_queue",
    "export",
    "group",
    "list_dlqs",
    "native_redrive",
    "purge",
    "redrive",
    "replay",
    "show",
]

DEFAULT_SHOW_LIMIT = 100
#: ``dlq list`` peeks at most this many messages per DLQ to find the oldest one.
OLDEST_PEEK_LIMIT = 100


@dataclass(frozen=True)
class DlqStatus:
    dlq: DeadLetterQueue
    url: str
    depth: int
    in_flight: int
    oldest_age_seconds: float | None
    #: False when the queue held more than the peek looked at (then the age is a lower bound).
    oldest_exact: bool

    def as_json(self) -> dict[str, Any]:
        return {
            "queue": self.dlq.name,
            "kind": self.dlq.kind,
            "source_queue": self.dlq.source,
            "physical_name": self.dlq.physical_name,
            "depth": self.depth,
            "in_flight": self.in_flight,
            "oldest_age_seconds": self.oldest_age_seconds,
            "oldest_age_exact": self.oldest_exact,
            "url": self.url,
        }


@dataclass(frozen=True)
class ShownMessage:
    """One line of ``dlq show``; ``as_json`` is the public JSON contract, the rest is for people."""

    message_id: str
    event_id: str | None
    event_type: str | None
    payment_id: str | None
    receive_count: int
    error: str
    error_type: str
    error_source: str
    fingerprint: str
    account_id: str | None
    brand: str | None
    decodable: bool
    decode_error: str | None
    sent_at: str | None
    failed_at: str | None
    original_message_id: str | None = None
    redrive_id: int | None = None

    @classmethod
    def of(cls, item: Examined) -> ShownMessage:
        facts, reason = item.facts, item.reason
        return cls(
            message_id=item.message_id,
            event_id=facts.event_id,
            event_type=facts.event_type,
            payment_id=facts.payment_id,
            receive_count=item.receive_count,
            error=reason.text,
            error_type=reason.error_type,
            error_source=reason.origin,
            fingerprint=reason.fingerprint,
            account_id=facts.account_id,
            brand=facts.brand,
            decodable=facts.decode_error is None,
            decode_error=facts.decode_error,
            sent_at=item.sent_at,
            failed_at=reason.failed_at,
            original_message_id=item.original_message_id,
            redrive_id=item.redrive_mark,
        )

    def as_json(self) -> dict[str, Any]:
        """Exactly the public shape of ``points dlq show --json`` (DESIGN §6)."""
        return {
            "message_id": self.message_id,
            "event_id": self.event_id,
            "event_type": self.event_type,
            "payment_id": self.payment_id,
            "receive_count": self.receive_count,
            "error": self.error,
        }


@dataclass(frozen=True)
class ErrorGroup:
    fingerprint: str
    error_type: str
    count: int
    example: str
    message_ids: tuple[str, ...]

    def as_json(self) -> dict[str, Any]:
        return {
            "fingerprint": self.fingerprint,
            "error_type": self.error_type,
            "count": self.count,
            "example": self.example,
            "message_ids": list(self.message_ids),
        }


def list_dlqs(config: Config, options: ScanOptions | None = None) -> list[DlqStatus]:
    """Every DLQ of the topology (queue and SNS delivery DLQs), in topology order."""
    sqs = sqs_client(config.aws)
    statuses = []
    for dlq in dead_letter_queues(topology(config)):
        url = queue_url(sqs, dlq.physical_name)
        depth, in_flight = queue_counts(sqs, url)
        oldest, exact = _oldest_age(config, url, depth, options) if depth else (None, True)
        statuses.append(DlqStatus(dlq, url, depth, in_flight, oldest, exact))
    return statuses


def _oldest_age(
    config: Config, url: str, depth: int, options: ScanOptions | None
) -> tuple[float | None, bool]:
    """SQS has no "oldest message" attribute (CloudWatch has, emulators do not): peek."""
    sent: list[int] = []
    # A peek, not an inventory: never wait for messages another command holds.
    peek = dataclasses.replace(options or ScanOptions(), settle_seconds=0)
    with DlqScan(sqs_client(config.aws), url, peek) as scan:
        for batch in scan.batches():
            sent += [m.sent_at_ms for m in batch if m.sent_at_ms is not None]
            if len(sent) >= OLDEST_PEEK_LIMIT:
                break
    if not sent:
        return None, False
    return max(0.0, time.time() - min(sent) / 1000), len(sent) >= depth


@dataclass
class Examination:
    """What a look at a DLQ found, and whether it saw the whole queue."""

    items: list[Examined] = field(default_factory=list)
    depth_at_start: int = 0
    #: Stopped at ``limit`` (the queue had more).
    limited: bool = False
    end: ScanEnd = field(default_factory=ScanEnd)


def examine_queue(
    config: Config,
    queue: str,
    limit: int | None,
    options: ScanOptions | None = None,
    *,
    stop: threading.Event | None = None,
    on_batch: Callable[[int], None] | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> Examination:
    """Up to ``limit`` messages of a DLQ, explained, and all released again."""
    dlq = find_dlq(topology(config), queue)
    sqs = sqs_client(config.aws)
    url = queue_url(sqs, dlq.physical_name)
    found = Examination()
    scan = DlqScan(sqs, url, options, stop=stop, on_wait=on_wait)
    with scan, Journal(config.points.database_url) as journal:
        found.depth_at_start = scan.depth_at_start
        for batch in scan.batches():
            room = None if limit is None else limit - len(found.items)
            found.items += examine(batch[:room], journal)
            if on_batch is not None:
                on_batch(len(batch))
            if limit is not None and len(found.items) >= limit:
                found.limited = True
                break
    found.end = scan.end(enough=found.limited)
    return found


def show(
    config: Config,
    queue: str = "points",
    limit: int | None = DEFAULT_SHOW_LIMIT,
    options: ScanOptions | None = None,
) -> list[ShownMessage]:
    """Up to ``limit`` messages of a DLQ as ``dlq show`` lists them (see ``examine_queue``)."""
    return [ShownMessage.of(item) for item in examine_queue(config, queue, limit, options).items]


def group(shown: list[ShownMessage]) -> list[ErrorGroup]:
    """Messages by error fingerprint, most frequent first."""
    buckets: dict[str, list[ShownMessage]] = {}
    for message in shown:
        buckets.setdefault(message.fingerprint, []).append(message)
    groups = [
        ErrorGroup(
            fingerprint=key,
            error_type=members[0].error_type,
            count=len(members),
            example=members[0].error,
            message_ids=tuple(m.message_id for m in members),
        )
        for key, members in buckets.items()
    ]
    return sorted(groups, key=lambda g: (-g.count, g.fingerprint))
