"""Assembling and running a worker from resolved settings (the ``points worker`` command)."""

from __future__ import annotations

from functools import partial

from aiobotocore.session import get_session
from sqlalchemy.engine import Engine

from consumers.db import make_engine, require_migrated, upgrade
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


def prepare_database(config: Config, *, migrate: bool) -> Engine:
    """The ledger engine, refused unless migrated (or migrated first with ``--migrate``)."""
    engine = make_engine(config.points.database_url)
    if migrate:
        upgrade(engine)
    require_migrated(engine)
    return engine


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
