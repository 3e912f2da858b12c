"""Explaining a dead letter: event facts, reasons and error fingerprints."""

from __future__ import annotations

import json
from datetime import UTC, datetime

from consumers.journal import Failure
from consumers.runtime.deadletter import failure_attributes
from consumers.runtime.transport import Received
from ops.examine import facts_of, fingerprint, reason_for
from tests.support.factories import body, sns_envelope


def _received(attributes: dict[str, tuple[str, str]] | None = None) -> Received:
    return Received("m-1", "h", body(), 3, attributes or {})


def _failure(message_id: str = "m-1", event_id: str | None = None) -> Failure:
    return Failure(
        queue="points",
        message_id=message_id,
        error_type="database_unavailable",
        error_message="connection refused",
        permanent=False,
        attempts=5,
        event_id=event_id,
        failed_at=datetime(2026, 11, 21, tzinfo=UTC),
    )


def test_valid_event_gives_its_identifying_fields() -> None:
    """A v1 event: event id, type, payment, account and brand, no decode error."""
    facts = facts_of(body("clearing", event_id="e-9", payment_id="p-9"))
    assert (facts.event_id, facts.event_type, facts.payment_id) == ("e-9", "clearing", "p-9")
    assert (facts.account_id, facts.brand, facts.decode_error) == ("acct-1", "visa", None)


def test_sns_envelope_is_unwrapped() -> None:
    """Bodies wrapped in an SNS Notification are read through the envelope."""
    assert facts_of(sns_envelope(body(event_id="e-env"))).event_id == "e-env"


def test_invalid_event_still_shows_its_ids() -> None:
    """A schema-invalid event keeps the ids it has, and says why it is invalid."""
    facts = facts_of(body(event_id="e-bad", amount=0))
    assert facts.event_id == "e-bad"
    assert facts.decode_error is not None
    assert facts.decode_error.startswith("invalid_event")


def test_non_json_body_has_no_facts() -> None:
    """Garbage bodies are undecodable, with no ids invented."""
    facts = facts_of("\x00garbage")
    assert facts.event_id is None
    assert facts.decode_error is not None


def test_non_string_fields_are_not_taken_as_ids() -> None:
    """Lenient reading keeps only string values."""
    facts = facts_of(json.dumps({"event_id": 12, "payment_id": "p"}))
    assert (facts.event_id, facts.payment_id) == (None, "p")


def test_attached_reason_wins_over_the_journal() -> None:
    """The worker's points.* attributes are the first source of truth."""
    attributes = failure_attributes(
        {}, error_type="invalid_event", error_message="bad", receive_count=1, message_id="m-0"
    )
    reason = reason_for(_received(attributes), facts_of(body()), {"m-1": _failure()})
    assert (reason.origin, reason.text, reason.receive_count) == (
        "attributes",
        "invalid_event: bad",
        1,
    )


def test_journal_explains_by_message_id_then_event_id() -> None:
    """Without attributes, the journal entry for the message (or its event) is used."""
    by_event = {"evt-authorization-1": _failure("other", "evt-authorization-1")}
    reason = reason_for(_received(), facts_of(body()), by_event)
    assert (reason.origin, reason.text) == ("journal", "database_unavailable: connection refused")
    assert reason.receive_count == 5


def test_no_reason_anywhere_is_unknown() -> None:
    """Nothing attached, nothing journaled: the reason is honestly "unknown"."""
    reason = reason_for(_received(), facts_of(body()), {})
    assert (reason.origin, reason.text, reason.error_type) == ("unknown", "unknown", "unknown")


def test_fingerprint_normalises_ids_numbers_and_quoted_values() -> None:
    """Two messages about different ids and amounts share one fingerprint."""
    first = fingerprint("idempotency_conflict", "event_id 'evt-1' differs (amount 1200)")
    second = fingerprint("idempotency_conflict", "event_id 'evt-99' differs (amount 5)")
    assert first == second == "idempotency_conflict: event_id <v> differs (amount <n>)"


def test_fingerprint_normalises_uuids_and_keeps_field_paths() -> None:
    """UUIDs and digit-bearing tokens collapse; words and dotted paths stay."""
    text = "message 0b6f8d2e-0000-4000-8000-000000000000 merchant.mcc: pay-12 too short"
    assert fingerprint("invalid_event", text) == (
        "invalid_event: message <id> merchant.mcc: <id> too short"
    )


def test_fingerprint_separates_different_causes() -> None:
    """Different error types never share a fingerprint."""
    assert fingerprint("invalid_event", "x") != fingerprint("invalid_body", "x")


def test_unexplained_receive_count_excludes_the_current_look() -> None:
    """Without a reason, the count is SQS's minus the receive that is showing it."""
    from ops.examine import Examined

    received = Received("m-1", "h", body(), 1, {})
    facts = facts_of(body())
    assert Examined(received, facts, reason_for(received, facts, {})).receive_count == 0
