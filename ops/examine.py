"""What a dead-lettered message is and why it failed.

The reason comes from the ``points.*`` attributes the worker attaches (DESIGN §5), else
from the failure journal (messages SQS moved natively after maxReceiveCount carry no
reason of their own), else it is honestly ``unknown``. Bodies may be undecodable (that is
often why they are here): their facts are read leniently, and they are shown as such.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final, Literal

import sqlalchemy as sa

from consumers.bootstrap import bootstrap_journal
from consumers.journal import Failure, latest_failures
from consumers.runtime.deadletter import MESSAGE_ID, read_failure, redrive_mark
from consumers.runtime.transport import Received
from schemas.envelope import decode_body
from schemas.errors import PermanentError
from schemas.events import payment_of

UNKNOWN: Final = "unknown"
ReasonOrigin = Literal["attributes", "journal", "unknown"]
_FACT_KEYS: Final = ("event_id", "event_type", "payment_id", "account_id", "brand")


@dataclass(frozen=True)
class MessageFacts:
    """The identifying fields of a body; ``decode_error`` is None for a valid v1 event."""

    event_id: str | None = None
    event_type: str | None = None
    payment_id: str | None = None
    account_id: str | None = None
    brand: str | None = None
    decode_error: str | None = None

    def get(self, key: str) -> str | None:
        value: str | None = getattr(self, key)
        return value


def facts_of(body: str) -> MessageFacts:
    try:
        event = decode_body(body)
    except PermanentError as exc:
        return _lenient_facts(body, f"{exc.code}: {exc}")
    payment = payment_of(event)
    return MessageFacts(
        event_id=event.event_id,
        event_type=str(event.event_type),
        payment_id=None if payment is None else payment.payment_id,
        account_id=event.account_id,
        brand=None if payment is None else str(payment.brand),
    )


def _lenient_facts(body: str, error: str) -> MessageFacts:
    """Whatever identifying strings an invalid event still has (for filters and display)."""
    try:
        document = json.loads(body)
        if isinstance(document, dict) and document.get("Type") == "Notification":
            document = json.loads(document.get("Message", ""))
    except (ValueError, TypeError, RecursionError):
        return MessageFacts(decode_error=error)
    if not isinstance(document, dict):
        return MessageFacts(decode_error=error)
    found = {k: v for k in _FACT_KEYS if isinstance(v := document.get(k), str)}
    return MessageFacts(**found, decode_error=error)


@dataclass(frozen=True)
class Reason:
    error_type: str
    error_message: str
    origin: ReasonOrigin
    receive_count: int | None = None
    failed_at: str | None = None

    @property
    def text(self) -> str:
        if self.origin == "unknown":
            return UNKNOWN
        return f"{self.error_type}: {self.error_message}"

    @property
    def fingerprint(self) -> str:
        return fingerprint(self.error_type, self.error_message)


_UUID = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}", re.I)
_QUOTED = re.compile(r"'[^']*'|\"[^\"]*\"")
_WITH_DIGIT = re.compile(r"[\w.:+-]*\d[\w.:+-]*")


def fingerprint(error_type: str, error_message: str) -> str:
    """Error type + message with ids, quoted values and numbers normalised.

    So that a thousand ``idempotency_conflict`` messages about different event ids
    group into one line, while different causes stay apart.
    """
    text = _UUID.sub("<id>", error_message)
    text = _QUOTED.sub("<v>", text)
    text = _WITH_DIGIT.sub(lambda m: "<n>" if m.group().isdigit() else "<id>", text)
    text = " ".join(text.split())
    return f"{error_type}: {text}" if text else error_type


def reason_for(message: Received, facts: MessageFacts, journal: Mapping[str, Failure]) -> Reason:
    info = read_failure(message.attributes)
    if info is not None:
        return Reason(
            info.error_type,
            info.error_message,
            "attributes",
            info.receive_count or None,
            info.failed_at or None,
        )
    failure = journal.get(message.message_id)
    if failure is None and facts.event_id:
        failure = journal.get(facts.event_id)
    if failure is not None:
        failed_at = failure.failed_at.isoformat() if failure.failed_at else None
        return Reason(
            failure.error_type, failure.error_message, "journal", failure.attempts, failed_at
        )
    return Reason(UNKNOWN, "", "unknown")


@dataclass(frozen=True)
class Examined:
    """A received DLQ message with its facts and its reason."""

    message: Received
    facts: MessageFacts
    reason: Reason

    @property
    def message_id(self) -> str:
        return self.message.message_id

    @property
    def original_message_id(self) -> str | None:
        """The message's id in its source queue (what the worker logged), when it differs."""
        original = self.message.attributes.get(MESSAGE_ID, ("String", ""))[1]
        return original if original and original != self.message_id else None

    @property
    def redrive_mark(self) -> int | None:
        """The redrive that last sent this message (or the copy it was made from)."""
        return redrive_mark(self.message.attributes)

    @property
    def receive_count(self) -> int:
        """Receives in the source queue when known (attributes, journal); else SQS's count
        before the receive that is looking at it now (earlier ``dlq`` looks are included)."""
        return self.reason.receive_count or max(self.message.receive_count - 1, 0)

    @property
    def sent_at(self) -> str | None:
        if self.message.sent_at_ms is None:
            return None
        return datetime.fromtimestamp(self.message.sent_at_ms / 1000, UTC).isoformat()


class Journal:
    """Read-only access to the failure journal; silently absent when the DB is not usable.

    The operator's machine may have no consumer database, or an unmigrated one: then the
    reasons come from attributes only, and the rest say ``unknown``. Opening must never
    create a database file as a side effect.
    """

    def __init__(self, database_url: str | None) -> None:
        self._engine = bootstrap_journal(database_url)

    @property
    def available(self) -> bool:
        return self._engine is not None

    def lookup(self, messages: Sequence[tuple[str, str | None]]) -> dict[str, Failure]:
        """Journal entries keyed by message id and by event id."""
        if self._engine is None or not messages:
            return {}
        try:
            return latest_failures(
                self._engine,
                message_ids=[m for m, _ in messages],
                event_ids=[e for _, e in messages if e],
            )
        except sa.exc.SQLAlchemyError:
            return {}

    def close(self) -> None:
        if self._engine is not None:
            self._engine.dispose()

    def __enter__(self) -> Journal:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


def examine(messages: Sequence[Received], journal: Journal) -> list[Examined]:
    facts = [facts_of(m.body) for m in messages]
    # The journal only explains messages that carry no reason of their own (SQS moved them).
    entries = journal.lookup(
        [
            (m.message_id, f.event_id)
            for m, f in zip(messages, facts, strict=True)
            if read_failure(m.attributes) is None
        ]
    )
    return [Examined(m, f, reason_for(m, f, entries)) for m, f in zip(messages, facts, strict=True)]
