"""The production CloudFormation template: lint-clean, encrypted, dead-lettered, least privilege.

The guards below (wildcards, encryption, dead-letter coverage) are functions over any
template, and each is also shown to catch a broken template, so a green run means they
looked, not that they were blind.
"""

from __future__ import annotations

import copy
import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from cfnlint.api import lint
from cfnlint.decode.decode import decode_str
from typer.testing import CliRunner, Result

from infra.cloudformation import logical_id, queue_id, render_template, to_json, to_yaml
from infra.settings import Config
from infra.topology import DEFAULT_TOPOLOGY, QueueSpec, Topology, queue_policy, topology_for
from ops.commands import infra
from schemas.events import EventType

Json = dict[str, Any]
LINT_REGIONS = ["ap-northeast-1", "us-east-1"]

#: The only wildcards a grant may carry, each pinned to its statement, actions and resource.
DOCUMENTED_WILDCARDS: dict[str, tuple[frozenset[str], Any, str]] = {
    "EcrAuthorizationToken": (
        frozenset({"ecr:GetAuthorizationToken"}),
        "*",
        "ecr:GetAuthorizationToken has no resource-level permissions: AWS accepts only '*'.",
    ),
    "WriteOwnLogStreams": (
        frozenset({"logs:CreateLogStream", "logs:PutLogEvents"}),
        {
            "Fn::Sub": "arn:${AWS::Partition}:logs:${AWS::Region}:${AWS::AccountId}"
            ":log-group:${LogGroup}:*"
        },
        "awslogs names streams after the random task id: only this stack's group, any stream.",
    ),
}


@pytest.fixture(scope="module")
def template() -> Json:
    return render_template(DEFAULT_TOPOLOGY)


def _resources(template: Json, kind: str) -> dict[str, Json]:
    return {rid: r for rid, r in template["Resources"].items() if r["Type"] == kind}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def _policy_documents(template: Json) -> Iterator[tuple[str, Json]]:
    """Every permission document: role inline policies, managed policies, queue policies."""
    for rid, resource in template["Resources"].items():
        properties = resource.get("Properties", {})
        if "PolicyDocument" in properties:
            yield rid, properties["PolicyDocument"]
        for policy in properties.get("Policies", []):
            yield f"{rid}/{policy['PolicyName']}", policy["PolicyDocument"]


def _statements(document: Json) -> Iterator[Json]:
    """Statements, with both branches of an ``Fn::If`` and without ``AWS::NoValue``."""
    for statement in _as_list(document["Statement"]):
        if "Fn::If" in statement:
            _, *branches = statement["Fn::If"]
            yield from (b for b in branches if b != {"Ref": "AWS::NoValue"})
        else:
            yield statement


def wildcard_grants(template: Json) -> list[str]:
    """Allow statements with a ``*`` in an action or resource, bar the documented ones.

    Deny statements may be broad (``sqs:*`` for every caller without TLS): they only take
    permissions away. ``NotAction``/``NotResource`` are refused outright (inverse grants).
    """
    problems = []
    for where, document in _policy_documents(template):
        for statement in _statements(document):
            sid = statement.get("Sid", "?")
            if "NotAction" in statement or "NotResource" in statement:
                problems.append(f"{where}:{sid} uses NotAction/NotResource")
            if statement["Effect"] == "Deny":
                continue
            actions = _as_list(statement.get("Action", []))
            resources = _as_list(statement.get("Resource", []))
            wild = [a for a in actions if "*" in a] + [r for r in resources if "*" in json.dumps(r)]
            if wild and not _documented(sid, actions, resources):
                problems.append(f"{where}:{sid} grants wildcards {wild}")
    return problems


def _documented(sid: str, actions: list[str], resources: list[Any]) -> bool:
    if sid not in DOCUMENTED_WILDCARDS:
        return False
    allowed_actions, allowed_resource, _why = DOCUMENTED_WILDCARDS[sid]
    return set(actions) == allowed_actions and resources == [allowed_resource]


