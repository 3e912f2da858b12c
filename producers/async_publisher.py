"""The asyncio publisher, for payment services built on aiobotocore.

Same semantics as ``producers.publisher.SnsPublisher`` (same entries, chunking, partial
batch handling, retry predicate and error classes); only the awaiting differs, so all the
logic is imported from there rather than copied.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Sequence
from functools import partial
from typing import TYPE_CHECKING, TypeVar

from producers.publisher import (
    BatchProgress,
    PublisherBase,
    build_entries,
    chunk_by_size,
    publish_failures,
)
from schemas.events import Event

if TYPE_CHECKING:
    from types_aiobotocore_sns import SNSClient  # noqa: F401 (named in the base class)

T = TypeVar("T")


class AsyncSnsPublisher(PublisherBase["SNSClient"]):
    """Publisher on an aiobotocore SNS client (``async with session.create_client("sns")``)."""

    async def publish(self, event: Event) -> str:
        """Publish one event; returns the SNS message id."""
        (entry,) = build_entries([event], fifo=self._fifo)
        response = await self._with_retries(
            lambda: self._sns.publish(TopicArn=self._topic_arn, **entry.parameters()), []
        )
        return str(response["MessageId"])

    async def publish_batch(self, events: Sequence[Event]) -> list[str]:
        """Publish events in PublishBatch calls; returns message ids in input order."""
        entries = build_entries(events, fifo=self._fifo)
        message_ids = [""] * len(entries)
        for chunk in chunk_by_size([entry.size for entry in entries]):
            progress = BatchProgress(self._topic_arn, entries, chunk, message_ids)
            await self._with_retries(partial(self._send, progress), message_ids)
            progress.raise_if_rejected()
        return message_ids

    async def _send(self, progress: BatchProgress) -> None:
        progress.absorb(await self._sns.publish_batch(**progress.request()))

    async def _with_retries(
        self, call: Callable[[], Awaitable[T]], message_ids: Sequence[str]
    ) -> T:
        with publish_failures(message_ids):
            async for attempt in self._retry.async_retrying():
                with attempt:
                    return await call()
        raise AssertionError("unreachable")  # pragma: no cover
