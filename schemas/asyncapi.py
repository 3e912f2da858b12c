"""AsyncAPI 3.0 document of the pipeline (``points schemas export --asyncapi``).

The topic, the queues and the body-scoped filter routing come from the topology declaration
(infra/topology.py); every message's payload is the event type's JSON Schema, the very
definitions of the committed JSON Schema with their ``$defs`` moved under
``components/schemas``. Validated in tests by the official ``@asyncapi/parser``.
"""

from __future__ import annotations

import json
from typing import Any, Final

from infra.topology import DEFAULT_TOPOLOGY, FILTER_POLICY_SCOPE, QueueSpec, Topology
from schemas.events import EventType
from schemas.jsonschema import DESCRIPTION, payment_event_schema

ASYNCAPI_VERSION: Final = "3.0.0"
#: The contract's version: v1, with its additive releases (see schemas/released/).
DOCUMENT_VERSION: Final = "1.2.0"
TOPIC_CHANNEL: Final = "paymentEvents"
_MODEL_NAMES: Final = {
    EventType.AUTHORIZATION: "Authorization",
    EventType.AUTHORIZATION_REVERSAL: "AuthorizationReversal",
    EventType.CLEARING: "Clearing",
    EventType.REFUND: "Refund",
    EventType.REFUND_REVERSAL: "RefundReversal",
    EventType.CHARGEBACK: "Chargeback",
    EventType.CHARGEBACK_REVERSAL: "ChargebackReversal",
    EventType.POINTS_GRANT: "PointsGrant",
}


def asyncapi_document(topology: Topology = DEFAULT_TOPOLOGY) -> dict[str, Any]:
    schemas = _component_schemas()
    channels: dict[str, Any] = {TOPIC_CHANNEL: _topic_channel(topology)}
    operations: dict[str, Any] = {"publishPaymentEvent": _publish_operation(topology)}
    for spec in topology.queues:
        channels[_queue_channel(spec)] = _queue(topology, spec)
        operations[f"consume{_camel(spec.name)}"] = _consume_operation(spec)
    return {
        "asyncapi": ASYNCAPI_VERSION,
        "info": {
            "title": "points-pipeline payment events",
            "version": DOCUMENT_VERSION,
            "description": DESCRIPTION,
        },
        "defaultContentType": "application/json",
        "channels": channels,
        "operations": operations,
        "components": {"messages": _messages(), "schemas": schemas},
    }


def render_asyncapi() -> str:
    return json.dumps(asyncapi_document(), indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def _camel(name: str) -> str:
    return "".join(part.capitalize() for part in name.replace("_", "-").split("-"))


def _queue_channel(spec: QueueSpec) -> str:
    return f"{_camel(spec.name)[0].lower()}{_camel(spec.name)[1:]}Queue"


def _component_schemas() -> dict[str, Any]:
    text = json.dumps(payment_event_schema()["$defs"])
    return dict(json.loads(text.replace('"#/$defs/', '"#/components/schemas/')))


def _messages() -> dict[str, Any]:
    return {
        event_type.value: {
            "name": event_type.value,
            "title": _MODEL_NAMES[event_type],
            "contentType": "application/json",
            "payload": {"$ref": f"#/components/schemas/{_MODEL_NAMES[event_type]}"},
        }
        for event_type in EventType
    }


def _message_refs(event_types: tuple[EventType, ...]) -> dict[str, Any]:
    return {t.value: {"$ref": f"#/components/messages/{t.value}"} for t in event_types}


def _topic_channel(topology: Topology) -> dict[str, Any]:
    return {
        "address": topology.physical(topology.topic_name),
        "title": "SNS topic",
        "description": (
            "Every event is published here (body = the event JSON). Message attributes "
            "event_type, schema_version (Number) and brand are optional: subscriptions filter "
            f"on the body ({FILTER_POLICY_SCOPE})."
        ),
        "messages": _message_refs(tuple(EventType)),
    }


def _queue(topology: Topology, spec: QueueSpec) -> dict[str, Any]:
    return {
        "address": topology.physical(spec.name),
        "title": "SQS queue",
        "description": (
            f"Subscribed to the topic with raw delivery and filter policy "
            f"{spec.filter_policy_json()} ({FILTER_POLICY_SCOPE}); dead letters go to "
            f"{topology.physical(spec.dlq_name)} after {spec.max_receive_count} receives."
        ),
        "messages": _message_refs(spec.event_types),
    }


def _publish_operation(topology: Topology) -> dict[str, Any]:
    return {
        "action": "send",
        "title": "Publish a payment event",
        "channel": {"$ref": f"#/channels/{TOPIC_CHANNEL}"},
        "messages": [{"$ref": f"#/channels/{TOPIC_CHANNEL}/messages/{t.value}"} for t in EventType],
        "bindings": {"sns": {"consumers": _sns_consumers(topology), "bindingVersion": "0.1.0"}},
    }


def _sns_consumers(topology: Topology) -> list[dict[str, Any]]:
    return [
        {
            "protocol": "sqs",
            "endpoint": {"name": topology.physical(spec.name)},
            "filterPolicy": spec.filter_policy(),
            "filterPolicyScope": FILTER_POLICY_SCOPE,
            "rawMessageDelivery": True,
        }
        for spec in topology.queues
    ]


def _consume_operation(spec: QueueSpec) -> dict[str, Any]:
    channel = _queue_channel(spec)
    return {
        "action": "receive",
        "title": f"The {spec.name} worker consumes",
        "channel": {"$ref": f"#/channels/{channel}"},
        "messages": [
            {"$ref": f"#/channels/{channel}/messages/{t.value}"} for t in spec.event_types
        ],
    }
