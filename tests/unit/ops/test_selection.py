"""Selecting DLQ messages for a redrive: ``--id``, ``--where`` and ``--error``."""

from __future__ import annotations

import pytest

from consumers.runtime.transport import Received
from ops.errors import SelectionError
from ops.examine import Examined, MessageFacts, Reason
from ops.selection import Selection


def _item(
    message_id: str = "m-1",
    error_type: str = "invalid_event",
    **facts: str,
) -> Examined:
    defaults = {"event_id": "e-1", "event_type": "refund", "brand": "visa"}
    return Examined(
        Received(message_id=message_id, receipt_handle="h", body="{}", receive_count=1),
        MessageFacts(**{**defaults, **facts}),
        Reason(error_type, "why", "attributes"),
    )


def test_no_criteria_selects_everything() -> None:
    """An empty selection matches any message (a whole-queue redrive)."""
    selection = Selection.parse()
    assert selection.everything
    assert selection.matches(_item())


def test_values_of_one_key_are_alternatives() -> None:
    """--where brand=visa --where brand=quicpay matches either brand."""
    selection = Selection.parse(where=["brand=visa", "brand=quicpay"])
    assert selection.matches(_item(brand="quicpay"))
    assert not selection.matches(_item(brand="jcb"))


def test_different_keys_must_all_match() -> None:
    """--where event_type=refund --error payment_conflict needs both."""
    selection = Selection.parse(where=["event_type=refund"], errors=["payment_conflict"])
    assert selection.matches(_item(error_type="payment_conflict"))
    assert not selection.matches(_item(error_type="invalid_event"))


def test_id_matches_a_message_id_or_an_event_id() -> None:
    """--id takes the SQS message id or the event's event_id."""
    selection = Selection.parse(ids=["m-9", "e-7"])
    assert selection.matches(_item(message_id="m-9"))
    assert selection.matches(_item(event_id="e-7"))
    assert not selection.matches(_item())


def test_error_key_matches_unknown_reasons() -> None:
    """--where error=unknown selects messages nobody explained."""
    assert Selection.parse(where=["error=unknown"]).matches(_item(error_type="unknown"))


def test_undecodable_body_never_matches_a_field_filter() -> None:
    """A message without an event_type is not selected by --where event_type=…."""
    item = Examined(
        Received(message_id="m", receipt_handle="h", body="x", receive_count=1),
        MessageFacts(decode_error="invalid_body: not JSON"),
        Reason("invalid_body", "not JSON", "attributes"),
    )
    assert not Selection.parse(where=["event_type=refund"]).matches(item)


@pytest.mark.parametrize("clause", ["brand", "=visa", "brand=", ""])
def test_malformed_where_names_the_expected_form(clause: str) -> None:
    """Anything but KEY=VALUE is refused with the expected form and the allowed keys."""
    with pytest.raises(SelectionError, match="expected KEY=VALUE with KEY one of event_id"):
        Selection.parse(where=[clause])


def test_unknown_where_key_is_refused() -> None:
    """A key outside the allowed list is named in the error."""
    with pytest.raises(SelectionError, match="unknown --where key 'colour'"):
        Selection.parse(where=["colour=red"])


def test_value_may_contain_equals_signs() -> None:
    """Only the first '=' separates key and value."""
    selection = Selection.parse(where=["payment_id=a=b"])
    assert selection.where == {"payment_id": frozenset({"a=b"})}


def test_id_matches_the_id_the_worker_logged() -> None:
    """--id also takes the id the message had in its source queue (``points.message_id``,
    the one in the worker's "dead-lettered" log line), which differs from the DLQ copy's."""
    copy = Examined(
        Received(
            message_id="dlq-copy",
            receipt_handle="h",
            body="{}",
            receive_count=1,
            attributes={"points.message_id": ("String", "as-logged")},
        ),
        MessageFacts(event_id="e-1"),
        Reason("invalid_body", "why", "attributes"),
    )
    assert Selection.parse(ids=["as-logged"]).matches(copy)
    assert Selection.parse(ids=["dlq-copy"]).matches(copy)
    assert not Selection.parse(ids=["something-else"]).matches(copy)
