"""Intrinsic functions, logical and physical names, IAM statement helpers and the constants
shared by several resource families."""

from __future__ import annotations

import re
from typing import Any, Final

from infra.topology import Topology

Json = dict[str, Any]

PREFIX_PARAMETER: Final = "ResourcePrefix"
CONTAINER_INSIGHTS_NAMESPACE: Final = "ECS/ContainerInsights"
ALARM_TOPIC_CONDITION: Final = "HasAlarmTopic"
CUSTOMER_KEY_CONDITION: Final = "UsesCustomerManagedTopicKey"


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


def alarm_actions() -> Json:
    return {"Fn::If": [ALARM_TOPIC_CONDITION, [ref("AlarmTopicArn")], ref("AWS::NoValue")]}


def assume_role(service: str, *, this_account_only: bool = True) -> Json:
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


def policy(name: str, *statements: Json) -> Json:
    return {
        "PolicyName": name,
        "PolicyDocument": {"Version": "2012-10-17", "Statement": list(statements)},
    }


def allow(sid: str, actions: list[str], resource: Any, **extra: Any) -> Json:
    return {"Sid": sid, "Effect": "Allow", "Action": actions, "Resource": resource, **extra}
