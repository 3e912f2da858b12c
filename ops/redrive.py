"""Selective redrive: move chosen DLQ messages back to their source queue, in one pass.

Order per batch: send the copies to the source queue, record them (``redrive_moves``), then
delete the originals from the DLQ. Killed between the two, a message exists twice
(harmless: consumers are idempotent on ``event_id``, DESIGN §5), never zero times.
Messages not selected are held hidden during the scan and released at the end (or by
their short visibility timeout on a crash).

A redrive is a numbered, audited operation. Its copies carry its number
(``points.redrive_id``), which the worker keeps when it dead-letters one again, so the pass
never selects a message it sent itself, nor one sent by a later redrive: with live workers
re-dead-lettering every copy, the pass still ends, and says how many came back.
"""

from __future__ import annotations

import math
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from consumers.runtime.deadletter import without_failure
from consumers.runtime.transport import encode_attributes
from infra.aws import sqs_client
from infra.resolve import topology
from infra.settings import Config
from ops.audit import Action, Move, audited
from ops.dlq_queues import ResolvedDlq, find_dlq, resolve
from ops.errors import SelectionError
from ops.examine import Examined, Journal, examine
from ops.scan import SQS_BATCH, DlqScan, ScanEnd, ScanOptions, aws_call
from ops.selection import Selection
from producers.publisher import chunk_for_batch

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient


class MoveOutcome(StrEnum):
    MOVED = "moved"
    SKIPPED = "skipped"
    #: Skipped because this redrive (or a later one) sent it: it failed again.
    RETURNED = "came back"
    FAILED = "failed"


OnMessage = Callable[[MoveOutcome, Examined], None]


@dataclass
class RedriveSummary:
    moved: int = 0
    skipped: int = 0
    failed: int = 0
    dry_run: bool = False
    #: Of ``skipped``: copies this redrive sent that failed again during the pass.
    returned: int = 0
    #: The operation's number (``points dlq status ID``); None for a dry run.
    redrive_id: int | None = None
    end: ScanEnd = field(default_factory=ScanEnd)
    #: Only for ``--native``: the SQS move task (``moved`` is then the depth it started with).
    task_handle: str | None = None
    failures: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """Exactly the public shape (DESIGN §6); the rest is printed to people (stderr)."""
        return {
            "moved": self.moved,
            "skipped": self.skipped,
            "failed": self.failed,
            "dry_run": self.dry_run,
        }

    def counts(self) -> dict[str, Any]:
        """What the audit keeps."""
        return {
            **self.as_json(),
            "came_back_failing": self.returned,
            "complete": self.end.complete,
            "incomplete_reason": self.end.incomplete_reason,
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


@dataclass
class _Pass:
    """One redrive pass: where it moves, how it paces, what it has counted."""

    sqs: SQSClient
    target: ResolvedDlq
    scan: DlqScan
    pacer: Pacer
    summary: RedriveSummary
    notify: OnMessage
    stop: threading.Event
    action: Action | None


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
    stop: threading.Event | None = None,
    reason: str | None = None,
    on_wait: Callable[[str], None] | None = None,
) -> RedriveSummary:
    """Move the selected messages of a DLQ back to its source queue; see the module doc."""
    selection = selection or Selection()
    if max_messages is not None and max_messages < 1:
        raise SelectionError(f"--max must be at least 1, got {max_messages}")
    pacer = Pacer(rate)
    sqs = sqs_client(config.aws)
    target = resolve(sqs, find_dlq(topology(config), queue))
    options = _paced(options or ScanOptions(), pacer)
    stop = stop or threading.Event()
    summary = RedriveSummary(dry_run=dry_run)
    notify = on_message or (lambda _outcome, _item: None)
    if dry_run:
        with DlqScan(sqs, target.url, options, stop=stop, on_wait=on_wait) as scan:
            _run(
                config,
                _Pass(sqs, target, scan, pacer, summary, notify, stop, None),
                selection,
                max_messages,
            )
        return summary
    arguments = {
        "queue": target.dlq.name,
        **selection.describe(),
        "max": max_messages,
        "rate": rate,
    }
    with audited(config, "dlq redrive", arguments=arguments, reason=reason) as action:
        summary.redrive_id = action.id
        with DlqScan(sqs, target.url, options, stop=stop, on_wait=on_wait) as scan:
            run = _Pass(sqs, target, scan, pacer, summary, notify, stop, action)
            _run(config, run, selection, max_messages)
        action.counts.update(summary.counts())
        action.outcome = summary.end.audit_outcome
    return summary


