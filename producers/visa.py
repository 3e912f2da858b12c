"""Visa adapter: what the Visa handler knows, as v1 events.

The Visa Transaction Identifier (TID, field 62.2) follows a purchase from authorization
through clearing and credit, so it is the payment: ``payment_id = visa:<TID>``. Each
message is then told apart by an identifier Visa itself assigns:

- authorization / reversal (online, BASE I): TID + STAN (field 11) of that message;
- clearing (BASE II draft, TC05) and credit (TC06): the Acquirer Reference Number.

Amounts are the cardholder billing amount (field 6) in yen; JPY has no minor unit, so the
integer is the yen amount. A billing currency other than JPY (392) is refused.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Final, assert_never

from producers.brand import InvalidBrandRecord, Payment, brand_key, payment_event
from schemas.events import (
    Authorization,
    AuthorizationReversal,
    Brand,
    Clearing,
    PaymentEvent,
    Refund,
)

JPY_NUMERIC: Final = "392"
#: Field 39 codes that approve (fully, or partially for the amount in field 6).
APPROVED_CODES: Final = frozenset({"00", "10"})


@dataclass(frozen=True, kw_only=True)
class _VisaRecord:
    transaction_id: str
    account_id: str
    billing_amount: int
    billing_currency: str = JPY_NUMERIC
    merchant_name: str
    mcc: str
    merchant_country: str


@dataclass(frozen=True, kw_only=True)
class VisaAuthorization(_VisaRecord):
    """An authorization request and our response (0100/0110)."""

    stan: str
    response_code: str
    transmitted_at: datetime


@dataclass(frozen=True, kw_only=True)
class VisaReversal(_VisaRecord):
    """An authorization reversal (0400), full or partial; ``stan`` is the reversal's own."""

    stan: str
    transmitted_at: datetime


@dataclass(frozen=True, kw_only=True)
class VisaClearing(_VisaRecord):
    """A BASE II sales draft; multiple clearing sends ``sequence`` of ``count`` drafts."""

    acquirer_reference_number: str
    processed_at: datetime
    clearing_sequence: int = 1
    clearing_count: int = 1


@dataclass(frozen=True, kw_only=True)
class VisaCredit(_VisaRecord):
    """A credit voucher (refund); ``transaction_id`` is the original purchase's TID."""

    acquirer_reference_number: str
    processed_at: datetime


VisaRecord = VisaAuthorization | VisaReversal | VisaClearing | VisaCredit


def payment_id(transaction_id: str) -> str:
    return brand_key(Brand.VISA, None, transaction_id)


def to_event(record: VisaRecord) -> PaymentEvent:
    """The v1 event for a Visa record; the same record always gives the same event."""
    match record:
        case VisaAuthorization():
            return authorization(record)
        case VisaReversal():
            return reversal(record)
        case VisaClearing():
            return clearing(record)
        case VisaCredit():
            return credit(record)
        case _:
            assert_never(record)


def authorization(record: VisaAuthorization) -> Authorization:
    event_id = brand_key(Brand.VISA, "authorization", record.transaction_id, record.stan)
    approved = record.response_code in APPROVED_CODES
    return payment_event(
        Authorization, event_id, record.transmitted_at, _payment(record), approved=approved
    )


def reversal(record: VisaReversal) -> AuthorizationReversal:
    event_id = brand_key(Brand.VISA, "authorization_reversal", record.transaction_id, record.stan)
    return payment_event(AuthorizationReversal, event_id, record.transmitted_at, _payment(record))


def clearing(record: VisaClearing) -> Clearing:
    if not 1 <= record.clearing_sequence <= record.clearing_count:
        raise InvalidBrandRecord(
            f"Visa clearing: sequence {record.clearing_sequence} of {record.clearing_count}"
        )
    event_id = brand_key(Brand.VISA, "clearing", record.acquirer_reference_number)
    final = record.clearing_sequence == record.clearing_count
    return payment_event(Clearing, event_id, record.processed_at, _payment(record), final=final)


def credit(record: VisaCredit) -> Refund:
    event_id = brand_key(Brand.VISA, "refund", record.acquirer_reference_number)
    return payment_event(Refund, event_id, record.processed_at, _payment(record))


def _payment(record: _VisaRecord) -> Payment:
    if record.billing_currency != JPY_NUMERIC:
        raise InvalidBrandRecord(
            f"Visa billing currency {record.billing_currency!r} is not JPY ({JPY_NUMERIC})"
        )
    return Payment(
        brand=Brand.VISA,
        payment_id=payment_id(record.transaction_id),
        amount=record.billing_amount,
        record=record,
    )
