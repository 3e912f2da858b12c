"""The demo's payment stories, told through the brand adapters and the outbox.

``points demo`` records them the way a payment service would (``record_stories`` inside a
transaction on the outbox database), then runs the relay and the workers. Every id comes
from the brand records, so recording the stories twice adds nothing (``record`` ignores a
known ``event_id``) and the expected balances below hold.

- Visa (alice): authorization of ¥1,200 at LAWSON, then its final clearing two days later.
- QUICPay (bob): an online authorization of ¥3,000 at a supermarket and its sale, and an
  offline sale of ¥800 at LAWSON that was never authorized.
"""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Final, TypedDict

from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from producers import quicpay, visa
from producers.outbox import record
from schemas.events import PaymentEvent

JST: Final = timezone(timedelta(hours=9))
DEMO_START: Final = datetime(2026, 11, 21, 10, 0, tzinfo=JST)
VISA_ACCOUNT: Final = "acct-alice"
QUICPAY_ACCOUNT: Final = "acct-bob"
#: account_id -> (confirmed, provisional) once every story event is applied (DESIGN §4):
#: visa 1 % of 1,200 = 12; quicpay 0.5 % of 3,000 = 15 plus 0.5 % of 800 = 4.
EXPECTED_BALANCES: Final = {VISA_ACCOUNT: (12, 0), QUICPAY_ACCOUNT: (19, 0)}


def visa_story(at: datetime = DEMO_START) -> list[visa.VisaRecord]:
    tid = "386112345678901"
    return [
        visa.VisaAuthorization(
            transaction_id=tid,
            stan="000123",
            account_id=VISA_ACCOUNT,
            billing_amount=1200,
            response_code="00",
            transmitted_at=at,
            merchant_name="LAWSON",
            mcc="5411",
            merchant_country="JP",
        ),
        visa.VisaClearing(
            transaction_id=tid,
            acquirer_reference_number="24692166327000000000012",
            account_id=VISA_ACCOUNT,
            billing_amount=1200,
            processed_at=at + timedelta(days=2),
            merchant_name="LAWSON",
            mcc="5411",
            merchant_country="JP",
        ),
    ]


class _QuicPayTerminal(TypedDict):
    """What bob's QUICPay records share: one terminal, one business day, one account."""

    terminal_id: str
    business_date: date
    account_id: str
    mcc: str


class _QuicPayPurchase(TypedDict):
    terminal_sequence: str
    amount: int
    merchant_name: str


def quicpay_story(at: datetime = DEMO_START) -> list[quicpay.QuicPayRecord]:
    terminal = _QuicPayTerminal(
        terminal_id="QP0012345",
        business_date=date(2026, 11, 21),
        account_id=QUICPAY_ACCOUNT,
        mcc="5411",
    )
    aeon = _QuicPayPurchase(terminal_sequence="00042", amount=3000, merchant_name="AEON")
    lawson = _QuicPayPurchase(terminal_sequence="00043", amount=800, merchant_name="LAWSON")
    return [
        quicpay.QuicPayAuthorization(**terminal, **aeon, authorized_at=at),
        quicpay.QuicPaySale(**terminal, **aeon, sold_at=at + timedelta(hours=1)),
        quicpay.QuicPaySale(**terminal, **lawson, sold_at=at + timedelta(hours=2), offline=True),
    ]


def story_events(at: datetime = DEMO_START) -> list[PaymentEvent]:
    """Every story's events, in the order the brands would deliver them."""
    return [visa.to_event(r) for r in visa_story(at)] + [
        quicpay.to_event(r) for r in quicpay_story(at)
    ]


def record_stories(target: Session | Connection, at: datetime = DEMO_START) -> list[PaymentEvent]:
    """Record the stories into the outbox in the caller's open transaction (no commit).

    Returns the events in recording order (also those already in the outbox).
    """
    events = story_events(at)
    for event in events:
        record(target, event)
    return events
