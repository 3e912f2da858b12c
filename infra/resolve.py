"""Finding deployed resources by their declared names."""

from __future__ import annotations

from typing import TYPE_CHECKING

from infra.apply import find_topic
from infra.settings import Config
from infra.topology import Topology, topology_for

if TYPE_CHECKING:
    from mypy_boto3_sns import SNSClient
    from mypy_boto3_sqs import SQSClient


class ResourceNotFound(LookupError):
    """A topic or queue of the topology is missing on the endpoint (run `points infra apply`)."""


def topology(config: Config) -> Topology:
    return topology_for(config.points.resource_prefix)


def topic_arn(config: Config, sns: SNSClient) -> str:
    if config.points.topic_arn:
        return config.points.topic_arn
    name = topology(config).physical(topology(config).topic_name)
    arn = find_topic(sns, name)
    if arn is not None:
        return arn
    raise ResourceNotFound(f"topic {name!r} not found; run `points infra apply` first")


def queue_url(sqs: SQSClient, physical_name: str) -> str:
    try:
        return sqs.get_queue_url(QueueName=physical_name)["QueueUrl"]
    except sqs.exceptions.QueueDoesNotExist:
        raise ResourceNotFound(
            f"queue {physical_name!r} not found; run `points infra apply` first"
        ) from None
