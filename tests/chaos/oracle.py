"""What must happen to a message body, judged from the written contract alone (never from
``schemas/``).

The hostile-input tests need an expected outcome for bodies nobody labelled by hand (the
random mutations). Asking the consumer's own decoder would only prove "no crash"; this
oracle reads the body with ``json.loads`` and applies the contract as it is written:
DESIGN §3, and the list in the README's "Publishing from your service" that spells out for
producers what §3's "one truth for every language" pins (an I-JSON body, the instant's
spelling and range, when a body is an SNS envelope). In order: the body, the SNS envelope,
``schema_version`` (it decides which schema applies), then every field of a v1 payment
event or points grant. ``test_bad_input.py`` checks the oracle against every hand-labelled
body before it is trusted with the mutations.
"""

from __future__ import annotations

import calendar
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta, timezone
from typing import Any, Final

APPLIED: Final = "applied"
INVALID_BODY: Final = "invalid_body"
INVALID_ENVELOPE: Final = "invalid_envelope"
INVALID_EVENT: Final = "invalid_event"
BAD_VERSION: Final = "unsupported_schema_version"
#: SQS's limit on a message, which the consumer enforces on the body it is handed.
MAX_BODY_BYTES: Final = 256 * 1024
#: DESIGN §3: the payment event types, and the points grant.
PAYMENT_TYPES: Final = frozenset(
    {
        "authorization",
        "authorization_reversal",
        "clearing",
        "refund",
        "refund_reversal",
        "chargeback",
        "chargeback_reversal",
    }
)
GRANT_TYPE: Final = "points_grant"
#: Types DESIGN announces but the contract does not define yet (none today).
LATER_TYPES: Final[frozenset[str]] = frozenset()
BRANDS: Final = frozenset({"visa", "quicpay"})
GRANT_REASONS: Final = frozenset({"reward", "referral", "campaign", "adjustment"})
#: DESIGN §3: "the publishing service, ``^[a-z][a-z0-9-]{0,63}$``" (matched whole here).
_SOURCE: Final = re.compile("[a-z][a-z0-9-]{0,63}")
#: The shape of an RFC 3339 date-time (§5.6: "T"/"Z" in either case, the offset with its
#: colon), ASCII digits only; the ranges are checked one by one in ``_instant``.
_RFC3339: Final = re.compile(
    r"(?P<year>[0-9]{4})-(?P<month>[0-9]{2})-(?P<day>[0-9]{2})"
    r"[Tt](?P<hour>[0-9]{2}):(?P<minute>[0-9]{2}):(?P<second>[0-9]{2})"
    r"(?:\.(?P<fraction>[0-9]+))?"
    r"(?:[Zz]|(?P<sign>[+-])(?P<offset_hours>[0-9]{2}):(?P<offset_minutes>[0-9]{2}))"
)
#: README: "a real date in 1900–2999" (the date as written).
YEARS: Final = range(1900, 3000)
#: README: "at most microsecond precision (up to three more digits only if they are zeros)".
MICROSECOND_DIGITS: Final = 6
MAX_FRACTION_DIGITS: Final = 9


class Unjudged(Exception):
    """The contract does not settle this body yet: label it by hand in ``hostile.py``."""


@dataclass(frozen=True)
class Verdict:
    outcome: str
    #: When applied, the event as the contract reads it: its fields only (unknown ones
    #: dropped), defaults filled, integers as integers, ``occurred_at`` in the canonical
    #: spelling (UTC, six fraction digits, ``Z``).
    event: dict[str, Any] | None = None


class _Rejected(Exception):
    def __init__(self, outcome: str) -> None:
        self.outcome = outcome


def judge(body: str) -> Verdict:
    """The outcome the contract gives this body (``applied`` or the DLQ reason)."""
    try:
        event = _event(_unwrap(_parse(body)))
    except _Rejected as rejected:
        return Verdict(rejected.outcome)
    return Verdict(APPLIED, event)


