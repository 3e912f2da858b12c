"""CloudWatch alarms: DLQ depth, oldest message age, no running worker, unroutable bodies."""

from __future__ import annotations

from typing import Any

from infra.cloudformation.names import (
    CONTAINER_INSIGHTS_NAMESPACE,
    Json,
    alarm_actions,
    get_att,
    logical_id,
    queue_id,
    ref,
    sub,
)
from infra.topology import QueueSpec


def queue_alarms(spec: QueueSpec) -> Json:
    worker = logical_id(spec.name)
    alarms = {
        logical_id(dlq, "depth-alarm"): _dlq_depth_alarm(dlq)
        for dlq in (spec.dlq_name, spec.delivery_dlq_name)
    }
    alarms[f"{worker}OldestMessageAlarm"] = _alarm(
        f"{spec.name}-oldest-message-age",
        f"Messages on {spec.name} wait longer than the threshold: workers are stuck or too "
        "few (check the service, its logs and the database).",
        metric=("AWS/SQS", "ApproximateAgeOfOldestMessage", "Maximum"),
        dimensions=[{"Name": "QueueName", "Value": get_att(queue_id(spec.name), "QueueName")}],
        comparison=("GreaterThanThreshold", ref("OldestMessageAgeThresholdSeconds")),
        evaluation_periods=5,
        missing="notBreaching",
    )
    alarms[f"{worker}NoRunningTasksAlarm"] = _alarm(
        f"{spec.name}-worker-not-running",
        f"No {spec.name} worker task is running: nothing consumes the queue.",
        metric=(CONTAINER_INSIGHTS_NAMESPACE, "RunningTaskCount", "Minimum"),
        dimensions=[
            {"Name": "ClusterName", "Value": ref("Cluster")},
            {"Name": "ServiceName", "Value": get_att(f"{worker}Service", "Name")},
        ],
        comparison=("LessThanThreshold", 1),
        evaluation_periods=3,
        missing="breaching",
    )
    return alarms


def topic_alarms() -> Json:
    """Subscriptions filter on the body, which SNS reads only when it is a JSON object: any
    other body reaches no queue and no DLQ, so SNS's own count of them must be loud."""
    return {
        "TopicInvalidMessageBodyAlarm": _alarm(
            "topic-invalid-message-body",
            "A producer published a body that is not a JSON object: no subscription could "
            "route it and it is in no queue. Find the producer; its events must be re-sent.",
            metric=("AWS/SNS", "NumberOfNotificationsFilteredOut-InvalidMessageBody", "Sum"),
            dimensions=[{"Name": "TopicName", "Value": get_att("Topic", "TopicName")}],
            comparison=("GreaterThanThreshold", 0),
            evaluation_periods=1,
            missing="notBreaching",
        )
    }


def _dlq_depth_alarm(dlq_name: str) -> Json:
    return _alarm(
        f"{dlq_name}-depth",
        f"{dlq_name} holds messages: inspect with `points dlq show`, fix the cause, "
        "then `points dlq redrive`.",
        metric=("AWS/SQS", "ApproximateNumberOfMessagesVisible", "Maximum"),
        dimensions=[{"Name": "QueueName", "Value": get_att(queue_id(dlq_name), "QueueName")}],
        comparison=("GreaterThanThreshold", 0),
        evaluation_periods=1,
        missing="notBreaching",
    )


def _alarm(
    name: str,
    description: str,
    *,
    metric: tuple[str, str, str],
    dimensions: list[Json],
    comparison: tuple[str, Any],
    evaluation_periods: int,
    missing: str,
) -> Json:
    namespace, metric_name, statistic = metric
    operator, threshold = comparison
    return {
        "Type": "AWS::CloudWatch::Alarm",
        "Properties": {
            "AlarmName": sub(f"${{AWS::StackName}}-{name}"),
            "AlarmDescription": description,
            "Namespace": namespace,
            "MetricName": metric_name,
            "Dimensions": dimensions,
            "Statistic": statistic,
            "Period": 60,
            "EvaluationPeriods": evaluation_periods,
            "ComparisonOperator": operator,
            "Threshold": threshold,
            "TreatMissingData": missing,
            "AlarmActions": alarm_actions(),
            "OKActions": alarm_actions(),
        },
    }