def unencrypted(template: Json) -> list[str]:
    """Queues without SSE (SQS-managed or KMS) and topics without a KMS key."""
    queues = [
        rid
        for rid, r in _resources(template, "AWS::SQS::Queue").items()
        if r["Properties"].get("SqsManagedSseEnabled") is not True
        and "KmsMasterKeyId" not in r["Properties"]
    ]
    topics = [
        rid
        for rid, r in _resources(template, "AWS::SNS::Topic").items()
        if not r["Properties"].get("KmsMasterKeyId")
    ]
    return queues + topics


def _target(policy: Json) -> str | None:
    arn = policy.get("deadLetterTargetArn", {})
    if isinstance(arn, dict) and arn.get("Fn::GetAtt", [None, None])[1] == "Arn":
        return str(arn["Fn::GetAtt"][0])
    return None


def missing_dead_letters(template: Json) -> list[str]:
    """Source queues (not themselves a DLQ) without a redrive policy to a queue of the
    template, and subscriptions without a delivery DLQ."""
    queues = _resources(template, "AWS::SQS::Queue")
    subscriptions = _resources(template, "AWS::SNS::Subscription")
    redrives = {rid: q["Properties"].get("RedrivePolicy", {}) for rid, q in queues.items()}
    delivery = {rid: s["Properties"].get("RedrivePolicy", {}) for rid, s in subscriptions.items()}
    dead_letter_queues = {_target(p) for p in [*redrives.values(), *delivery.values()]}
    problems = [
        f"queue {rid} has no DLQ"
        for rid, policy in redrives.items()
        if rid not in dead_letter_queues
        and (_target(policy) not in queues or int(policy.get("maxReceiveCount", 0)) < 1)
    ]
    problems += [
        f"subscription {rid} has no delivery DLQ"
        for rid, policy in delivery.items()
        if _target(policy) not in queues
    ]
    return problems


def _lint(text: str) -> list[str]:
    return [
        f"{m.rule.id} {m.message} (line {m.linenumber})" for m in lint(text, regions=LINT_REGIONS)
    ]


# -- the template as rendered ------------------------------------------------------------------


def test_template_passes_cfn_lint(template: Json) -> None:
    """cfn-lint (all error and warning rules, two regions) finds nothing."""
    assert _lint(to_json(template)) == []


def test_yaml_rendering_is_the_same_template(template: Json) -> None:
    """``--format yaml`` decodes (with cfn-lint's own CloudFormation decoder) to the same dict."""
    decoded, errors = decode_str(to_yaml(template))
    assert errors == []
    assert json.loads(json.dumps(decoded)) == template


def test_no_iam_statement_grants_a_wildcard(template: Json) -> None:
    """No grant has a wildcard action or resource beyond the two documented AWS necessities."""
    assert wildcard_grants(template) == []


def test_every_queue_and_topic_is_encrypted(template: Json) -> None:
    """All queues (sources, DLQs, delivery DLQs) have SSE and the topic has a KMS key."""
    assert unencrypted(template) == []


def test_every_source_queue_and_subscription_dead_letters(template: Json) -> None:
    """Each source queue redrives to a DLQ in the stack, each subscription to a delivery DLQ."""
    assert missing_dead_letters(template) == []


# -- the guards catch what they guard against ------------------------------------------------


def _broken(template: Json) -> Json:
    return copy.deepcopy(template)


def _worker_statement(template: Json) -> Json:
    role = template["Resources"]["PointsTaskRole"]["Properties"]
    statement: Json = role["Policies"][0]["PolicyDocument"]["Statement"][0]
    return statement


def test_wildcard_guard_catches_a_service_star_action(template: Json) -> None:
    """A grant of ``sqs:*`` on the worker's own queue is reported."""
    broken = _broken(template)
    _worker_statement(broken)["Action"] = ["sqs:*"]
    assert wildcard_grants(broken) == [
        "PointsTaskRole/consume-points:ConsumeOwnQueue grants wildcards ['sqs:*']"
    ]


def test_wildcard_guard_catches_a_star_resource(template: Json) -> None:
    """A grant on ``Resource: "*"`` is reported even for otherwise narrow actions."""
    broken = _broken(template)
    _worker_statement(broken)["Resource"] = "*"
    assert len(wildcard_grants(broken)) == 1


