"""``account_month`` is the Asia/Tokyo calendar month of any aware instant, whatever its
offset: checked against the time-zone database, not against the nine hours the code adds."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from consumers.points.months import account_month

TOKYO = ZoneInfo("Asia/Tokyo")
#: From 1952 (Japan's last daylight saving time ended in 1951, and before 1888 Tokyo kept
#: its local mean time: DESIGN's UTC+9 is the zone since then) to the last Tokyo wall
#: clock ``datetime`` can write.
INSTANTS = st.datetimes(min_value=datetime(1952, 1, 1), max_value=datetime(9999, 12, 30))
OFFSETS = st.integers(min_value=-14 * 60, max_value=14 * 60).map(
    lambda minutes: timezone(timedelta(minutes=minutes))
)


def _tokyo_month(instant: datetime) -> str:
    local = instant.astimezone(TOKYO)
    return f"{local.year:04d}-{local.month:02d}"


@given(INSTANTS)
def test_a_utc_instant_counts_in_its_tokyo_month(naive: datetime) -> None:
    instant = naive.replace(tzinfo=UTC)
    assert account_month(instant) == _tokyo_month(instant)


@given(INSTANTS, OFFSETS)
def test_an_instant_in_any_offset_counts_in_its_tokyo_month(
    naive: datetime, offset: timezone
) -> None:
    instant = naive.replace(tzinfo=offset)
    assert account_month(instant) == _tokyo_month(instant)


def test_a_naive_instant_has_no_account_month() -> None:
    with pytest.raises(ValueError, match="aware instant"):
        account_month(datetime(2026, 11, 30, 15))
