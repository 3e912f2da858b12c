"""Putting messages into DLQs the two ways production does, for the ``dlq`` tests.

* like the worker: the original body and attributes plus the ``points.*`` reason
  (``failure_attributes``), sent straight to the DLQ;
* natively: received ``maxReceiveCount`` times without deletion, so SQS moves it.
"""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

import pytest

from consumers.db import make_engine, upgrade
from consumers.runtime.deadletter import failure_attributes
from consumers.runtime.transport import encode_attributes
from infra.apply import ApplyResult, apply_topology
from infra.aws import sns_client, sqs_client
from infra.local import EmbeddedAws
from infra.resolve import topology
from infra.settings import Config
from infra.topology import MAX_RECEIVE_COUNT
from ops.scan import ScanOptions
from tests.support.factories import event_dict

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

#: Exact on moto (short polls see everything) and quick to give messages back.
FAST = ScanOptions(hold_seconds=5, wait_seconds=0)


def apply(config: Config) -> ApplyResult:
    return apply_topology(topology(config), sns_client(config.aws), sqs_client(config.aws))


@pytest.fixture(scope="module", name="ops_db")
def ops_db_fixture(tmp_path_factory: pytest.TempPathFactory) -> str:
    """A migrated SQLite ledger database per module: where operator actions are audited."""
    url = f"sqlite:///{tmp_path_factory.mktemp('ops-db') / 'points.sqlite3'}"
    engine = make_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


@pytest.fixture(scope="module", name="topo")
def topo_fixture(moto_server: EmbeddedAws) -> Iterator[ApplyResult]:
    """The topology applied once per test module: apply costs ~0.7 s on moto, purge ~10 ms.

    Import it with ``aws_fixture`` (registered as ``aws``, shadowing the conftest's).
    """
    moto_server.reset()
    with pytest.MonkeyPatch.context() as patch:
        for key, value in moto_server.environment().items():
            patch.setenv(key, value)
        config = Config.resolve(endpoint_url=moto_server.endpoint_url, region=moto_server.region)
        applied = apply(config)
    yield applied
    moto_server.reset()


@pytest.fixture(name="aws")
def aws_fixture(
    topo: ApplyResult, moto_server: EmbeddedAws, monkeypatch: pytest.MonkeyPatch, ops_db: str
) -> Config:
    """Like the conftest's ``aws``, but with the topology applied, every queue empty, and a
    migrated ledger database (``POINTS_DATABASE_URL``) to audit operator actions in."""
    for key, value in moto_server.environment().items():
        monkeypatch.setenv(key, value)
    monkeypatch.setenv("POINTS_DATABASE_URL", ops_db)
    config = Config.resolve(endpoint_url=moto_server.endpoint_url, region=moto_server.region)
    sqs = sqs_client(config.aws)
    # PurgeQueue is limited to once a minute per queue (moto enforces it): drain instead.
    if not all(_emptied(sqs, queue) for queue in _all_urls(topo)):
        moto_server.reset()  # something is still in flight: start over (names are stable)
        apply(config)
    return config


def _all_urls(topo: ApplyResult) -> list[str]:
    urls = []
    for queue in topo.queues.values():
        urls += [queue.url, queue.dlq_url, queue.dlq_url.replace("-dlq", "-delivery-dlq")]
    return urls


def _emptied(sqs: SQSClient, url: str) -> bool:
    """Delete everything visible; True when nothing is left in flight either."""
    visible, in_flight = counts(sqs, url)
    if visible:
        drain(sqs, url)
        visible, in_flight = counts(sqs, url)
    return (visible, in_flight) == (0, 0)


def contract_attributes(event_type: str = "authorization", brand: str = "visa") -> dict[str, Any]:
    """The attributes producers set (DESIGN §3), as the worker sees them."""
    return {
        "event_type": ("String", event_type),
        "brand": ("String", brand),
        "schema_version": ("Number", "1"),
    }


def event_body(event_id: str, event_type: str = "authorization", **overrides: Any) -> str:
    import json

    return json.dumps(event_dict(event_type, event_id=event_id, **overrides))


def dead_letter_like_worker(
    sqs: SQSClient,
    dlq_url: str,
    body: str,
    *,
    error_type: str = "invalid_event",
    error_message: str = "amount: Input should be greater than or equal to 1",
    receive_count: int = 1,
    attributes: dict[str, tuple[str, str]] | None = None,
    message_id: str | None = None,
) -> str:
    """What the worker does with a permanent failure; returns the DLQ message id.

    ``message_id`` is the id the message had in the source queue (made up if not given)."""
    dead = failure_attributes(
        attributes if attributes is not None else contract_attributes(),
        error_type=error_type,
        error_message=error_message,
        receive_count=receive_count,
        message_id=message_id or str(uuid.uuid4()),
    )
    encoded: Any = encode_attributes(dead)  # aiobotocore's TypedDict, same shape as boto3's
    response = sqs.send_message(QueueUrl=dlq_url, MessageBody=body, MessageAttributes=encoded)
    return response["MessageId"]


def dead_letter_natively(sqs: SQSClient, url: str, dlq_url: str, body: str) -> str:
    """Receive a message maxReceiveCount times without deleting it; SQS then moves it."""
    encoded: Any = encode_attributes(contract_attributes())
    message_id = sqs.send_message(QueueUrl=url, MessageBody=body, MessageAttributes=encoded)[
        "MessageId"
    ]
    for _ in range(MAX_RECEIVE_COUNT):
        (message,) = sqs.receive_message(QueueUrl=url, WaitTimeSeconds=1)["Messages"]
        sqs.change_message_visibility(
            QueueUrl=url, ReceiptHandle=message["ReceiptHandle"], VisibilityTimeout=0
        )
    # The next receive finds it over the limit and moves it to the DLQ.
    assert sqs.receive_message(QueueUrl=url, WaitTimeSeconds=0).get("Messages", []) == []
    return message_id


def drain(sqs: SQSClient, url: str) -> list[dict[str, Any]]:
    """Consume everything in a queue (bodies, attributes and ids)."""
    found: list[dict[str, Any]] = []
    while True:
        messages = sqs.receive_message(
            QueueUrl=url,
            MaxNumberOfMessages=10,
            WaitTimeSeconds=0,
            MessageAttributeNames=["All"],
            VisibilityTimeout=60,
        ).get("Messages", [])
        if not messages:
            return found
        for message in messages:
            found.append(dict(message))
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])


def counts(sqs: SQSClient, url: str) -> tuple[int, int]:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return (
        int(attributes["ApproximateNumberOfMessages"]),
        int(attributes["ApproximateNumberOfMessagesNotVisible"]),
    )


def attribute_values(message: dict[str, Any]) -> dict[str, str]:
    return {k: v["StringValue"] for k, v in message.get("MessageAttributes", {}).items()}
