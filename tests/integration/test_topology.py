"""The topology on a real moto server: idempotent apply, routing by filter, dead-lettering."""

from __future__ import annotations

import json

from infra.apply import apply_topology
from infra.aws import sns_client, sqs_client
from infra.resolve import topology
from infra.settings import Config
from producers.publisher import SnsPublisher
from tests.support.corpus import PAYMENT_TYPES
from tests.support.factories import make_event, make_grant


def _apply(config: Config) -> tuple[list[str], dict[str, object]]:
    result = apply_topology(topology(config), sns_client(config.aws), sqs_client(config.aws))
    return result.changes, result.as_json()


def _bodies(config: Config, url: str) -> list[dict[str, object]]:
    sqs = sqs_client(config.aws)
    found = []
    # moto delivers SNS to SQS synchronously, so an empty receive means "all seen".
    receive = {"QueueUrl": url, "MaxNumberOfMessages": 10, "WaitTimeSeconds": 0}
    while messages := sqs.receive_message(**receive).get("Messages"):  # type: ignore[arg-type]
        for message in messages:
            found.append(json.loads(message["Body"]))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_second_apply_changes_nothing(aws: Config) -> None:
    """Applying twice: the second run finds nothing to change and returns the same outputs."""
    first_changes, first_outputs = _apply(aws)
    second_changes, second_outputs = _apply(aws)
    assert first_changes
    assert second_changes == []
    assert second_outputs == first_outputs


def test_apply_repairs_drift(aws: Config) -> None:
    """A queue attribute changed by hand is put back; the next apply finds nothing to do."""
    _, outputs = _apply(aws)
    url = outputs["queues"]["points"]["url"]  # type: ignore[index]
    sqs_client(aws.aws).set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "5"})
    repaired, _ = _apply(aws)
    after, _ = _apply(aws)
    assert len(repaired) == 1
    assert repaired[0].startswith("updated queue points:")
    assert "VisibilityTimeout" in repaired[0]
    assert after == []


def test_apply_outputs_the_documented_shape(aws: Config) -> None:
    """``infra apply --json`` names the topic and, per queue, its url/arn and DLQ url/arn."""
    _, outputs = _apply(aws)
    assert set(outputs) == {"topic_arn", "queues"}
    queues = outputs["queues"]
    assert isinstance(queues, dict)
    assert set(queues) == {"points", "notifications"}
    assert set(queues["points"]) == {"url", "arn", "dlq_url", "dlq_arn"}


def test_filter_policies_route_by_event_type(aws: Config) -> None:
    """Points gets every payment type and points_grant; notifications what it tells of:
    authorizations, clearings, chargebacks and their reversals, grants."""
    _, outputs = _apply(aws)
    publisher = SnsPublisher(sns_client(aws.aws), str(outputs["topic_arn"]))
    kinds = list(PAYMENT_TYPES)
    publisher.publish_batch([make_event(k, event_id=f"e-{k}") for k in kinds] + [make_grant()])
    queues = outputs["queues"]
    assert isinstance(queues, dict)
    points = {b["event_type"] for b in _bodies(aws, queues["points"]["url"])}
    notifications = {b["event_type"] for b in _bodies(aws, queues["notifications"]["url"])}
    assert points == {*kinds, "points_grant"}
    assert notifications == {
        "authorization",
        "clearing",
        "chargeback",
        "chargeback_reversal",
        "points_grant",
    }


def test_raw_delivery_carries_the_canonical_event(aws: Config) -> None:
    """Subscriptions deliver the event itself, not an SNS envelope."""
    _, outputs = _apply(aws)
    SnsPublisher(sns_client(aws.aws), str(outputs["topic_arn"])).publish(make_event())
    queues = outputs["queues"]
    assert isinstance(queues, dict)
    (delivered,) = _bodies(aws, queues["points"]["url"])
    assert delivered["event_id"] == "evt-authorization-1"


def test_message_dead_letters_after_five_receives(aws: Config) -> None:
    """A message received five times without deletion moves to the DLQ on the next receive."""
    _, outputs = _apply(aws)
    queues = outputs["queues"]
    assert isinstance(queues, dict)
    url, dlq_url = queues["points"]["url"], queues["points"]["dlq_url"]
    sqs = sqs_client(aws.aws)
    sqs.send_message(QueueUrl=url, MessageBody="poison")
    for _ in range(5):
        (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []
    (dead,) = sqs.receive_message(QueueUrl=dlq_url, WaitTimeSeconds=1)["Messages"]
    assert dead["Body"] == "poison"


def test_apply_moves_a_deployed_attribute_filter_to_the_body(aws: Config) -> None:
    """A stack deployed with attribute-scoped filters is switched to body scope by one apply,
    after which an event published without attributes is routed."""
    _, outputs = _apply(aws)
    sns = sns_client(aws.aws)
    topic = str(outputs["topic_arn"])
    for subscription in sns.list_subscriptions_by_topic(TopicArn=topic)["Subscriptions"]:
        arn = subscription["SubscriptionArn"]
        policy = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]["FilterPolicy"]
        for name, value in (("FilterPolicyScope", "MessageAttributes"), ("FilterPolicy", policy)):
            sns.set_subscription_attributes(
                SubscriptionArn=arn, AttributeName=name, AttributeValue=value
            )
    sns.publish(TopicArn=topic, Message=json.dumps(make_event().model_dump(mode="json")))
    queues = outputs["queues"]
    assert isinstance(queues, dict)
    assert _bodies(aws, queues["points"]["url"]) == []  # the old scope drops it silently
    changes, _ = _apply(aws)
    assert sorted(changes) == [
        "updated subscription notifications: FilterPolicy",
        "updated subscription notifications: FilterPolicyScope",
        "updated subscription points: FilterPolicy",
        "updated subscription points: FilterPolicyScope",
    ]
    sns.publish(TopicArn=topic, Message=json.dumps(make_event().model_dump(mode="json")))
    (delivered,) = _bodies(aws, queues["points"]["url"])
    assert delivered["event_id"] == "evt-authorization-1"
