"""The rows the PostgreSQL pipeline sends travel as one JSON document (``store.postgres``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

from consumers.points.store.postgres import _json


def test_rows_carry_instants_as_isoformat_and_text_as_is() -> None:
    at = datetime(2026, 11, 30, 1, 2, 3, 4, tzinfo=UTC)
    tokyo = datetime(2026, 11, 30, 10, 0, tzinfo=timezone(timedelta(hours=9)))
    rows = [{"id": "pay-é", "at": at, "anchor": tokyo, "points": 2**62, "none": None}]
    assert json.loads(_json(rows)) == [
        {
            "id": "pay-é",
            "at": at.isoformat(),
            "anchor": tokyo.isoformat(),
            "points": 2**62,
            "none": None,
        }
    ]


def test_what_orjson_refuses_is_still_sent_for_the_database_to_judge() -> None:
    """A lone surrogate (or an integer past 64 bits) is written by the standard encoder:
    PostgreSQL then refuses that event alone (``DataRefused``), as it refuses NUL."""
    rows = [{"id": "acct-\ud800", "points": 2**70, "at": datetime(2026, 1, 1, tzinfo=UTC)}]
    assert json.loads(_json(rows)) == [
        {"id": "acct-\ud800", "points": 2**70, "at": "2026-01-01T00:00:00+00:00"}
    ]
