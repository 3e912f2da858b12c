"""Both publishers (sync boto3 and asyncio) on an in-memory SNS: one behaviour per test.

Every test runs against both, through ``publish_batch`` below, because they promise the
same semantics.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any, cast

import pytest
from botocore.exceptions import ClientError, EndpointConnectionError
from hypothesis import given
from hypothesis import strategies as st

from producers.async_publisher import AsyncSnsPublisher
from producers.fake_sns import AsyncFakeSns, EntryFailure, FakeSns
from producers.publisher import (
    SNS_BATCH_MAX_BYTES,
    SNS_BATCH_MAX_ENTRIES,
    PublishError,
    PublishUnavailable,
    RetryPolicy,
    SnsPublisher,
    chunk_by_size,
    fifo_id,
)
from schemas.events import Event
from tests.support.factories import make_event, make_grant

TOPIC = "arn:aws:sns:ap-northeast-1:123456789012:payment-events"
FIFO_TOPIC = TOPIC + ".fifo"
FAST = RetryPolicy(attempts=3, initial_wait=0, max_wait=0)
KINDS = ["sync", "async"]


def publish_batch(
    kind: str, fake: FakeSns, events: Sequence[Event], topic: str = TOPIC
) -> list[str]:
    if kind == "sync":
        return SnsPublisher(cast(Any, fake), topic, FAST).publish_batch(events)
    publisher = AsyncSnsPublisher(cast(Any, AsyncFakeSns(fake)), topic, FAST)
    return asyncio.run(publisher.publish_batch(events))


def publish_one(kind: str, fake: FakeSns, event: Event, topic: str = TOPIC) -> str:
    if kind == "sync":
        return SnsPublisher(cast(Any, fake), topic, FAST).publish(event)
    publisher = AsyncSnsPublisher(cast(Any, AsyncFakeSns(fake)), topic, FAST)
    return asyncio.run(publisher.publish(event))


def events(count: int) -> list[Event]:
    return [make_event(event_id=f"e-{i}", payment_id=f"p-{i % 3}") for i in range(count)]


def client_error(code: str, status: int) -> ClientError:
    response: Any = {
        "Error": {"Code": code, "Message": code},
        "ResponseMetadata": {"HTTPStatusCode": status},
    }
    return ClientError(response, "PublishBatch")


@pytest.mark.parametrize("kind", KINDS)
def test_batch_returns_message_ids_in_input_order(kind: str) -> None:
    """Every event goes out once and its message id sits at the event's index."""
    fake = FakeSns()
    ids = publish_batch(kind, fake, events(3))
    assert fake.event_ids() == ["e-0", "e-1", "e-2"]
    assert ids == ["fake-0", "fake-1", "fake-2"]


@pytest.mark.parametrize("kind", KINDS)
def test_messages_carry_the_contract_attributes(kind: str) -> None:
    """event_type and brand as String, schema_version as Number (subscriptions filter on them)."""
    fake = FakeSns()
    publish_one(kind, fake, make_event("clearing"))
    assert fake.messages[0]["MessageAttributes"] == {
        "event_type": {"DataType": "String", "StringValue": "clearing"},
        "brand": {"DataType": "String", "StringValue": "visa"},
        "schema_version": {"DataType": "Number", "StringValue": "1"},
    }


@pytest.mark.parametrize("kind", KINDS)
def test_fifo_topic_groups_by_payment_and_deduplicates_by_event(kind: str) -> None:
    """On a .fifo topic: MessageGroupId = payment_id, MessageDeduplicationId = event_id."""
    fake = FakeSns()
    publish_batch(kind, fake, [make_event(event_id="e-1", payment_id="pay-7")], FIFO_TOPIC)
    (message,) = fake.messages
    assert message["MessageGroupId"] == "pay-7"
    assert message["MessageDeduplicationId"] == "e-1"


@pytest.mark.parametrize("kind", KINDS)
def test_a_grant_carries_no_brand_attribute(kind: str) -> None:
    """A points grant belongs to no card brand: event_type and schema_version only."""
    fake = FakeSns()
    publish_one(kind, fake, make_grant())
    assert fake.messages[0]["MessageAttributes"] == {
        "event_type": {"DataType": "String", "StringValue": "points_grant"},
        "schema_version": {"DataType": "Number", "StringValue": "1"},
    }


@pytest.mark.parametrize("kind", KINDS)
def test_a_chargeback_carries_its_brand_attribute(kind: str) -> None:
    """Every payment event type, the new ones included, names its brand."""
    fake = FakeSns()
    publish_one(kind, fake, make_event("chargeback", brand="quicpay"))
    assert fake.messages[0]["MessageAttributes"]["brand"]["StringValue"] == "quicpay"


@pytest.mark.parametrize("kind", KINDS)
def test_fifo_topic_groups_grants_by_account(kind: str) -> None:
    """A grant has no payment: on a .fifo topic an account's grants keep their order."""
    fake = FakeSns()
    publish_batch(kind, fake, [make_grant(event_id="g-1", account_id="acct-9")], FIFO_TOPIC)
    (message,) = fake.messages
    assert message["MessageGroupId"] == "acct-9"
    assert message["MessageDeduplicationId"] == "g-1"


@pytest.mark.parametrize("kind", KINDS)
def test_standard_topic_sends_no_fifo_ids(kind: str) -> None:
    """Standard topics refuse group ids, so none are sent."""
    fake = FakeSns()
    publish_one(kind, fake, make_event())
    assert "MessageGroupId" not in fake.messages[0]


