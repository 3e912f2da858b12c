"""ECS on Fargate: the cluster, log group, roles, task definitions, worker services and the
scheduled ``points ledger expire``."""

from __future__ import annotations

from typing import Final

from infra.cloudformation.names import (
    PREFIX_PARAMETER,
    Json,
    allow,
    assume_role,
    get_att,
    logical_id,
    policy,
    queue_id,
    ref,
    sub,
)
from infra.topology import QueueSpec

#: SIGTERM to SIGKILL: above the worker's 20 s shutdown grace, so in-flight batches finish.
STOP_TIMEOUT_SECONDS: Final = 30
#: The health check starts a Python process (~2 s on a shared core, more on 0.25 vCPU).
HEALTH_CHECK_TIMEOUT_SECONDS: Final = 10
#: Workers write their health file here; the root filesystem is read-only.
SCRATCH_VOLUME: Final = "tmp"
SCRATCH_PATH: Final = "/tmp"  # noqa: S108 - a path inside the container, not on this host
LOG_RETENTION_DAYS: Final = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731)
FARGATE_CPU: Final = ("256", "512", "1024", "2048", "4096")


def shared_ecs() -> Json:
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
            "AssumeRolePolicyDocument": assume_role(
                "ecs-tasks.amazonaws.com", this_account_only=False
            ),
            "Policies": [
                policy(
                    "start-tasks",
                    allow(
                        "PullImage",
                        [
                            "ecr:BatchCheckLayerAvailability",
                            "ecr:BatchGetImage",
                            "ecr:GetDownloadUrlForLayer",
                        ],
                        ref("ImageRepositoryArn"),
                    ),
                    # GetAuthorizationToken has no resource-level permissions: "*" is the only form.
                    allow("EcrAuthorizationToken", ["ecr:GetAuthorizationToken"], "*"),
                    # Stream names contain the random task id, so only this group's streams, "*".
                    allow(
                        "WriteOwnLogStreams",
                        ["logs:CreateLogStream", "logs:PutLogEvents"],
                        log_streams,
                    ),
                    allow(
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


def worker_resources(spec: QueueSpec) -> Json:
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
            "AssumeRolePolicyDocument": assume_role("ecs-tasks.amazonaws.com"),
            "Policies": [
                policy(
                    f"consume-{spec.name}",
                    allow(
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
                    allow(
                        "DeadLetterToOwnDlq",
                        ["sqs:GetQueueUrl", "sqs:SendMessage"],
                        get_att(queue_id(spec.dlq_name), "Arn"),
                    ),
                )
            ],
        },
    }


def scheduled_expiry() -> Json:
    """``points ledger expire`` on a schedule: EventBridge runs a one-off Fargate task."""
    return {
        **one_off_task("Expire", "ledger-expire", ["ledger", "expire"]),
        "ScheduleRole": {
            "Type": "AWS::IAM::Role",
            "Properties": {
                "AssumeRolePolicyDocument": assume_role("events.amazonaws.com"),
                "Policies": [
                    policy(
                        "run-ledger-expire",
                        allow(
                            "RunExpireTask",
                            ["ecs:RunTask"],
                            ref("ExpireTaskDefinition"),
                            Condition={"ArnEquals": {"ecs:cluster": get_att("Cluster", "Arn")}},
                        ),
                        allow(
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


def one_off_task(name: str, family: str, command: list[str]) -> Json:
    """A task that only talks to the database: no task role, so no AWS permissions at all."""
    container = _container(family, command)
    return {f"{name}TaskDefinition": _task_definition(family, container, task_role=None)}
