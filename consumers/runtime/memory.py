"""An in-memory ``QueueTransport`` with SQS semantics that matter to the worker.

Visibility timeouts, receive counts, receipt handles that go stale on redelivery, and a
redrive policy that moves a message to the DLQ after ``max_receive_count`` receives. Used
by unit tests and by benchmarks that must measure the worker, not an emulator.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field

from consumers.runtime.transport import Received


@dataclass
class _Message:
    message_id: str
    body: str
    attributes: Mapping[str, tuple[str, str]]
    sent_at: float
    receive_count: int = 0
    visible_at: float = 0.0
    handle: str = ""


@dataclass
class DeadLetter:
    body: str
    attributes: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    native: bool = False


class InMemoryTransport:
    def __init__(
        self,
        queue_name: str = "points",
        *,
        visibility_timeout: float = 60.0,
        max_receive_count: int = 5,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.queue_name = queue_name
        self.visibility_timeout = visibility_timeout
        self.max_receive_count = max_receive_count
        self.dead_letters: list[DeadLetter] = []
        self._clock = clock
        self._messages: dict[str, _Message] = {}
        self._ids = itertools.count(1)
        self._arrived = asyncio.Event()

    def send(self, body: str, attributes: Mapping[str, tuple[str, str]] | None = None) -> str:
        message_id = f"m-{next(self._ids)}"
        self._messages[message_id] = _Message(message_id, body, attributes or {}, self._clock())
        self._arrived.set()
        return message_id

    async def receive(self, max_messages: int, wait_seconds: int) -> list[Received]:
        deadline = self._clock() + wait_seconds
        while True:
            batch = self._take(max_messages)
            remaining = deadline - self._clock()
            if batch or remaining <= 0:
                return batch
            self._arrived.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._arrived.wait(), timeout=min(remaining, 0.05))

    def _take(self, max_messages: int) -> list[Received]:
        now = self._clock()
        batch: list[Received] = []
        for message in list(self._messages.values()):
            if len(batch) == max_messages:
                break
            if message.visible_at > now:
                continue
            if message.receive_count >= self.max_receive_count:
                del self._messages[message.message_id]
                self.dead_letters.append(DeadLetter(message.body, message.attributes, True))
                continue
            message.receive_count += 1
            message.visible_at = now + self.visibility_timeout
            message.handle = f"{message.message_id}#{message.receive_count}"
            batch.append(
                Received(
                    message.message_id,
                    message.handle,
                    message.body,
                    message.receive_count,
                    message.attributes,
                    int(message.sent_at * 1000),
                )
            )
        return batch

    async def delete(self, receipt_handles: Sequence[str]) -> list[str]:
        failed = []
        for handle in receipt_handles:
            message = self._by_handle(handle)
            if message is None:
                failed.append(handle)
            else:
                del self._messages[message.message_id]
        return failed

    async def change_visibility(self, receipt_handles: Sequence[str], seconds: int) -> None:
        for handle in receipt_handles:
            message = self._by_handle(handle)
            if message is not None:
                message.visible_at = self._clock() + seconds
        if seconds == 0:
            self._arrived.set()

    async def send_to_dlq(self, body: str, attributes: Mapping[str, tuple[str, str]]) -> str:
        self.dead_letters.append(DeadLetter(body, dict(attributes)))
        return f"dlq-{len(self.dead_letters)}"

    async def pending(self) -> int:
        return len(self._messages)

    def _by_handle(self, handle: str) -> _Message | None:
        message_id = handle.split("#", 1)[0]
        message = self._messages.get(message_id)
        return message if message is not None and message.handle == handle else None
