"""Publishing v1 events to the SNS topic, with the contract's message attributes.

Only retryable failures (throttling, 5xx, connection) are retried, with bounded jittered
exponential backoff; anything else raises ``PublishError`` at once. Nothing is dropped
silently: a batch either publishes every entry or raises naming the ones that failed, and
the exception carries the message ids of the entries that did go out (``message_ids``), so
that the outbox relay can mark exactly those as sent.

Everything that does not touch the network (building entries, chunking, reading a
PublishBatch response, classifying errors) lives here and is shared with the asyncio
publisher in ``producers.async_publisher``: the two differ only in how they await a call.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from functools import partial
from typing import TYPE_CHECKING, Any, Final, Generic, TypeVar

from tenacity import (
    AsyncRetrying,
    RetryError,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    stop_after_delay,
    wait_random_exponential,
)

from infra.aws import is_retryable_aws_error
from schemas.canonical import canonical_json
from schemas.errors import PermanentError, TransientError
from schemas.events import SCHEMA_VERSION, Event, payment_of

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient  # noqa: F401 (named in the base class)
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef

SNS_BATCH_MAX_ENTRIES: Final = 10
SNS_BATCH_MAX_BYTES: Final = 256 * 1024
#: SNS FIFO ids: 1-128 characters, ASCII letters, digits and punctuation (no spaces).
_FIFO_ID: Final = re.compile(r"^[\x21-\x7e]{1,128}$")

T = TypeVar("T")


class PublishError(PermanentError):
    """SNS refused the message for a reason a retry cannot fix (e.g. no such topic)."""

    code = "publish_error"

    def __init__(self, message: str, message_ids: Sequence[str] = ()) -> None:
        super().__init__(message)
        #: Input order; ``""`` for entries that were not published.
        self.message_ids = list(message_ids)


class PublishUnavailable(TransientError):
    """SNS stayed unavailable through every retry; the caller (e.g. the outbox) keeps the event."""

    code = "publish_unavailable"

    def __init__(self, message: str, message_ids: Sequence[str] = ()) -> None:
        super().__init__(message)
        #: Input order; ``""`` for entries that were not published.
        self.message_ids = list(message_ids)


class _RetryableEntries(Exception):
    """Some entries of a batch failed on AWS's side; retry just those."""


def is_retryable(exc: BaseException) -> bool:
    """The one retry predicate of both publishers."""
    return isinstance(exc, _RetryableEntries) or is_retryable_aws_error(exc)


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    max_seconds: float = 20.0
    initial_wait: float = 0.05
    max_wait: float = 2.0

    def _arguments(self) -> dict[str, Any]:
        return {
            "retry": retry_if_exception(is_retryable),
            "stop": stop_after_attempt(self.attempts) | stop_after_delay(self.max_seconds),
            "wait": wait_random_exponential(multiplier=self.initial_wait, max=self.max_wait),
            "reraise": False,
        }

    def retrying(self) -> Retrying:
        return Retrying(**self._arguments())

    def async_retrying(self) -> AsyncRetrying:
        return AsyncRetrying(**self._arguments())


def message_attributes(event: Event) -> dict[str, MessageAttributeValueTypeDef]:
    """What subscriptions may filter on (DESIGN §3): ``brand`` on payment events only.

    String and Number only (moto drops Binary, DESIGN §8).
    """
    attributes: dict[str, MessageAttributeValueTypeDef] = {
        "event_type": {"DataType": "String", "StringValue": event.event_type.value},
        "schema_version": {"DataType": "Number", "StringValue": str(SCHEMA_VERSION)},
    }
    payment = payment_of(event)
    if payment is not None:
        attributes["brand"] = {"DataType": "String", "StringValue": payment.brand.value}
    return attributes


def message_group(event: Event) -> str:
    """What a FIFO topic keeps in order: a payment's events, or an account's grants."""
    payment = payment_of(event)
    return event.account_id if payment is None else payment.payment_id


def fifo_id(value: str) -> str:
    """``value`` itself when SNS accepts it as a FIFO group/deduplication id, else its SHA-256.

    Contract identifiers may hold characters SNS refuses (spaces, non-ASCII); hashing keeps
    the id deterministic, so redelivery of the same event still deduplicates.
    """
    if _FIFO_ID.match(value):
        return value
    return hashlib.sha256(value.encode("utf-8")).hexdigest()


@dataclass(frozen=True)
class Entry:
    """One event ready for SNS: its canonical body and every parameter but the topic."""

    event: Event
    body: str
    fifo: bool

    @property
    def size(self) -> int:
        """Bytes SNS counts against the 256 KiB limit: body plus message attributes."""
        attributes = sum(
            len(name) + len(value["DataType"]) + len(value.get("StringValue", ""))
            for name, value in message_attributes(self.event).items()
        )
        return len(self.body.encode("utf-8")) + attributes

    def parameters(self) -> dict[str, Any]:
        parameters: dict[str, Any] = {
            "Message": self.body,
            "MessageAttributes": message_attributes(self.event),
        }
        if self.fifo:
            # Per-payment order on FIFO topics; SNS drops a re-sent event_id for 5 minutes.
            parameters["MessageGroupId"] = fifo_id(message_group(self.event))
            parameters["MessageDeduplicationId"] = fifo_id(self.event.event_id)
        return parameters


def build_entries(events: Sequence[Event], *, fifo: bool) -> list[Entry]:
    return [Entry(event, canonical_json(event), fifo) for event in events]


def is_fifo_topic(topic_arn: str) -> bool:
    return topic_arn.endswith(".fifo")


