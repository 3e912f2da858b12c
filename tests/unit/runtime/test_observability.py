"""The JSON log line's text is what the first formatter wrote, the timestamp included."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from enum import Enum
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from consumers.runtime.observability import LOG_FIELDS, JsonFormatter

TEXT = st.text(st.characters(exclude_categories=["Cs"]))
PLAIN_VALUES = st.none() | st.booleans() | st.integers(-(2**63), 2**64 - 1) | TEXT
FIELDS = st.dictionaries(st.sampled_from(sorted(LOG_FIELDS)), PLAIN_VALUES)


def reference_line(record: logging.LogRecord) -> str:
    """The formatter as first written: ``datetime`` for the time, ``json`` for the text."""
    line: dict[str, Any] = {
        "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
        "level": record.levelname.lower(),
        "logger": record.name,
        "msg": record.getMessage(),
    }
    line.update({k: v for k, v in record.__dict__.items() if k in LOG_FIELDS})
    return json.dumps(line, ensure_ascii=False, default=str)


def record(message: str, fields: dict[str, Any], created: float | None = None) -> logging.LogRecord:
    made = logging.getLogger("points.worker").makeRecord(
        "points.worker", logging.INFO, "(unknown file)", 0, message, (), None, extra=fields
    )
    if created is not None:
        made.created = created
    return made


@given(TEXT, FIELDS)
def test_a_line_of_plain_values_is_the_reference_text(message: str, fields: dict[str, Any]) -> None:
    """Strings (any character), integers, booleans and null: the same bytes, same key order."""
    made = record(message, fields)
    assert JsonFormatter().format(made) == reference_line(made)


@given(st.floats(min_value=0, max_value=32503680000, allow_nan=False))
def test_the_timestamp_rounds_as_datetime_does(created: float) -> None:
    """Milliseconds as ``fromtimestamp(...).isoformat(timespec="milliseconds")``, any instant."""
    made = record("applied", {}, created)
    assert json.loads(JsonFormatter().format(made))["ts"] == json.loads(reference_line(made))["ts"]


def test_one_formatter_keeps_the_second_right_across_records() -> None:
    """The cached second is replaced when the next record is in another second."""
    formatter = JsonFormatter()
    for created in [1764490000.9996, 1764490000.9999996, 1764490001.25, 1764489999.5]:
        made = record("applied", {}, created)
        assert formatter.format(made) == reference_line(made)


class Colour(Enum):
    RED = "red"


@given(
    st.sampled_from(
        [1e16, 0.1, float("nan"), 2**70, "\ud800", Colour.RED, datetime(2026, 1, 1, tzinfo=UTC)]
    )
)
def test_any_value_keeps_the_reference_text(value: Any) -> None:
    """Floats, long integers, lone surrogates and objects (``str`` of them) as before."""
    made = record("applied", {"count": value, "queue": "points"})
    assert JsonFormatter().format(made) == reference_line(made)
