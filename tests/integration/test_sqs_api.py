"""The worker's SQS path (``consumers.runtime.sqs``) on a real moto server, beside aiobotocore.

The worker no longer calls SQS through aiobotocore's client; whatever it receives, and
whatever it raises when SQS or the network fails, must be what aiobotocore gave.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
from aiobotocore.session import get_session
from botocore.exceptions import EndpointConnectionError

from consumers.runtime.sqs import SqsApi, open_sqs_api
from consumers.runtime.transport import SqsTransport
from infra.aws import client_kwargs
from infra.local import DUMMY_CREDENTIALS, free_port
from infra.settings import AwsSettings, Config


@asynccontextmanager
async def _clients(aws: AwsSettings) -> AsyncIterator[tuple[Any, SqsApi]]:
    session = get_session()
    async with (
        session.create_client("sqs", **client_kwargs(aws)) as client,
        open_sqs_api(session, client, connections=2) as api,
    ):
        yield client, api


def _run(scenario: Callable[[], Awaitable[None]]) -> None:
    asyncio.run(scenario())  # type: ignore[arg-type]


def test_transport_receives_what_was_sent_and_deletes_it(aws: Config) -> None:
    """Body, message attributes, receive count and id arrive as sent through aiobotocore;
    a delete through the transport leaves the queue empty, a dead-letter copy keeps them."""

    async def scenario() -> None:
        async with _clients(aws.aws) as (client, api):
            url = (await client.create_queue(QueueName="api-main"))["QueueUrl"]
            dlq = (await client.create_queue(QueueName="api-dlq"))["QueueUrl"]
            attributes = {
                "event_type": {"DataType": "String", "StringValue": "clearing"},
                "schema_version": {"DataType": "Number", "StringValue": "1"},
            }
            body = '{"ünïcode": "ポイント", "n": 1}'
            sent = await client.send_message(
                QueueUrl=url, MessageBody=body, MessageAttributes=attributes
            )
            transport = SqsTransport(api, "points", url, dlq)
            [message] = await transport.receive(10, 1)
            assert message.message_id == sent["MessageId"]
            assert message.body == body
            assert message.receive_count == 1
            assert message.attributes == {
                "event_type": ("String", "clearing"),
                "schema_version": ("Number", "1"),
            }
            await transport.send_to_dlq(message.body, message.attributes)
            assert await transport.delete([message.receipt_handle]) == []
            assert await transport.pending() == 0
            copy = await client.receive_message(QueueUrl=dlq, MessageAttributeNames=["All"])
            assert copy["Messages"][0]["Body"] == body
            assert copy["Messages"][0]["MessageAttributes"] == attributes

    _run(scenario)


def test_an_error_response_raises_what_aiobotocore_raises(aws: Config) -> None:
    """A queue that does not exist: the same exception class and the same error code."""

    async def scenario() -> None:
        async with _clients(aws.aws) as (client, api):
            url = (await client.create_queue(QueueName="api-gone"))["QueueUrl"]
            await client.delete_queue(QueueUrl=url)
            with pytest.raises(Exception) as theirs:
                await client.receive_message(QueueUrl=url, WaitTimeSeconds=0)
            with pytest.raises(Exception) as ours:
                await api.call("ReceiveMessage", {"QueueUrl": url, "WaitTimeSeconds": 0})
            assert type(ours.value).__name__ == type(theirs.value).__name__
            assert ours.value.response["Error"]["Code"] == theirs.value.response["Error"]["Code"]  # type: ignore[attr-defined]

    _run(scenario)


def test_a_refused_connection_raises_what_aiobotocore_raises(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Nothing listening on the endpoint: botocore's EndpointConnectionError from both."""
    for key, value in DUMMY_CREDENTIALS.items():
        monkeypatch.setenv(key, value)
    endpoint = f"http://127.0.0.1:{free_port()}"
    closed = Config.resolve(endpoint_url=endpoint, region="ap-northeast-1").aws

    async def scenario() -> None:
        async with _clients(closed) as (client, api):
            url = f"{endpoint}/123456789012/points"
            with pytest.raises(Exception) as theirs:
                await client.receive_message(QueueUrl=url)
            with pytest.raises(Exception) as ours:
                await api.call("ReceiveMessage", {"QueueUrl": url})
            assert type(theirs.value) is EndpointConnectionError
            assert type(ours.value) is EndpointConnectionError

    _run(scenario)
