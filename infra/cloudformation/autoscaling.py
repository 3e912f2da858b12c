"""Backlog-per-task target tracking of each worker service."""

from __future__ import annotations

from infra.cloudformation.names import (
    CONTAINER_INSIGHTS_NAMESPACE,
    Json,
    get_att,
    logical_id,
    queue_id,
    ref,
    sub,
)
from infra.topology import QueueSpec


def backlog_autoscaling(spec: QueueSpec) -> Json:
    """Target tracking on visible messages ÷ running tasks (metric math, no custom metric)."""
    worker = logical_id(spec.name)
    service = f"{worker}Service"
    visible = {
        "Namespace": "AWS/SQS",
        "MetricName": "ApproximateNumberOfMessagesVisible",
        "Dimensions": [{"Name": "QueueName", "Value": get_att(queue_id(spec.name), "QueueName")}],
    }
    running = {
        "Namespace": CONTAINER_INSIGHTS_NAMESPACE,
        "MetricName": "RunningTaskCount",
        "Dimensions": [
            {"Name": "ClusterName", "Value": ref("Cluster")},
            {"Name": "ServiceName", "Value": get_att(service, "Name")},
        ],
    }
    return {
        f"{worker}ScalableTarget": {
            "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
            "Properties": {
                "ServiceNamespace": "ecs",
                "ScalableDimension": "ecs:service:DesiredCount",
                "ResourceId": sub(f"service/${{Cluster}}/${{{service}.Name}}"),
                "MinCapacity": ref(f"{worker}MinCount"),
                "MaxCapacity": ref(f"{worker}MaxCount"),
            },
        },
        f"{worker}BacklogScalingPolicy": {
            "Type": "AWS::ApplicationAutoScaling::ScalingPolicy",
            "Properties": {
                "PolicyName": sub(f"${{AWS::StackName}}-{spec.name}-backlog-per-task"),
                "PolicyType": "TargetTrackingScaling",
                "ScalingTargetId": ref(f"{worker}ScalableTarget"),
                "TargetTrackingScalingPolicyConfiguration": {
                    "TargetValue": ref("BacklogPerTaskTarget"),
                    "ScaleOutCooldown": 60,
                    "ScaleInCooldown": 300,
                    "CustomizedMetricSpecification": {
                        "Metrics": [
                            {
                                "Id": "visible",
                                "MetricStat": {"Metric": visible, "Stat": "Sum"},
                                "ReturnData": False,
                            },
                            {
                                "Id": "running",
                                "MetricStat": {"Metric": running, "Stat": "Average"},
                                "ReturnData": False,
                            },
                            {
                                "Id": "backlog_per_task",
                                "Label": "Visible messages per running task",
                                "Expression": "visible / running",
                                "ReturnData": True,
                            },
                        ]
                    },
                },
            },
        },
    }
