"""Event contract v1: the wire format producers publish and consumers accept (DESIGN §3).

Two families share one topic and one discriminated union, ``Event``: payment events
(``PaymentEvent``: authorizations, reversals, clearings, refunds, chargebacks …) and points
grants (``PointsGrant``: points from rewards, referrals, campaigns and operator
adjustments, which belong to no card payment).

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
from typing import Annotated, Any, Final, Literal, assert_never

from pydantic import (
    AfterValidator,
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
#: A grant's points: either direction (negative takes points back), never zero.
MAX_GRANT_POINTS: Final = 10_000_000
MAX_MEMO_LENGTH: Final = 200
SOURCE_PATTERN: Final = r"^[a-z][a-z0-9-]{0,63}$"


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


def not_zero(value: int) -> int:
    """A grant of 0 points changes nothing and is almost surely a producer's bug."""
    if value == 0:
        raise ValueError("must not be 0")
    return value


#: ``not const 0`` holds for ``0``, ``0.0`` and ``-0.0`` alike in every JSON Schema validator
#: (numbers compare by value), as in the consumer, where ``integral`` makes them the int 0.
GrantPoints = Annotated[
    int,
    Field(ge=-MAX_GRANT_POINTS, le=MAX_GRANT_POINTS, json_schema_extra={"not": {"const": 0}}),
    BeforeValidator(integral),
    AfterValidator(not_zero),
]
#: The pydantic pattern (Rust regex) ends at ``$``; Python's ``re.search``, which
#: python-jsonschema uses, also lets ``$`` match before a final newline: the ``not`` refuses it.
Source = Annotated[
    str,
    StringConstraints(pattern=SOURCE_PATTERN, max_length=64),
    Field(json_schema_extra={"not": {"type": "string", "pattern": "\n"}}),
]


class Brand(StrEnum):
    VISA = "visa"
    QUICPAY = "quicpay"


class EventType(StrEnum):
    """Every ``event_type`` of the contract: the seven payment types and ``points_grant``."""

    AUTHORIZATION = "authorization"
    AUTHORIZATION_REVERSAL = "authorization_reversal"
    CLEARING = "clearing"
    REFUND = "refund"
    REFUND_REVERSAL = "refund_reversal"
    CHARGEBACK = "chargeback"
    CHARGEBACK_REVERSAL = "chargeback_reversal"
    POINTS_GRANT = "points_grant"


class GrantReason(StrEnum):
    """Why points were granted (DESIGN §3)."""

    REWARD = "reward"
    REFERRAL = "referral"
    CAMPAIGN = "campaign"
    ADJUSTMENT = "adjustment"


#: Enum fields that also take the enum's plain string value (``"visa"``) from Python.
BrandField = Annotated[Brand, Field(strict=False)]
GrantReasonField = Annotated[GrantReason, Field(strict=False)]


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
    """What every event carries."""

    model_config = ConfigDict(json_schema_extra=_wire_requires_every_field)

    schema_version: Annotated[Literal[1], BeforeValidator(integral)] = SCHEMA_VERSION
    event_id: Identifier
    occurred_at: Rfc3339
    account_id: Identifier


class _PaymentEventBase(_EventBase):
    """What every card payment event carries."""

    brand: BrandField
    payment_id: Identifier
    amount: Amount
    currency: Literal["JPY"]
    merchant: Merchant


class Authorization(_PaymentEventBase):
    """An issuer's authorization decision; declined ones (``approved: false``) earn nothing."""

    event_type: Literal[EventType.AUTHORIZATION] = EventType.AUTHORIZATION
    approved: bool = True


class AuthorizationReversal(_PaymentEventBase):
    """Releases (part of) an authorized amount."""

    event_type: Literal[EventType.AUTHORIZATION_REVERSAL] = EventType.AUTHORIZATION_REVERSAL


class Clearing(_PaymentEventBase):
    """Settlement of (part of) a payment; ``final`` closes its provisional points."""

    event_type: Literal[EventType.CLEARING] = EventType.CLEARING
    final: bool = False


class Refund(_PaymentEventBase):
    """Money returned to the cardholder after clearing."""

    event_type: Literal[EventType.REFUND] = EventType.REFUND


class RefundReversal(_PaymentEventBase):
    """Cancels (part of) a refund: the money goes back to the merchant."""

    event_type: Literal[EventType.REFUND_REVERSAL] = EventType.REFUND_REVERSAL


class Chargeback(_PaymentEventBase):
    """A disputed amount returned to the cardholder by the card network."""

    event_type: Literal[EventType.CHARGEBACK] = EventType.CHARGEBACK


class ChargebackReversal(_PaymentEventBase):
    """The dispute is decided for the merchant: (part of) a chargeback is taken back."""

    event_type: Literal[EventType.CHARGEBACK_REVERSAL] = EventType.CHARGEBACK_REVERSAL


class PointsGrant(_EventBase):
    """Points from outside card payments (rewards, referrals, campaigns, adjustments),
    confirmed at once; negative points take points back. ``memo`` is stored, never logged.
    """

    event_type: Literal[EventType.POINTS_GRANT] = EventType.POINTS_GRANT
    points: GrantPoints
    reason: GrantReasonField
    source: Source
    # Left out of repr so that no log line that prints an event can carry it.
    memo: Annotated[str, StringConstraints(max_length=MAX_MEMO_LENGTH)] | None = Field(
        default=None, repr=False
    )


_PaymentEvents = (
    Authorization
    | AuthorizationReversal
    | Clearing
    | Refund
    | RefundReversal
    | Chargeback
    | ChargebackReversal
)

#: A card payment event (every type but ``points_grant``).
PaymentEvent = Annotated[_PaymentEvents, Field(discriminator="event_type")]
#: Any event of the contract: what the topic carries and a consumer decodes.
Event = Annotated[_PaymentEvents | PointsGrant, Field(discriminator="event_type")]

EVENT_ADAPTER: Final[TypeAdapter[Event]] = TypeAdapter(Event)


def payment_of(event: Event) -> PaymentEvent | None:
    """The event as a card payment event, or None for a points grant (which has no payment,
    brand or merchant)."""
    match event:
        case PointsGrant():
            return None
        case (
            Authorization()
            | AuthorizationReversal()
            | Clearing()
            | Refund()
            | RefundReversal()
            | Chargeback()
            | ChargebackReversal()
        ):
            return event
        case _:
            assert_never(event)
