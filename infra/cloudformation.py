"""Render the topology declaration as a production CloudFormation template (DESIGN §7).

``points infra apply`` (infra/apply.py) and this module render the same
:class:`~infra.topology.Topology`: queue names, redrive and filter policies and queue
policies come from infra/topology.py and nowhere else. On top of the messaging this adds
what only a real account needs: ECS on Fargate for the workers, backlog-per-task
autoscaling, a scheduled ``points ledger expire``, alarms and least-privilege IAM.

Names carry a ``${ResourcePrefix}`` stack parameter (default: the prefix rendered with),
so one template deploys several stacks per account, exactly like ``--prefix`` does for
``infra apply``. Everything is built on demand; nothing runs at import time.
"""

from __future__ import annotations

import json
import re
from typing import Any, Final

from infra.apply import TOPIC_KMS_KEY
from infra.topology import (
    DLQ_RETENTION_SECONDS,
    LONG_POLL_SECONDS,
    SOURCE_RETENTION_SECONDS,
    QueueSpec,
    Topology,
    delivery_redrive_policy,
    queue_policy,
    redrive_policy,
)

Json = dict[str, Any]

PREFIX_PARAMETER: Final = "ResourcePrefix"
#: SIGTERM to SIGKILL: above the worker's 20 s shutdown grace, so in-flight batches finish.
STOP_TIMEOUT_SECONDS: Final = 30
#: The health check starts a Python process (~2 s on a shared core, more on 0.25 vCPU).
HEALTH_CHECK_TIMEOUT_SECONDS: Final = 10
#: Workers write their health file here; the root filesystem is read-only.
SCRATCH_VOLUME: Final = "tmp"
SCRATCH_PATH: Final = "/tmp"  # noqa: S108 - a path inside the container, not on this host
CONTAINER_INSIGHTS_NAMESPACE: Final = "ECS/ContainerInsights"
LOG_RETENTION_DAYS: Final = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731)
FARGATE_CPU: Final = ("256", "512", "1024", "2048", "4096")
#: Queues outlive the stack (deletion or replacement): messages in them are never lost.
RETAIN: Final = {"DeletionPolicy": "Retain", "UpdateReplacePolicy": "Retain"}
ALARM_TOPIC_CONDITION: Final = "HasAlarmTopic"
CUSTOMER_KEY_CONDITION: Final = "UsesCustomerManagedTopicKey"


# -- intrinsics and names -------------------------------------------------------------------


def ref(name: str) -> Json:
    return {"Ref": name}


def sub(text: str) -> Json:
    return {"Fn::Sub": text}


def get_att(resource: str, attribute: str) -> Json:
    return {"Fn::GetAtt": [resource, attribute]}


def logical_id(*parts: str) -> str:
    """CloudFormation logical ids are alphanumeric: ``points-dlq`` becomes ``PointsDlq``."""
    words = (w for part in parts for w in re.split(r"[^A-Za-z0-9]+", part) if w)
    return "".join(w[0].upper() + w[1:] for w in words)


def queue_id(name: str) -> str:
    """The logical id of the queue a declared (logical) queue name denotes."""
    return logical_id(name, "queue")


def physical_name(topology: Topology, name: str) -> Json:
    """A deployed name: the declaration's own ``physical()`` with the prefix as a parameter."""
    return sub(topology.with_prefix(f"${{{PREFIX_PARAMETER}}}").physical(name))


def _alarm_actions() -> Json:
    return {"Fn::If": [ALARM_TOPIC_CONDITION, [ref("AlarmTopicArn")], ref("AWS::NoValue")]}


def _assume_role(service: str, *, this_account_only: bool = True) -> Json:
    """Trust only the named AWS service and, where it sends ``aws:SourceAccount`` (ECS task
    roles, EventBridge), only on behalf of this account (confused-deputy protection)."""
    statement: Json = {
        "Effect": "Allow",
        "Principal": {"Service": service},
        "Action": "sts:AssumeRole",
    }
    if this_account_only:
        statement["Condition"] = {"StringEquals": {"aws:SourceAccount": ref("AWS::AccountId")}}
    return {"Version": "2012-10-17", "Statement": [statement]}


def _policy(name: str, *statements: Json) -> Json:
    return {
        "PolicyName": name,
        "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)},
    }


