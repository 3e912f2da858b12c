"""Ours against the popular alternative, doing the same work on the same events.

**Theirs**: AWS Lambda Powertools for Python as its documentation composes it for SQS —
``BatchProcessor(EventType.SQS)`` + ``process_partial_response`` (partial batch failure)
around a record handler made idempotent with ``idempotent_function`` on a Redis
persistence layer (127.0.0.1:6379), keyed on the event's ``event_id``; the record handler
decodes the body and writes it to the ledger with ``PointsLedger.handle_batch([event])``
(one transaction per record).

**Ours**: ``consumers.runtime.processing.BatchProcessor`` with ``PointsLedger`` on the
in-memory transport: decode, one ledger transaction per batch (idempotency record in the
same transaction as the ledger change), batch delete; JSON outcome logs on (to /dev/null).

Both get the same batches of 10 messages, duplicates included, one batch at a time, on a
fresh scratch database of the same kind. The guarantee differs: Powertools' idempotency
record lives in Redis, outside the database transaction, so a crash between the two (or
a Redis eviction/expiry, default 1 h) can apply an event twice or mark it done without
its ledger change; ours commits the inbox row and the ledger change together.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Final, cast

from benchmarks.backbones import json_logs_to_devnull
from benchmarks.ledger import DEFAULT_POSTGRES
from benchmarks.worker import scratch_database, settings
from benchmarks.workload import payment_bodies
from consumers.bootstrap import bootstrap_ledger
from consumers.runtime.memory import InMemoryTransport
from consumers.runtime.observability import MetricsSink
from consumers.runtime.processing import BatchProcessor
from infra.settings import Config
from schemas.envelope import decode_body

REDIS_HOST: Final = "127.0.0.1"
REDIS_PORT: Final = 6379
EVENTS: Final = 1500
GUARANTEE: Final = (
    "ours: the idempotency record (inbox row) commits in the same database transaction as "
    "the ledger change, so an event is applied exactly once even across crashes; theirs: "
    "the idempotency record is in Redis, outside that transaction (a crash between the "
    "ledger commit and the Redis update, or an expired/evicted key, lets a redelivery "
    "reach the ledger again — here only the ledger's own inbox still catches it)"
)


class _Context:
    """The slice of a Lambda context Powertools reads."""

    function_name = "points-bench"
    memory_limit_in_mb = 512
    invoked_function_arn = "arn:aws:lambda:ap-northeast-1:123456789012:function:points-bench"
    aws_request_id = "bench"

    def get_remaining_time_in_millis(self) -> int:
        return 900_000


def sqs_event(bodies: Sequence[str], offset: int) -> dict[str, Any]:
    """An SQS → Lambda event of these bodies (each delivery its own message id)."""
    return {
        "Records": [
            {
                "messageId": f"msg-{offset + i}",
                "receiptHandle": f"rh-{offset + i}",
                "body": body,
                "attributes": {"ApproximateReceiveCount": "1", "SentTimestamp": "0"},
                "messageAttributes": {},
                "md5OfBody": "",
                "eventSource": "aws:sqs",
                "eventSourceARN": "arn:aws:sqs:ap-northeast-1:123456789012:points",
                "awsRegion": "ap-northeast-1",
            }
            for i, body in enumerate(bodies)
        ]
    }


def theirs(bodies: Sequence[str], database_url: str, redis_url: str) -> dict[str, Any]:
    """Powertools batch + idempotency (Redis) around the per-record ledger write."""
    # The bench extra (`make bench`) installs these; `make test` type-checks without them.
    import redis  # type: ignore[import-not-found, unused-ignore]
    from aws_lambda_powertools.utilities.batch import (  # type: ignore[import-not-found, unused-ignore]
        BatchProcessor as PowertoolsBatchProcessor,
    )
    from aws_lambda_powertools.utilities.batch import (  # type: ignore[import-not-found, unused-ignore]
        EventType,
        process_partial_response,
    )
    from aws_lambda_powertools.utilities.data_classes.sqs_event import (  # type: ignore[import-not-found, unused-ignore]
        SQSRecord,
    )
    from aws_lambda_powertools.utilities.idempotency import (  # type: ignore[import-not-found, unused-ignore]
        IdempotencyConfig,
        idempotent_function,
    )
    from aws_lambda_powertools.utilities.idempotency.persistence.cache import (  # type: ignore[import-not-found, unused-ignore]
        CachePersistenceLayer,
    )

    client = redis.Redis.from_url(redis_url)
    prefix = f"points-bench-{uuid.uuid4().hex[:8]}"
    with warnings.catch_warnings():  # 3.x: the documented alias still warns it is deprecated
        warnings.simplefilter("ignore", DeprecationWarning)
        store = CachePersistenceLayer(client=cast(Any, client))
    config = IdempotencyConfig(
        event_key_jmespath="powertools_json(body).event_id", raise_on_no_idempotency_key=True
    )
    ledger = bootstrap_ledger(Config.resolve(database_url=database_url))

    def write(record: SQSRecord) -> dict[str, str]:
        [result] = ledger.handle_batch([decode_body(record.body)])
        if result.error is not None:
            raise result.error
        return {"outcome": result.outcome.value}

    apply = cast(
        Callable[..., dict[str, str]],
        idempotent_function(
            write,
            data_keyword_argument="record",
            persistence_store=store,
            config=config,
            key_prefix=prefix,
        ),
    )

    def record_handler(record: SQSRecord) -> dict[str, str]:
        outcome: dict[str, str] = apply(record=record)
        return outcome

    processor = PowertoolsBatchProcessor(event_type=EventType.SQS)
    context = _Context()
    config.register_lambda_context(context)  # type: ignore[arg-type, unused-ignore]
    failures = 0
    try:
        started = time.perf_counter()
        for start in range(0, len(bodies), 10):
            response = process_partial_response(
                event=sqs_event(bodies[start : start + 10], start),
                record_handler=record_handler,
                processor=processor,
                context=context,  # type: ignore[arg-type, unused-ignore]
            )
            failures += len(response.get("batchItemFailures", []))
        elapsed = time.perf_counter() - started
    finally:
        for key in client.scan_iter(match=f"{prefix}*"):
            client.delete(key)
        client.close()
        ledger.close()
    return _rate(len(bodies), elapsed) | {"batch_item_failures": failures}


def ours(bodies: Sequence[str], database_url: str) -> dict[str, Any]:
    """Our BatchProcessor + PointsLedger on the same batches (in-memory transport)."""
    return asyncio.run(_ours(bodies, database_url))


async def _ours(bodies: Sequence[str], database_url: str) -> dict[str, Any]:
    ledger = bootstrap_ledger(Config.resolve(database_url=database_url))
    transport = InMemoryTransport("points")
    processor = BatchProcessor(transport, ledger.handler, settings(1))
    with json_logs_to_devnull() as devnull:
        sink = MetricsSink(devnull, enabled=True)
        try:
            started = time.perf_counter()
            for start in range(0, len(bodies), 10):
                for body in bodies[start : start + 10]:
                    transport.send(body)
                sink.emit(await processor.process(await transport.receive(10, 0)))
            elapsed = time.perf_counter() - started
            left = await transport.pending()
        finally:
            ledger.close()
    return _rate(len(bodies), elapsed) | {"left_on_queue": left}


def _rate(count: int, seconds: float) -> dict[str, Any]:
    return {"events": count, "seconds": round(seconds, 3), "events_per_s": round(count / seconds)}


def measure(
    events: int = EVENTS,
    databases: Sequence[str] = ("postgresql", "sqlite"),
    postgres_server: str | None = None,
    redis_url: str | None = None,
) -> dict[str, Any]:
    server = postgres_server or os.environ.get("POINTS_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    redis_url = redis_url or os.environ.get(
        "POINTS_BENCH_REDIS_URL", f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
    )
    bodies = payment_bodies(events, seed=17)
    distinct = len({json.loads(b)["event_id"] for b in bodies})
    result: dict[str, Any] = {
        "events": len(bodies),
        "duplicates": len(bodies) - distinct,
        "batch_size": 10,
        "theirs": "aws-lambda-powertools BatchProcessor(SQS) + idempotent_function(Redis)"
        " + PointsLedger.handle_batch([event]) per record",
        "ours": "BatchProcessor + PointsLedger.handle_batch(batch), in-memory transport",
        "guarantee": GUARANTEE,
    }
    for database in databases:
        with scratch_database(database, server) as url:
            mine = ours(bodies, url)
        with scratch_database(database, server) as url:
            other = theirs(bodies, url, redis_url)
        result[database] = {
            "ours": mine,
            "powertools": other,
            "speedup": round(mine["events_per_s"] / other["events_per_s"], 2),
        }
    return result


def main() -> None:
    print(json.dumps(measure(), indent=2))


if __name__ == "__main__":
    main()
