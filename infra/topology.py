"""The messaging topology, declared once (DESIGN §7).

Both ``points infra apply`` (boto3, local emulator or a real account) and
``points infra template`` (CloudFormation) render this declaration; nothing else names a
queue, a DLQ or a filter policy.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Final, TypeAlias

from schemas.events import EventType

#: An ARN as text (boto3 apply) or as a CloudFormation intrinsic such as ``{"Ref": …}``
#: (template): the policy documents below are rendered once for both.
ArnRef: TypeAlias = str | dict[str, Any]

MAX_RECEIVE_COUNT: Final = 5
DLQ_RETENTION_SECONDS: Final = 14 * 24 * 3600
SOURCE_RETENTION_SECONDS: Final = 4 * 24 * 3600
LONG_POLL_SECONDS: Final = 20
VISIBILITY_TIMEOUT_SECONDS: Final = 60
#: Subscriptions match the message body, not its attributes (DESIGN §3): an event whose
#: producer set no attribute is still routed. Attributes stay an optimisation for consumers.
FILTER_POLICY_SCOPE: Final = "MessageBody"


@dataclass(frozen=True)
class QueueSpec:
    """A consumer queue subscribed to the topic, with its dead-letter queues."""

    name: str
    event_types: tuple[EventType, ...]
    max_receive_count: int = MAX_RECEIVE_COUNT
    visibility_timeout_seconds: int = VISIBILITY_TIMEOUT_SECONDS

    @property
    def dlq_name(self) -> str:
        """Where SQS (after ``max_receive_count``) and our workers (at once) dead-letter."""
        return f"{self.name}-dlq"

    @property
    def delivery_dlq_name(self) -> str:
        """Where SNS parks messages it could not deliver to the queue at all."""
        return f"{self.name}-delivery-dlq"

    def filter_policy(self) -> dict[str, Any]:
        """Matched against the body's top-level ``event_type`` (``FILTER_POLICY_SCOPE``)."""
        return {"event_type": sorted(t.value for t in self.event_types)}

    def filter_policy_json(self) -> str:
        return json.dumps(self.filter_policy(), sort_keys=True, separators=(",", ":"))


@dataclass(frozen=True)
class Topology:
    topic_name: str
    queues: tuple[QueueSpec, ...]
    prefix: str = field(default="")

    def physical(self, logical: str) -> str:
        """The deployed name of a topic or queue (prefix lets stacks share an account)."""
        return f"{self.prefix}{logical}"

    def queue(self, name: str) -> QueueSpec:
        for spec in self.queues:
            if spec.name == name:
                return spec
        known = ", ".join(q.name for q in self.queues)
        raise KeyError(f"unknown queue {name!r} (known: {known})")

    def with_prefix(self, prefix: str) -> Topology:
        return Topology(self.topic_name, self.queues, prefix)


DEFAULT_TOPOLOGY: Final = Topology(
    topic_name="payment-events",
    queues=(
        QueueSpec("points", tuple(EventType)),  # every payment type and points_grant
        QueueSpec(
            "notifications",
            (
                EventType.AUTHORIZATION,
                EventType.CLEARING,
                EventType.CHARGEBACK,
                EventType.CHARGEBACK_REVERSAL,
                EventType.POINTS_GRANT,
            ),
        ),
    ),
)


def topology_for(prefix: str) -> Topology:
    return DEFAULT_TOPOLOGY.with_prefix(prefix)


def queue_policy(queue_arn: ArnRef, topic_arn: ArnRef) -> dict[str, Any]:
    """Only the topic may send to a consumer queue, and only over TLS."""
    return {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Sid": "AllowTopicOnly",
                "Effect": "Allow",
                "Principal": {"Service": "sns.amazonaws.com"},
                "Action": "sqs:SendMessage",
                "Resource": queue_arn,
                "Condition": {"ArnEquals": {"aws:SourceArn": topic_arn}},
            },
            {
                "Sid": "DenyInsecureTransport",
                "Effect": "Deny",
                "Principal": "*",
                "Action": "sqs:*",
                "Resource": queue_arn,
                "Condition": {"Bool": {"aws:SecureTransport": "false"}},
            },
        ],
    }


def redrive_policy(dlq_arn: ArnRef, max_receive_count: int) -> dict[str, Any]:
    return {"deadLetterTargetArn": dlq_arn, "maxReceiveCount": max_receive_count}


def delivery_redrive_policy(delivery_dlq_arn: ArnRef) -> dict[str, Any]:
    """A subscription's redrive policy: where SNS parks messages it could not deliver."""
    return {"deadLetterTargetArn": delivery_dlq_arn}
