"""Messaging, the declaration itself: the topic, each queue set and the producer policy."""

from __future__ import annotations

from typing import Final

from infra.cloudformation.names import (
    CUSTOMER_KEY_CONDITION,
    Json,
    allow,
    get_att,
    logical_id,
    physical_name,
    queue_id,
    ref,
    sub,
)
from infra.topology import (
    DLQ_RETENTION_SECONDS,
    FILTER_POLICY_SCOPE,
    LONG_POLL_SECONDS,
    SOURCE_RETENTION_SECONDS,
    QueueSpec,
    Topology,
    delivery_redrive_policy,
    queue_policy,
    redrive_policy,
)

#: Queues outlive the stack (deletion or replacement): messages in them are never lost.
RETAIN: Final = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}


def sns_topic(topology: Topology) -> Json:
    return {
        "Topic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "TopicName": physical_name(topology, topology.topic_name),
                "KmsMasterKeyId": ref("TopicKmsKeyId"),
            },
        }
    }


def queue_set(topology: Topology, spec: QueueSpec) -> Json:
    """Source queue, its DLQ and delivery DLQ, their policies and the subscription."""
    source, dlq, delivery = (
        queue_id(spec.name),
        queue_id(spec.dlq_name),
        queue_id(spec.delivery_dlq_name),
    )
    return {
        dlq: _dlq(topology, spec.dlq_name),
        delivery: _dlq(topology, spec.delivery_dlq_name),
        source: {
            "Type": "AWS::SQS::Queue",
            **RETAIN,
            "Properties": {
                "QueueName": physical_name(topology, spec.name),
                "MessageRetentionPeriod": SOURCE_RETENTION_SECONDS,
                "VisibilityTimeout": spec.visibility_timeout_seconds,
                "ReceiveMessageWaitTimeSeconds": LONG_POLL_SECONDS,
                "SqsManagedSseEnabled": True,
                "RedrivePolicy": redrive_policy(get_att(dlq, "Arn"), spec.max_receive_count),
            },
        },
        # Only the topic may send; the delivery DLQ too, since SNS itself parks messages there.
        logical_id(spec.name, "queue-policy"): _topic_only_policy(source),
        logical_id(spec.delivery_dlq_name, "policy"): _topic_only_policy(delivery),
        logical_id(spec.name, "subscription"): {
            "Type": "AWS::SNS::Subscription",
            "Properties": {
                "TopicArn": ref("Topic"),
                "Protocol": "sqs",
                "Endpoint": get_att(source, "Arn"),
                "RawMessageDelivery": True,
                "FilterPolicyScope": FILTER_POLICY_SCOPE,
                "FilterPolicy": spec.filter_policy(),
                "RedrivePolicy": delivery_redrive_policy(get_att(delivery, "Arn")),
            },
        },
    }


def _dlq(topology: Topology, name: str) -> Json:
    return {
        "Type": "AWS::SQS::Queue",
        **RETAIN,
        "Properties": {
            "QueueName": physical_name(topology, name),
            "MessageRetentionPeriod": DLQ_RETENTION_SECONDS,
            "SqsManagedSseEnabled": True,
        },
    }


def _topic_only_policy(queue: str) -> Json:
    return {
        "Type": "AWS::SQS::QueuePolicy",
        "Properties": {
            "Queues": [ref(queue)],
            "PolicyDocument": queue_policy(get_att(queue, "Arn"), ref("Topic")),
        },
    }


def producer_policy() -> Json:
    """Attach to payment services: publish to this topic, nothing else."""
    use_key = allow(
        "UseTopicKey",
        ["kms:Decrypt", "kms:GenerateDataKey"],
        ref("TopicKmsKeyId"),
        Condition={"StringEquals": {"kms:ViaService": sub("sns.${AWS::Region}.amazonaws.com")}},
    )
    return {
        "ProducerPolicy": {
            "Type": "AWS::IAM::ManagedPolicy",
            "Properties": {
                "Description": "Publish payment events to the points-pipeline topic only.",
                "PolicyDocument": {
                    "Version": "2012-10-17",
                    "Statement": [
                        allow("PublishPaymentEvents", ["sns:Publish"], ref("Topic")),
                        # The AWS managed key's own policy already admits callers via SNS.
                        {"Fn::If": [CUSTOMER_KEY_CONDITION, use_key, ref("AWS::NoValue")]},
                    ],
                },
            },
        }
    }
