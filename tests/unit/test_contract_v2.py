"""Contract v1's event types of issue 13 (DESIGN §3): refund reversals, chargebacks and
their reversals (the fields of a refund) and points grants."""

from __future__ import annotations

import json
from typing import Any

import pytest

from schemas.canonical import canonical_json, content_hash
from schemas.envelope import decode_body
from schemas.errors import InvalidEvent
from schemas.events import (
    EVENT_ADAPTER,
    Chargeback,
    ChargebackReversal,
    EventType,
    GrantReason,
    PointsGrant,
    RefundReversal,
    payment_of,
)
from tests.support.factories import body, event_dict, grant_dict, make_grant


def _grant_body(**overrides: Any) -> str:
    return json.dumps(grant_dict(**overrides))


@pytest.mark.parametrize(
    ("event_type", "model"),
    [
        ("refund_reversal", RefundReversal),
        ("chargeback", Chargeback),
        ("chargeback_reversal", ChargebackReversal),
    ],
)
def test_the_new_payment_types_decode_with_the_fields_of_a_refund(
    event_type: str, model: type
) -> None:
    """A refund's body under each new payment type decodes to that type's model."""
    event = decode_body(body(event_type))
    assert isinstance(event, model)
    assert payment_of(event) is event


def test_a_points_grant_decodes_with_its_fields() -> None:
    """The example of DESIGN §3 decodes to a ``PointsGrant`` that is no payment event."""
    event = decode_body(_grant_body())
    assert isinstance(event, PointsGrant)
    assert (event.points, event.reason, event.source) == (500, "referral", "referral-service")
    assert event.memo == "invited acc-123"
    assert payment_of(event) is None


@pytest.mark.parametrize("points", [1, -1, 10_000_000, -10_000_000])
def test_grant_points_take_either_sign_up_to_ten_million(points: int) -> None:
    """Negative points take points back; both bounds are inclusive."""
    assert make_grant(points=points).points == points


@pytest.mark.parametrize(
    "spelling", ["0", "-0", "0.0", "-0.0", "0e3", "10000001", "-10000001", "500.5", "true", '"5"']
)
def test_grant_points_refuse_zero_however_spelled_out_of_range_and_non_integers(
    spelling: str,
) -> None:
    """0 changes nothing (a producer's bug); the range is ±10,000,000; integers only."""
    text = _grant_body().replace('"points": 500', f'"points": {spelling}')
    with pytest.raises(InvalidEvent, match="points"):
        decode_body(text)


@pytest.mark.parametrize("spelling", ["-5e2", "-500.0", "-500"])
def test_grant_points_are_one_value_however_spelled(spelling: str) -> None:
    """``-5e2`` is the integer -500, in the model and in the canonical form."""
    text = _grant_body().replace('"points": 500', f'"points": {spelling}')
    event = decode_body(text)
    assert isinstance(event, PointsGrant)
    assert event.points == -500
    assert content_hash(event) == content_hash(make_grant(points=-500))


@pytest.mark.parametrize(
    ("source", "valid"),
    [
        ("ops", True),
        ("a", True),
        ("referral-service", True),
        ("a" * 64, True),
        ("a" * 65, False),
        ("Referral", False),
        ("1abc", False),
        ("-abc", False),
        ("referral_service", False),
        ("referral\n", False),
        ("", False),
    ],
)
def test_grant_source_follows_its_pattern(source: str, valid: bool) -> None:
    """``^[a-z][a-z0-9-]{0,63}$``, matched whole (a final newline is refused)."""
    text = _grant_body(source=source)
    if valid:
        assert isinstance(decode_body(text), PointsGrant)
    else:
        with pytest.raises(InvalidEvent, match="source"):
            decode_body(text)


@pytest.mark.parametrize("reason", list(GrantReason))
def test_every_grant_reason_is_accepted(reason: GrantReason) -> None:
    """reward, referral, campaign and adjustment."""
    assert make_grant(reason=reason.value).reason is reason


def test_an_unknown_grant_reason_is_refused() -> None:
    """Any other reason is an invalid event naming the field."""
    with pytest.raises(InvalidEvent, match="reason"):
        decode_body(_grant_body(reason="bonus"))


def test_grant_memo_counts_code_points_and_is_optional() -> None:
    """200 astral characters pass (400 UTF-16 units), 201 do not; absent and null are one."""
    assert make_grant(memo="😀" * 200).memo == "😀" * 200
    with pytest.raises(InvalidEvent, match="memo"):
        decode_body(_grant_body(memo="x" * 201))
    without = grant_dict()
    del without["memo"]
    absent = decode_body(json.dumps(without))
    assert content_hash(absent) == content_hash(make_grant(memo=None))


def test_grant_memo_is_never_in_the_repr() -> None:
    """A memo is stored but never logged: the model's repr leaves it out."""
    assert "invited" not in repr(make_grant())


def test_a_grant_has_no_payment_fields() -> None:
    """brand, payment_id and merchant are unknown to a grant: ignored, never stored."""
    document = grant_dict(brand="visa", payment_id="pay-1", merchant=event_dict()["merchant"])
    canonical = json.loads(canonical_json(decode_body(json.dumps(document))))
    assert set(canonical) == {
        "schema_version",
        "event_id",
        "event_type",
        "occurred_at",
        "account_id",
        "points",
        "reason",
        "source",
        "memo",
    }


def test_a_grants_canonical_form_writes_the_instant_in_utc() -> None:
    """Like every event: sorted keys, integers as integers, the instant in canonical UTC."""
    text = _grant_body().replace('"points": 500', '"points": 5e2')
    assert canonical_json(decode_body(text)) == (
        '{"account_id":"acct-1","event_id":"evt-grant-1","event_type":"points_grant",'
        '"memo":"invited acc-123","occurred_at":"2026-11-21T01:00:00.000000Z","points":500,'
        '"reason":"referral","schema_version":1,"source":"referral-service"}'
    )


def test_python_producers_may_omit_what_the_class_implies() -> None:
    """``schema_version`` and ``event_type`` come from the class; enums take plain strings."""
    grant = PointsGrant(
        event_id="g-1",
        occurred_at="2026-11-21T10:00:00+09:00",  # type: ignore[arg-type]
        account_id="acct-1",
        points=-20,
        reason="adjustment",  # type: ignore[arg-type]
        source="ops",
    )
    assert grant.event_type is EventType.POINTS_GRANT
    assert EVENT_ADAPTER.validate_json(canonical_json(grant)) == grant


def test_wire_requires_schema_version_and_event_type_on_grants() -> None:
    """On the wire both stay required, as for payment events."""
    schema = EVENT_ADAPTER.json_schema()["$defs"]["PointsGrant"]
    assert {"schema_version", "event_type", "points", "reason", "source"} <= set(schema["required"])
    assert "memo" not in schema["required"]
