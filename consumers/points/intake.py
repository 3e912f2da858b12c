"""Validated wire events as the ledger stores them: facts, canonical body, content hash.

The one place a wire event type is mapped to what of it matters to points: a payment
event to its ``EventFacts`` (DESIGN §4.1), a ``points_grant`` to a ``Grant`` (§3).
"""

from __future__ import annotations

import hashlib
from typing import assert_never

from consumers.points.amounts import as_utc
from consumers.points.facts import BRANDS, PAYMENT_EVENT_TYPES, EventFacts, Grant
from consumers.points.store.records import StoredEvent
from schemas.canonical import canonical_json
from schemas.events import (
    Authorization,
    AuthorizationReversal,
    Chargeback,
    ChargebackReversal,
    Clearing,
    Event,
    PaymentEvent,
    PointsGrant,
    Refund,
    RefundReversal,
)


def event_facts(event: PaymentEvent) -> EventFacts:
    """What of a payment event matters to points."""
    approved, final = True, False
    match event:
        case Authorization():
            approved = event.approved
        case Clearing():
            final = event.final
        case (
            AuthorizationReversal()
            | Refund()
            | RefundReversal()
            | Chargeback()
            | ChargebackReversal()
        ):
            pass
        case _:
            assert_never(event)
    return EventFacts(  # positional: keyword arguments cost as much as the rest of it
        event.event_id,
        PAYMENT_EVENT_TYPES[event.event_type],
        event.payment_id,
        event.account_id,
        BRANDS[event.brand],
        as_utc(event.occurred_at),
        event.amount,
        event.merchant.mcc,
        event.merchant.country,
        approved,
        final,
    )


def grant_of(event: PointsGrant) -> Grant:
    """A ``points_grant`` as the ledger applies it (``memo`` stays in the stored body)."""
    return Grant(
        event_id=event.event_id,
        account_id=event.account_id,
        occurred_at=as_utc(event.occurred_at),
        points=event.points,
        reason=event.reason,
        source=event.source,
    )


def stored_event(event: Event) -> StoredEvent:
    """A validated event with its canonical body and content hash, computed once."""
    body = canonical_json(event)
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    facts: EventFacts | Grant
    match event:
        case PointsGrant():
            facts = grant_of(event)
        case (
            Authorization()
            | AuthorizationReversal()
            | Clearing()
            | Refund()
            | RefundReversal()
            | Chargeback()
            | ChargebackReversal()
        ):
            facts = event_facts(event)
        case _:
            assert_never(event)
    return StoredEvent(facts, digest, body)
