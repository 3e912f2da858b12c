"""Create or update the topology on whatever endpoint the AWS settings point to.

Idempotent: every resource is looked up first and only differing attributes are written,
and the list of changes made is returned, so a second run reports (and does) nothing.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from infra.topology import (
    DLQ_RETENTION_SECONDS,
    FILTER_POLICY_SCOPE,
    LONG_POLL_SECONDS,
    SOURCE_RETENTION_SECONDS,
    QueueSpec,
    Topology,
    queue_policy,
    redrive_policy,
)

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient

TOPIC_KMS_KEY = "alias/aws/sns"


@dataclass(frozen=True)
class QueueOutputs:
    url: str
    arn: str
    dlq_url: str
    dlq_arn: str

    def as_json(self) -> dict[str, str]:
        return {"url": self.url, "arn": self.arn, "dlq_url": self.dlq_url, "dlq_arn": self.dlq_arn}


@dataclass
class ApplyResult:
    topic_arn: str = ""
    queues: dict[str, QueueOutputs] = field(default_factory=dict)
    changes: list[str] = field(default_factory=list)

    def as_json(self) -> dict[str, Any]:
        """The public shape of ``points infra apply --json`` (DESIGN §6)."""
        return {
            "topic_arn": self.topic_arn,
            "queues": {name: q.as_json() for name, q in self.queues.items()},
        }


def apply_topology(topology: Topology, sns: SNSClient, sqs: SQSClient) -> ApplyResult:
    result = ApplyResult()
    result.topic_arn = _ensure_topic(sns, topology.physical(topology.topic_name), result)
    for spec in topology.queues:
        result.queues[spec.name] = _ensure_queue_set(topology, spec, sns, sqs, result)
    return result


def _ensure_topic(sns: SNSClient, name: str, result: ApplyResult) -> str:
    existing = find_topic(sns, name)
    arn = existing or sns.create_topic(Name=name)["TopicArn"]
    if existing is None:
        result.changes.append(f"created topic {name}")
    attributes = sns.get_topic_attributes(TopicArn=arn)["Attributes"]
    if attributes.get("KmsMasterKeyId") != TOPIC_KMS_KEY:
        sns.set_topic_attributes(
            TopicArn=arn, AttributeName="KmsMasterKeyId", AttributeValue=TOPIC_KMS_KEY
        )
        result.changes.append(f"encrypted topic {name}")
    return arn


def find_topic(sns: SNSClient, name: str) -> str | None:
    for page in sns.get_paginator("list_topics").paginate():
        for topic in page.get("Topics", []):
            arn = topic.get("TopicArn", "")
            if arn.rsplit(":", 1)[-1] == name:
                return arn
    return None


def _ensure_queue_set(
    topology: Topology, spec: QueueSpec, sns: SNSClient, sqs: SQSClient, result: ApplyResult
) -> QueueOutputs:
    dlq_url, dlq_arn = _ensure_queue(
        sqs, topology.physical(spec.dlq_name), _dlq_attributes(), result
    )
    delivery_url, delivery_arn = _ensure_queue(
        sqs, topology.physical(spec.delivery_dlq_name), _dlq_attributes(), result
    )
    url, arn = _ensure_queue(sqs, topology.physical(spec.name), {}, result)
    source = _source_attributes(spec, arn, dlq_arn, result.topic_arn)
    _update_queue(sqs, url, topology.physical(spec.name), source, result)
    # SNS parks undeliverable messages in the delivery DLQ, so it must be allowed to send.
    _update_queue(
        sqs,
        delivery_url,
        topology.physical(spec.delivery_dlq_name),
        {"Policy": _json(queue_policy(delivery_arn, result.topic_arn))},
        result,
    )
    _ensure_subscription(sns, result.topic_arn, spec, arn, delivery_arn, result)
    return QueueOutputs(url=url, arn=arn, dlq_url=dlq_url, dlq_arn=dlq_arn)


def _dlq_attributes() -> dict[str, str]:
    return {
        "MessageRetentionPeriod": str(DLQ_RETENTION_SECONDS),
        "SqsManagedSseEnabled": "true",
    }


def _source_attributes(spec: QueueSpec, arn: str, dlq_arn: str, topic_arn: str) -> dict[str, str]:
    return {
        "MessageRetentionPeriod": str(SOURCE_RETENTION_SECONDS),
        "VisibilityTimeout": str(spec.visibility_timeout_seconds),
        "ReceiveMessageWaitTimeSeconds": str(LONG_POLL_SECONDS),
        "SqsManagedSseEnabled": "true",
        "RedrivePolicy": _json(redrive_policy(dlq_arn, spec.max_receive_count)),
        "Policy": _json(queue_policy(arn, topic_arn)),
    }


def _ensure_queue(
    sqs: SQSClient, name: str, attributes: dict[str, str], result: ApplyResult
) -> tuple[str, str]:
    try:
        url = sqs.get_queue_url(QueueName=name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        url = sqs.create_queue(QueueName=name, Attributes=attributes)["QueueUrl"]  # type: ignore[arg-type]
        result.changes.append(f"created queue {name}")
    else:
        _update_queue(sqs, url, name, attributes, result)
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def _update_queue(
    sqs: SQSClient, url: str, name: str, desired: dict[str, str], result: ApplyResult
) -> None:
    if not desired:
        return
    response = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
    actual: dict[str, str] = {str(k): v for k, v in response.get("Attributes", {}).items()}
    drift = {k: v for k, v in desired.items() if not same_attribute(v, actual.get(k))}
    if drift:
        sqs.set_queue_attributes(QueueUrl=url, Attributes=drift)  # type: ignore[arg-type]
        result.changes.append(f"updated queue {name}: {', '.join(sorted(drift))}")


def _ensure_subscription(
    sns: SNSClient,
    topic_arn: str,
    spec: QueueSpec,
    queue_arn: str,
    delivery_dlq_arn: str,
    result: ApplyResult,
) -> None:
    desired = {
        "RawMessageDelivery": "true",
        # The scope before the policy: SNS reads a policy in the scope already set.
        "FilterPolicyScope": FILTER_POLICY_SCOPE,
        "FilterPolicy": spec.filter_policy_json(),
        "RedrivePolicy": _json({"deadLetterTargetArn": delivery_dlq_arn}),
    }
    subscription_arn = _find_subscription(sns, topic_arn, queue_arn)
    if subscription_arn is None:
        sns.subscribe(
            TopicArn=topic_arn,
            Protocol="sqs",
            Endpoint=queue_arn,
            Attributes=desired,
            ReturnSubscriptionArn=True,
        )
        result.changes.append(f"subscribed queue {spec.name}")
        return
    actual = sns.get_subscription_attributes(SubscriptionArn=subscription_arn)["Attributes"]
    drift = [key for key, value in desired.items() if not same_attribute(value, actual.get(key))]
    if "FilterPolicyScope" in drift and "FilterPolicy" not in drift:
        # A policy is read in the scope current when it is set (moto keeps the old reading
        # otherwise): set it again after a scope change.
        drift.append("FilterPolicy")
    for key in desired:
        if key in drift:
            sns.set_subscription_attributes(
                SubscriptionArn=subscription_arn, AttributeName=key, AttributeValue=desired[key]
            )
            result.changes.append(f"updated subscription {spec.name}: {key}")


def _find_subscription(sns: SNSClient, topic_arn: str, queue_arn: str) -> str | None:
    for page in sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=topic_arn):
        for sub in page.get("Subscriptions", []):
            if sub.get("Endpoint") == queue_arn and sub.get("SubscriptionArn", "").count(":") > 5:
                return sub["SubscriptionArn"]
    return None


def same_attribute(desired: str, actual: str | None) -> bool:
    """Compare attribute values the way AWS means them: JSON by content, numbers as text."""
    if actual is None:
        return False
    if desired == actual:
        return True
    try:
        same: bool = _normalise(json.loads(desired)) == _normalise(json.loads(actual))
    except (ValueError, TypeError):
        return desired.lower() == actual.lower()
    return same


def _normalise(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _normalise(v) for k, v in value.items()}
    if isinstance(value, list):
        return sorted((_normalise(v) for v in value), key=json.dumps)
    if isinstance(value, bool):
        return str(value).lower()
    if isinstance(value, (int, float)):
        return str(value)
    return value


def _json(document: dict[str, Any]) -> str:
    return json.dumps(document, sort_keys=True, separators=(",", ":"))