def _run(config: Config, run: _Pass, selection: Selection, max_messages: int | None) -> None:
    summary, scan = run.summary, run.scan
    with Journal(config.points.database_url) as journal:
        for batch in scan.batches():
            chosen = _choose(examine(batch, journal), selection, max_messages, run)
            if summary.dry_run:
                summary.moved += len(chosen)
                for item in chosen:
                    run.notify(MoveOutcome.MOVED, item)
            else:
                _move_all(run, chosen)
            if max_messages is not None and summary.moved >= max_messages:
                break
            if run.stop.is_set():
                break
    limited = max_messages is not None and summary.moved >= max_messages
    if run.stop.is_set() and not limited:
        scan.interrupted = True  # stopped between batches, after the scan's own check
    summary.end = scan.end(enough=limited)


def _paced(options: ScanOptions, pacer: Pacer) -> ScanOptions:
    """Receive no more than the rate sends per second (the heartbeat holds what waits)."""
    return ScanOptions(
        options.hold_seconds, options.wait_seconds, pacer.batch_size, options.settle_seconds
    )


def _choose(
    items: list[Examined], selection: Selection, max_messages: int | None, run: _Pass
) -> list[Examined]:
    summary = run.summary
    chosen: list[Examined] = []
    for item in items:
        room = max_messages is None or summary.moved + len(chosen) < max_messages
        ours = _sent_by_this_or_a_later_redrive(item, summary.redrive_id)
        if room and not ours and selection.matches(item):
            chosen.append(item)
            continue
        summary.skipped += 1
        if ours:
            summary.returned += 1
        run.notify(MoveOutcome.RETURNED if ours else MoveOutcome.SKIPPED, item)
    return chosen


def _sent_by_this_or_a_later_redrive(item: Examined, redrive_id: int | None) -> bool:
    """Later redrives' copies are theirs to follow: taking them back could ping-pong."""
    mark = item.redrive_mark
    return redrive_id is not None and mark is not None and mark >= redrive_id


def _move_all(run: _Pass, chosen: list[Examined]) -> None:
    summary = run.summary
    size = run.pacer.batch_size
    for start in range(0, len(chosen), size):
        if run.stop.is_set():
            return  # the rest stays held and is released when the scan ends
        bodies = [item.message.body for item in chosen[start : start + size]]
        for indexes in chunk_for_batch(bodies):
            chunk = [chosen[start + i] for i in indexes]
            run.pacer.wait(len(chunk))
            moved, failed = _move(run, chunk)
            summary.moved += len(moved)
            summary.failed += len(failed)
            for item in moved:
                run.notify(MoveOutcome.MOVED, item)
            for item, why in failed:
                summary.failures.append(f"{item.message_id}: {why}")
                run.notify(MoveOutcome.FAILED, item)


def _move(
    run: _Pass, chunk: Sequence[Examined]
) -> tuple[list[Examined], list[tuple[Examined, str]]]:
    """Send copies, record them, then delete the originals that were sent (never before)."""
    sqs, target, scan = run.sqs, run.target, run.scan
    redrive_id = run.summary.redrive_id
    entries: list[Any] = [
        {
            "Id": str(i),
            "MessageBody": item.message.body,
            "MessageAttributes": encode_attributes(
                without_failure(item.message.attributes, redrive_id)
            ),
        }
        for i, item in enumerate(chunk)
    ]
    sent = aws_call(lambda: sqs.send_message_batch(QueueUrl=target.source_url, Entries=entries))
    failed = [(chunk[int(f["Id"])], f"send: {f.get('Code', '?')}") for f in sent.get("Failed", [])]
    copies = [(chunk[int(s["Id"])], s["MessageId"]) for s in sent.get("Successful", [])]
    if not copies:
        return [], failed
    if run.action is not None:
        run.action.log.record_moves(
            run.action.id, [_move_record(target, item, new_id) for item, new_id in copies]
        )
    copied = [item for item, _ in copies]
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


def _move_record(target: ResolvedDlq, item: Examined, new_id: str) -> Move:
    return Move(
        queue=target.dlq.source,
        dlq_message_id=item.message_id,
        message_id=new_id,
        original_message_id=item.original_message_id,
        event_id=item.facts.event_id,
    )
