"""Event contract v1: the wire format producers publish and consumers accept (DESIGN §3).

Models are strict (no coercion of ``"1200"`` into ``1200``, no floats for amounts),
frozen, and ignore unknown fields so that producers may add fields before consumers know
them. Ignored fields are dropped at validation and so are never stored or logged.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    StringConstraints,
    TypeAdapter,
)

SCHEMA_VERSION: Final = 1
MIN_AMOUNT: Final = 1
MAX_AMOUNT: Final = 10_000_000

# RFC 3339 date-time with a mandatory offset ("Z" or ±hh:mm); "T" may be "t" or a space
# only where RFC 3339 allows it, which we do not: producers send the canonical "T".
_RFC3339 = re.compile(
    r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d{1,9})?(Z|[+-]\d{2}:\d{2})$", re.IGNORECASE
)


def parse_rfc3339(value: Any) -> datetime:
    """An RFC 3339 timestamp with offset; epoch numbers and naive timestamps are refused.

    Datetime objects built in Python by producers must carry a timezone too.
    """
    if isinstance(value, datetime):
        parsed = value
    elif isinstance(value, str) and _RFC3339.match(value):
        parsed = datetime.fromisoformat(value.upper())
    else:
        raise ValueError(
            "must be an RFC 3339 timestamp with offset, e.g. 2026-11-21T10:00:00+09:00"
        )
    if parsed.tzinfo is None or parsed.utcoffset() is None:
        raise ValueError("must carry a UTC offset (naive timestamps are ambiguous)")
    try:
        parsed.astimezone(UTC)
    except OverflowError:
        raise ValueError("must fall within years 0001-9999 when converted to UTC") from None
    return parsed


# The before-validator parses the text itself, so strict mode then sees a datetime; the
# AwareDatetime underneath keeps pydantic's serialisation and "date-time" JSON Schema.
Rfc3339 = Annotated[AwareDatetime, BeforeValidator(parse_rfc3339)]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Amount = Annotated[int, Field(ge=MIN_AMOUNT, le=MAX_AMOUNT)]


class Brand(StrEnum):
    VISA = "visa"
    QUICPAY = "quicpay"


class EventType(StrEnum):
    AUTHORIZATION = "authorization"
    AUTHORIZATION_REVERSAL = "authorization_reversal"
    CLEARING = "clearing"
    REFUND = "refund"


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


class Merchant(_Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    mcc: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$")]


class _EventBase(_Strict):
    schema_version: Literal[1]
    event_id: Identifier
    occurred_at: Rfc3339
    brand: Brand
    payment_id: Identifier
    account_id: Identifier
    amount: Amount
    currency: Literal["JPY"]
    merchant: Merchant


class Authorization(_EventBase):
    """An issuer's authorization decision; declined ones (``approved: false``) earn nothing."""

    event_type: Literal[EventType.AUTHORIZATION]
    approved: bool = True


class AuthorizationReversal(_EventBase):
    """Releases (part of) an authorized amount."""

    event_type: Literal[EventType.AUTHORIZATION_REVERSAL]


class Clearing(_EventBase):
    """Settlement of (part of) a payment; ``final`` closes its provisional points."""

    event_type: Literal[EventType.CLEARING]
    final: bool = False


class Refund(_EventBase):
    """Money returned to the cardholder after clearing."""

    event_type: Literal[EventType.REFUND]


PaymentEvent = Annotated[
    Authorization | AuthorizationReversal | Clearing | Refund,
    Field(discriminator="event_type"),
]

EVENT_ADAPTER: Final[TypeAdapter[PaymentEvent]] = TypeAdapter(PaymentEvent)
