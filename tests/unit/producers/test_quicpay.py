"""The QUICPay+ adapter: authorizations, sales and cancels (offline sales included)."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import TypedDict

from hypothesis import given
from hypothesis import strategies as st

from producers import quicpay
from schemas.canonical import canonical_json
from schemas.events import EventType

JST = timezone(timedelta(hours=9))
AT = datetime(2026, 11, 21, 10, 0, tzinfo=JST)
DAY = date(2026, 11, 21)


class Terminal(TypedDict):
    """The fields every record of one QUICPay payment carries alike (amount aside)."""

    terminal_id: str
    business_date: date
    terminal_sequence: str
    account_id: str
    merchant_name: str
    mcc: str


AT_QP1 = Terminal(
    terminal_id="QP1",
    business_date=DAY,
    terminal_sequence="00042",
    account_id="acct-1",
    merchant_name="LAWSON",
    mcc="5411",
)


def sale(
    sequence: str = "00042", *, offline: bool = False, terminal: str = "QP1"
) -> quicpay.QuicPaySale:
    at_terminal: Terminal = {**AT_QP1, "terminal_id": terminal, "terminal_sequence": sequence}
    return quicpay.QuicPaySale(**at_terminal, amount=800, sold_at=AT, offline=offline)


def authorization() -> quicpay.QuicPayAuthorization:
    return quicpay.QuicPayAuthorization(**AT_QP1, amount=800, authorized_at=AT)


def test_offline_sale_is_a_final_clearing_without_authorization() -> None:
    """An offline sale alone becomes a final clearing: confirmed points, no provisional."""
    event = quicpay.sale(sale(offline=True))
    assert event.event_type == EventType.CLEARING
    assert event.final is True
    assert event.payment_id == "quicpay:QP1:20261121:00042"


def test_online_sale_joins_its_authorization() -> None:
    """The terminal triple links the sale to the authorization: same payment, other event."""
    authorized, sold = quicpay.to_event(authorization()), quicpay.to_event(sale())
    assert authorized.payment_id == sold.payment_id
    assert authorized.event_id != sold.event_id


def test_cancel_after_sale_is_a_refund_of_the_original_payment() -> None:
    """Cancel data names itself by its own sequence and refunds the original payment."""
    record = quicpay.QuicPayCancel(**AT_QP1, cancel_sequence="00050", amount=300, cancelled_at=AT)
    event = quicpay.to_event(record)
    assert event.event_type == EventType.REFUND
    assert event.payment_id == "quicpay:QP1:20261121:00042"
    assert event.event_id == "quicpay:refund:QP1:20261121:00042:00050"


def test_authorization_cancel_is_a_reversal() -> None:
    """Cancelled before the sale: the authorized amount is reversed."""
    record = quicpay.QuicPayAuthorizationCancel(
        **AT_QP1, cancel_sequence="00043", amount=800, cancelled_at=AT
    )
    assert quicpay.to_event(record).event_type == EventType.AUTHORIZATION_REVERSAL


def test_wrapped_sequence_on_another_day_is_another_payment() -> None:
    """Terminal sequence numbers wrap; the business date keeps payments apart."""
    today = quicpay.payment_id("QP1", DAY, "00001")
    tomorrow = quicpay.payment_id("QP1", DAY + timedelta(days=1), "00001")
    assert today != tomorrow


@given(terminal=st.text(min_size=1, max_size=80), sequence=st.text(min_size=1, max_size=80))
def test_resent_sales_data_yields_the_same_event(terminal: str, sequence: str) -> None:
    """A sales file sent twice produces identical events (ids of at most 128 characters)."""
    first = quicpay.to_event(sale(sequence, terminal=terminal))
    again = quicpay.to_event(sale(sequence, terminal=terminal))
    assert canonical_json(first) == canonical_json(again)
    assert len(first.event_id) <= 128
    assert len(first.payment_id) <= 128


@given(a=st.text(min_size=1, max_size=20), b=st.text(min_size=1, max_size=20))
def test_different_sequences_give_different_event_ids(a: str, b: str) -> None:
    """Two sales at one terminal and day collide only if their sequence numbers are equal."""
    assert (quicpay.to_event(sale(a)).event_id == quicpay.to_event(sale(b)).event_id) == (a == b)
