"""Per-payment facts and the points formulas of DESIGN §4, in integers.

Everything here is pure: a payment's facts are sums (and a few maxima/minima) over its
distinct applied events, so folding events in any order gives the same facts, and points
are functions of the facts alone. The ledger stores the difference of ``points`` before and
after each event as an append-only entry, so the entries of a payment always sum to its
current points whatever order its events arrived in.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import assert_never

from consumers.points.rules import BASIS_POINTS, Rules
from schemas.events import (
    Authorization,
    AuthorizationReversal,
    Brand,
    Chargeback,
    ChargebackReversal,
    Clearing,
    EventType,
    PaymentEvent,
    Refund,
    RefundReversal,
)


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; naive values are UTC (SQLite hands stored timestamps back naive)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class EventFacts:
    """What of an event matters to points; built from a validated event or a stored row."""

    event_id: str
    event_type: EventType
    payment_id: str
    account_id: str
    brand: Brand
    occurred_at: datetime  # aware UTC
    amount: int
    mcc: str
    approved: bool = True
    final: bool = False

    @classmethod
    def of(cls, event: PaymentEvent) -> EventFacts:
        approved, final = True, False
        match event:
            case Authorization():
                approved = event.approved
            case Clearing():
                final = event.final
            case AuthorizationReversal() | Refund():
                pass
            case RefundReversal() | Chargeback() | ChargebackReversal():  # issue #13: v2ledger
                raise ValueError(f"event type {event.event_type.value} is not applied here")
            case _:
                assert_never(event)
        return cls(
            event_id=event.event_id,
            event_type=EventType(event.event_type),
            payment_id=event.payment_id,
            account_id=event.account_id,
            brand=Brand(event.brand),
            occurred_at=as_utc(event.occurred_at),
            amount=event.amount,
            mcc=event.merchant.mcc,
            approved=approved,
            final=final,
        )

    @property
    def anchor_key(self) -> tuple[datetime, str]:
        return (self.occurred_at, self.event_id)


@dataclass(frozen=True, slots=True)
class Anchor:
    """The payment's earliest event by (occurred_at, event_id): it picks rule and MCC."""

    occurred_at: datetime
    event_id: str
    mcc: str

    @property
    def key(self) -> tuple[datetime, str]:
        return (self.occurred_at, self.event_id)


@dataclass(frozen=True, slots=True)
class Points:
    confirmed: int = 0
    provisional: int = 0

    def __add__(self, other: Points) -> Points:
        return Points(self.confirmed + other.confirmed, self.provisional + other.provisional)

    def __sub__(self, other: Points) -> Points:
        return Points(self.confirmed - other.confirmed, self.provisional - other.provisional)


@dataclass(frozen=True, slots=True)
class PaymentFacts:
    """The facts of one payment over its distinct applied events (DESIGN §4)."""

    payment_id: str
    account_id: str
    brand: Brand
    authorized: int = 0
    reversed: int = 0
    cleared: int = 0
    refunded: int = 0
    final: bool = False
    expired: bool = False
    anchor: Anchor | None = None
    #: The newest approved authorization: the expiry job's clock starts there.
    latest_authorized_at: datetime | None = None
    event_count: int = 0

    @classmethod
    def empty(cls, payment_id: str, account_id: str, brand: Brand) -> PaymentFacts:
        return cls(payment_id=payment_id, account_id=account_id, brand=brand)


def apply_event(facts: PaymentFacts, event: EventFacts) -> PaymentFacts:
    """The facts after one more distinct event; commutative and associative by design."""
    changes: dict[str, object] = {"event_count": facts.event_count + 1}
    match event.event_type:
        case EventType.AUTHORIZATION:
            if event.approved:
                changes["authorized"] = facts.authorized + event.amount
                latest = facts.latest_authorized_at
                changes["latest_authorized_at"] = (
                    event.occurred_at if latest is None else max(latest, event.occurred_at)
                )
        case EventType.AUTHORIZATION_REVERSAL:
            changes["reversed"] = facts.reversed + event.amount
        case EventType.CLEARING:
            changes["cleared"] = facts.cleared + event.amount
            changes["final"] = facts.final or event.final
        case EventType.REFUND:
            changes["refunded"] = facts.refunded + event.amount
        case (
            EventType.REFUND_REVERSAL
            | EventType.CHARGEBACK
            | EventType.CHARGEBACK_REVERSAL
            | EventType.POINTS_GRANT
        ):  # issue #13: the ledger refuses these before they get here (v2ledger replaces this)
            raise ValueError(f"event type {event.event_type.value} is not applied by this domain")
        case _:
            assert_never(event.event_type)
    if facts.anchor is None or event.anchor_key < facts.anchor.key:
        changes["anchor"] = Anchor(event.occurred_at, event.event_id, event.mcc)
    return replace(facts, **changes)  # type: ignore[arg-type]


def fold(payment_id: str, events: Iterable[EventFacts], *, expired: bool = False) -> PaymentFacts:
    """Facts of a payment from scratch (verify and tests); identity from the anchor event."""
    ordered = sorted(events, key=lambda e: e.anchor_key)
    if not ordered:
        raise ValueError(f"payment {payment_id} has no events")
    facts = PaymentFacts.empty(payment_id, ordered[0].account_id, ordered[0].brand)
    for event in ordered:
        facts = apply_event(facts, event)
    return replace(facts, expired=expired)


def pts(amount: int, rate_bp: int) -> int:
    """``floor(max(0, x) × rate_bp / 10000)`` in integers (Kyash floors per payment)."""
    return max(0, amount) * rate_bp // BASIS_POINTS


def points(facts: PaymentFacts, rules: Rules) -> Points:
    """Confirmed and provisional points of one payment (DESIGN §4)."""
    if facts.anchor is None:
        return Points()
    rate = rules.for_anchor(facts.anchor.occurred_at).rate_bp(facts.brand, facts.anchor.mcc)
    confirmed = pts(facts.cleared - facts.refunded, rate)
    if facts.final or facts.expired:
        return Points(confirmed, 0)
    return Points(confirmed, pts(facts.authorized - facts.reversed - facts.cleared, rate))


def is_expirable(facts: PaymentFacts, rules: Rules, cutoff: datetime) -> bool:
    """Not final, not yet expired, provisional > 0, latest authorization before ``cutoff``."""
    if facts.final or facts.expired or facts.latest_authorized_at is None:
        return False
    return facts.latest_authorized_at < cutoff and points(facts, rules).provisional > 0
