"""The long-running consumer: N concurrent pollers over one queue.

Each poller long-polls a batch, hands it to the ``BatchProcessor`` and loops. A transient
failure pauses that poller with a growing delay (a circuit breaker: while the database is
down, receiving more messages would only burn their receive counts). SIGTERM/SIGINT stop
receiving at once; batches in flight get ``shutdown_grace_seconds`` to finish, after which
their messages are released (visibility 0) for another worker.
"""

from __future__ import annotations

import asyncio
import contextlib
import signal
import time
from collections.abc import Sequence

from consumers.runtime.health import touch_health
from consumers.runtime.observability import MetricsSink, logger, outcome_fields
from consumers.runtime.processing import BatchProcessor
from consumers.runtime.settings import WorkerSettings
from consumers.runtime.transport import QueueTransport, Received

MAX_PAUSE_SECONDS = 30.0
#: In --drain mode long polls are short, so that an empty queue is noticed quickly.
DRAIN_WAIT_SECONDS = 1
#: On stop, how long a poll in progress may still complete (its messages are released).
STOP_RECEIVE_WAIT_SECONDS = 2.0


class Worker:
    def __init__(
        self,
        transport: QueueTransport,
        processor: BatchProcessor,
        settings: WorkerSettings,
        *,
        drain: bool = False,
        metrics: MetricsSink | None = None,
    ) -> None:
        self._transport = transport
        self._processor = processor
        self._settings = settings
        self._drain = drain
        self._metrics = metrics or MetricsSink(enabled=False)
        self._stop = asyncio.Event()
        self._in_flight: dict[int, Sequence[Received]] = {}
        self._busy = 0
        self._last_activity = time.monotonic()
        self.processed = 0

    def stop(self) -> None:
        """Stop receiving; batches in flight finish (or are released after the grace period)."""
        self._stop.set()

    async def run(self) -> None:
        self._install_signal_handlers()
        self._touch_health()
        logger.info(
            "worker started",
            extra=outcome_fields(
                queue=self._transport.queue_name, pollers=self._settings.concurrency
            ),
        )
        pollers = [asyncio.create_task(self._poll(i)) for i in range(self._settings.concurrency)]
        stop_waiter = asyncio.create_task(self._stop.wait())
        await asyncio.wait([stop_waiter, *pollers], return_when=asyncio.FIRST_COMPLETED)
        self._stop.set()
        await self._finish(pollers)
        stop_waiter.cancel()
        logger.info(
            "worker stopped",
            extra=outcome_fields(queue=self._transport.queue_name, count=self.processed),
        )

    async def _finish(self, pollers: list[asyncio.Task[None]]) -> None:
        done, pending = await asyncio.wait(pollers, timeout=self._settings.shutdown_grace_seconds)
        for task in done:
            if task.exception() is not None:
                raise task.exception()  # type: ignore[misc]
        if not pending:
            return
        # Read what is in flight before cancelling: cancellation unwinds the bookkeeping.
        handles = [m.receipt_handle for batch in self._in_flight.values() for m in batch]
        for task in pending:
            task.cancel()
        await asyncio.gather(*pending, return_exceptions=True)
        if handles:
            # Another worker may take them now; the ledger's idempotency absorbs a repeat.
            with contextlib.suppress(Exception):
                await self._transport.change_visibility(handles, 0)
            logger.warning(
                "released in-flight messages",
                extra=outcome_fields(queue=self._transport.queue_name, count=len(handles)),
            )

    async def _poll(self, poller: int) -> None:
        failures = 0
        while not self._stop.is_set():
            messages = await self._receive()
            self._touch_health()
            if messages is None:
                return
            if not messages:
                if await self._drained():
                    self._stop.set()
                continue
            messages = await self._top_up(messages)
            self._busy += 1
            self._in_flight[poller] = messages
            try:
                metrics = await self._processor.process(messages)
            finally:
                self._busy -= 1
                self._in_flight.pop(poller, None)
                self._last_activity = time.monotonic()
            self._metrics.emit(metrics)
            self.processed += metrics.processed + metrics.duplicates + metrics.dead_lettered
            failures = failures + 1 if metrics.retried else 0
            if failures:
                await self._pause(min(MAX_PAUSE_SECONDS, 2.0 ** (failures - 1)))

    async def _receive(self) -> list[Received] | None:
        """A batch, [] when the poll came back empty, None once stopping."""
        wait = self._settings.wait_seconds
        if self._drain:
            wait = min(wait, DRAIN_WAIT_SECONDS)
        receive = asyncio.create_task(self._transport.receive(self._settings.batch_size, wait))
        stopping = asyncio.create_task(self._stop.wait())
        try:
            await asyncio.wait([receive, stopping], return_when=asyncio.FIRST_COMPLETED)
            if self._stop.is_set():
                await self._abandon(receive)
                return None
        finally:
            # Also when this poller is cancelled: an orphaned poll would hide messages.
            stopping.cancel()
            if not receive.done():
                receive.cancel()
        try:
            return receive.result()
        except Exception as error:
            logger.warning(
                "receive failed",
                extra=outcome_fields(
                    queue=self._transport.queue_name, error_type=type(error).__name__
                ),
            )
            await self._pause(1.0)
            return []

    async def _top_up(self, messages: list[Received]) -> list[Received]:
        """While the queue has a backlog, gather several receives into one batch.

        One handler call (one ledger transaction) per ``max_batch_messages`` instead of per
        10 messages: commits are the ledger's largest fixed cost. Only full receives are
        topped up, and without waiting, so a quiet queue adds no latency.
        """
        size = self._settings.batch_size
        batch = list(messages)
        while len(messages) == size and len(batch) + size <= self._settings.max_batch_messages:
            if self._stop.is_set():
                break
            try:
                messages = await self._transport.receive(size, 0)
            except Exception:
                break  # what we hold is processed; the next poll retries the queue
            batch.extend(messages)
        return batch

    async def _abandon(self, receive: asyncio.Task[list[Received]]) -> None:
        """Stopping mid-poll: let a short poll finish and hand back what it got.

        A long poll cancelled client-side may still hand a message to the closed connection;
        that message reappears after its visibility timeout (delayed, never lost). Waiting
        a moment first avoids that for short polls (``--drain``) and most long ones.
        """
        done, _ = await asyncio.wait([receive], timeout=STOP_RECEIVE_WAIT_SECONDS)
        if not done:
            receive.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await receive
            return
        with contextlib.suppress(Exception):
            handles = [m.receipt_handle for m in receive.result()]
            if handles:
                await self._transport.change_visibility(handles, 0)

    async def _drained(self) -> bool:
        if not self._drain or self._busy:
            return False
        if time.monotonic() - self._last_activity < self._settings.drain_idle_seconds:
            return False
        try:
            return await self._transport.pending() == 0
        except Exception:
            return False

    async def _pause(self, seconds: float) -> None:
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stop.wait(), timeout=seconds)

    def _touch_health(self) -> None:
        touch_health(self._settings)

    def _install_signal_handlers(self) -> None:
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGTERM, signal.SIGINT):
            with contextlib.suppress(NotImplementedError, RuntimeError, ValueError):
                loop.add_signal_handler(sig, self.stop)
