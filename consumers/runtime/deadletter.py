"""How a message is dead-lettered by the worker, and how the reason travels with it.

The DLQ copy keeps the original body and message attributes and adds ``points.*``
attributes that say why. SQS allows 10 message attributes per message: the contract uses
3, these add 5, and a redrive adds ``points.redrive_count``, leaving one spare.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

ERROR_TYPE: Final = "points.error_type"
ERROR_MESSAGE: Final = "points.error_message"
SOURCE_QUEUE: Final = "points.source_queue"
FAILED_AT: Final = "points.failed_at"
RECEIVE_COUNT: Final = "points.receive_count"
REDRIVE_COUNT: Final = "points.redrive_count"
FAILURE_ATTRIBUTES: Final = (ERROR_TYPE, ERROR_MESSAGE, SOURCE_QUEUE, FAILED_AT, RECEIVE_COUNT)
#: SQS message attribute values are limited only by the message size; we keep reasons short.
MAX_REASON_CHARS: Final = 1000
#: SQS refuses a message with more attributes than this (moto does not check).
MAX_SQS_ATTRIBUTES: Final = 10
#: Kept first when a message arrives with too many attributes to add the reason.
_KEEP_FIRST: Final = ("event_type", "brand", "schema_version", REDRIVE_COUNT)


@dataclass(frozen=True)
class FailureInfo:
    """Why a message was dead-lettered, as read back from its attributes."""

    error_type: str
    error_message: str
    source_queue: str
    failed_at: str
    receive_count: int


def failure_attributes(
    original: Mapping[str, tuple[str, str]],
    *,
    error_type: str,
    error_message: str,
    source_queue: str,
    receive_count: int,
    failed_at: datetime | None = None,
) -> dict[str, tuple[str, str]]:
    """The original attributes (minus stale ``points.*`` reasons) plus the new reason.

    When the original has more attributes than leave room for the reason within SQS's
    limit, the contract's (and the redrive count) are kept first, the rest by name: a copy
    that SQS refuses would never reach the DLQ with its reason.
    """
    kept = {k: v for k, v in original.items() if k not in FAILURE_ATTRIBUTES}
    room = MAX_SQS_ATTRIBUTES - len(FAILURE_ATTRIBUTES)
    if len(kept) > room:
        chosen = sorted(kept, key=lambda k: (k not in _KEEP_FIRST, k))[:room]
        kept = {k: kept[k] for k in sorted(chosen)}
    when = (failed_at or datetime.now(UTC)).isoformat(timespec="milliseconds")
    return {
        **kept,
        ERROR_TYPE: ("String", error_type),
        ERROR_MESSAGE: ("String", error_message[:MAX_REASON_CHARS] or "(no message)"),
        SOURCE_QUEUE: ("String", source_queue),
        FAILED_AT: ("String", when),
        RECEIVE_COUNT: ("Number", str(receive_count)),
    }


def read_failure(attributes: Mapping[str, tuple[str, str]]) -> FailureInfo | None:
    """The reason a worker attached, or None for a message SQS dead-lettered natively."""
    if ERROR_TYPE not in attributes:
        return None
    count = attributes.get(RECEIVE_COUNT, ("Number", "0"))[1]
    return FailureInfo(
        error_type=attributes[ERROR_TYPE][1],
        error_message=attributes.get(ERROR_MESSAGE, ("String", ""))[1],
        source_queue=attributes.get(SOURCE_QUEUE, ("String", ""))[1],
        failed_at=attributes.get(FAILED_AT, ("String", ""))[1],
        receive_count=int(count) if count.isdigit() else 0,
    )


def without_failure(attributes: Mapping[str, tuple[str, str]]) -> dict[str, tuple[str, str]]:
    """Attributes for a redriven copy: the reason goes, the redrive count goes up by one."""
    kept = {k: v for k, v in attributes.items() if k not in FAILURE_ATTRIBUTES}
    previous = kept.get(REDRIVE_COUNT, ("Number", "0"))[1]
    kept[REDRIVE_COUNT] = ("Number", str((int(previous) if previous.isdigit() else 0) + 1))
    return kept
