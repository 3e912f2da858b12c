"""The SQS client's JSON (orjson) reads and writes what the standard library did."""

from __future__ import annotations

import json
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from consumers.runtime.sqs import _json_bytes, _parsed

TEXT = st.text(st.characters(exclude_categories=["Cs"]))
DOCUMENTS = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**63), 2**63 - 1) | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=12,
)


@given(st.dictionaries(TEXT, DOCUMENTS))
def test_a_request_body_is_the_document_json_dumps_wrote(params: dict[str, Any]) -> None:
    """Whatever the spelling (orjson writes non-ASCII as UTF-8), SQS reads the same document."""
    assert json.loads(_json_bytes(params)) == params


@given(st.dictionaries(TEXT, DOCUMENTS))
def test_a_response_parses_as_json_loads_parses_it(document: dict[str, Any]) -> None:
    """Escaped or not, the parsed response equals the standard library's reading."""
    for payload in (
        json.dumps(document).encode(),
        json.dumps(document, ensure_ascii=False).encode(),
    ):
        assert _parsed(payload) == json.loads(payload)


def test_a_lone_surrogate_escape_still_parses() -> None:
    """orjson refuses ``\\ud800``; ``json.loads`` reads it, so the body reaches the decoder,
    which dead-letters it with its reason, instead of failing the whole receive."""
    payload = b'{"Messages": [{"Body": "{\\"x\\": \\"\\ud800\\"}"}]}'
    assert _parsed(payload) == json.loads(payload)


def test_a_lone_surrogate_in_a_request_is_written_as_json_dumps_did() -> None:
    """orjson refuses to write one; the standard library escapes it, as before."""
    params = {"MessageBody": "\ud800"}
    assert _json_bytes(params) == json.dumps(params, separators=(",", ":")).encode()