def _allow(sid: str, actions: list[str], resource: Any, **extra: Any) -> Json:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource, **extra}


# -- the template -----------------------------------------------------------------------------


def render_template(topology: Topology) -> Json:
    """The whole stack for ``topology``; deterministic, so re-rendering gives a no-op diff."""
    resources: Json = {}
    resources.update(_topic(topology))
    for spec in topology.queues:
        resources.update(_queue_set(topology, spec))
    resources.update(_shared_ecs())
    resources.update(_producer_policy())
    for spec in topology.queues:
        resources.update(_worker(spec))
        resources.update(_autoscaling(spec))
        resources.update(_queue_alarms(spec))
    resources.update(_scheduled_expiry())
    resources.update(_one_off_task("Migrate", "migrate", ["db", "upgrade"]))
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


# -- messaging: the declaration itself ---------------------------------------------------------


def _topic(topology: Topology) -> Json:
    return {
        "Topic": {
            "Type": "AWS::SNS::Topic",
            "Properties": {
                "TopicName": physical_name(topology, topology.topic_name),
                "KmsMasterKeyId": ref("TopicKmsKeyId"),
            },
        }
    }


def _queue_set(topology: Topology, spec: QueueSpec) -> Json:
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
                "FilterPolicyScope": "MessageAttributes",
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


def _producer_policy() -> Json:
    """Attach to payment services: publish to this topic, nothing else."""
    use_key = _allow(
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
                        _allow("PublishPaymentEvents", ["sns:Publish"], ref("Topic")),
                        # The AWS managed key's own policy already admits callers via SNS.
                        {"Fn::If": [CUSTOMER_KEY_CONDITION, use_key, ref("AWS::NoValue")]},
                    ],
                },
            },
        }
    }


# -- ECS ---------------------------------------------------------------------------------------


def _shared_ecs() -> Json:
    return {
        "Cluster": {
            "Type": "AWS::ECS::Cluster",
            "Properties": {
                # RunningTaskCount (autoscaling, the no-task alarm) is a Container Insights metric.
                "ClusterSettings": [{"Name": "containerInsights", "Value": "enabled"}],
            },
        },
        "LogGroup": {
            "Type": "AWS::Logs::LogGroup",
            # Its name is fixed per stack: a retained group would block re-creating the stack.
            "DeletionPolicy": "Delete",
            "UpdateReplacePolicy": "Delete",
            "Properties": {
                "LogGroupName": sub("/ecs/${AWS::StackName}"),
                "RetentionInDays": ref("LogRetentionDays"),
            },
        },
        "TaskExecutionRole": _execution_role(),
    }


def _execution_role() -> Json:
    """What ECS itself needs to start a task: the image, the log streams, the DB secret."""
    log_streams = sub(
        "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}:log-group:${LogGroup}:*"
    )
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            # ECS documents the source-account condition for task roles, not execution roles.
            "AssumeRolePolicyDocument": _assume_role(
                "ecs-tasks.amazonaws.com", this_account_only=False
            ),
            "Policies": [
                _policy(
                    "start-tasks",
                    _allow(
                        "PullImage",
                        [
                            "ecr:BatchCheckLayerAvailability",
                            "ecr:BatchGetImage",
                            "ecr:GetDownloadUrlForLayer",
                        ],
                        ref("ImageRepositoryArn"),
                    ),
                    # GetAuthorizationToken has no resource-level permissions: "*" is the only form.
                    _allow("EcrAuthorizationToken", ["ecr:GetAuthorizationToken"], "*"),
                    # Stream names contain the random task id, so only this group's streams, "*".
                    _allow(
                        "WriteOwnLogStreams",
                        ["logs:CreateLogStream", "logs:PutLogEvents"],
                        log_streams,
                    ),
                    _allow(
                        "ReadDatabaseSecret",
                        ["secretsmanager:GetSecretValue"],
                        ref("DatabaseSecretArn"),
                    ),
                )
            ],
        },
    }