def test_fifo_ids_sns_refuses_are_hashed_deterministically() -> None:
    """An id with a space or non-ASCII becomes its SHA-256 hex; plain ids pass unchanged."""
    assert fifo_id("visa:auth:123") == "visa:auth:123"
    assert fifo_id("支払い 1") == fifo_id("支払い 1")
    assert len(fifo_id("支払い 1")) == 64


@pytest.mark.parametrize("kind", KINDS)
def test_failed_entry_is_retried_alone(kind: str) -> None:
    """A service-side entry failure resends that entry only; nothing is published twice."""
    fake = FakeSns(entry_failures=[EntryFailure("e-1", times=2)])
    ids = publish_batch(kind, fake, events(3))
    assert sorted(fake.event_ids()) == ["e-0", "e-1", "e-2"]
    assert all(ids)
    assert fake.calls == 3


@pytest.mark.parametrize("kind", KINDS)
def test_sender_fault_entry_raises_naming_it_after_the_rest_went_out(kind: str) -> None:
    """SNS blaming the sender is permanent: PublishError names the event, others are sent."""
    fake = FakeSns(entry_failures=[EntryFailure("e-1", code="InvalidParameter", sender_fault=True)])
    with pytest.raises(PublishError, match="e-1: InvalidParameter") as caught:
        publish_batch(kind, fake, events(3))
    assert fake.event_ids() == ["e-0", "e-2"]
    assert [bool(i) for i in caught.value.message_ids] == [True, False, True]


@pytest.mark.parametrize("kind", KINDS)
def test_entry_failing_past_the_retries_is_unavailable_not_dropped(kind: str) -> None:
    """An entry still failing after every attempt raises PublishUnavailable; never silence."""
    fake = FakeSns(entry_failures=[EntryFailure("e-0", times=99)])
    with pytest.raises(PublishUnavailable) as caught:
        publish_batch(kind, fake, events(2))
    assert caught.value.message_ids == ["", "fake-0"]


@pytest.mark.parametrize("kind", KINDS)
def test_throttled_call_is_retried(kind: str) -> None:
    """Throttling is retryable: the batch goes out on the next attempt."""
    fake = FakeSns(call_failures=[client_error("Throttling", 400)])
    publish_batch(kind, fake, events(2))
    assert fake.event_ids() == ["e-0", "e-1"]


@pytest.mark.parametrize("kind", KINDS)
def test_client_error_is_permanent_and_not_retried(kind: str) -> None:
    """A 4xx such as NotFound (no topic) raises PublishError after one call."""
    fake = FakeSns(call_failures=[client_error("NotFound", 404)])
    with pytest.raises(PublishError):
        publish_batch(kind, fake, events(2))
    assert fake.calls == 1


@pytest.mark.parametrize("kind", KINDS)
def test_connection_failures_exhaust_into_unavailable(kind: str) -> None:
    """SNS unreachable on every attempt: PublishUnavailable after the bounded retries."""
    down = [EndpointConnectionError(endpoint_url="http://sns") for _ in range(FAST.attempts)]
    fake = FakeSns(call_failures=list(down))
    with pytest.raises(PublishUnavailable):
        publish_one(kind, fake, make_event())
    assert fake.calls == FAST.attempts


@pytest.mark.parametrize("kind", KINDS)
def test_batches_hold_at_most_ten_entries(kind: str) -> None:
    """25 events take three PublishBatch calls."""
    fake = FakeSns()
    publish_batch(kind, fake, events(25))
    assert fake.calls == 3
    assert len(fake.messages) == 25


def test_chunks_respect_the_byte_limit() -> None:
    """Entries whose sizes add up past 256 KiB are split even under ten entries."""
    chunks = chunk_by_size([100 * 1024, 100 * 1024, 100 * 1024, 10])
    assert chunks == [[0, 1], [2, 3]]
    assert all(len(c) <= SNS_BATCH_MAX_ENTRIES for c in chunk_by_size([1] * 31))


class _ForgetfulSns(FakeSns):
    """Answers the first batch without mentioning its last entry at all."""

    def publish_batch(self, **request: Any) -> dict[str, Any]:
        if self.calls == 0:
            request = {
                **request,
                "PublishBatchRequestEntries": request["PublishBatchRequestEntries"][:-1],
            }
        return super().publish_batch(**request)


def test_entry_missing_from_the_response_is_resent() -> None:
    """An entry SNS neither confirms nor rejects is treated as failed, never as sent."""
    fake = _ForgetfulSns()
    ids = SnsPublisher(cast(Any, fake), TOPIC, FAST).publish_batch(events(3))
    assert all(ids)
    assert sorted(json.loads(m["Message"])["event_id"] for m in fake.messages) == [
        "e-0",
        "e-1",
        "e-2",
    ]


@given(st.lists(st.integers(min_value=1, max_value=SNS_BATCH_MAX_BYTES), max_size=60))
def test_chunking_keeps_every_entry_once_in_order_within_limits(sizes: list[int]) -> None:
    """Any sizes: chunks cover every index once, in order, ≤10 entries, ≤256 KiB each."""
    chunks = chunk_by_size(sizes)
    assert [i for chunk in chunks for i in chunk] == list(range(len(sizes)))
    for chunk in chunks:
        assert 1 <= len(chunk) <= SNS_BATCH_MAX_ENTRIES
        assert sum(sizes[i] for i in chunk) <= SNS_BATCH_MAX_BYTES
