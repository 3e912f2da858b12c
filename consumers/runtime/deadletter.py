"""How a message is dead-lettered by the worker, and how the reason travels with it.

The DLQ copy keeps the original body and message attributes and adds ``points.*``
attributes that say why and which SQS message it was (its id in the source queue: the id
the worker logged, which ``points dlq redrive --id`` accepts too).

A redrive marks each copy it sends with its operation id (``points.redrive_id``) and counts
redrives (``points.redrive_count``); the worker keeps both when it dead-letters that copy
again, so a redrive can tell its own returning failures apart and never picks them up.

SQS allows 10 message attributes per message: the contract uses 3, the reason 5 and a
redrive 2. When a producer added more, ours and the contract's are kept first.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

ERROR_TYPE: Final = "points.error_type"
ERROR_MESSAGE: Final = "points.error_message"
FAILED_AT: Final = "points.failed_at"
RECEIVE_COUNT: Final = "points.receive_count"
MESSAGE_ID: Final = "points.message_id"
#: Written before the original message id was: read, never written (the DLQ says it).
LEGACY_SOURCE_QUEUE: Final = "points.source_queue"
REDRIVE_COUNT: Final = "points.redrive_count"
REDRIVE_ID: Final = "points.redrive_id"
WRITTEN_FAILURE_ATTRIBUTES: Final = (
    ERROR_TYPE,
    ERROR_MESSAGE,
    FAILED_AT,
    RECEIVE_COUNT,
    MESSAGE_ID,
)
FAILURE_ATTRIBUTES: Final = (*WRITTEN_FAILURE_ATTRIBUTES, LEGACY_SOURCE_QUEUE)
#: SQS message attribute values are limited only by the message size; we keep reasons short.
MAX_REASON_CHARS: Final = 1000
#: SQS refuses a message with more attributes than this (moto does not check).
MAX_SQS_ATTRIBUTES: Final = 10
#: Kept first when a message has too many attributes: the contract's, then the redrive
#: marks (without ``points.redrive_id`` a redrive could pick up its own returning copies).
_KEEP_FIRST: Final = ("event_type", "brand", "schema_version", REDRIVE_ID, REDRIVE_COUNT)

Attributes = Mapping[str, tuple[str, str]]


@dataclass(frozen=True)
class FailureInfo:
    """Why a message was dead-lettered, as read back from its attributes."""

    error_type: str
    error_message: str
    failed_at: str
    receive_count: int
    #: The message's id in the source queue ("" for copies written before it was kept).
    message_id: str


def _trimmed(attributes: Attributes, room: int) -> dict[str, tuple[str, str]]:
    """At most ``room`` attributes: the contract's and the redrive marks first, then by name."""
    if len(attributes) <= room:
        return dict(attributes)
    chosen = sorted(attributes, key=lambda k: (k not in _KEEP_FIRST, k))[:room]
    return {k: attributes[k] for k in sorted(chosen)}


def failure_attributes(
    original: Attributes,
    *,
    error_type: str,
    error_message: str,
    receive_count: int,
    message_id: str,
    failed_at: datetime | None = None,
) -> dict[str, tuple[str, str]]:
    """The original attributes (minus stale ``points.*`` reasons) plus the new reason.

    When the original has more attributes than leave room for the reason within SQS's
    limit, the contract's (and the redrive marks) are kept first, the rest by name: a copy
    that SQS refuses would never reach the DLQ with its reason.
    """
    kept = {k: v for k, v in original.items() if k not in FAILURE_ATTRIBUTES}
    kept = _trimmed(kept, MAX_SQS_ATTRIBUTES - len(WRITTEN_FAILURE_ATTRIBUTES))
    when = (failed_at or datetime.now(UTC)).isoformat(timespec="milliseconds")
    return {
        **kept,
        ERROR_TYPE: ("String", error_type),
        ERROR_MESSAGE: ("String", error_message[:MAX_REASON_CHARS] or "(no message)"),
        FAILED_AT: ("String", when),
        RECEIVE_COUNT: ("Number", str(receive_count)),
        MESSAGE_ID: ("String", message_id),
    }


def read_failure(attributes: Attributes) -> FailureInfo | None:
    """The reason a worker attached, or None for a message SQS dead-lettered natively."""
    if ERROR_TYPE not in attributes:
        return None
    count = attributes.get(RECEIVE_COUNT, ("Number", "0"))[1]
    return FailureInfo(
        error_type=attributes[ERROR_TYPE][1],
        error_message=attributes.get(ERROR_MESSAGE, ("String", ""))[1],
        failed_at=attributes.get(FAILED_AT, ("String", ""))[1],
        receive_count=int(count) if count.isdigit() else 0,
        message_id=attributes.get(MESSAGE_ID, ("String", ""))[1],
    )


def redrive_mark(attributes: Attributes) -> int | None:
    """The id of the redrive (or replay) that sent this message (or the copy it came from)."""
    value = attributes.get(REDRIVE_ID, ("Number", ""))[1]
    return int(value) if value.isdigit() else None


def without_failure(attributes: Attributes, redrive_id: int | None) -> dict[str, tuple[str, str]]:
    """Attributes for a redriven copy: the reason goes, the redrive count goes up by one,
    and the redrive's id marks it; within SQS's limit (the marks are kept first)."""
    kept = {k: v for k, v in attributes.items() if k not in FAILURE_ATTRIBUTES}
    previous = kept.get(REDRIVE_COUNT, ("Number", "0"))[1]
    kept[REDRIVE_COUNT] = ("Number", str((int(previous) if previous.isdigit() else 0) + 1))
    if redrive_id is not None:
        kept[REDRIVE_ID] = ("Number", str(redrive_id))
    return _trimmed(kept, MAX_SQS_ATTRIBUTES)
