"""An in-memory SNS client with the two calls publishers use, sync and async.

It lets unit tests script failures (a whole call raising, single entries failing for a
number of attempts) and lets the benchmark measure the relay without measuring moto
(DESIGN §8). It keeps every message it accepted, in order.
"""

from __future__ import annotations

import itertools
import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any


@dataclass
class EntryFailure:
    """Fail the entry carrying ``event_id`` on its next ``times`` attempts."""

    event_id: str
    times: int = 1
    code: str = "InternalError"
    sender_fault: bool = False


@dataclass
class FakeSns:
    """Accepts ``publish`` and ``publish_batch`` like boto3's SNS client does."""

    #: Raised, in order, by the next calls (one per call), before anything is accepted.
    call_failures: list[BaseException] = field(default_factory=list)
    entry_failures: list[EntryFailure] = field(default_factory=list)
    messages: list[dict[str, Any]] = field(default_factory=list)
    calls: int = 0
    _ids: Iterator[int] = field(default_factory=itertools.count, init=False, repr=False)

    def publish(self, **request: Any) -> dict[str, Any]:
        self._start_call()
        return {"MessageId": self._accept(request)}

    def publish_batch(self, **request: Any) -> dict[str, Any]:
        self._start_call()
        successful: list[dict[str, str]] = []
        failed: list[dict[str, Any]] = []
        for entry in request["PublishBatchRequestEntries"]:
            failure = self._failure_for(entry)
            if failure is None:
                successful.append({"Id": entry["Id"], "MessageId": self._accept(entry)})
            else:
                failed.append(
                    {
                        "Id": entry["Id"],
                        "Code": failure.code,
                        "Message": "scripted failure",
                        "SenderFault": failure.sender_fault,
                    }
                )
        return {"Successful": successful, "Failed": failed}

    def event_ids(self) -> list[str]:
        return [str(json.loads(m["Message"])["event_id"]) for m in self.messages]

    def _start_call(self) -> None:
        self.calls += 1
        if self.call_failures:
            raise self.call_failures.pop(0)

    def _failure_for(self, entry: Mapping[str, Any]) -> EntryFailure | None:
        event_id = json.loads(entry["Message"])["event_id"]
        for failure in self.entry_failures:
            if failure.event_id == event_id and failure.times > 0:
                failure.times -= 1
                return failure
        return None

    def _accept(self, entry: Mapping[str, Any]) -> str:
        self.messages.append({k: v for k, v in entry.items() if k != "Id"})
        return f"fake-{next(self._ids)}"


class AsyncFakeSns:
    """The same fake behind coroutine methods, as aiobotocore's client presents them."""

    def __init__(self, sync: FakeSns | None = None) -> None:
        self.sync = sync or FakeSns()

    async def publish(self, **request: Any) -> dict[str, Any]:
        return self.sync.publish(**request)

    async def publish_batch(self, **request: Any) -> dict[str, Any]:
        return self.sync.publish_batch(**request)
