"""Points as integers and the per-payment floor (DESIGN §4.2), and UTC instants.

The smallest pieces every points module shares: ``Points`` (a confirmed and a provisional
amount, added and subtracted as a pair), ``pts`` (Kyash floors per payment) and
``as_utc`` (SQLite hands stored timestamps back naive).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Final

BASIS_POINTS: Final = 10_000


def as_utc(moment: datetime) -> datetime:
    """Aware UTC; naive values are UTC (SQLite hands stored timestamps back naive)."""
    if moment.tzinfo is None:
        return moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


@dataclass(frozen=True, slots=True)
class Points:
    confirmed: int = 0
    provisional: int = 0

    def __add__(self, other: Points) -> Points:
        return Points(self.confirmed + other.confirmed, self.provisional + other.provisional)

    def __sub__(self, other: Points) -> Points:
        return Points(self.confirmed - other.confirmed, self.provisional - other.provisional)


#: Zero points, shared (``Points`` is immutable): the hot paths compare with it and start
#: sums from it without building one each time.
NO_POINTS: Final = Points()


def pts(amount: int, rate_bp: int) -> int:
    """``floor(max(0, x) × rate_bp / 10000)`` in integers (Kyash floors per payment)."""
    return max(0, amount) * rate_bp // BASIS_POINTS
