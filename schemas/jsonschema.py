"""JSON Schema of contract v1 (every event type), for producers written in other languages.

It accepts exactly what the consumer accepts (DESIGN §3 "One truth for every language"),
under python-jsonschema with format checks and ajv 8 + ajv-formats alike; the corpus test
(tests/contract) runs both against the consumer. It speaks about JSON values: the text
rules the consumer adds (no duplicate keys, no ``NaN``/``Infinity``, no lone surrogates,
256 KiB) are stated in ``description``.
"""

from __future__ import annotations

import json
from typing import Any

from schemas.events import EVENT_ADAPTER

SCHEMA_ID = "https://points-pipeline.example/schemas/payment-event.v1.schema.json"
DESCRIPTION = (
    "An event published to the payment-events topic (points-pipeline contract v1): a card "
    "payment event or a points grant, told apart by event_type. Unknown fields are ignored "
    "by consumers. Integer fields accept any integral JSON "
    "number (1200, 1200.0, 1.2e3). The message text must also be I-JSON (RFC 7493): no "
    "duplicate keys, no NaN or Infinity, no lone surrogate escapes, at most 256 KiB."
)


def payment_event_schema() -> dict[str, Any]:
    schema = EVENT_ADAPTER.json_schema(mode="validation")
    # An OpenAPI keyword, not JSON Schema: ajv's strict mode refuses unknown keywords, and
    # `oneOf` over the `const` event types already says the same.
    schema.pop("discriminator", None)
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "PaymentEvent v1",
        "description": DESCRIPTION,
        **schema,
    }


def render_schema() -> str:
    return json.dumps(payment_event_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