def _container(name: str, command: list[str], health_check: Json | None = None) -> Json:
    container: Json = {
        "Name": name,
        "Image": ref("Image"),
        "Essential": True,
        "EntryPoint": ["points"],
        "Command": command,
        "StopTimeout": STOP_TIMEOUT_SECONDS,
        "ReadonlyRootFilesystem": True,
        "MountPoints": [{"SourceVolume": SCRATCH_VOLUME, "ContainerPath": SCRATCH_PATH}],
        "Environment": [
            {"Name": "POINTS_RESOURCE_PREFIX", "Value": ref(PREFIX_PARAMETER)},
            {"Name": "PYTHONUNBUFFERED", "Value": "1"},
        ],
        "Secrets": [{"Name": "POINTS_DATABASE_URL", "ValueFrom": ref("DatabaseSecretArn")}],
        "LogConfiguration": {
            "LogDriver": "awslogs",
            "Options": {
                "awslogs-group": ref("LogGroup"),
                "awslogs-region": ref("AWS::Region"),
                "awslogs-stream-prefix": name,
            },
        },
    }
    if health_check is not None:
        container["HealthCheck"] = health_check
    return container


def _task_definition(family: str, container: Json, task_role: str | None) -> Json:
    properties: Json = {
        "Family": sub(f"${{AWS::StackName}}-{family}"),
        "RequiresCompatibilities": ["FARGATE"],
        "NetworkMode": "awsvpc",
        "Cpu": ref("TaskCpu"),
        "Memory": ref("TaskMemory"),
        "RuntimePlatform": {"OperatingSystemFamily": "LINUX", "CpuArchitecture": "X86_64"},
        "ExecutionRoleArn": get_att("TaskExecutionRole", "Arn"),
        "Volumes": [{"Name": SCRATCH_VOLUME}],
        "ContainerDefinitions": [container],
    }
    if task_role is not None:
        properties["TaskRoleArn"] = get_att(task_role, "Arn")
    return {"Type": "AWS::ECS::TaskDefinition", "Properties": properties}


def _network() -> Json:
    return {
        "Subnets": ref("Subnets"),
        "SecurityGroups": ref("SecurityGroups"),
        "AssignPublicIp": "DISABLED",
    }


def _worker(spec: QueueSpec) -> Json:
    """Task role, task definition and service of the worker consuming ``spec``'s queue."""
    worker = logical_id(spec.name)
    health = {
        "Command": ["CMD-SHELL", f"points worker --queue {spec.name} --healthcheck || exit 1"],
        "Interval": 30,
        "Timeout": HEALTH_CHECK_TIMEOUT_SECONDS,
        "Retries": 3,
        "StartPeriod": 60,
    }
    container = _container("worker", ["worker", "--queue", spec.name], health)
    return {
        f"{worker}TaskRole": _worker_task_role(spec),
        f"{worker}TaskDefinition": _task_definition(
            f"{spec.name}-worker", container, f"{worker}TaskRole"
        ),
        f"{worker}Service": {
            "Type": "AWS::ECS::Service",
            "Properties": {
                "Cluster": ref("Cluster"),
                "LaunchType": "FARGATE",
                "PlatformVersion": "LATEST",
                "TaskDefinition": ref(f"{worker}TaskDefinition"),
                "DesiredCount": ref(f"{worker}DesiredCount"),
                "NetworkConfiguration": {"AwsvpcConfiguration": _network()},
                "DeploymentConfiguration": {
                    "DeploymentCircuitBreaker": {"Enable": True, "Rollback": True},
                    "MinimumHealthyPercent": 100,
                    "MaximumPercent": 200,
                },
                "EnableECSManagedTags": True,
                "PropagateTags": "SERVICE",
            },
        },
    }


def _worker_task_role(spec: QueueSpec) -> Json:
    """Consume its own queue, dead-letter to its own DLQ; metrics go out as EMF log lines."""
    return {
        "Type": "AWS::IAM::Role",
        "Properties": {
            "AssumeRolePolicyDocument": _assume_role("ecs-tasks.amazonaws.com"),
            "Policies": [
                _policy(
                    f"consume-{spec.name}",
                    _allow(
                        "ConsumeOwnQueue",
                        [
                            "sqs:ChangeMessageVisibility",
                            "sqs:DeleteMessage",
                            "sqs:GetQueueAttributes",
                            "sqs:GetQueueUrl",
                            "sqs:ReceiveMessage",
                        ],
                        get_att(queue_id(spec.name), "Arn"),
                    ),
                    _allow(
                        "DeadLetterToOwnDlq",
                        ["sqs:GetQueueUrl", "sqs:SendMessage"],
                        get_att(queue_id(spec.dlq_name), "Arn"),
                    ),
                )
            ],
        },
    }


