"""The whole stack: resources of every family, parameters, conditions and outputs."""

from __future__ import annotations

from infra.apply import TOPIC_KMS_KEY
from infra.cloudformation.alarms import queue_alarms, topic_alarms
from infra.cloudformation.autoscaling import backlog_autoscaling
from infra.cloudformation.dashboard import dashboard
from infra.cloudformation.ecs import (
    FARGATE_CPU,
    LOG_RETENTION_DAYS,
    one_off_task,
    scheduled_expiry,
    shared_ecs,
    worker_resources,
)
from infra.cloudformation.messaging import producer_policy, queue_set, sns_topic
from infra.cloudformation.names import (
    ALARM_TOPIC_CONDITION,
    CUSTOMER_KEY_CONDITION,
    PREFIX_PARAMETER,
    Json,
    logical_id,
    queue_id,
    ref,
)
from infra.topology import QueueSpec, Topology


def render_template(topology: Topology) -> Json:
    """The whole stack for ``topology``; deterministic, so re-rendering gives a no-op diff."""
    resources: Json = {}
    resources.update(sns_topic(topology))
    for spec in topology.queues:
        resources.update(queue_set(topology, spec))
    resources.update(shared_ecs())
    resources.update(producer_policy())
    for spec in topology.queues:
        resources.update(worker_resources(spec))
        resources.update(backlog_autoscaling(spec))
        resources.update(queue_alarms(spec))
    resources.update(topic_alarms())
    resources.update(scheduled_expiry())
    resources.update(one_off_task("Migrate", "migrate", ["db", "upgrade"]))
    resources.update(dashboard(topology))
    return {
        "AWSTemplateFormatVersion": "2010-09-09",
        "Description": (
            "points-pipeline: SNS/SQS topology, ECS Fargate workers, autoscaling, alarms. "
            "Rendered by `points infra template` from infra/topology.py; do not edit by hand."
        ),
        "Parameters": _parameters(topology),
        "Conditions": _conditions(),
        "Resources": resources,
        "Outputs": _outputs(topology),
    }


def _parameters(topology: Topology) -> Json:
    parameters: Json = {
        PREFIX_PARAMETER: {
            "Type": "String",
            "Default": topology.prefix,
            "AllowedPattern": "^[A-Za-z0-9_-]{0,40}$",
            "Description": "Prepended to topic and queue names (POINTS_RESOURCE_PREFIX).",
        },
        "Image": {
            "Type": "String",
            "MinLength": 1,
            "Description": "Container image with the `points` console script (ECR URI).",
        },
        "ImageRepositoryArn": {
            "Type": "String",
            "AllowedPattern": "^arn:aws[a-z-]*:ecr:[a-z0-9-]+:[0-9]{12}:repository/[a-z0-9._/-]+$",
            "Description": "ARN of the ECR repository holding Image (scopes the pull permission).",
        },
        "Subnets": {
            "Type": "List<AWS::EC2::Subnet::Id>",
            "Description": "Private subnets for the tasks (with NAT or VPC endpoints).",
        },
        "SecurityGroups": {
            "Type": "List<AWS::EC2::SecurityGroup::Id>",
            "Description": "Security groups for the tasks (egress to AWS APIs and the database).",
        },
        "DatabaseSecretArn": {
            "Type": "String",
            "AllowedPattern": "^arn:aws[a-z-]*:secretsmanager:[a-z0-9-]+:[0-9]{12}:secret:.+$",
            "Description": "Secrets Manager secret whose value is POINTS_DATABASE_URL.",
        },
        "TopicKmsKeyId": {
            "Type": "String",
            "Default": TOPIC_KMS_KEY,
            "AllowedPattern": (
                "^(alias/aws/sns|arn:aws[a-z-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[A-Za-z0-9-]+)$"
            ),
            "Description": "KMS key of the topic: the AWS managed alias/aws/sns or a CMK ARN.",
        },
        "TaskCpu": {"Type": "String", "Default": "256", "AllowedValues": list(FARGATE_CPU)},
        "TaskMemory": {
            "Type": "String",
            "Default": "512",
            "AllowedPattern": "^[0-9]+$",
            "Description": "MiB; must be a valid Fargate combination with TaskCpu.",
        },
        "LogRetentionDays": {
            "Type": "Number",
            "Default": 30,
            "AllowedValues": list(LOG_RETENTION_DAYS),
        },
        "BacklogPerTaskTarget": {
            "Type": "Number",
            "Default": 100,
            "MinValue": 1,
            "Description": "Visible messages per running task that autoscaling aims for.",
        },
        "OldestMessageAgeThresholdSeconds": {
            "Type": "Number",
            "Default": 600,
            "MinValue": 60,
            "Description": "Alarm when a source queue's oldest message is older than this.",
        },
        "AlarmTopicArn": {
            "Type": "String",
            "Default": "",
            "Description": "SNS topic notified by the alarms (empty: alarms only).",
        },
        "ExpireSchedule": {
            "Type": "String",
            "Default": "cron(0 18 * * ? *)",
            "AllowedPattern": "^(rate|cron)\\(.+\\)$",
            "Description": "When `points ledger expire` runs (default 03:00 JST daily).",
        },
    }
    for spec in topology.queues:
        parameters.update(_worker_count_parameters(spec))
    return parameters


def _worker_count_parameters(spec: QueueSpec) -> Json:
    worker = logical_id(spec.name)
    return {
        f"{worker}DesiredCount": {"Type": "Number", "Default": 1, "MinValue": 0},
        f"{worker}MinCount": {
            "Type": "Number",
            "Default": 1,
            "MinValue": 0,
            "Description": "Keep >= 1: backlog per task is undefined with no running task.",
        },
        f"{worker}MaxCount": {"Type": "Number", "Default": 4, "MinValue": 1},
    }


def _conditions() -> Json:
    return {
        ALARM_TOPIC_CONDITION: {"Fn::Not": [{"Fn::Equals": [ref("AlarmTopicArn"), ""]}]},
        CUSTOMER_KEY_CONDITION: {
            "Fn::Not": [{"Fn::Equals": [ref("TopicKmsKeyId"), TOPIC_KMS_KEY]}]
        },
    }


def _outputs(topology: Topology) -> Json:
    outputs: Json = {
        "TopicArn": _output(ref("Topic"), "Set as POINTS_TOPIC_ARN for producers."),
        "ProducerPolicyArn": _output(ref("ProducerPolicy"), "Attach to producer roles."),
        "ClusterName": _output(ref("Cluster"), "ECS cluster of the workers."),
        "MigrateTaskDefinitionArn": _output(
            ref("MigrateTaskDefinition"), "Run once per release: `points db upgrade`."
        ),
    }
    for spec in topology.queues:
        worker = logical_id(spec.name)
        outputs[f"{worker}QueueUrl"] = _output(ref(queue_id(spec.name)), f"{spec.name} queue")
        outputs[f"{worker}DlqUrl"] = _output(ref(queue_id(spec.dlq_name)), f"{spec.dlq_name}")
    return outputs


def _output(value: Json, description: str) -> Json:
    return {"Description": description, "Value": value}
