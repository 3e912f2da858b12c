"""The queue port of the worker runtime, and its SQS adapter (``consumers.runtime.sqs``).

The runtime talks to a ``QueueTransport`` only, so an in-memory transport can stand in
for SQS in benchmarks (to measure us, not the emulator) with the exact same worker code.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from types_aiobotocore_sqs.type_defs import MessageAttributeValueTypeDef

    from consumers.runtime.sqs import SqsApi


@dataclass(frozen=True)
class Received:
    """One received message, as the runtime needs it (transport-neutral)."""

    message_id: str
    receipt_handle: str
    body: str
    receive_count: int
    #: String/Number message attributes, name -> (data type, string value).
    attributes: Mapping[str, tuple[str, str]] = field(default_factory=dict)
    sent_at_ms: int | None = None


class QueueTransport(Protocol):
    """What the worker does with a queue. Every call may raise a transient AWS error."""

    queue_name: str

    async def receive(self, max_messages: int, wait_seconds: int) -> list[Received]: ...

    async def delete(self, receipt_handles: Sequence[str]) -> list[str]:
        """Delete; returns the receipt handles that could not be deleted."""
        ...

    async def change_visibility(self, receipt_handles: Sequence[str], seconds: int) -> None: ...

    async def send_to_dlq(self, body: str, attributes: Mapping[str, tuple[str, str]]) -> str:
        """Send a copy to this queue's dead-letter queue; returns its new message id."""
        ...

    async def pending(self) -> int:
        """Messages visible, in flight or delayed (approximate, as SQS reports it)."""
        ...


def encode_attributes(
    attributes: Mapping[str, tuple[str, str]],
) -> dict[str, MessageAttributeValueTypeDef]:
    return {
        name: {"DataType": data_type, "StringValue": value}
        for name, (data_type, value) in attributes.items()
    }


def decode_attributes(raw: Mapping[str, Any]) -> dict[str, tuple[str, str]]:
    """String and Number attributes only; Binary ones are not part of our contract."""
    decoded: dict[str, tuple[str, str]] = {}
    for name, value in raw.items():
        data_type = str(value.get("DataType", ""))
        if "StringValue" in value and not data_type.startswith("Binary"):
            decoded[name] = (data_type, str(value["StringValue"]))
    return decoded


class SqsTransport:
    """``QueueTransport`` on ``SqsApi`` (SQS's JSON protocol; its lifetime is the caller's)."""

    def __init__(self, api: SqsApi, queue_name: str, url: str, dlq_url: str) -> None:
        self._api = api
        self.queue_name = queue_name
        self.url = url
        self.dlq_url = dlq_url

    async def receive(self, max_messages: int, wait_seconds: int) -> list[Received]:
        response = await self._api.call(
            "ReceiveMessage",
            {
                "QueueUrl": self.url,
                "MaxNumberOfMessages": max_messages,
                "WaitTimeSeconds": wait_seconds,
                "MessageSystemAttributeNames": ["ApproximateReceiveCount", "SentTimestamp"],
                "MessageAttributeNames": ["All"],
            },
        )
        return [received_from_sqs(m) for m in response.get("Messages", ())]

    async def delete(self, receipt_handles: Sequence[str]) -> list[str]:
        failed: list[str] = []
        for start in range(0, len(receipt_handles), 10):
            chunk = receipt_handles[start : start + 10]
            response = await self._batch("DeleteMessageBatch", chunk)
            failed.extend(chunk[int(f["Id"])] for f in response.get("Failed", ()))
        return failed

    async def change_visibility(self, receipt_handles: Sequence[str], seconds: int) -> None:
        for start in range(0, len(receipt_handles), 10):
            chunk = receipt_handles[start : start + 10]
            await self._batch("ChangeMessageVisibilityBatch", chunk, VisibilityTimeout=seconds)

    async def _batch(self, operation: str, handles: Sequence[str], **entry: Any) -> dict[str, Any]:
        entries = [{"Id": str(i), "ReceiptHandle": h, **entry} for i, h in enumerate(handles)]
        return await self._api.call(operation, {"QueueUrl": self.url, "Entries": entries})

    async def send_to_dlq(self, body: str, attributes: Mapping[str, tuple[str, str]]) -> str:
        response = await self._api.call(
            "SendMessage",
            {
                "QueueUrl": self.dlq_url,
                "MessageBody": body,
                "MessageAttributes": encode_attributes(attributes),
            },
        )
        return str(response["MessageId"])

    async def pending(self) -> int:
        response = await self._api.call(
            "GetQueueAttributes",
            {
                "QueueUrl": self.url,
                "AttributeNames": [
                    "ApproximateNumberOfMessages",
                    "ApproximateNumberOfMessagesNotVisible",
                    "ApproximateNumberOfMessagesDelayed",
                ],
            },
        )
        return sum(int(v) for v in response.get("Attributes", {}).values())


def received_from_sqs(message: Mapping[str, Any]) -> Received:
    """An SQS ``Message`` (boto3 or aiobotocore) as the transport-neutral ``Received``."""
    system = message.get("Attributes", {})
    sent = system.get("SentTimestamp")
    return Received(
        message_id=message["MessageId"],
        receipt_handle=message["ReceiptHandle"],
        body=message.get("Body", ""),
        receive_count=int(system.get("ApproximateReceiveCount", "1")),
        attributes=decode_attributes(message.get("MessageAttributes", {})),
        sent_at_ms=int(sent) if sent else None,
    )
