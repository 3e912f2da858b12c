"""Event contract v1: the wire format producers publish and consumers accept (DESIGN §3).

Models are strict (no coercion of ``"1200"`` into ``1200``, no ``1`` for ``true``),
frozen, and ignore unknown fields so that producers may add fields before consumers know
them. Ignored fields are dropped at validation and so are never stored or logged.

Where JSON itself does not tell two spellings apart, neither do the models: an integer
field takes ``1200``, ``1200.0`` and ``1.2e3`` alike and refuses ``1200.5``; an instant is
normalised to UTC (``schemas.instants``). For Python producers the models are convenient
too: enum fields take their plain string values (``brand="visa"``), and ``schema_version``
and ``event_type`` are implied by the class (on the wire both stay required).
"""

from __future__ import annotations

from datetime import datetime
from enum import StrEnum
from typing import Annotated, Any, Final, Literal

from pydantic import (
    AwareDatetime,
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    PlainSerializer,
    StringConstraints,
    TypeAdapter,
    WithJsonSchema,
)

from schemas.instants import (
    INSTANT_MAX_LENGTH,
    INSTANT_PATTERN,
    canonical_instant,
    parse_instant,
)

SCHEMA_VERSION: Final = 1
MIN_AMOUNT: Final = 1
MAX_AMOUNT: Final = 10_000_000


def integral(value: Any) -> Any:
    """A JSON number is one value however it is spelled: ``1.2e3`` is the integer 1200.

    Only integral floats are converted; booleans, strings and fractions are left for the
    strict integer check to refuse.
    """
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


def parse_rfc3339(value: Any) -> datetime:
    """An instant in a contract spelling (see ``schemas.instants``), as an aware UTC datetime."""
    return parse_instant(value)


#: The JSON Schema of an instant: ``format`` for tools, ``pattern`` for agreement, and a guard
#: against a final newline, which Python's ``re.search`` lets ``$`` match before.
INSTANT_JSON_SCHEMA: Final[dict[str, Any]] = {
    "type": "string",
    "format": "date-time",
    "pattern": INSTANT_PATTERN,
    "maxLength": INSTANT_MAX_LENGTH,
    "not": {"type": "string", "pattern": "\n"},
}

Rfc3339 = Annotated[
    AwareDatetime,
    BeforeValidator(parse_rfc3339),
    PlainSerializer(canonical_instant, return_type=str, when_used="json"),
    WithJsonSchema(INSTANT_JSON_SCHEMA),
]
Identifier = Annotated[str, StringConstraints(min_length=1, max_length=128)]
Amount = Annotated[int, Field(ge=MIN_AMOUNT, le=MAX_AMOUNT), BeforeValidator(integral)]


class Brand(StrEnum):
    VISA = "visa"
    QUICPAY = "quicpay"


class EventType(StrEnum):
    AUTHORIZATION = "authorization"
    AUTHORIZATION_REVERSAL = "authorization_reversal"
    CLEARING = "clearing"
    REFUND = "refund"


#: An enum field that also takes the enum's plain string value (``"visa"``) from Python.
BrandField = Annotated[Brand, Field(strict=False)]


def _wire_requires_every_field(schema: dict[str, Any]) -> None:
    """On the wire ``schema_version`` and ``event_type`` are required, defaults or not."""
    required = schema.setdefault("required", [])
    for name in ("schema_version", "event_type"):
        if name in schema.get("properties", {}) and name not in required:
            required.append(name)
        schema.get("properties", {}).get(name, {}).pop("default", None)


class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, frozen=True, extra="ignore")


class Merchant(_Strict):
    name: Annotated[str, StringConstraints(min_length=1, max_length=200)]
    mcc: Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$", max_length=4)]
    country: Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$", max_length=2)]


class _EventBase(_Strict):
    model_config = ConfigDict(json_schema_extra=_wire_requires_every_field)

    schema_version: Annotated[Literal[1], BeforeValidator(integral)] = SCHEMA_VERSION
    event_id: Identifier
    occurred_at: Rfc3339
    brand: BrandField
    payment_id: Identifier
    account_id: Identifier
    amount: Amount
    currency: Literal["JPY"]
    merchant: Merchant


class Authorization(_EventBase):
    """An issuer's authorization decision; declined ones (``approved: false``) earn nothing."""

    event_type: Literal[EventType.AUTHORIZATION] = EventType.AUTHORIZATION
    approved: bool = True


class AuthorizationReversal(_EventBase):
    """Releases (part of) an authorized amount."""

    event_type: Literal[EventType.AUTHORIZATION_REVERSAL] = EventType.AUTHORIZATION_REVERSAL


class Clearing(_EventBase):
    """Settlement of (part of) a payment; ``final`` closes its provisional points."""

    event_type: Literal[EventType.CLEARING] = EventType.CLEARING
    final: bool = False


class Refund(_EventBase):
    """Money returned to the cardholder after clearing."""

    event_type: Literal[EventType.REFUND] = EventType.REFUND


PaymentEvent = Annotated[
    Authorization | AuthorizationReversal | Clearing | Refund,
    Field(discriminator="event_type"),
]

EVENT_ADAPTER: Final[TypeAdapter[PaymentEvent]] = TypeAdapter(PaymentEvent)