def _parse(text: str) -> dict[str, Any]:
    """The body must be one JSON object, and I-JSON (README): no repeated key, no
    ``NaN``/``Infinity``, no lone surrogate, wherever they are (unknown fields included)."""
    if len(text.encode("utf-8", "surrogatepass")) > MAX_BODY_BYTES:
        raise _Rejected(INVALID_BODY)
    try:
        document = json.loads(text, object_pairs_hook=_unique, parse_constant=_not_a_number)
    except (ValueError, RecursionError):  # not JSON, not I-JSON, or nested beyond reading
        raise _Rejected(INVALID_BODY) from None
    if not isinstance(document, dict) or _has_lone_surrogate(document):
        raise _Rejected(INVALID_BODY)
    return document


def _unique(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    if len({key for key, _ in pairs}) < len(pairs):
        raise ValueError("repeated key")
    return dict(pairs)


def _not_a_number(literal: str) -> float:
    raise ValueError(f"{literal} is not JSON")


def _unwrap(document: dict[str, Any]) -> dict[str, Any]:
    """README: "only a body without ``schema_version`` is taken for an SNS envelope" (one
    that has a ``Type``; every event has a ``schema_version``). One level only."""
    if "Type" not in document or "schema_version" in document:
        return document
    message = document.get("Message")
    if document["Type"] != "Notification" or not isinstance(message, str):
        raise _Rejected(INVALID_ENVELOPE)
    return _parse(message)


def _event(document: dict[str, Any]) -> dict[str, Any]:
    version = document.get("schema_version")
    if isinstance(version, bool) or version != 1:  # 1.0 and 1e0 are the number 1
        raise _Rejected(BAD_VERSION)
    kind = document.get("event_type")
    if isinstance(kind, str) and kind in LATER_TYPES:
        raise Unjudged(f"event_type {kind!r} is not implemented on main yet")
    if kind == GRANT_TYPE:
        return _grant(document)
    if not isinstance(kind, str) or kind not in PAYMENT_TYPES:
        raise _Rejected(INVALID_EVENT)
    event = {
        "schema_version": 1,
        "event_type": kind,
        "event_id": _identifier(document.get("event_id")),
        "payment_id": _identifier(document.get("payment_id")),
        "account_id": _identifier(document.get("account_id")),
        "occurred_at": _instant(document.get("occurred_at")),
        "brand": _member(document.get("brand"), BRANDS),
        "currency": _member(document.get("currency"), {"JPY"}),
        "amount": _amount(document.get("amount")),
        "merchant": _merchant(document.get("merchant")),
    }
    if kind == "authorization":
        event["approved"] = _boolean(document.get("approved", True))
    if kind == "clearing":
        event["final"] = _boolean(document.get("final", False))
    return event


def _grant(document: dict[str, Any]) -> dict[str, Any]:
    """DESIGN §3's points grant: no brand, payment or merchant; ``memo`` optional (absent
    and ``null`` read alike, README)."""
    points = _integer(document.get("points"))
    if points == 0 or not -10_000_000 <= points <= 10_000_000:
        raise _Rejected(INVALID_EVENT)
    source = document.get("source")
    if not isinstance(source, str) or not _SOURCE.fullmatch(source):
        raise _Rejected(INVALID_EVENT)
    memo = document.get("memo")
    if memo is not None and (not isinstance(memo, str) or len(memo) > 200):
        raise _Rejected(INVALID_EVENT)
    return {
        "schema_version": 1,
        "event_type": GRANT_TYPE,
        "event_id": _identifier(document.get("event_id")),
        "account_id": _identifier(document.get("account_id")),
        "occurred_at": _instant(document.get("occurred_at")),
        "points": points,
        "reason": _member(document.get("reason"), GRANT_REASONS),
        "source": source,
        "memo": memo,
    }


def _integer(value: Any) -> int:
    """DESIGN §3: an integer field accepts 1200, 1200.0 and 1.2e3 alike, refuses 1200.5;
    booleans are not numbers."""
    if isinstance(value, float) and math.isfinite(value) and value.is_integer():
        value = int(value)
    if isinstance(value, bool) or not isinstance(value, int):
        raise _Rejected(INVALID_EVENT)
    return value


def _amount(value: Any) -> int:
    """An integer (``_integer``), 1 … 10,000,000."""
    amount = _integer(value)
    if not 1 <= amount <= 10_000_000:
        raise _Rejected(INVALID_EVENT)
    return amount


def _identifier(value: Any) -> str:
    """1-128 characters, counted in code points as JSON Schema does."""
    if not isinstance(value, str) or not 1 <= len(value) <= 128:
        raise _Rejected(INVALID_EVENT)
    return value


def _instant(value: Any) -> str:
    """RFC 3339 with an offset, a real date in 1900–2999, no leap second, at most six
    fraction digits plus up to three zeros; read as the canonical UTC spelling."""
    match = _RFC3339.fullmatch(value) if isinstance(value, str) else None
    if match is None:
        raise _Rejected(INVALID_EVENT)
    part = {
        name: int(text)
        for name, text in match.groupdict().items()
        if text is not None and name not in {"sign", "fraction"}
    }
    year, month, day = part["year"], part["month"], part["day"]
    fraction = match["fraction"] or ""
    if not (
        year in YEARS
        and 1 <= month <= 12
        and 1 <= day <= calendar.monthrange(year, month)[1]
        and part["hour"] <= 23
        and part["minute"] <= 59
        and part["second"] <= 59  # RFC 3339 allows :60; the contract does not
        and len(fraction) <= MAX_FRACTION_DIGITS
        and set(fraction[MICROSECOND_DIGITS:]) <= {"0"}
        and part.get("offset_hours", 0) <= 23
        and part.get("offset_minutes", 0) <= 59
    ):
        raise _Rejected(INVALID_EVENT)
    offset = timedelta(hours=part.get("offset_hours", 0), minutes=part.get("offset_minutes", 0))
    local = datetime(
        year,
        month,
        day,
        part["hour"],
        part["minute"],
        part["second"],
        int(fraction[:MICROSECOND_DIGITS].ljust(MICROSECOND_DIGITS, "0")),
        timezone(-offset if match["sign"] == "-" else offset),
    )
    utc = local.astimezone(UTC)
    return f"{utc:%Y-%m-%dT%H:%M:%S}.{utc.microsecond:06d}Z"


def _member(value: Any, allowed: set[str] | frozenset[str]) -> str:
    if not isinstance(value, str) or value not in allowed:
        raise _Rejected(INVALID_EVENT)
    return value


def _merchant(value: Any) -> dict[str, str]:
    if not isinstance(value, dict):
        raise _Rejected(INVALID_EVENT)
    name, mcc, country = value.get("name"), value.get("mcc"), value.get("country")
    if not isinstance(name, str) or not 1 <= len(name) <= 200:
        raise _Rejected(INVALID_EVENT)
    if not isinstance(mcc, str) or not re.fullmatch("[0-9]{4}", mcc):
        raise _Rejected(INVALID_EVENT)
    if not isinstance(country, str) or not re.fullmatch("[A-Z]{2}", country):
        raise _Rejected(INVALID_EVENT)
    return {"name": name, "mcc": mcc, "country": country}


def _boolean(value: Any) -> bool:
    if not isinstance(value, bool):
        raise _Rejected(INVALID_EVENT)
    return value


def _has_lone_surrogate(document: Any) -> bool:
    """Any key or string value, however deep (iteratively: bodies nest 100,000 deep)."""
    stack = [document]
    while stack:
        value = stack.pop()
        if isinstance(value, str):
            if any("\ud800" <= char <= "\udfff" for char in value):
                return True
        elif isinstance(value, dict):
            stack.extend(value.keys())
            stack.extend(value.values())
        elif isinstance(value, list):
            stack.extend(value)
    return False
