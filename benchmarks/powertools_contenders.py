"""The three contenders of ``benchmarks.powertools``, each on a database of its own.

Each is a context manager (set-up and tear-down outside the clock) whose ``run(bodies,
offset)`` handles one slice of the messages in batches of 10, one batch at a time, and
returns the seconds it took, so that the comparison can alternate slices between them.
"""

from __future__ import annotations

import asyncio
import contextlib
import time
import uuid
import warnings
from collections.abc import Callable, Sequence
from typing import Any, Self, cast

from benchmarks.backbones import json_logs_to_devnull
from benchmarks.worker import settings
from consumers.bootstrap import Ledger, bootstrap_ledger
from consumers.runtime.memory import InMemoryTransport
from consumers.runtime.observability import MetricsSink
from consumers.runtime.processing import BatchProcessor
from infra.settings import Config
from schemas.envelope import decode_body

BATCH: int = 10


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


class Contender:
    """Set-up on enter (ledger on ``database_url``), tear-down on exit."""

    def __init__(self, database_url: str) -> None:
        self.database_url = database_url
        self.stack = contextlib.ExitStack()
        self.ledger: Ledger | None = None

    def __enter__(self) -> Self:
        self.ledger = bootstrap_ledger(Config.resolve(database_url=self.database_url))
        self.stack.callback(self.ledger.close)
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stack.close()

    def run(self, bodies: Sequence[str], offset: int) -> float:
        started = time.perf_counter()
        for start in range(0, len(bodies), BATCH):
            self.batch(bodies[start : start + BATCH], offset + start)
        return time.perf_counter() - started

    def batch(self, bodies: Sequence[str], offset: int) -> None:
        raise NotImplementedError


class Ours(Contender):
    """Our ``BatchProcessor`` + ``PointsLedger.handle_batch(batch)`` on the in-memory
    transport: decode, one transaction per batch, batch delete; JSON outcome lines and EMF
    written to /dev/null."""

    def __enter__(self) -> Self:
        super().__enter__()
        assert self.ledger is not None
        self.loop = asyncio.new_event_loop()
        self.stack.callback(self.loop.close)
        self.transport = InMemoryTransport("points")
        self.processor = BatchProcessor(self.transport, self.ledger.handler, settings(1))
        devnull = self.stack.enter_context(json_logs_to_devnull())
        self.sink = MetricsSink(devnull, enabled=True)
        return self

    def batch(self, bodies: Sequence[str], offset: int) -> None:
        for body in bodies:
            self.transport.send(body)
        self.loop.run_until_complete(self._process(len(bodies)))

    async def _process(self, count: int) -> None:
        self.sink.emit(await self.processor.process(await self.transport.receive(count, 0)))

    def left_on_queue(self) -> int:
        return self.loop.run_until_complete(self.transport.pending())


class PerRecord(Contender):
    """Each record decoded and written with ``PointsLedger.handle_batch([event])``: one
    transaction per record, no Powertools, no Redis."""

    def batch(self, bodies: Sequence[str], offset: int) -> None:
        assert self.ledger is not None
        for body in bodies:
            [result] = self.ledger.handle_batch([decode_body(body)])
            if result.error is not None:
                raise result.error


class Powertools(Contender):
    """Powertools as its documentation composes it for SQS: ``BatchProcessor(EventType.SQS)``
    + ``process_partial_response`` around a record handler made idempotent with
    ``idempotent_function`` on Redis (keyed on ``event_id``), each record written with
    ``PointsLedger.handle_batch([event])``."""

    def __init__(self, database_url: str, redis_url: str) -> None:
        super().__init__(database_url)
        self.redis_url = redis_url
        self.failures = 0

    def __enter__(self) -> Self:
        # The bench extra (`make bench`) installs these; `make test` type-checks without them.
        import redis  # type: ignore[import-not-found, unused-ignore]
        from aws_lambda_powertools.utilities.batch import (  # type: ignore[import-not-found, unused-ignore]
            BatchProcessor as PowertoolsBatchProcessor,
        )
        from aws_lambda_powertools.utilities.batch import (  # type: ignore[import-not-found, unused-ignore]
            EventType,
        )
        from aws_lambda_powertools.utilities.idempotency import (  # type: ignore[import-not-found, unused-ignore]
            IdempotencyConfig,
            idempotent_function,
        )
        from aws_lambda_powertools.utilities.idempotency.persistence.cache import (  # type: ignore[import-not-found, unused-ignore]
            CachePersistenceLayer,
        )

        super().__enter__()
        client = redis.Redis.from_url(self.redis_url)
        prefix = f"points-bench-{uuid.uuid4().hex[:8]}"
        self.stack.callback(client.close)
        self.stack.callback(lambda: [client.delete(k) for k in client.scan_iter(f"{prefix}*")])
        with warnings.catch_warnings():  # 3.x: the documented alias still warns it is deprecated
            warnings.simplefilter("ignore", DeprecationWarning)
            store = CachePersistenceLayer(client=cast(Any, client))
        config = IdempotencyConfig(
            event_key_jmespath="powertools_json(body).event_id", raise_on_no_idempotency_key=True
        )
        self.apply = cast(
            Callable[..., dict[str, str]],
            idempotent_function(
                self._write,
                data_keyword_argument="record",
                persistence_store=store,
                config=config,
                key_prefix=prefix,
            ),
        )
        self.processor = PowertoolsBatchProcessor(event_type=EventType.SQS)
        self.context = _Context()
        config.register_lambda_context(self.context)  # type: ignore[arg-type, unused-ignore]
        return self

    def _write(self, record: Any) -> dict[str, str]:
        assert self.ledger is not None
        [result] = self.ledger.handle_batch([decode_body(record.body)])
        if result.error is not None:
            raise result.error
        return {"outcome": result.outcome.value}

    def _record(self, record: Any) -> dict[str, str]:
        outcome: dict[str, str] = self.apply(record=record)
        return outcome

    def batch(self, bodies: Sequence[str], offset: int) -> None:
        from aws_lambda_powertools.utilities.batch import (  # type: ignore[import-not-found, unused-ignore]
            process_partial_response,
        )

        response = process_partial_response(
            event=sqs_event(bodies, offset),
            record_handler=self._record,
            processor=self.processor,
            context=self.context,  # type: ignore[arg-type, unused-ignore]
        )
        self.failures += len(response.get("batchItemFailures", []))
