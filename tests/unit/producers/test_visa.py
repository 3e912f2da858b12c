"""The Visa adapter: brand records to v1 events, with ids that survive re-sending."""

from __future__ import annotations

from dataclasses import replace
from datetime import UTC, datetime
from typing import Any, TypedDict

import pytest
from hypothesis import given
from hypothesis import strategies as st

from producers import visa
from producers.brand import InvalidBrandRecord
from schemas.canonical import canonical_json
from schemas.events import EventType

AT = datetime(2026, 11, 21, 1, 0, tzinfo=UTC)
TID = "386112345678901"


class Purchase(TypedDict):
    """The fields every record of one Visa purchase carries alike."""

    transaction_id: str
    account_id: str
    billing_amount: int
    merchant_name: str
    mcc: str
    merchant_country: str


PURCHASE = Purchase(
    transaction_id=TID,
    account_id="acct-1",
    billing_amount=1200,
    merchant_name="LAWSON",
    mcc="5411",
    merchant_country="JP",
)


def auth(**changes: Any) -> visa.VisaAuthorization:
    record = visa.VisaAuthorization(
        **PURCHASE,
        stan="000123",
        response_code="00",
        transmitted_at=AT,
    )
    return replace(record, **changes)


def clearing(**changes: Any) -> visa.VisaClearing:
    record = visa.VisaClearing(
        **PURCHASE,
        acquirer_reference_number="24692166327000000000012",
        processed_at=AT,
    )
    return replace(record, **changes)


def test_approved_authorization_maps_to_an_approved_event() -> None:
    """Response code 00: an approved authorization of the billing amount on the TID's payment."""
    event = visa.authorization(auth())
    assert event.event_type == EventType.AUTHORIZATION
    assert event.approved is True
    assert event.amount == 1200
    assert event.payment_id == "visa:386112345678901"
    assert event.event_id == "visa:authorization:386112345678901:000123"


def test_declined_authorization_is_published_as_declined() -> None:
    """Response code 51 (insufficient funds): approved is false, so it earns nothing."""
    assert visa.authorization(auth(response_code="51")).approved is False


def test_clearing_shares_the_authorizations_payment() -> None:
    """The TID links the clearing to its authorization: same payment_id, other event_id."""
    cleared, authorized = visa.to_event(clearing()), visa.to_event(auth())
    assert cleared.payment_id == authorized.payment_id
    assert cleared.event_id != authorized.event_id


def test_last_draft_of_multiple_clearing_is_final() -> None:
    """Sequence 2 of 2 closes the payment; 1 of 2 does not."""
    assert visa.clearing(clearing(clearing_sequence=1, clearing_count=2)).final is False
    assert visa.clearing(clearing(clearing_sequence=2, clearing_count=2)).final is True


def test_credit_is_a_refund_on_the_original_purchase() -> None:
    """A credit voucher with the purchase's TID refunds that payment."""
    record = visa.VisaCredit(
        **PURCHASE,
        acquirer_reference_number="74692166327000000000099",
        processed_at=AT,
    )
    event = visa.to_event(record)
    assert event.event_type == EventType.REFUND
    assert event.payment_id == "visa:386112345678901"


def test_reversal_is_named_by_its_own_stan() -> None:
    """A reversal gets an event id of its own, distinct from the authorization's."""
    record = visa.VisaReversal(
        **PURCHASE,
        stan="000124",
        transmitted_at=AT,
    )
    event = visa.to_event(record)
    assert event.event_type == EventType.AUTHORIZATION_REVERSAL
    assert event.event_id == "visa:authorization_reversal:386112345678901:000124"


def test_foreign_billing_currency_is_refused() -> None:
    """The contract is JPY only; a USD (840) billing amount is a permanent error."""
    with pytest.raises(InvalidBrandRecord, match="840"):
        visa.to_event(auth(billing_currency="840"))


def test_naive_timestamp_is_refused() -> None:
    """A transmission time without offset is ambiguous and never guessed."""
    with pytest.raises(InvalidBrandRecord, match="occurred_at"):
        visa.to_event(auth(transmitted_at=datetime(2026, 11, 21, 10, 0)))


def test_empty_transaction_id_is_refused() -> None:
    """Without the TID there is no stable id: refused rather than invented."""
    with pytest.raises(InvalidBrandRecord):
        visa.to_event(auth(transaction_id=""))


identifiers = st.text(min_size=1, max_size=60)


@given(tid=identifiers, stan=identifiers)
def test_resent_record_yields_the_same_event(tid: str, stan: str) -> None:
    """Converting an equal record again (a brand re-send) gives the identical event."""
    first = visa.to_event(auth(transaction_id=tid, stan=stan))
    again = visa.to_event(auth(transaction_id=str(tid), stan=str(stan)))
    assert canonical_json(first) == canonical_json(again)
    assert len(first.event_id) <= 128


@given(a=st.tuples(identifiers, identifiers), b=st.tuples(identifiers, identifiers))
def test_different_identifiers_give_different_event_ids(
    a: tuple[str, str], b: tuple[str, str]
) -> None:
    """Two authorizations with different (TID, STAN) never collide, whatever the characters."""
    first = visa.to_event(auth(transaction_id=a[0], stan=a[1])).event_id
    second = visa.to_event(auth(transaction_id=b[0], stan=b[1])).event_id
    assert (first == second) == (a == b)
