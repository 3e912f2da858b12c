"""Selective redrive: move chosen DLQ messages back to their source queue, crash-safely.

Order per batch: send the copies to the source queue, then delete the originals from the
DLQ. Killed between the two, a message exists twice (harmless: consumers are idempotent
on ``event_id``, DESIGN §5), never zero times. Messages not selected are only held hidden
during the scan and released at the end (or by their short visibility timeout on a crash).

``--native`` hands a whole-queue move to SQS (StartMessageMoveTask) instead.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any, Final

from botocore.exceptions import ClientError

from consumers.runtime.deadletter import MAX_SQS_ATTRIBUTES, REDRIVE_COUNT, without_failure
from consumers.runtime.transport import encode_attributes
from infra.aws import sqs_client
from infra.resolve import topology
from infra.settings import Config
from ops.dlq_queues import ResolvedDlq, find_dlq, queue_arn, resolve
from ops.errors import NativeRedriveUnsupported, SelectionError
from ops.examine import Examined, Journal, examine
from ops.scan import SQS_BATCH, DlqScan, ScanOptions, aws_call, queue_counts
from ops.selection import Selection
from producers.publisher import chunk_for_batch

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

#: StartMessageMoveTask accepts 1…500 messages per second.
NATIVE_MAX_RATE: Final = 500
_UNSUPPORTED_CODES: Final = frozenset(
    {"UnsupportedOperation", "InvalidAction", "NotImplemented", "UnknownOperationException"}
)


class MoveOutcome(StrEnum):
    MOVED = "moved"
    SKIPPED = "skipped"
    FAILED = "failed"


OnMessage = Callable[[MoveOutcome, Examined], None]


@dataclass
class RedriveSummary:
    moved: int = 0
    skipped: int = 0
    failed: int = 0
    dry_run: bool = False
    #: Only for ``--native``: the SQS move task (``moved`` is then the depth it started with).
    task_handle: str | None = None
    failures: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Exactly the public shape (DESIGN §6); a native move's task handle goes to stderr."""
        return {
            "moved": self.moved,
            "skipped": self.skipped,
            "failed": self.failed,
            "dry_run": self.dry_run,
        }


class Pacer:
    """At most ``rate`` messages per second on average (None: as fast as SQS goes)."""

    def __init__(self, rate: float | None) -> None:
        if rate is not None and rate <= 0:
            raise SelectionError(
                f"--rate must be a positive number of messages per second, got {rate}"
            )
        self.rate = rate
        self._next = time.monotonic()

    @property
    def batch_size(self) -> int:
        return SQS_BATCH if self.rate is None else max(1, min(SQS_BATCH, math.floor(self.rate)))

    def wait(self, count: int) -> None:
        if self.rate is None:
            return
        now = time.monotonic()
        if self._next > now:
            time.sleep(self._next - now)
        self._next = max(now, self._next) + count / self.rate


def redrive(
    config: Config,
    *,
    queue: str = "points",
    selection: Selection | None = None,
    max_messages: int | None = None,
    rate: float | None = None,
    dry_run: bool = False,
    options: ScanOptions | None = None,
    on_message: OnMessage | None = None,
) -> RedriveSummary:
    """Move the selected messages of a DLQ back to its source queue; see the module doc."""
    selection = selection or Selection()
    if max_messages is not None and max_messages < 1:
        raise SelectionError(f"--max must be at least 1, got {max_messages}")
    pacer = Pacer(rate)
    sqs = sqs_client(config.aws)
    target = resolve(sqs, find_dlq(topology(config), queue))
    options = _paced(options or ScanOptions(), pacer)
    summary = RedriveSummary(dry_run=dry_run)
    notify = on_message or (lambda _outcome, _item: None)
    with DlqScan(sqs, target.url, options) as scan, Journal(config.points.database_url) as journal:
        for batch in scan.batches():
            chosen = _choose(examine(batch, journal), selection, max_messages, summary, notify)
            if dry_run:
                summary.moved += len(chosen)
                for item in chosen:
                    notify(MoveOutcome.MOVED, item)
            else:
                _move_all(sqs, target, scan, chosen, pacer, summary, notify)
            if max_messages is not None and summary.moved >= max_messages:
                break
    return summary


def _paced(options: ScanOptions, pacer: Pacer) -> ScanOptions:
    """Receive no more than the rate sends per second, and hold a batch while it is paced:
    a chosen message must not become visible (to another operator) before it is moved."""
    hold = options.hold_seconds
    if pacer.rate is not None:
        hold = max(hold, math.ceil(pacer.batch_size / pacer.rate) + 1)
    return ScanOptions(hold, options.wait_seconds, pacer.batch_size)


def _choose(
    items: list[Examined],
    selection: Selection,
    max_messages: int | None,
    summary: RedriveSummary,
    notify: OnMessage,
) -> list[Examined]:
    chosen: list[Examined] = []
    for item in items:
        room = max_messages is None or summary.moved + len(chosen) < max_messages
        if room and selection.matches(item):
            chosen.append(item)
        else:
            summary.skipped += 1
            notify(MoveOutcome.SKIPPED, item)
    return chosen


