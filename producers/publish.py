"""One call to publish an event: ``publish_event(event)`` and ``await publish_event_async(event)``.

What a payment service needs and nothing more (DESIGN §2 base install): the topic is
``POINTS_TOPIC_ARN`` when set, otherwise the declared topic name (``payment-events``, with
``POINTS_RESOURCE_PREFIX``) in the caller's own account and region. The ARN is built from
``sts:GetCallerIdentity``, which needs no permission, so a role holding only the stack's
ProducerPolicy (``sns:Publish`` on the topic) can publish. Settings are read once, on the
first call, and the client and ARN kept for the process; services publishing at a high rate
can hold an ``SnsPublisher`` / ``AsyncSnsPublisher`` themselves instead.
"""

from __future__ import annotations

import asyncio
import functools
from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import boto3

from infra.aws import client_kwargs, sns_client, sts_client
from infra.settings import Config
from infra.topology import topology_for
from producers.publisher import SnsPublisher
from schemas.envelope import parse_event
from schemas.events import Event

if TYPE_CHECKING:
    from mypy_boto3_sts import STSClient

    from producers.async_publisher import AsyncSnsPublisher


def topic_arn_for(config: Config, sts: STSClient) -> str:
    """``POINTS_TOPIC_ARN``, else the declared topic's ARN in the caller's account."""
    if config.points.topic_arn:
        return config.points.topic_arn
    topology = topology_for(config.points.resource_prefix)
    account = sts.get_caller_identity()["Account"]
    partition = boto3.session.Session().get_partition_for_region(config.aws.region)
    name = topology.physical(topology.topic_name)
    return f"arn:{partition}:sns:{config.aws.region}:{account}:{name}"


@functools.cache
def _resolved() -> tuple[Config, str]:
    config = Config.resolve()
    return config, topic_arn_for(config, sts_client(config.aws))


@functools.cache
def default_publisher() -> SnsPublisher:
    """The process's publisher, built from the environment on first use."""
    config, arn = _resolved()
    return SnsPublisher(sns_client(config.aws), arn)


def as_event(event: Event | Mapping[str, Any]) -> Event:
    """A model as it is; a mapping (e.g. parsed JSON) validated against contract v1."""
    if isinstance(event, Mapping):
        return parse_event(dict(event))
    return event


def publish_event(
    event: Event | Mapping[str, Any], *, publisher: SnsPublisher | None = None
) -> str:
    """Publish one event; returns the SNS message id. Raises ``PublishError`` (refused) or
    ``PublishUnavailable`` (SNS unavailable after bounded retries)."""
    return (publisher or default_publisher()).publish(as_event(event))


async def publish_event_async(
    event: Event | Mapping[str, Any], *, publisher: AsyncSnsPublisher | None = None
) -> str:
    """The asyncio twin of ``publish_event`` (needs the ``[aio]`` extra: aiobotocore).

    Without ``publisher`` it opens an aiobotocore client for this one call.
    """
    validated = as_event(event)
    if publisher is not None:
        return await publisher.publish(validated)
    from aiobotocore.session import get_session  # the [aio] extra, imported only here

    from producers.async_publisher import AsyncSnsPublisher

    config, arn = await asyncio.to_thread(_resolved)
    async with get_session().create_client("sns", **client_kwargs(config.aws)) as sns:
        return await AsyncSnsPublisher(sns, arn).publish(validated)
