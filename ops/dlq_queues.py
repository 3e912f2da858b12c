"""Which dead-letter queues the topology has, and where each one's messages came from.

Every DLQ is derived from ``infra.topology`` (never from a list of names here), so a new
consumer queue gets ``points dlq`` support for free. Operators may name a DLQ by its
source queue (``points``), its own name (``points-dlq``) or its deployed (prefixed) name.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Literal

from infra.resolve import queue_url
from infra.topology import Topology
from ops.errors import UnknownQueue

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

DlqKind = Literal["queue", "delivery"]


@dataclass(frozen=True)
class DeadLetterQueue:
    """One DLQ: ``queue`` is fed by SQS/the worker, ``delivery`` by SNS failing to deliver."""

    name: str
    kind: DlqKind
    source: str
    physical_name: str
    source_physical_name: str


@dataclass(frozen=True)
class QueueTarget:
    """A queue messages can be sent to by ``replay --to-queue``."""

    name: str
    physical_name: str
    is_dead_letter: bool


def dead_letter_queues(topology: Topology) -> list[DeadLetterQueue]:
    found: list[DeadLetterQueue] = []
    for spec in topology.queues:
        for kind, name in (("queue", spec.dlq_name), ("delivery", spec.delivery_dlq_name)):
            found.append(
                DeadLetterQueue(
                    name=name,
                    kind=kind,  # type: ignore[arg-type]
                    source=spec.name,
                    physical_name=topology.physical(name),
                    source_physical_name=topology.physical(spec.name),
                )
            )
    return found


def find_dlq(topology: Topology, name: str) -> DeadLetterQueue:
    """The DLQ an operator means: a source queue's name stands for its main DLQ."""
    for dlq in dead_letter_queues(topology):
        if name in (dlq.name, dlq.physical_name):
            return dlq
        if dlq.kind == "queue" and name in (dlq.source, dlq.source_physical_name):
            return dlq
    raise UnknownQueue(f"unknown queue {name!r}; known: {_known(topology)}")


def find_target(topology: Topology, name: str) -> QueueTarget:
    """Any queue of the topology, source or DLQ, by logical or deployed name."""
    for spec in topology.queues:
        if name in (spec.name, topology.physical(spec.name)):
            return QueueTarget(spec.name, topology.physical(spec.name), is_dead_letter=False)
    for dlq in dead_letter_queues(topology):
        if name in (dlq.name, dlq.physical_name):
            return QueueTarget(dlq.name, dlq.physical_name, is_dead_letter=True)
    raise UnknownQueue(f"unknown queue {name!r}; known: {_known(topology)}")


def source_target(topology: Topology, source: str) -> QueueTarget:
    """The source queue named in an export line (logical name)."""
    target = find_target(topology, source)
    if target.is_dead_letter:
        raise UnknownQueue(f"{source!r} is a dead-letter queue, not a source queue")
    return target


def _known(topology: Topology) -> str:
    names = [spec.name for spec in topology.queues]
    names += [dlq.name for dlq in dead_letter_queues(topology)]
    return ", ".join(names)


def queue_arn(sqs: SQSClient, url: str) -> str:
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])
    return attributes["Attributes"]["QueueArn"]


@dataclass(frozen=True)
class ResolvedDlq:
    """A DLQ with the URLs of itself and of its source queue on the current endpoint."""

    dlq: DeadLetterQueue
    url: str
    source_url: str


def resolve(sqs: SQSClient, dlq: DeadLetterQueue) -> ResolvedDlq:
    return ResolvedDlq(
        dlq, queue_url(sqs, dlq.physical_name), queue_url(sqs, dlq.source_physical_name)
    )