def test_wildcard_guard_pins_documented_exceptions_to_their_actions(template: Json) -> None:
    """A documented exception's Sid does not excuse an extra action under the wildcard."""
    broken = _broken(template)
    policy = broken["Resources"]["TaskExecutionRole"]["Properties"]["Policies"][0]
    ecr = next(
        s for s in policy["PolicyDocument"]["Statement"] if s["Sid"] == "EcrAuthorizationToken"
    )
    ecr["Action"].append("ecr:BatchGetImage")
    assert len(wildcard_grants(broken)) == 1


def test_encryption_guard_catches_a_plain_queue(template: Json) -> None:
    """A queue without SqsManagedSseEnabled (and no KMS key) is reported."""
    broken = _broken(template)
    del broken["Resources"]["PointsDlqQueue"]["Properties"]["SqsManagedSseEnabled"]
    assert unencrypted(broken) == ["PointsDlqQueue"]


def test_dead_letter_guard_catches_a_queue_without_redrive(template: Json) -> None:
    """A source queue whose RedrivePolicy was dropped is reported (its orphaned DLQ too)."""
    broken = _broken(template)
    del broken["Resources"]["NotificationsQueue"]["Properties"]["RedrivePolicy"]
    assert "queue NotificationsQueue has no DLQ" in missing_dead_letters(broken)


# -- what the resources say ----------------------------------------------------------------------


def test_worker_role_reaches_only_its_own_queue_and_dlq(template: Json) -> None:
    """Each worker's task role names exactly its queue and its DLQ, nothing else."""
    for spec in DEFAULT_TOPOLOGY.queues:
        role = template["Resources"][f"{logical_id(spec.name)}TaskRole"]["Properties"]
        (policy,) = role["Policies"]
        targets = {
            statement["Sid"]: statement["Resource"]["Fn::GetAtt"][0]
            for statement in policy["PolicyDocument"]["Statement"]
        }
        assert targets == {
            "ConsumeOwnQueue": queue_id(spec.name),
            "DeadLetterToOwnDlq": queue_id(spec.dlq_name),
        }


