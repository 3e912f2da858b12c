"""Decoding an SQS message body into a v1 event.

Bodies arrive either raw (SNS raw message delivery) or wrapped in the SNS JSON envelope
``{"Type": "Notification", "Message": "<event json>", ...}``. Every way a body can be
wrong maps to one ``PermanentError`` subclass with a message precise enough for an
operator to act on, and never containing the body itself (it may hold personal data).

The text must be I-JSON (RFC 7493), because that is all the JSON Schema can speak about:
a duplicate key (which value would a validator have judged?), ``NaN``/``Infinity`` (not
JSON) and lone surrogate escapes (not Unicode text) are ``invalid_body`` wherever they
occur, unknown fields included.
"""

from __future__ import annotations

import json
from typing import Any, Final

from pydantic import ValidationError

from schemas.errors import InvalidBody, InvalidEnvelope, InvalidEvent, UnsupportedSchemaVersion
from schemas.events import EVENT_ADAPTER, SCHEMA_VERSION, Event

MAX_BODY_BYTES = 256 * 1024
_MAX_ERRORS_REPORTED = 5


def decode_body(body: str | bytes) -> Event:
    """Decode a raw or SNS-enveloped SQS body; raise a ``PermanentError`` when impossible."""
    document = _parse_json_object(body, what="body")
    if is_sns_envelope(document):
        document = _unwrap_sns(document)
    return parse_event(document)


def is_sns_envelope(document: dict[str, Any]) -> bool:
    """An SNS envelope has a ``Type`` and never a ``schema_version``; every event has one.

    So an event carrying an unknown top-level ``Type`` field is still an event.
    """
    return "Type" in document and "schema_version" not in document


def parse_event(document: dict[str, Any]) -> Event:
    """Validate a JSON object (already parsed) against contract v1."""
    version = document.get("schema_version")
    if version != SCHEMA_VERSION or isinstance(version, bool):
        raise UnsupportedSchemaVersion(
            f"schema_version must be {SCHEMA_VERSION}, got {_describe(version)}"
        )
    try:
        return EVENT_ADAPTER.validate_python(document)
    except ValidationError as exc:
        raise InvalidEvent(summarise_validation_error(exc)) from None


def summarise_validation_error(exc: ValidationError) -> str:
    """``field.path: reason; …`` without echoing input values (they may be personal data)."""
    parts = []
    for error in exc.errors(include_input=False, include_url=False)[:_MAX_ERRORS_REPORTED]:
        location = ".".join(str(p) for p in error["loc"]) or "event"
        parts.append(f"{location}: {error['msg']}")
    extra = exc.error_count() - _MAX_ERRORS_REPORTED
    if extra > 0:
        parts.append(f"(+{extra} more)")
    return "; ".join(parts)


def _unwrap_sns(envelope: dict[str, Any]) -> dict[str, Any]:
    kind = envelope.get("Type")
    if kind != "Notification":
        raise InvalidEnvelope(f"SNS envelope Type must be 'Notification', got {_describe(kind)}")
    message = envelope.get("Message")
    if not isinstance(message, str):
        raise InvalidEnvelope("SNS envelope has no string 'Message'")
    return _parse_json_object(message, what="SNS Message")


def _parse_json_object(raw: str | bytes, *, what: str) -> dict[str, Any]:
    if len(raw) > MAX_BODY_BYTES:
        raise InvalidBody(f"{what} is {len(raw)} bytes, over the {MAX_BODY_BYTES}-byte limit")
    if isinstance(raw, bytes):
        try:
            raw = raw.decode("utf-8")
        except UnicodeDecodeError as exc:
            raise InvalidBody(f"{what} is not valid UTF-8 (byte {exc.start})") from None
    try:
        if raw.startswith("\ufeff"):  # what json.loads says before decoding
            raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", raw, 0)
        document = _DECODER.decode(raw)
    except _NotIJson as exc:
        raise InvalidBody(f"{what} {exc}") from None
    except json.JSONDecodeError as exc:
        raise InvalidBody(
            f"{what} is not JSON: {exc.msg} at line {exc.lineno} column {exc.colno}"
        ) from None
    except RecursionError:
        raise InvalidBody(f"{what} is nested too deeply") from None
    except ValueError:
        # int() refuses numbers of more than 4,300 digits (CVE-2020-10735 guard).
        raise InvalidBody(f"{what} holds a number too long to decode") from None
    if not isinstance(document, dict):
        raise InvalidBody(f"{what} must be a JSON object, got {type(document).__name__}")
    # Lone surrogates come as escapes (or, from Python callers, as non-ASCII characters).
    if ("\\u" in raw or not raw.isascii()) and _has_lone_surrogate(document):
        raise InvalidBody(f"{what} holds a lone surrogate escape (not Unicode text)")
    return document


class _NotIJson(ValueError):
    """Valid JSON syntax, but not I-JSON: no single value a validator could have judged."""


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    document = dict(pairs)
    if len(document) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _NotIJson(f"repeats the key {_describe(key)} in one object")
            seen.add(key)
    return document


def _no_constant(name: str) -> Any:
    raise _NotIJson(f"holds {name}, which is not a JSON number")


#: ``json.loads`` with keyword arguments builds a decoder per call; this one is built once.
_DECODER: Final = json.JSONDecoder(object_pairs_hook=_unique_keys, parse_constant=_no_constant)


def _has_lone_surrogate(document: dict[str, Any]) -> bool:
    """Escapes like ``\\ud800`` decode to code points no UTF-8 text (or database) can hold."""
    try:
        json.dumps(document, ensure_ascii=False).encode("utf-8")
    except UnicodeEncodeError:
        return True
    return False


def _describe(value: Any) -> str:
    """Name a wrong value safely: short scalars verbatim, anything else by type."""
    if isinstance(value, (int, float, bool)) or value is None:
        return repr(value)
    if isinstance(value, str) and len(value) <= 40 and value.isprintable():
        return repr(value)
    return type(value).__name__
