"""Canonical form and content hash of a validated event.

Two deliveries are "the same event" when their validated contents are equal, whatever the
key order, whitespace or ignored extra fields of the JSON they arrived in. The canonical
form is the model dumped to JSON with sorted keys and no insignificant whitespace.
"""

from __future__ import annotations

import hashlib
import json

from schemas.events import EVENT_ADAPTER, PaymentEvent


def canonical_json(event: PaymentEvent) -> str:
    """The validated event as compact JSON with sorted keys (defaults included)."""
    data = EVENT_ADAPTER.dump_python(event, mode="json")
    return json.dumps(data, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def content_hash(event: PaymentEvent) -> str:
    """SHA-256 hex digest of the canonical form: the identity of an event's content."""
    return hashlib.sha256(canonical_json(event).encode("utf-8")).hexdigest()
