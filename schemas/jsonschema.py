"""JSON Schema of contract v1, for producers written in other languages."""

from __future__ import annotations

import json
from typing import Any

from schemas.events import EVENT_ADAPTER

SCHEMA_ID = "https://points-pipeline.example/schemas/payment-event.v1.schema.json"


def payment_event_schema() -> dict[str, Any]:
    schema = EVENT_ADAPTER.json_schema(mode="validation")
    return {
        "$schema": "https://json-schema.org/draft/2020-12/schema",
        "$id": SCHEMA_ID,
        "title": "PaymentEvent v1",
        "description": "A card payment event published to the payment-events topic "
        "(points-pipeline contract v1). Unknown fields are ignored by consumers.",
        **schema,
    }


def render_schema() -> str:
    return json.dumps(payment_event_schema(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"
