"""QUICPay+ adapter: authorizations and sales/cancel data, as v1 events.

A QUICPay transaction is identified at the merchant terminal: terminal id, the terminal's
business date and its processing sequence number (sequence numbers wrap, the date keeps
them unique). That triple is the payment: ``payment_id = quicpay:<terminal>:<date>:<seq>``.
Online transactions are authorized first and their sales data later carries the same triple;
small-amount offline sales have no authorization at all and arrive only as sales data.

- authorization (online)            -> ``authorization``
- authorization cancel (before sale) -> ``authorization_reversal``
- sales data (online or offline)     -> ``clearing`` with ``final: true`` (one sale per
  payment; provisional points end, confirmed points start)
- cancel data (after the sale)       -> ``refund``

Cancels carry their own sequence number, which names the event; the original sequence
names the payment. Amounts are yen; timestamps must carry an offset (terminals use JST).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import assert_never

from producers.brand import Payment, brand_key, payment_event
from schemas.events import (
    Authorization,
    AuthorizationReversal,
    Brand,
    Clearing,
    PaymentEvent,
    Refund,
)


@dataclass(frozen=True, kw_only=True)
class _QuicPayRecord:
    terminal_id: str
    business_date: date
    #: The original transaction's sequence number at the terminal.
    terminal_sequence: str
    account_id: str
    amount: int
    merchant_name: str
    mcc: str
    merchant_country: str = "JP"


@dataclass(frozen=True, kw_only=True)
class QuicPayAuthorization(_QuicPayRecord):
    authorized_at: datetime
    approved: bool = True


@dataclass(frozen=True, kw_only=True)
class _QuicPayCancelRecord(_QuicPayRecord):
    """A cancel: its own sequence number names the event, the original one the payment."""

    cancel_sequence: str
    cancelled_at: datetime


@dataclass(frozen=True, kw_only=True)
class QuicPayAuthorizationCancel(_QuicPayCancelRecord):
    """An authorized transaction cancelled before its sales data was sent."""


@dataclass(frozen=True, kw_only=True)
class QuicPaySale(_QuicPayRecord):
    """A line of sales data; ``offline`` sales were never authorized."""

    sold_at: datetime
    offline: bool = False


@dataclass(frozen=True, kw_only=True)
class QuicPayCancel(_QuicPayCancelRecord):
    """A line of cancel data: (part of) a sale returned."""


QuicPayRecord = QuicPayAuthorization | QuicPayAuthorizationCancel | QuicPaySale | QuicPayCancel


def payment_id(terminal_id: str, business_date: date, terminal_sequence: str) -> str:
    return brand_key(Brand.QUICPAY, None, *_triple(terminal_id, business_date, terminal_sequence))


def to_event(record: QuicPayRecord) -> PaymentEvent:
    """The v1 event for a QUICPay record; the same record always gives the same event."""
    match record:
        case QuicPayAuthorization():
            return authorization(record)
        case QuicPayAuthorizationCancel():
            return authorization_cancel(record)
        case QuicPaySale():
            return sale(record)
        case QuicPayCancel():
            return cancel(record)
        case _:
            assert_never(record)


def authorization(record: QuicPayAuthorization) -> Authorization:
    event_id = _event_id("authorization", record)
    return payment_event(
        Authorization, event_id, record.authorized_at, _payment(record), approved=record.approved
    )


def authorization_cancel(record: QuicPayAuthorizationCancel) -> AuthorizationReversal:
    event_id = _event_id("authorization_reversal", record, record.cancel_sequence)
    return payment_event(AuthorizationReversal, event_id, record.cancelled_at, _payment(record))


def sale(record: QuicPaySale) -> Clearing:
    """Online and offline sales map alike: the sale is the clearing, and it is final."""
    event_id = _event_id("clearing", record)
    return payment_event(Clearing, event_id, record.sold_at, _payment(record), final=True)


def cancel(record: QuicPayCancel) -> Refund:
    event_id = _event_id("refund", record, record.cancel_sequence)
    return payment_event(Refund, event_id, record.cancelled_at, _payment(record))


def _triple(terminal_id: str, business_date: date, sequence: str) -> tuple[str, str, str]:
    return terminal_id, business_date.strftime("%Y%m%d"), sequence


def _event_id(kind: str, record: _QuicPayRecord, *extra: str) -> str:
    triple = _triple(record.terminal_id, record.business_date, record.terminal_sequence)
    return brand_key(Brand.QUICPAY, kind, *triple, *extra)


def _payment(record: _QuicPayRecord) -> Payment:
    return Payment(
        brand=Brand.QUICPAY,
        payment_id=payment_id(record.terminal_id, record.business_date, record.terminal_sequence),
        amount=record.amount,
        record=record,
    )