def test_every_role_trusts_exactly_one_aws_service(template: Json) -> None:
    """Roles are assumable only by one service principal (ECS tasks or EventBridge)."""
    for rid, role in _resources(template, "AWS::IAM::Role").items():
        (statement,) = role["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        assert statement["Action"] == "sts:AssumeRole", rid
        assert set(statement["Principal"]) == {"Service"}, rid
        assert statement["Principal"]["Service"] in {
            "ecs-tasks.amazonaws.com",
            "events.amazonaws.com",
        }, rid


def test_producer_policy_may_only_publish_to_the_topic(template: Json) -> None:
    """The producer policy grants sns:Publish on the topic (and KMS only for a customer key)."""
    document = template["Resources"]["ProducerPolicy"]["Properties"]["PolicyDocument"]
    publish, key = document["Statement"]
    assert publish["Action"] == ["sns:Publish"]
    assert publish["Resource"] == {"Ref": "Topic"}
    assert key["Fn::If"][0] == "UsesCustomerManagedTopicKey"
    assert key["Fn::If"][2] == {"Ref": "AWS::NoValue"}


def test_queue_policies_admit_only_the_topic_over_tls(template: Json) -> None:
    """Source queues and delivery DLQs carry the declaration's own topic-only TLS policy."""
    policies = _resources(template, "AWS::SQS::QueuePolicy").values()
    covered = {}
    for policy in policies:
        (queue,) = policy["Properties"]["Queues"]
        covered[queue["Ref"]] = policy["Properties"]["PolicyDocument"]
    expected = {
        queue_id(name): queue_policy({"Fn::GetAtt": [queue_id(name), "Arn"]}, {"Ref": "Topic"})
        for spec in DEFAULT_TOPOLOGY.queues
        for name in (spec.name, spec.delivery_dlq_name)
    }
    assert covered == expected


def test_worker_containers_run_the_worker_command(template: Json) -> None:
    """Workers run ``points worker --queue NAME`` with health check, stop timeout and secret."""
    for spec in DEFAULT_TOPOLOGY.queues:
        task = template["Resources"][f"{logical_id(spec.name)}TaskDefinition"]
        (container,) = task["Properties"]["ContainerDefinitions"]
        assert container["EntryPoint"] == ["points"]
        assert container["Command"] == ["worker", "--queue", spec.name]
        assert container["HealthCheck"]["Command"] == [
            "CMD-SHELL",
            f"points worker --queue {spec.name} --healthcheck || exit 1",
        ]
        assert container["StopTimeout"] == 30
        assert container["Secrets"] == [
            {"Name": "POINTS_DATABASE_URL", "ValueFrom": {"Ref": "DatabaseSecretArn"}}
        ]
        assert container["LogConfiguration"]["LogDriver"] == "awslogs"


def test_autoscaling_tracks_visible_messages_per_running_task(template: Json) -> None:
    """Each service scales on metric math: its queue's visible messages ÷ its running tasks."""
    for spec in DEFAULT_TOPOLOGY.queues:
        worker = logical_id(spec.name)
        policy = template["Resources"][f"{worker}BacklogScalingPolicy"]["Properties"]
        metrics = policy["TargetTrackingScalingPolicyConfiguration"][
            "CustomizedMetricSpecification"
        ]
        by_id = {m["Id"]: m for m in metrics["Metrics"]}
        assert by_id["backlog_per_task"]["Expression"] == "visible / running"
        assert [m["Id"] for m in metrics["Metrics"] if m["ReturnData"]] == ["backlog_per_task"]
        visible = by_id["visible"]["MetricStat"]["Metric"]
        running = by_id["running"]["MetricStat"]["Metric"]
        assert visible["MetricName"] == "ApproximateNumberOfMessagesVisible"
        assert visible["Dimensions"][0]["Value"] == {
            "Fn::GetAtt": [queue_id(spec.name), "QueueName"]
        }
        assert running["MetricName"] == "RunningTaskCount"
        assert {"Name": "ServiceName", "Value": {"Fn::GetAtt": [f"{worker}Service", "Name"]}} in (
            running["Dimensions"]
        )


def _alarmed(template: Json, metric: str) -> set[str]:
    alarms = _resources(template, "AWS::CloudWatch::Alarm").values()
    return {
        json.dumps(a["Properties"]["Dimensions"], sort_keys=True)
        for a in alarms
        if a["Properties"]["MetricName"] == metric
    }


def _queue_dimension(name: str) -> str:
    value = {"Fn::GetAtt": [queue_id(name), "QueueName"]}
    return json.dumps([{"Name": "QueueName", "Value": value}], sort_keys=True)


def test_every_dlq_alarms_on_any_message(template: Json) -> None:
    """DLQs and delivery DLQs each have a depth > 0 alarm; source queues do not."""
    dlq_alarms = {
        rid
        for rid, a in _resources(template, "AWS::CloudWatch::Alarm").items()
        if a["Properties"]["MetricName"] == "ApproximateNumberOfMessagesVisible"
        and a["Properties"]["Threshold"] == 0
        and a["Properties"]["ComparisonOperator"] == "GreaterThanThreshold"
    }
    assert len(dlq_alarms) == 2 * len(DEFAULT_TOPOLOGY.queues)
    assert _alarmed(template, "ApproximateNumberOfMessagesVisible") == {
        _queue_dimension(name)
        for spec in DEFAULT_TOPOLOGY.queues
        for name in (spec.dlq_name, spec.delivery_dlq_name)
    }


def test_every_source_queue_alarms_on_message_age(template: Json) -> None:
    """Each source queue alarms when its oldest message passes the threshold parameter."""
    assert _alarmed(template, "ApproximateAgeOfOldestMessage") == {
        _queue_dimension(spec.name) for spec in DEFAULT_TOPOLOGY.queues
    }


def test_every_worker_alarms_when_no_task_runs(template: Json) -> None:
    """Each worker service alarms (missing data included) when fewer than one task runs."""
    alarms = [
        a["Properties"]
        for a in _resources(template, "AWS::CloudWatch::Alarm").values()
        if a["Properties"]["MetricName"] == "RunningTaskCount"
    ]
    services = {a["Dimensions"][1]["Value"]["Fn::GetAtt"][0] for a in alarms}
    assert services == set(_resources(template, "AWS::ECS::Service"))
    assert {(a["ComparisonOperator"], a["Threshold"], a["TreatMissingData"]) for a in alarms} == {
        ("LessThanThreshold", 1, "breaching")
    }


def test_ledger_expiry_runs_on_a_schedule(template: Json) -> None:
    """An EventBridge rule runs ``points ledger expire`` as a Fargate task on the cluster."""
    (rule,) = _resources(template, "AWS::Events::Rule").values()
    (target,) = rule["Properties"]["Targets"]
    task_id = target["EcsParameters"]["TaskDefinitionArn"]["Ref"]
    (container,) = template["Resources"][task_id]["Properties"]["ContainerDefinitions"]
    assert container["Command"] == ["ledger", "expire"]
    assert target["Arn"] == {"Fn::GetAtt": ["Cluster", "Arn"]}


def test_prefix_is_a_parameter_defaulting_to_the_rendered_prefix() -> None:
    """Rendering with prefix ``stg-`` names queues ``${ResourcePrefix}…`` defaulting to it."""
    rendered = render_template(topology_for("stg-"))
    assert rendered["Parameters"]["ResourcePrefix"]["Default"] == "stg-"
    queue = rendered["Resources"]["PointsQueue"]["Properties"]
    assert queue["QueueName"] == {"Fn::Sub": "${ResourcePrefix}points"}


def test_template_follows_the_declaration() -> None:
    """A different declaration yields its own queues and filters: nothing is hand-written."""
    audit = Topology("audit-events", (QueueSpec("audit", (EventType.REFUND,), 3),))
    rendered = render_template(audit)
    queues = _resources(rendered, "AWS::SQS::Queue")
    names = {q["Properties"]["QueueName"]["Fn::Sub"] for q in queues.values()}
    assert names == {f"${{ResourcePrefix}}audit{s}" for s in ("", "-dlq", "-delivery-dlq")}
    assert queues["AuditQueue"]["Properties"]["RedrivePolicy"]["maxReceiveCount"] == 3
    (subscription,) = _resources(rendered, "AWS::SNS::Subscription").values()
    assert subscription["Properties"]["FilterPolicy"] == {"event_type": ["refund"]}
    (service,) = _resources(rendered, "AWS::ECS::Service")
    assert service == "AuditService"


# -- the command ---------------------------------------------------------------------------------


def _invoke(*args: str, prefix: str = "") -> Result:
    """The ``infra`` sub-app in process, with the settings the root callback would resolve."""
    return CliRunner().invoke(infra.app, list(args), obj=Config.resolve(resource_prefix=prefix))


def test_cli_writes_yaml_to_a_file(tmp_path: Path) -> None:
    """``--out FILE --format yaml`` writes the YAML rendering to the file, not to stdout."""
    out = tmp_path / "stack.yaml"
    result = _invoke("template", "--out", str(out), "--format", "yaml", prefix="y-")
    assert result.exit_code == 0, result.output
    assert out.read_text(encoding="utf-8") == to_yaml(render_template(topology_for("y-")))
    assert result.stdout.startswith("wrote ")


def test_cli_json_reports_the_written_file(tmp_path: Path) -> None:
    """``--out FILE --json`` prints where the template went and how many resources it has."""
    out = tmp_path / "stack.json"
    result = _invoke("template", "--out", str(out), "--json")
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    written = json.loads(out.read_text(encoding="utf-8"))
    assert report == {"out": str(out), "format": "json", "resources": len(written["Resources"])}


def test_the_topic_alarms_on_bodies_no_subscription_can_route(template: Json) -> None:
    """Body-scoped filters cannot read a non-JSON body: SNS's count of those alarms at > 0."""
    topic = [{"Name": "TopicName", "Value": {"Fn::GetAtt": ["Topic", "TopicName"]}}]
    assert _alarmed(template, "NumberOfNotificationsFilteredOut-InvalidMessageBody") == {
        json.dumps(topic, sort_keys=True)
    }
