"""The rows the PostgreSQL pipeline sends travel as one JSON document of positional arrays
(``store.postgres``)."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone

import pytest

from consumers.points.store.postgres import _json, _json_list


def test_rows_carry_instants_as_isoformat_and_text_as_is() -> None:
    at = datetime(2026, 11, 30, 1, 2, 3, 4, tzinfo=UTC)
    tokyo = datetime(2026, 11, 30, 10, 0, tzinfo=timezone(timedelta(hours=9)))
    rows = [{"id": "pay-é", "at": at, "anchor": tokyo, "points": 2**62, "none": None}]
    assert json.loads(_json(rows)) == [["pay-é", at.isoformat(), tokyo.isoformat(), 2**62, None]]


def test_every_row_is_sent_in_the_first_rows_column_order() -> None:
    """The statement reads elements by position: a row built with its keys in another
    order is still sent in the first row's order."""
    rows = [{"a": 1, "b": "x"}, {"b": "y", "a": 2}]
    assert json.loads(_json(rows)) == [[1, "x"], [2, "y"]]


def test_a_row_without_a_column_of_the_first_is_refused_before_sending() -> None:
    with pytest.raises(KeyError):
        _json([{"a": 1, "b": "x"}, {"a": 2}])


def test_a_single_column_row_is_still_an_array() -> None:
    assert json.loads(_json([{"a": "x"}, {"a": "y"}])) == [["x"], ["y"]]


def test_what_orjson_refuses_is_still_sent_for_the_database_to_judge() -> None:
    """A lone surrogate (or an integer past 64 bits) is written by the standard encoder:
    PostgreSQL then refuses that event alone (``DataRefused``), as it refuses NUL."""
    rows = [{"id": "acct-\ud800", "points": 2**70, "at": datetime(2026, 1, 1, tzinfo=UTC)}]
    assert json.loads(_json(rows)) == [["acct-\ud800", 2**70, "2026-01-01T00:00:00+00:00"]]


def test_keys_travel_as_one_json_array_of_strings() -> None:
    """Event and payment ids beside the rows (read by ``jsonb_array_elements_text``)."""
    assert json.loads(_json_list(["evt-1", "pay-é", 'quote"d'])) == ["evt-1", "pay-é", 'quote"d']


def test_a_key_orjson_refuses_is_still_sent_for_the_database_to_judge() -> None:
    assert json.loads(_json_list(["evt-\ud800"])) == ["evt-\ud800"]
