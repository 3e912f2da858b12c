"""The producer side, imported by payment services (DESIGN §1, issue 5).

- ``publish``: ``publish_event(event)`` / ``publish_event_async(event)``, one call each.
- ``visa`` / ``quicpay``: brand records -> v1 events with ids from the brand's identifiers.
- ``outbox``: ``record(session, event)`` inside the payment's own transaction.
- ``relay``: outbox rows -> SNS (``points outbox relay``), at-least-once, never dropping.
- ``publisher`` / ``async_publisher``: SNS publish and PublishBatch, boto3 and aiobotocore.
- ``stories``: the demo's payments, told through the adapters and the outbox.
- ``fake_sns``: an in-memory SNS client for unit tests and benchmarks.

Nothing here computes points, and only the publishers touch AWS clients.
"""

from __future__ import annotations

from typing import Any

__all__ = ["publish_event", "publish_event_async"]


def __getattr__(name: str) -> Any:
    """``from producers import publish_event`` without making every producer module (the
    adapters, the outbox) import boto3: the publishing functions load on first use."""
    if name in __all__:
        from producers import publish

        return getattr(publish, name)
    raise AttributeError(f"module 'producers' has no attribute {name!r}")
