"""The template and ``infra apply`` render one declaration: what each deploys is the same.

Each side is read back into the same plain view (physical names, not ARNs or logical ids):
the template by resolving its intrinsics with the ``ResourcePrefix`` default, ``apply`` by
asking the real moto server what it created. A non-default prefix makes sure both sides
apply it the same way.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from infra.apply import apply_topology
from infra.aws import sns_client, sqs_client
from infra.cloudformation import render_template
from infra.local import EmbeddedAws
from infra.settings import Config
from infra.topology import topology_for

Json = dict[str, Any]
PREFIX = "parity-"
TOPOLOGY = topology_for(PREFIX)


class View:
    """Queues (with attributes), redrives, subscriptions: one shape for both renderers."""

    def __init__(self) -> None:
        self.topic = ""
        self.queues: dict[str, Json] = {}
        self.redrives: dict[str, tuple[str, int]] = {}
        self.filters: dict[str, Json] = {}
        self.delivery_dlqs: dict[str, str] = {}
        self.raw_delivery: dict[str, bool] = {}


def _name_of(arn: str) -> str:
    return arn.rsplit(":", 1)[-1]


# -- the template side -----------------------------------------------------------------------


def template_view() -> View:
    template = render_template(TOPOLOGY)
    prefix = template["Parameters"]["ResourcePrefix"]["Default"]
    resources: Json = template["Resources"]
    view = View()
    view.topic = _resolve(resources["Topic"]["Properties"]["TopicName"], prefix)
    names = {
        rid: _resolve(r["Properties"]["QueueName"], prefix)
        for rid, r in resources.items()
        if r["Type"] == "AWS::SQS::Queue"
    }
    for rid, name in names.items():
        properties = resources[rid]["Properties"]
        view.queues[name] = _template_attributes(properties)
        if "RedrivePolicy" in properties:
            policy = properties["RedrivePolicy"]
            view.redrives[name] = (names[_att(policy)], int(policy["maxReceiveCount"]))
    for resource in resources.values():
        if resource["Type"] == "AWS::SNS::Subscription":
            properties = resource["Properties"]
            endpoint = names[properties["Endpoint"]["Fn::GetAtt"][0]]
            view.filters[endpoint] = properties["FilterPolicy"]
            view.delivery_dlqs[endpoint] = names[_att(properties["RedrivePolicy"])]
            view.raw_delivery[endpoint] = properties["RawMessageDelivery"]
    return view


def _resolve(value: Json, prefix: str) -> str:
    return str(value["Fn::Sub"]).replace("${ResourcePrefix}", prefix)


def _att(policy: Json) -> str:
    return str(policy["deadLetterTargetArn"]["Fn::GetAtt"][0])


def _template_attributes(properties: Json) -> Json:
    keys = ("MessageRetentionPeriod", "VisibilityTimeout", "SqsManagedSseEnabled")
    return {k: str(properties[k]).lower() for k in keys if k in properties}


# -- the apply side ----------------------------------------------------------------------------


def applied_view(config: Config) -> View:
    sns, sqs = sns_client(config.aws), sqs_client(config.aws)
    result = apply_topology(TOPOLOGY, sns, sqs)
    view = View()
    view.topic = _name_of(result.topic_arn)
    for url in sqs.list_queues(QueueNamePrefix=PREFIX).get("QueueUrls", []):
        name = url.rsplit("/", 1)[-1]
        response = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])
        attributes = {str(k): v for k, v in response["Attributes"].items()}
        view.queues[name] = _applied_attributes(
            attributes, is_dlq="RedrivePolicy" not in attributes
        )
        if "RedrivePolicy" in attributes:
            policy = json.loads(attributes["RedrivePolicy"])
            target = _name_of(policy["deadLetterTargetArn"])
            view.redrives[name] = (target, int(policy["maxReceiveCount"]))
    pages = sns.get_paginator("list_subscriptions_by_topic").paginate(TopicArn=result.topic_arn)
    for page in pages:
        for subscription in page.get("Subscriptions", []):
            arn = subscription["SubscriptionArn"]
            found = sns.get_subscription_attributes(SubscriptionArn=arn)["Attributes"]
            endpoint = _name_of(subscription["Endpoint"])
            view.filters[endpoint] = json.loads(found["FilterPolicy"])
            view.delivery_dlqs[endpoint] = _name_of(
                json.loads(found["RedrivePolicy"])["deadLetterTargetArn"]
            )
            view.raw_delivery[endpoint] = found["RawMessageDelivery"] == "true"
    return view


def _applied_attributes(attributes: dict[str, str], *, is_dlq: bool) -> Json:
    # apply leaves a DLQ's visibility timeout at the SQS default, as the template does.
    keys = ["MessageRetentionPeriod", "SqsManagedSseEnabled"]
    if not is_dlq:
        keys.append("VisibilityTimeout")
    return {k: attributes[k].lower() for k in keys}


@pytest.fixture(scope="module")
def views(moto_server: EmbeddedAws) -> tuple[View, View]:
    """Applied once per module on a fresh moto server; both views are plain data after."""
    moto_server.reset()
    with pytest.MonkeyPatch.context() as env:
        for key, value in moto_server.environment().items():
            env.setenv(key, value)
        config = Config.resolve(endpoint_url=moto_server.endpoint_url, region=moto_server.region)
        return template_view(), applied_view(config)


# -- the comparisons ---------------------------------------------------------------------------


def test_same_queue_names(views: tuple[View, View]) -> None:
    """Both create the same six queues (sources, DLQs, delivery DLQs), prefix applied alike."""
    template, applied = views
    assert len(template.queues) == 3 * len(TOPOLOGY.queues)
    assert sorted(template.queues) == sorted(applied.queues)


def test_same_topic_name(views: tuple[View, View]) -> None:
    """Both name the topic ``<prefix>payment-events``."""
    template, applied = views
    assert template.topic == applied.topic == f"{PREFIX}{TOPOLOGY.topic_name}"


def test_same_redrive_policies(views: tuple[View, View]) -> None:
    """Each source queue redrives to the same DLQ after the same maxReceiveCount."""
    template, applied = views
    assert template.redrives == applied.redrives
    assert set(template.redrives) == {TOPOLOGY.physical(q.name) for q in TOPOLOGY.queues}


def test_same_filter_policies(views: tuple[View, View]) -> None:
    """Each queue's subscription filters on the same event types."""
    template, applied = views
    assert template.filters == applied.filters
    assert len(template.filters) == len(TOPOLOGY.queues)


def test_same_subscription_delivery_dlqs(views: tuple[View, View]) -> None:
    """SNS parks undeliverable messages for each queue in the same delivery DLQ."""
    template, applied = views
    assert template.delivery_dlqs == applied.delivery_dlqs


def test_same_raw_delivery(views: tuple[View, View]) -> None:
    """Both subscribe with raw message delivery."""
    template, applied = views
    assert (
        template.raw_delivery
        == applied.raw_delivery
        == {TOPOLOGY.physical(q.name): True for q in TOPOLOGY.queues}
    )


def test_same_queue_attributes(views: tuple[View, View]) -> None:
    """Retention, visibility timeout and SSE agree queue by queue."""
    template, applied = views
    assert template.queues == applied.queues
