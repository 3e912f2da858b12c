"""Both publishers against a real moto server: FIFO topics and the asyncio publisher."""

from __future__ import annotations

import asyncio
import json
from typing import Any

import pytest
from aiobotocore.session import get_session

from infra.apply import apply_topology
from infra.aws import client_kwargs, sns_client, sqs_client
from infra.resolve import topology
from infra.settings import Config
from producers.async_publisher import AsyncSnsPublisher
from producers.publisher import PublishError, SnsPublisher
from tests.support.factories import make_event

pytestmark = pytest.mark.moto


def _fifo_queue(aws: Config) -> tuple[str, str]:
    """A FIFO topic with a raw-delivery FIFO queue subscribed; returns (topic ARN, queue URL)."""
    sns, sqs = sns_client(aws.aws), sqs_client(aws.aws)
    topic = sns.create_topic(
        Name="payment-events.fifo",
        Attributes={"FifoTopic": "true", "ContentBasedDeduplication": "false"},
    )["TopicArn"]
    url = sqs.create_queue(QueueName="points.fifo", Attributes={"FifoQueue": "true"})["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    sns.subscribe(
        TopicArn=topic,
        Protocol="sqs",
        Endpoint=arn["QueueArn"],
        Attributes={"RawMessageDelivery": "true"},
    )
    return topic, url


def _receive(aws: Config, url: str) -> list[dict[str, Any]]:
    sqs = sqs_client(aws.aws)
    found: list[dict[str, Any]] = []
    while messages := sqs.receive_message(
        QueueUrl=url,
        MaxNumberOfMessages=10,
        WaitTimeSeconds=0,
        MessageSystemAttributeNames=["MessageGroupId", "MessageDeduplicationId"],
    ).get("Messages"):
        for message in messages:
            found.append(dict(message))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def test_fifo_topic_delivers_grouped_by_payment(aws: Config) -> None:
    """On a .fifo topic each message arrives in its payment's group, deduplicated by event id."""
    topic, url = _fifo_queue(aws)
    events = [
        make_event(event_id="e-1", payment_id="pay-a"),
        make_event("clearing", event_id="e-2", payment_id="pay-a"),
        make_event(event_id="e-3", payment_id="pay-b"),
    ]
    SnsPublisher(sns_client(aws.aws), topic).publish_batch(events)
    received = _receive(aws, url)
    groups = {
        json.loads(m["Body"])["event_id"]: m["Attributes"]["MessageGroupId"] for m in received
    }
    assert groups == {"e-1": "pay-a", "e-2": "pay-a", "e-3": "pay-b"}
    assert {m["Attributes"]["MessageDeduplicationId"] for m in received} == {"e-1", "e-2", "e-3"}


def test_missing_topic_is_a_permanent_error(aws: Config) -> None:
    """Publishing to a topic that does not exist fails at once with PublishError."""
    missing = "arn:aws:sns:ap-northeast-1:123456789012:nowhere"
    with pytest.raises(PublishError):
        SnsPublisher(sns_client(aws.aws), missing).publish(make_event())


def test_async_publisher_delivers_single_and_batch(aws: Config) -> None:
    """aiobotocore against moto: events arrive raw on the points queue with their attributes."""
    applied = apply_topology(topology(aws), sns_client(aws.aws), sqs_client(aws.aws))

    async def publish() -> list[str]:
        async with get_session().create_client("sns", **client_kwargs(aws.aws)) as sns:
            publisher = AsyncSnsPublisher(sns, applied.topic_arn)
            first = await publisher.publish(make_event(event_id="a-0"))
            rest = await publisher.publish_batch(
                [make_event("refund", event_id=f"a-{i}") for i in range(1, 12)]
            )
            return [first, *rest]

    message_ids = asyncio.run(publish())
    assert len(set(message_ids)) == 12
    sqs, url = sqs_client(aws.aws), applied.queues["points"].url
    bodies: list[str] = []
    while messages := sqs.receive_message(
        QueueUrl=url, MaxNumberOfMessages=10, WaitTimeSeconds=0
    ).get("Messages"):
        for message in messages:
            bodies.append(json.loads(message["Body"])["event_id"])
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    assert sorted(bodies) == sorted(f"a-{i}" for i in range(12))
