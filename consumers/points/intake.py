"""Validated wire events as the ledger stores them: facts, canonical body, content hash.

The one place a wire event type is mapped to what of it matters to points: a payment
event to its ``EventFacts`` (DESIGN §4.1), a ``points_grant`` to a ``Grant`` (§3).
"""

from __future__ import annotations

import hashlib
from typing import assert_never

from consumers.points.amounts import as_utc
from consumers.points.facts import EventFacts, PaymentEventType
from consumers.points.store.records import StoredEvent
from schemas.canonical import canonical_json
from schemas.events import (
    Authorization,
    AuthorizationReversal,
    Brand,
    Clearing,
    PaymentEvent,
    Refund,
)


def event_facts(event: PaymentEvent) -> EventFacts:
    """What of a payment event matters to points."""
    approved, final = True, False
    match event:
        case Authorization():
            approved = event.approved
        case Clearing():
            final = event.final
        case AuthorizationReversal() | Refund():
            pass
        case _:
            assert_never(event)
    return EventFacts(
        event_id=event.event_id,
        event_type=PaymentEventType(str(event.event_type)),
        payment_id=event.payment_id,
        account_id=event.account_id,
        brand=Brand(event.brand),
        occurred_at=as_utc(event.occurred_at),
        amount=event.amount,
        mcc=event.merchant.mcc,
        country=event.merchant.country,
        approved=approved,
        final=final,
    )


def stored_event(event: PaymentEvent) -> StoredEvent:
    """A validated event with its canonical body and content hash, computed once."""
    body = canonical_json(event)
    digest = hashlib.sha256(body.encode("utf-8")).hexdigest()
    return StoredEvent(event_facts(event), digest, body)
