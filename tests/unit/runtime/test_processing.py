"""Batch processing: acknowledge, dead-letter, retry later — never lose, never double."""

from __future__ import annotations

import asyncio
from collections.abc import Coroutine
from typing import Any, TypeVar

import pytest

from consumers.journal import Failure
from consumers.runtime.deadletter import ERROR_TYPE, MESSAGE_ID, read_failure
from consumers.runtime.memory import InMemoryTransport
from consumers.runtime.processing import BatchProcessor, backoff_seconds
from consumers.runtime.settings import WorkerSettings
from tests.support.factories import body
from tests.unit.runtime.fakes import FakeHandler

T = TypeVar("T")

SETTINGS = WorkerSettings(
    transient_attempts=2,
    transient_wait_initial=0,
    transient_wait_max=0,
    heartbeat_seconds=0.05,
    backoff_base_seconds=10,
    visibility_timeout=30,
)


def _run(coroutine: Coroutine[Any, Any, T]) -> T:
    return asyncio.run(coroutine)


async def _process(
    transport: InMemoryTransport, handler: FakeHandler, journal: list[Failure] | None = None
) -> None:
    processor = BatchProcessor(
        transport, handler, SETTINGS, journal=None if journal is None else journal.extend
    )
    messages = await transport.receive(10, 0)
    await processor.process(messages)


def test_applied_messages_are_deleted() -> None:
    """Messages the handler applied leave the queue."""
    transport = InMemoryTransport()
    for i in range(3):
        transport.send(body(event_id=f"e{i}"))
    handler = FakeHandler()
    _run(_process(transport, handler))
    assert handler.applied == ["e0", "e1", "e2"]
    assert _run(transport.pending()) == 0


def test_duplicate_delivery_is_acknowledged_without_effect() -> None:
    """The same event delivered twice is applied once and both copies are deleted."""
    transport = InMemoryTransport()
    transport.send(body(event_id="same"))
    transport.send(body(event_id="same"))
    handler = FakeHandler()
    _run(_process(transport, handler))
    assert handler.applied == ["same"]
    assert _run(transport.pending()) == 0


def test_poison_body_is_dead_lettered_at_once_and_the_rest_commits() -> None:
    """An undecodable body goes to the DLQ with its reason after one receive."""
    transport = InMemoryTransport()
    transport.send(body(event_id="good"))
    poison = transport.send("{not json")
    handler = FakeHandler()
    journal: list[Failure] = []
    _run(_process(transport, handler, journal))
    assert handler.applied == ["good"]
    (dead,) = transport.dead_letters
    info = read_failure(dead.attributes)
    assert info is not None
    assert (info.error_type, info.message_id, info.receive_count) == ("invalid_body", poison, 1)
    assert dead.body == "{not json"
    assert [(f.error_type, f.permanent) for f in journal] == [("invalid_body", True)]
    assert _run(transport.pending()) == 0


def test_conflict_is_dead_lettered_with_the_handlers_reason() -> None:
    """A permanent rejection by the handler dead-letters that message only."""
    transport = InMemoryTransport()
    transport.send(body(event_id="ok"), {"event_type": ("String", "authorization")})
    bad = transport.send(body(event_id="bad"), {"event_type": ("String", "authorization")})
    _run(_process(transport, FakeHandler(conflicts=["bad"])))
    (dead,) = transport.dead_letters
    assert dead.attributes[ERROR_TYPE] == ("String", "idempotency_conflict")
    assert dead.attributes[MESSAGE_ID] == ("String", bad)
    assert dead.attributes["event_type"] == ("String", "authorization")


def test_transient_failure_is_retried_in_process_first() -> None:
    """One transient failure within the in-process budget: the batch still commits."""
    transport = InMemoryTransport()
    transport.send(body(event_id="e"))
    handler = FakeHandler(outage=1)
    _run(_process(transport, handler))
    assert handler.applied == ["e"]
    assert handler.calls == 2


def test_persistent_transient_failure_leaves_messages_with_a_backoff() -> None:
    """Past the in-process budget the messages stay, invisible for the backoff, journaled."""
    clock = [0.0]
    transport = InMemoryTransport(clock=lambda: clock[0])
    transport.send(body(event_id="e"))
    handler = FakeHandler(outage=5)
    journal: list[Failure] = []
    _run(_process(transport, handler, journal))
    assert handler.applied == []
    assert [(f.error_type, f.permanent) for f in journal] == [("transient", False)]
    clock[0] = 9.9
    assert _run(transport.receive(10, 0)) == []
    clock[0] = 10.1
    assert len(_run(transport.receive(10, 0))) == 1


def test_unexpected_handler_error_loses_nothing() -> None:
    """A bug in a handler is treated like a transient failure: the message comes back."""
    transport = InMemoryTransport()
    transport.send(body(event_id="e"))
    handler = FakeHandler()
    handler.crash = RuntimeError("bug")
    _run(_process(transport, handler))
    assert _run(transport.pending()) == 1
    assert transport.dead_letters == []


def test_heartbeat_extends_visibility_of_a_slow_batch() -> None:
    """While the handler works, the batch's visibility keeps being pushed out."""
    clock = [0.0]
    transport = InMemoryTransport(clock=lambda: clock[0], visibility_timeout=1)
    transport.send(body(event_id="e"))
    handler = FakeHandler(delay=0.3)

    async def scenario() -> None:
        processor = BatchProcessor(transport, handler, SETTINGS)
        messages = await transport.receive(10, 0)
        task = asyncio.create_task(processor.process(messages))
        await asyncio.sleep(0.15)
        clock[0] = 5.0  # past the original 1 s timeout; the heartbeat set it to 5 + 30
        await asyncio.sleep(0.1)
        assert await transport.receive(10, 0) == []
        await task

    _run(scenario())
    assert handler.applied == ["e"]


@pytest.mark.parametrize(("count", "expected"), [(1, 10), (2, 20), (3, 40), (5, 160), (12, 900)])
def test_backoff_doubles_per_receive_and_is_capped(count: int, expected: int) -> None:
    """Visibility backoff is base × 2^(receives − 1), capped at the maximum."""
    assert backoff_seconds(count, SETTINGS) == expected
