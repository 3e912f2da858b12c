"""Looking at every message of a DLQ once, without consuming any.

SQS has no "peek": a message is only seen by receiving it, which hides it for the
visibility timeout. A scan therefore receives with a short timeout (so that a crashed
scan gives everything back by itself), remembers what it has seen (SQS may hand the same
message out again), and at the end sets the visibility of everything it still holds to 0,
so the messages are at once visible again to the next operator or the next scan.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from consumers.runtime.transport import Received, received_from_sqs
from infra.aws import is_retryable_aws_error

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

T = TypeVar("T")
SQS_BATCH: Final = 10
#: Consecutive receives that bring nothing new before a scan is declared complete.
IDLE_ROUNDS: Final = 3


@dataclass(frozen=True)
class ScanOptions:
    """How a scan receives: ``hold_seconds`` is how long a crash hides messages, at most."""

    hold_seconds: int = 30
    #: Long polling (≥1 s) asks every SQS server, so a scan cannot miss messages on a
    #: small queue; 0 is exact on an emulator and makes tests fast.
    wait_seconds: int = 1
    batch_size: int = SQS_BATCH


def aws_call(call: Callable[[], T]) -> T:
    """One AWS call, retried on throttling/5xx/connection errors only (bounded, jittered)."""
    retrying = Retrying(
        retry=retry_if_exception(is_retryable_aws_error),
        stop=stop_after_attempt(4),
        wait=wait_random_exponential(multiplier=0.1, max=2.0),
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            return call()
    raise AssertionError("unreachable")  # pragma: no cover


class DlqScan:
    """``with DlqScan(sqs, url) as scan: for batch in scan.batches(): …``.

    Everything received stays hidden until the scan ends (so it is not received twice);
    whatever the caller did not ``forget`` (because it deleted it) is released on exit,
    also when the caller fails or is interrupted.
    """

    def __init__(self, sqs: SQSClient, url: str, options: ScanOptions | None = None) -> None:
        self._sqs = sqs
        self._url = url
        self._options = options or ScanOptions()
        self._held: dict[str, str] = {}
        self._seen: set[str] = set()

    def __enter__(self) -> DlqScan:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release_all()

    def batches(self) -> Iterator[list[Received]]:
        """New messages, batch by batch, until the queue has nothing new to give."""
        idle = 0
        while idle < IDLE_ROUNDS:
            received = self._receive()
            if not received:
                return
            new = [m for m in received if m.message_id not in self._seen]
            for message in received:
                self._held[message.message_id] = message.receipt_handle
                self._seen.add(message.message_id)
            if new:
                idle = 0
                yield new
            else:
                idle += 1

    def handle(self, message_id: str) -> str:
        """The newest receipt handle: SQS only honours the latest one for deletes."""
        return self._held[message_id]

    def forget(self, message_ids: Sequence[str]) -> None:
        """These were deleted: nothing to release."""
        for message_id in message_ids:
            self._held.pop(message_id, None)

    def release_all(self) -> None:
        """Make everything still held visible again (best effort: the timeout is the backstop)."""
        handles = list(self._held.values())
        self._held.clear()
        for start in range(0, len(handles), SQS_BATCH):
            chunk = handles[start : start + SQS_BATCH]
            entries: list[Any] = [
                {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": 0}
                for i, h in enumerate(chunk)
            ]
            try:
                self._sqs.change_message_visibility_batch(QueueUrl=self._url, Entries=entries)
            except (ClientError, BotoCoreError):
                continue

    def _receive(self) -> list[Received]:
        response = aws_call(
            lambda: self._sqs.receive_message(
                QueueUrl=self._url,
                MaxNumberOfMessages=self._options.batch_size,
                WaitTimeSeconds=self._options.wait_seconds,
                VisibilityTimeout=self._options.hold_seconds,
                MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
                MessageAttributeNames=["All"],
            )
        )
        return [received_from_sqs(m) for m in response.get("Messages", [])]


def queue_counts(sqs: SQSClient, url: str) -> tuple[int, int]:
    """(visible, in flight), as SQS approximates them."""
    attributes = aws_call(
        lambda: sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ],
        )
    )["Attributes"]
    return (
        int(attributes.get("ApproximateNumberOfMessages", "0")),
        int(attributes.get("ApproximateNumberOfMessagesNotVisible", "0")),
    )