def _move_all(
    sqs: SQSClient,
    target: ResolvedDlq,
    scan: DlqScan,
    chosen: list[Examined],
    pacer: Pacer,
    summary: RedriveSummary,
    notify: OnMessage,
) -> None:
    for start in range(0, len(chosen), pacer.batch_size):
        bodies = [item.message.body for item in chosen[start : start + pacer.batch_size]]
        for indexes in chunk_for_batch(bodies):
            chunk = [chosen[start + i] for i in indexes]
            pacer.wait(len(chunk))
            moved, failed = _move(sqs, target, scan, chunk)
            summary.moved += len(moved)
            summary.failed += len(failed)
            for item in moved:
                notify(MoveOutcome.MOVED, item)
            for item, why in failed:
                summary.failures.append(f"{item.message_id}: {why}")
                notify(MoveOutcome.FAILED, item)


def _move(
    sqs: SQSClient, target: ResolvedDlq, scan: DlqScan, chunk: Sequence[Examined]
) -> tuple[list[Examined], list[tuple[Examined, str]]]:
    """Send copies, then delete the originals that were sent (never the other way round)."""
    entries: list[Any] = [
        {
            "Id": str(i),
            "MessageBody": item.message.body,
            "MessageAttributes": encode_attributes(redriven_attributes(item.message.attributes)),
        }
        for i, item in enumerate(chunk)
    ]
    sent = aws_call(lambda: sqs.send_message_batch(QueueUrl=target.source_url, Entries=entries))
    failed = [(chunk[int(f["Id"])], f"send: {f.get('Code', '?')}") for f in sent.get("Failed", [])]
    copied = [chunk[int(s["Id"])] for s in sent.get("Successful", [])]
    if not copied:
        return [], failed
    deletes: list[Any] = [
        {"Id": str(i), "ReceiptHandle": scan.handle(item.message_id)}
        for i, item in enumerate(copied)
    ]
    deleted = aws_call(lambda: sqs.delete_message_batch(QueueUrl=target.url, Entries=deletes))
    undeleted = {int(f["Id"]) for f in deleted.get("Failed", [])}
    moved = [item for i, item in enumerate(copied) if i not in undeleted]
    scan.forget([item.message_id for item in moved])
    # Sent but still in the DLQ: duplicated, not lost; a later redrive sends it again.
    failed += [(copied[i], "sent, but delete from the DLQ failed (duplicate)") for i in undeleted]
    return moved, failed


def redriven_attributes(attributes: Mapping[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """The copy's attributes: no reason, redrive count + 1, unless that would break SQS's
    10-attribute limit (a message that arrived with 10): then delivery beats the count."""
    redriven = without_failure(attributes)
    if len(redriven) > MAX_SQS_ATTRIBUTES:
        redriven.pop(REDRIVE_COUNT)
    return redriven


def native_redrive(
    config: Config, *, queue: str = "points", rate: float | None = None, dry_run: bool = False
) -> RedriveSummary:
    """Whole-queue move by SQS itself (StartMessageMoveTask): fast, but no filter."""
    dlq = find_dlq(topology(config), queue)
    if dlq.kind != "queue":
        raise NativeRedriveUnsupported(
            f"{dlq.name} is an SNS delivery DLQ; SQS can only natively redrive DLQs of SQS "
            "queues: redrive without --native"
        )
    max_rate = _native_rate(rate)
    sqs = sqs_client(config.aws)
    target = resolve(sqs, dlq)
    depth, _ = queue_counts(sqs, target.url)
    if dry_run:
        return RedriveSummary(moved=depth, dry_run=True)
    task = start_move_task(
        sqs, queue_arn(sqs, target.url), queue_arn(sqs, target.source_url), max_rate
    )
    return RedriveSummary(moved=depth, task_handle=task)


def start_move_task(
    sqs: SQSClient, dlq_arn: str, source_arn: str, max_rate: int | None = None
) -> str:
    """Ask SQS to move a DLQ back to its source; returns the task handle (to cancel/list)."""
    request: dict[str, Any] = {"SourceArn": dlq_arn, "DestinationArn": source_arn}
    if max_rate is not None:
        request["MaxNumberOfMessagesPerSecond"] = max_rate
    try:
        response = sqs.start_message_move_task(**request)
    except ClientError as exc:
        if _unsupported(exc):
            raise NativeRedriveUnsupported(
                "this SQS endpoint does not support StartMessageMoveTask (native redrive); "
                "redrive without --native"
            ) from None
        raise
    return response["TaskHandle"]


def _native_rate(rate: float | None) -> int | None:
    if rate is None:
        return None
    if not 1 <= rate <= NATIVE_MAX_RATE or rate != int(rate):
        raise SelectionError(
            f"--rate with --native must be a whole number from 1 to {NATIVE_MAX_RATE}, got {rate}"
        )
    return int(rate)


def _unsupported(exc: ClientError) -> bool:
    """AWS names unsupported actions; emulators answer 5xx/HTML with no AWS error code."""
    code = str(exc.response.get("Error", {}).get("Code", ""))
    return code in _UNSUPPORTED_CODES or code.isdigit()