def _autoscaling(spec: QueueSpec) -> Json:
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


def _scheduled_expiry() -> Json:
    """``points ledger expire`` on a schedule: EventBridge runs a one-off Fargate task."""
    return {
        **_one_off_task("Expire", "ledger-expire", ["ledger", "expire"]),
        "ScheduleRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": _assume_role("events.amazonaws.com"),
                "Policies": [
                    _policy(
                        "run-ledger-expire",
                        _allow(
                            "RunExpireTask",
                            ["ecs:RunTask"],
                            ref("ExpireTaskDefinition"),
                            Condition={"ArnEquals": {"ecs:cluster": get_att("Cluster", "Arn")}},
                        ),
                        _allow(
                            "PassExecutionRole",
                            ["iam:PassRole"],
                            get_att("TaskExecutionRole", "Arn"),
                            Condition={
                                "StringEquals": {"iam:PassedToService": "ecs-tasks.amazonaws.com"}
                            },
                        ),
                    )
                ],
            },
        },
        "ExpireScheduleRule": {
            "Type": "AWS::Events::Rule",
            "Properties": {
                "Description": "Release provisional points of stale authorizations.",
                "ScheduleExpression": ref("ExpireSchedule"),
                "State": "ENABLED",
                "Targets": [
                    {
                        "Id": "ledger-expire",
                        "Arn": get_att("Cluster", "Arn"),
                        "RoleArn": get_att("ScheduleRole", "Arn"),
                        "EcsParameters": {
                            "TaskDefinitionArn": ref("ExpireTaskDefinition"),
                            "TaskCount": 1,
                            "LaunchType": "FARGATE",
                            "PlatformVersion": "LATEST",
                            "NetworkConfiguration": {"AwsVpcConfiguration": _network()},
                        },
                        "RetryPolicy": {
                            "MaximumRetryAttempts": 2,
                            "MaximumEventAgeInSeconds": 3600,
                        },
                    }
                ],
            },
        },
    }


def _one_off_task(name: str, family: str, command: list[str]) -> Json:
    """A task that only talks to the database: no task role, so no AWS permissions at all."""
    container = _container(family, command)
    return {f"{name}TaskDefinition": _task_definition(family, container, task_role=None)}


# -- alarms ------------------------------------------------------------------------------------


def _queue_alarms(spec: QueueSpec) -> Json:
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
            "AlarmActions": _alarm_actions(),
            "OKActions": _alarm_actions(),
        },
    }


# -- outputs -----------------------------------------------------------------------------------


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


# -- serialisation -----------------------------------------------------------------------------


def to_json(template: Json) -> str:
    return json.dumps(template, indent=2) + "\n"


def to_yaml(template: Json) -> str:
    """Block-style YAML without a YAML dependency: every string is JSON-quoted, which YAML
    reads identically, so intrinsics stay in their long ``Fn::`` form and nothing is coerced.
    """
    return "\n".join(_yaml_lines(template, 0)) + "\n"


def _yaml_lines(value: Any, indent: int) -> list[str]:
    pad = " " * indent
    if isinstance(value, dict) and value:
        lines = []
        for key, item in value.items():
            label = f"{pad}{_yaml_key(key)}:"
            if _is_scalar(item):
                lines.append(f"{label} {_yaml_scalar(item)}")
            else:
                lines.append(label)
                lines.extend(_yaml_lines(item, indent + 2))
        return lines
    if isinstance(value, list) and value:
        lines = []
        for item in value:
            if _is_scalar(item):
                lines.append(f"{pad}- {_yaml_scalar(item)}")
            else:
                nested = _yaml_lines(item, indent + 2)
                lines.append(f"{pad}- {nested[0].lstrip()}")
                lines.extend(nested[1:])
        return lines
    return [f"{pad}{_yaml_scalar(value)}"]


def _is_scalar(value: Any) -> bool:
    return not isinstance(value, (dict, list)) or not value


def _yaml_key(key: str) -> str:
    return key if re.fullmatch(r"[A-Za-z0-9_]+", key) else json.dumps(key)


def _yaml_scalar(value: Any) -> str:
    if isinstance(value, dict):
        return "{}"
    if isinstance(value, list):
        return "[]"
    return json.dumps(value)
