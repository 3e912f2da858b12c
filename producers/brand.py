"""What the Visa and QUICPay adapters share: deterministic ids and event construction.

Ids are derived only from the brand's own transaction identifiers (never a clock or a
random number), so a brand record sent twice yields the same ``event_id`` and the
consumers' idempotency turns the second copy into a no-op.
"""

from __future__ import annotations

import hashlib
import json
import re
from dataclasses import dataclass
from datetime import datetime
from typing import Final, Protocol, TypeVar

from pydantic import ValidationError

from schemas.envelope import summarise_validation_error
from schemas.errors import PermanentError
from schemas.events import SCHEMA_VERSION, Brand, Merchant

MAX_ID_LENGTH: Final = 128
#: Parts kept readable in ids; anything else (":" included, which separates parts) is hashed.
_READABLE_PART: Final = re.compile(r"^[A-Za-z0-9._-]+$")

E = TypeVar("E")


class InvalidBrandRecord(PermanentError):
    """A brand record that cannot become a v1 event (missing id, amount out of range, …)."""

    code = "invalid_brand_record"


def brand_key(brand: Brand, kind: str | None, *parts: str) -> str:
    """``brand[:kind]:part:…`` when short and plain, else ``brand[:kind]:sha256:<hex>``.

    Both forms are injective in ``parts``: readable parts cannot contain the separator, and
    the hash covers the JSON list of parts. ``kind`` is None for payment ids.
    """
    prefix = [brand.value] if kind is None else [brand.value, kind]
    if not parts or any(not part for part in parts):
        raise InvalidBrandRecord(f"{':'.join(prefix)}: a transaction identifier is empty")
    readable = ":".join([*prefix, *parts])
    if len(readable) <= MAX_ID_LENGTH and all(_READABLE_PART.match(p) for p in parts):
        return readable
    digest = hashlib.sha256(json.dumps(list(parts)).encode("utf-8")).hexdigest()
    return ":".join([*prefix, "sha256", digest])


def merchant(name: str, mcc: str, country: str) -> Merchant:
    return build(Merchant, name=name, mcc=mcc, country=country)


def build(model: type[E], **fields: object) -> E:
    """Validate through the contract model; a record that breaks it is a permanent error."""
    try:
        return model(**fields)
    except ValidationError as exc:
        name = getattr(model, "__name__", "event")
        raise InvalidBrandRecord(f"{name}: {summarise_validation_error(exc)}") from None


class BrandRecord(Protocol):
    """The fields every brand's records carry under the same names."""

    @property
    def account_id(self) -> str: ...
    @property
    def merchant_name(self) -> str: ...
    @property
    def mcc(self) -> str: ...
    @property
    def merchant_country(self) -> str: ...


@dataclass(frozen=True, kw_only=True)
class Payment:
    """What every event made from one brand record carries, whatever its type."""

    brand: Brand
    payment_id: str
    amount: int
    record: BrandRecord


def payment_event(
    model: type[E], event_id: str, occurred_at: datetime, payment: Payment, **extra: object
) -> E:
    """The v1 event ``model`` for ``payment``; ``extra`` holds the type's own fields."""
    return build(
        model,
        event_id=event_id,
        occurred_at=occurred_at,
        schema_version=SCHEMA_VERSION,
        brand=payment.brand,
        payment_id=payment.payment_id,
        account_id=payment.record.account_id,
        amount=payment.amount,
        currency="JPY",
        merchant=merchant(
            payment.record.merchant_name, payment.record.mcc, payment.record.merchant_country
        ),
        **extra,
    )
