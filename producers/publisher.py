"""Publishing v1 events to the SNS topic, with the contract's message attributes.

Only retryable failures (throttling, 5xx, connection) are retried, with bounded jittered
exponential backoff; anything else raises ``PublishError`` at once. Nothing is dropped
silently: a batch either publishes every entry or raises naming the ones that failed.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final

from tenacity import (
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
from schemas.events import SCHEMA_VERSION, PaymentEvent

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sns.type_defs import MessageAttributeValueTypeDef

SNS_BATCH_MAX_ENTRIES: Final = 10
SNS_BATCH_MAX_BYTES: Final = 256 * 1024


class PublishError(PermanentError):
    """SNS refused the message for a reason a retry cannot fix (e.g. no such topic)."""

    code = "publish_error"


class PublishUnavailable(TransientError):
    """SNS stayed unavailable through every retry; the caller (e.g. the outbox) keeps the event."""

    code = "publish_unavailable"


class _RetryableEntries(Exception):
    """Some entries of a batch failed on AWS's side; retry just those."""


@dataclass(frozen=True)
class RetryPolicy:
    attempts: int = 5
    max_seconds: float = 20.0
    initial_wait: float = 0.05
    max_wait: float = 2.0

    def retrying(self) -> Retrying:
        return Retrying(
            retry=retry_if_exception(
                lambda e: isinstance(e, _RetryableEntries) or is_retryable_aws_error(e)
            ),
            stop=stop_after_attempt(self.attempts) | stop_after_delay(self.max_seconds),
            wait=wait_random_exponential(multiplier=self.initial_wait, max=self.max_wait),
            reraise=False,
        )


def message_attributes(event: PaymentEvent) -> dict[str, MessageAttributeValueTypeDef]:
    """What subscriptions filter on. String and Number only (moto drops Binary, DESIGN §8)."""
    return {
        "event_type": {"DataType": "String", "StringValue": event.event_type.value},
        "brand": {"DataType": "String", "StringValue": event.brand.value},
        "schema_version": {"DataType": "Number", "StringValue": str(SCHEMA_VERSION)},
    }


def chunk_for_batch(bodies: Sequence[str]) -> list[list[int]]:
    """Indexes of ``bodies`` grouped into PublishBatch calls: ≤10 entries and ≤256 KiB each."""
    chunks: list[list[int]] = []
    current: list[int] = []
    size = 0
    for index, body in enumerate(bodies):
        body_size = len(body.encode("utf-8"))
        if current and (
            len(current) == SNS_BATCH_MAX_ENTRIES or size + body_size > SNS_BATCH_MAX_BYTES
        ):
            chunks.append(current)
            current, size = [], 0
        current.append(index)
        size += body_size
    if current:
        chunks.append(current)
    return chunks


class SnsPublisher:
    """Synchronous publisher on a boto3 SNS client."""

    def __init__(self, sns: SNSClient, topic_arn: str, retry: RetryPolicy | None = None) -> None:
        self._sns = sns
        self._topic_arn = topic_arn
        self._retry = retry or RetryPolicy()

    def publish(self, event: PaymentEvent) -> str:
        """Publish one event; returns the SNS message id."""
        response = self._with_retries(
            lambda: self._sns.publish(
                TopicArn=self._topic_arn,
                Message=canonical_json(event),
                MessageAttributes=message_attributes(event),
            )
        )
        return str(response["MessageId"])

    def publish_batch(self, events: Sequence[PaymentEvent]) -> list[str]:
        """Publish events in PublishBatch calls; returns message ids in input order."""
        bodies = [canonical_json(e) for e in events]
        message_ids = [""] * len(events)
        for chunk in chunk_for_batch(bodies):
            pending = {str(i): i for i in chunk}
            self._with_retries(
                lambda p=pending: self._publish_entries(events, bodies, p, message_ids)
            )
        return message_ids

    def _publish_entries(
        self,
        events: Sequence[PaymentEvent],
        bodies: Sequence[str],
        pending: dict[str, int],
        message_ids: list[str],
    ) -> None:
        response = self._sns.publish_batch(
            TopicArn=self._topic_arn,
            PublishBatchRequestEntries=[
                {
                    "Id": entry_id,
                    "Message": bodies[i],
                    "MessageAttributes": message_attributes(events[i]),
                }
                for entry_id, i in pending.items()
            ],
        )
        for ok in response.get("Successful", []):
            message_ids[pending.pop(ok["Id"])] = ok["MessageId"]
        failed = response.get("Failed", [])
        permanent = [f for f in failed if f.get("SenderFault")]
        if permanent:
            reasons = "; ".join(
                f"{events[pending[f['Id']]].event_id}: {f.get('Code')}" for f in permanent
            )
            raise PublishError(f"SNS rejected {len(permanent)} entries: {reasons}")
        if pending:
            raise _RetryableEntries(f"{len(pending)} entries failed on the service side")

    def _with_retries(self, call: Any) -> Any:
        try:
            for attempt in self._retry.retrying():
                with attempt:
                    return call()
        except RetryError as exc:
            last = exc.last_attempt.exception()
            raise PublishUnavailable(f"SNS unavailable after retries: {last}") from last
        except Exception as exc:
            if isinstance(exc, (PublishError, PublishUnavailable)):
                raise
            raise PublishError(f"SNS refused the message: {exc}") from exc
        raise AssertionError("unreachable")  # pragma: no cover
