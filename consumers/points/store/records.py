"""The ledger's typed records: what crosses the store interface, in both directions.

Rows never cross it as dicts: column names are spelled in ``rows.py`` only. Timestamps of
the write (``received_at``, ``recorded_at``, ``updated_at``) are not part of the records: the
unit of work stamps them with its own wall clock, so no caller can record another instant.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum

from consumers.points.domain import EventFacts, PaymentFacts, Points


class EntryKind(StrEnum):
    """What caused a ledger entry."""

    EVENT = "event"
    EXPIRY = "expiry"


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An applied event in the inbox (the event store): its facts, canonical body and hash."""

    facts: EventFacts
    content_hash: str
    body: str


@dataclass(frozen=True, slots=True)
class PaymentRecord:
    """The payment projection: a payment's facts and the points they earn."""

    facts: PaymentFacts
    earned: Points


@dataclass(frozen=True, slots=True)
class Entry:
    """An append-only delta of an account's points, and its cause."""

    kind: EntryKind
    payment_id: str
    account_id: str
    delta: Points
    event_id: str | None = None


@dataclass(frozen=True, slots=True)
class Claim:
    """What ``claim`` found: the locked payments' current facts (``event_count == 0`` for a
    placeholder of a payment never seen) and the event ids this transaction inserted."""

    payments: dict[str, PaymentFacts]
    recorded: set[str]


@dataclass(frozen=True)
class Balance:
    account_id: str
    confirmed: int
    provisional: int


@dataclass(frozen=True)
class PaymentView:
    """One payment as ``points ledger payment`` shows it (DESIGN §6 keys)."""

    payment_id: str
    account_id: str
    brand: str
    authorized: int
    reversed: int
    cleared: int
    refunded: int
    final: bool
    expired: bool
    confirmed: int
    provisional: int

    @classmethod
    def of(cls, record: PaymentRecord) -> PaymentView:
        facts = record.facts
        return cls(
            payment_id=facts.payment_id,
            account_id=facts.account_id,
            brand=str(facts.brand),
            authorized=facts.authorized,
            reversed=facts.reversed,
            cleared=facts.cleared,
            refunded=facts.refunded,
            final=facts.final,
            expired=facts.expired,
            confirmed=record.earned.confirmed,
            provisional=record.earned.provisional,
        )


@dataclass(frozen=True)
class HistoryEntry:
    """One ledger entry of an account, with the event that caused it (none for expiry)."""

    entry_id: int
    recorded_at: datetime
    kind: str
    payment_id: str
    event_id: str | None
    event_type: str | None
    amount: int | None
    occurred_at: datetime | None
    confirmed_delta: int
    provisional_delta: int


@dataclass
class Snapshot:
    """Rows of a set of accounts as of one consistent read (a chunk of ``points ledger verify``):
    their events, entries, payment projections and balances."""

    events: list[StoredEvent] = field(default_factory=list)
    entries: list[Entry] = field(default_factory=list)
    payments: list[PaymentRecord] = field(default_factory=list)
    balances: list[Balance] = field(default_factory=list)
