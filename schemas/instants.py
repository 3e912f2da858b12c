"""``occurred_at``: which spellings of an instant the contract accepts, and its canonical form.

One regular expression decides acceptance for every language (DESIGN §3 "One truth for
every language"): the JSON Schema publishes it as ``pattern`` and the consumer matches it
whole. It is written in the subset that ECMAScript (ajv), Python ``re`` and RE2 (Go) read
alike: ASCII classes (``[0-9]``, never ``\\d``, which is Unicode-aware in Python), no
look-around, non-capturing groups only. It pins what ``format: date-time`` leaves to each
validator:

- ``T`` (or ``t``) between date and time, never a space; an offset ``Z``/``z`` or
  ``±hh:mm`` with the colon, never ``+0900``; no leap second (``:60``);
- real calendar dates (days per month, 29 February in leap years only), years 1900–2999;
- at most the precision the ledger keeps, microseconds: up to 6 fraction digits, and up to
  3 more only if they are zeros (``.123456000`` is the same instant; ``.1234567`` is not
  representable and is refused rather than silently rounded).

The canonical form names the instant, not its spelling: UTC, ``Z``, always six fraction
digits (``2026-11-21T01:00:00.000000Z``), so ``…10:00:00+09:00``, ``…01:00:00Z`` and
``…01:00:00.000Z`` hash alike.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any, Final

_YEAR = r"(?:19|2[0-9])[0-9]{2}"
_LEAP_YEAR = r"(?:(?:19|2[0-9])(?:0[48]|[2468][048]|[13579][26])|2[048]00)"
_MONTH_DAY = (
    r"(?:(?:0[13578]|1[02])-(?:0[1-9]|[12][0-9]|3[01])"
    r"|(?:0[469]|11)-(?:0[1-9]|[12][0-9]|30)"
    r"|02-(?:0[1-9]|1[0-9]|2[0-8]))"
)
_DATE = rf"(?:{_YEAR}-{_MONTH_DAY}|{_LEAP_YEAR}-02-29)"
_TIME = r"(?:[01][0-9]|2[0-3]):[0-5][0-9]:[0-5][0-9](?:\.[0-9]{1,6}0{0,3})?"
_OFFSET = r"(?:[Zz]|[+-](?:[01][0-9]|2[0-3]):[0-5][0-9])"

#: The ``occurred_at`` pattern of the JSON Schema and of the consumer.
INSTANT_PATTERN: Final = rf"^{_DATE}[Tt]{_TIME}{_OFFSET}$"
#: Longest accepted spelling: 19 + "." + 9 digits + "+hh:mm".
INSTANT_MAX_LENGTH: Final = 35
_INSTANT: Final = re.compile(INSTANT_PATTERN)
_CANONICAL_FORMAT: Final = "%Y-%m-%dT%H:%M:%S.%fZ"
MICROSECOND_DIGITS: Final = 6

EXAMPLE: Final = "2026-11-21T10:00:00+09:00"


def parse_instant(value: Any) -> datetime:
    """An aware UTC datetime from a contract spelling (or an aware ``datetime``)."""
    if isinstance(value, datetime):
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError("must carry a UTC offset (naive datetimes are ambiguous)")
        parsed = value
    elif isinstance(value, str) and _INSTANT.fullmatch(value):
        parsed = datetime.fromisoformat(_at_most_microseconds(value.upper()))
    else:
        raise ValueError(
            "must be an RFC 3339 timestamp with offset and at most microsecond precision, "
            f"years 1900-2999, e.g. {EXAMPLE}"
        )
    return parsed.astimezone(UTC)


def canonical_instant(value: datetime) -> str:
    """The one spelling of an instant: UTC, ``Z``, six fraction digits.

    ``_CANONICAL_FORMAT`` defines it; ``isoformat`` writes the same text a third faster (it
    is in every content hash) for four-digit years, the only ones ``%Y`` does not write
    shorter: ``tests/unit/test_canonical.py`` holds the two equal.
    """
    utc = value.astimezone(UTC)
    if utc.year < 1000:
        return utc.strftime(_CANONICAL_FORMAT)
    return utc.isoformat(timespec="microseconds").removesuffix("+00:00") + "Z"


def _at_most_microseconds(text: str) -> str:
    """Drop fraction digits past the sixth; the pattern has already made them zeros."""
    head, dot, rest = text.partition(".")
    if not dot:
        return text
    digits = len(rest) - len(rest.lstrip("0123456789"))
    return f"{head}.{rest[: min(digits, MICROSECOND_DIGITS)]}{rest[digits:]}"