def chunk_by_size(sizes: Sequence[int]) -> list[list[int]]:
    """Indexes grouped into PublishBatch calls: ≤10 entries and ≤256 KiB each."""
    chunks: list[list[int]] = []
    current: list[int] = []
    total = 0
    for index, size in enumerate(sizes):
        if current and (
            len(current) == SNS_BATCH_MAX_ENTRIES or total + size > SNS_BATCH_MAX_BYTES
        ):
            chunks.append(current)
            current, total = [], 0
        current.append(index)
        total += size
    if current:
        chunks.append(current)
    return chunks


def chunk_for_batch(bodies: Sequence[str]) -> list[list[int]]:
    """Indexes of ``bodies`` grouped into PublishBatch calls: ≤10 entries and ≤256 KiB each."""
    return chunk_by_size([len(body.encode("utf-8")) for body in bodies])


class BatchProgress:
    """One PublishBatch chunk across its retries: what went out, what is left, what SNS refused.

    Partial batch failure (Powertools' model): successes are recorded at once, entries SNS
    blames on the sender are set aside as rejected, and only the rest is sent again. An entry
    that SNS neither confirms nor rejects stays pending too, so nothing can vanish.
    """

    def __init__(
        self, topic_arn: str, entries: Sequence[Entry], chunk: Sequence[int], message_ids: list[str]
    ) -> None:
        self._topic_arn = topic_arn
        self._entries = entries
        self._message_ids = message_ids
        self.pending = {str(index): index for index in chunk}
        self.rejected: dict[int, str] = {}

    def request(self) -> dict[str, Any]:
        return {
            "TopicArn": self._topic_arn,
            "PublishBatchRequestEntries": [
                {"Id": entry_id, **self._entries[index].parameters()}
                for entry_id, index in self.pending.items()
            ],
        }

    def absorb(self, response: Mapping[str, Any]) -> None:
        """Record a response; raise ``_RetryableEntries`` while service-side failures remain."""
        for ok in response.get("Successful", []):
            if ok.get("Id") in self.pending:
                self._message_ids[self.pending.pop(ok["Id"])] = str(ok["MessageId"])
        for failed in response.get("Failed", []):
            if failed.get("SenderFault") and failed.get("Id") in self.pending:
                index = self.pending.pop(failed["Id"])
                self.rejected[index] = f"{failed.get('Code')}: {failed.get('Message', '')}"
        if self.pending:
            raise _RetryableEntries(f"{len(self.pending)} entries failed on the service side")

    def raise_if_rejected(self) -> None:
        if self.rejected:
            reasons = "; ".join(
                f"{self._entries[i].event.event_id}: {why}" for i, why in self.rejected.items()
            )
            raise PublishError(
                f"SNS rejected {len(self.rejected)} entries: {reasons}", self._message_ids
            )


@contextmanager
def publish_failures(message_ids: Sequence[str]) -> Iterator[None]:
    """Whatever ends the retry loop reaches the caller as ``PublishError``/``Unavailable``.

    ``message_ids`` (what went out before the failure) travel with the error.
    """
    try:
        yield
    except (PublishError, PublishUnavailable):
        raise
    except RetryError as exc:
        last = exc.last_attempt.exception()
        raise PublishUnavailable(f"SNS unavailable after retries: {last}", message_ids) from exc
    except Exception as exc:
        raise PublishError(f"SNS refused the message: {exc}", message_ids) from exc


ClientT = TypeVar("ClientT")


class PublisherBase(Generic[ClientT]):
    """What the sync and async publishers hold: a client, the topic, retries, FIFO or not."""

    def __init__(
        self,
        sns: ClientT,
        topic_arn: str,
        retry: RetryPolicy | None = None,
        *,
        fifo: bool | None = None,
    ) -> None:
        self._sns = sns
        self._topic_arn = topic_arn
        self._retry = retry or RetryPolicy()
        self._fifo = is_fifo_topic(topic_arn) if fifo is None else fifo


class SnsPublisher(PublisherBase["SNSClient"]):
    """Synchronous publisher on a boto3 SNS client.

    ``fifo`` defaults to whether the topic ARN ends in ``.fifo``; then each message carries
    ``MessageGroupId`` = payment_id and ``MessageDeduplicationId`` = event_id.
    """

    def publish(self, event: Event) -> str:
        """Publish one event; returns the SNS message id."""
        (entry,) = build_entries([event], fifo=self._fifo)
        response = self._with_retries(
            lambda: self._sns.publish(TopicArn=self._topic_arn, **entry.parameters()), []
        )
        return str(response["MessageId"])

    def publish_batch(self, events: Sequence[Event]) -> list[str]:
        """Publish events in PublishBatch calls; returns message ids in input order.

        Stops at the first chunk that cannot be published (later chunks are not attempted,
        which keeps the relay's order); the exception's ``message_ids`` say what went out.
        """
        entries = build_entries(events, fifo=self._fifo)
        message_ids = [""] * len(entries)
        for chunk in chunk_by_size([entry.size for entry in entries]):
            progress = BatchProgress(self._topic_arn, entries, chunk, message_ids)
            self._with_retries(partial(self._send, progress), message_ids)
            progress.raise_if_rejected()
        return message_ids

    def _send(self, progress: BatchProgress) -> None:
        progress.absorb(self._sns.publish_batch(**progress.request()))

    def _with_retries(self, call: Callable[[], T], message_ids: Sequence[str]) -> T:
        with publish_failures(message_ids):
            for attempt in self._retry.retrying():
                with attempt:
                    return call()
        raise AssertionError("unreachable")  # pragma: no cover
