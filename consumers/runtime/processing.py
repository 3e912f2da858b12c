"""Processing one received batch: decode, apply, then acknowledge, retry or dead-letter.

Per message, exactly one of:
- applied or duplicate → deleted (batch delete, after the handler committed);
- permanent failure (undecodable body, conflict) → copied to the DLQ with its reason,
  journaled, then deleted: send first, delete after, so a crash can only duplicate;
- transient failure (after the bounded in-process retries of the one ``RetryPolicy``) →
  its visibility is set to an exponential backoff from its receive count, so SQS
  redelivers it later and dead-letters it after maxReceiveCount.
While the handler runs, a heartbeat keeps extending the batch's visibility.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections import defaultdict
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime

from consumers.handler import Handler, Outcome, Result
from consumers.journal import Failure
from consumers.retries import RetryPolicy
from consumers.runtime.deadletter import failure_attributes
from consumers.runtime.observability import BatchMetrics, latency_ms, logger, outcome_fields
from consumers.runtime.settings import WorkerSettings
from consumers.runtime.threads import in_daemon_thread
from consumers.runtime.transport import QueueTransport, Received
from schemas.envelope import decode_body
from schemas.errors import PermanentError, PointsError, TransientError
from schemas.events import Event, payment_of

JournalWriter = Callable[[list[Failure]], None]

__all__ = [  # in_daemon_thread lives in consumers.runtime.threads; importable here as before
    "BatchProcessor",
    "Decoded",
    "Rejected",
    "backoff_seconds",
    "decode_all",
    "error_code",
    "in_daemon_thread",
]


@dataclass(frozen=True)
class Decoded:
    message: Received
    event: Event


@dataclass(frozen=True)
class Rejected:
    message: Received
    error: PermanentError
    event: Event | None = None


def decode_all(messages: Sequence[Received]) -> tuple[list[Decoded], list[Rejected]]:
    decoded: list[Decoded] = []
    rejected: list[Rejected] = []
    for message in messages:
        try:
            decoded.append(Decoded(message, decode_body(message.body)))
        except PermanentError as error:
            rejected.append(Rejected(message, error))
    return decoded, rejected


def backoff_seconds(receive_count: int, settings: WorkerSettings) -> int:
    exponent = min(max(receive_count - 1, 0), 16)
    return int(min(settings.backoff_max_seconds, settings.backoff_base_seconds * 2**exponent))


def error_code(error: BaseException) -> str:
    """Our errors' stable code; anything else by class name (SQLAlchemy's ``code`` is a URL key)."""
    if isinstance(error, PointsError):
        return error.code
    return type(error).__name__


class BatchProcessor:
    def __init__(
        self,
        transport: QueueTransport,
        handler: Handler,
        settings: WorkerSettings,
        journal: JournalWriter | None = None,
        retry: RetryPolicy | None = None,
    ) -> None:
        self._transport = transport
        self._handler = handler
        self._settings = settings
        self._retry = retry or settings.retry_policy()
        self._journal = journal
        self._queue = transport.queue_name

    async def process(self, messages: Sequence[Received]) -> BatchMetrics:
        metrics = BatchMetrics(self._queue)
        decoded, rejected = decode_all(messages)
        # The heartbeat lasts until every message is settled: one whose visibility lapsed
        # between the handler and its DLQ copy would be received again and copied twice.
        async with self._heartbeat(messages):
            results = await self._apply(decoded)
            acknowledged: list[Decoded] = []
            if not isinstance(results, BaseException):
                acknowledged = [d for d, r in zip(decoded, results, strict=True) if r.error is None]
                rejected += [
                    Rejected(d.message, r.error, d.event)
                    for d, r in zip(decoded, results, strict=True)
                    if r.error is not None
                ]
                self._count(acknowledged, results, metrics)
            dead = await self._dead_letter(rejected, metrics)
            handles = [d.message.receipt_handle for d in acknowledged] + dead
            not_deleted = await self._transport.delete(handles) if handles else []
        if isinstance(results, BaseException):
            # After the heartbeat: its next beat must not undo the backoff set here.
            await self._retry_later(decoded, results, metrics)
        if not_deleted:
            # Redelivery will find them applied (duplicate) or dead-letter them again.
            logger.warning(
                "delete failed", extra=outcome_fields(queue=self._queue, count=len(not_deleted))
            )
        return metrics

    async def _apply(self, decoded: Sequence[Decoded]) -> list[Result] | BaseException:
        if not decoded:
            return []
        events = [d.event for d in decoded]
        try:
            # The one place a batch is retried (the handler and its store only raise).
            results = await self._retry.call_async(
                in_daemon_thread, self._handler.handle_batch, events
            )
            if len(results) != len(events):
                raise RuntimeError(f"handler returned {len(results)} results for {len(events)}")
            return results
        except Exception as error:  # a bug must not lose messages: SQS will redeliver them
            if not isinstance(error, TransientError):
                logger.error(
                    "handler failed unexpectedly",
                    exc_info=error,
                    extra=outcome_fields(queue=self._queue, error_type=error_code(error)),
                )
            return error

    def _count(
        self, acknowledged: Sequence[Decoded], results: Sequence[Result], metrics: BatchMetrics
    ) -> None:
        outcomes = [r.outcome for r in results if r.error is None]
        now = datetime.now(UTC)  # one commit: one instant for the batch's latencies
        for item, outcome in zip(acknowledged, outcomes, strict=True):
            lag = latency_ms(item.event.occurred_at, now)
            if outcome is Outcome.DUPLICATE:
                metrics.duplicates += 1
            else:
                metrics.processed += 1
                metrics.latencies_ms.append(lag)
            logger.info(
                outcome.value,
                extra=self._fields(item.message, item.event, outcome=outcome.value, latency_ms=lag),
            )

    async def _retry_later(
        self, decoded: Sequence[Decoded], error: BaseException, metrics: BatchMetrics
    ) -> None:
        by_delay: dict[int, list[str]] = defaultdict(list)
        for item in decoded:
            by_delay[backoff_seconds(item.message.receive_count, self._settings)].append(
                item.message.receipt_handle
            )
        for seconds, handles in by_delay.items():
            with contextlib.suppress(Exception):  # if this fails the old timeout still applies
                await self._transport.change_visibility(handles, seconds)
        metrics.retried += len(decoded)
        for item in decoded:
            logger.warning(
                "retry later",
                extra=self._fields(
                    item.message,
                    item.event,
                    outcome="retry",
                    error_type=error_code(error),
                    retry_in_s=backoff_seconds(item.message.receive_count, self._settings),
                ),
            )
        await self._write_journal(
            [self._failure(item.message, item.event, error, permanent=False) for item in decoded]
        )

    async def _dead_letter(self, rejected: Sequence[Rejected], metrics: BatchMetrics) -> list[str]:
        """Copy each rejected message to the DLQ; returns the handles now safe to delete."""
        moved: list[str] = []
        journal: list[Failure] = []
        for item in rejected:
            attributes = failure_attributes(
                item.message.attributes,
                error_type=item.error.code,
                error_message=str(item.error),
                receive_count=item.message.receive_count,
                message_id=item.message.message_id,
            )
            try:
                dlq_message_id = await self._transport.send_to_dlq(item.message.body, attributes)
            except Exception as error:  # keep the message: it will be received again
                logger.warning(
                    "dead-letter failed",
                    extra=self._fields(
                        item.message, item.event, outcome="retry", error_type=error_code(error)
                    ),
                )
                continue
            moved.append(item.message.receipt_handle)
            journal.append(self._failure(item.message, item.event, item.error, permanent=True))
            metrics.dead_lettered += 1
            logger.warning(
                "dead-lettered",
                extra=self._fields(
                    item.message,
                    item.event,
                    outcome="dead_lettered",
                    error_type=item.error.code,
                    error=str(item.error),
                    dlq_message_id=dlq_message_id,
                ),
            )
        await self._write_journal(journal)
        return moved

    async def _write_journal(self, entries: list[Failure]) -> None:
        if not entries or self._journal is None:
            return
        try:
            await in_daemon_thread(self._journal, entries)
        except Exception as error:  # the DLQ attributes still say why; never block on this
            logger.warning(
                "failure journal unavailable",
                extra=outcome_fields(
                    queue=self._queue, error_type=error_code(error), count=len(entries)
                ),
            )

    def _failure(
        self,
        message: Received,
        event: Event | None,
        error: BaseException,
        *,
        permanent: bool,
    ) -> Failure:
        return Failure(
            queue=self._queue,
            message_id=message.message_id,
            error_type=error_code(error),
            error_message=str(error) or type(error).__name__,
            permanent=permanent,
            attempts=message.receive_count,
            event_id=event.event_id if event else None,
            event_type=event.event_type.value if event else None,
            payment_id=_payment_id(event),
        )

    def _fields(self, message: Received, event: Event | None, **extra: object) -> dict[str, object]:
        """``outcome_fields`` of a message's line, built directly: it is built per message."""
        fields: dict[str, object] = {"queue": self._queue, "message_id": message.message_id}
        if event is not None:
            fields["event_id"] = event.event_id
            fields["event_type"] = event.event_type.value
            payment_id = _payment_id(event)
            if payment_id is not None:
                fields["payment_id"] = payment_id
        fields["receive_count"] = message.receive_count
        fields.update(outcome_fields(**extra))
        return fields

    @contextlib.asynccontextmanager
    async def _heartbeat(self, messages: Sequence[Received]) -> AsyncIterator[None]:
        """Keep the batch invisible to other consumers while it is still being worked on."""
        handles = [m.receipt_handle for m in messages]

        async def beat() -> None:
            while True:
                await asyncio.sleep(self._settings.heartbeat_seconds)
                with contextlib.suppress(Exception):
                    await self._transport.change_visibility(
                        handles, self._settings.visibility_timeout
                    )

        task = asyncio.create_task(beat())
        try:
            yield
        finally:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task


def _payment_id(event: Event | None) -> str | None:
    payment = None if event is None else payment_of(event)
    return None if payment is None else payment.payment_id
