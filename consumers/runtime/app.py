"""Assembling and running a worker from resolved settings (the ``points worker`` command)."""

from __future__ import annotations

from functools import partial
from typing import Any, Final

from aiobotocore.session import get_session
from sqlalchemy.engine import Engine, make_url
from tenacity import Retrying, retry_if_exception, stop_after_delay, wait_random_exponential

from consumers.db import (
    is_transient_db_error,
    make_engine,
    normalise_url,
    require_migrated,
    upgrade,
)
from consumers.handler import Handler
from consumers.journal import record_failures
from consumers.registry import handler_factory
from consumers.runtime.observability import MetricsSink
from consumers.runtime.processing import BatchProcessor
from consumers.runtime.settings import WorkerSettings
from consumers.runtime.transport import SqsTransport
from consumers.runtime.worker import Worker
from infra.aws import client_kwargs
from infra.resolve import topology
from infra.settings import Config

#: A task starting while its database is briefly away waits this long before giving up.
STARTUP_WAIT_SECONDS: Final = 60.0
#: libpq settings for the worker: notice a dead server or network instead of hanging.
POSTGRES_WORKER_CONNECT_ARGS: Final = {
    "connect_timeout": 10,
    "keepalives": 1,
    "keepalives_idle": 10,
    "keepalives_interval": 5,
    "keepalives_count": 3,
    "options": "-c statement_timeout=30000 -c idle_in_transaction_session_timeout=60000",
}


def prepare_database(
    config: Config, *, migrate: bool, wait_seconds: float = STARTUP_WAIT_SECONDS
) -> Engine:
    """The ledger engine, refused unless migrated (or migrated first with ``--migrate``).

    Without a pre-ping: a dead pooled connection fails its first statement as a transient
    error that the handlers retry, which costs less than a round trip per transaction.
    """
    url = config.points.database_url
    server = _is_postgres(url)
    engine = make_engine(url, pool_pre_ping=False, **_connect_args(url))
    for attempt in Retrying(
        # A local SQLite file does not come back by waiting; a database server may.
        retry=retry_if_exception(lambda e: server and is_transient_db_error(e)),
        stop=stop_after_delay(wait_seconds),
        wait=wait_random_exponential(multiplier=0.5, max=5),
        reraise=True,
    ):
        with attempt:
            if migrate:
                upgrade(engine)
            require_migrated(engine)
    return engine


def _is_postgres(url: str) -> bool:
    return make_url(normalise_url(url)).get_backend_name() == "postgresql"


def _connect_args(url: str) -> dict[str, Any]:
    return {"connect_args": dict(POSTGRES_WORKER_CONNECT_ARGS)} if _is_postgres(url) else {}


async def run_worker(
    config: Config,
    settings: WorkerSettings,
    *,
    drain: bool = False,
    migrate: bool = False,
    handler: Handler | None = None,
    emit_metrics: bool = True,
) -> int:
    """Consume ``settings.queue`` until stopped (or drained); returns messages handled."""
    factory = handler_factory(settings.queue)
    engine = prepare_database(config, migrate=migrate)
    try:
        chosen = handler or factory(config, engine)
        names = topology(config)
        spec = names.queue(settings.queue)
        kwargs = client_kwargs(config.aws)
        kwargs["config"] = kwargs["config"].merge(
            type(kwargs["config"])(max_pool_connections=settings.concurrency * 2 + 2)
        )
        async with get_session().create_client("sqs", **kwargs) as sqs:
            url = (await sqs.get_queue_url(QueueName=names.physical(spec.name)))["QueueUrl"]
            dlq = (await sqs.get_queue_url(QueueName=names.physical(spec.dlq_name)))["QueueUrl"]
            transport = SqsTransport(sqs, spec.name, url, dlq)
            processor = BatchProcessor(
                transport, chosen, settings, journal=partial(record_failures, engine)
            )
            worker = Worker(
                transport,
                processor,
                settings,
                drain=drain,
                metrics=MetricsSink(enabled=emit_metrics),
            )
            await worker.run()
            return worker.processed
    finally:
        engine.dispose()
