"""``points worker``: the ECS service entrypoint."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer

from consumers.runtime.health import health_ok
from consumers.runtime.settings import WorkerSettings
from infra.settings import Config
from ops.output import fail
from schemas.errors import ConfigurationError, TransientError


def worker(
    ctx: typer.Context,
    queue: Annotated[
        str | None, typer.Option(help="Queue to consume (points, notifications).")
    ] = None,
    drain: Annotated[
        bool, typer.Option("--drain", help="Exit 0 once the queue stays empty.")
    ] = False,
    concurrency: Annotated[
        int | None, typer.Option(help="Concurrent pollers.", min=1, max=64)
    ] = None,
    migrate: Annotated[
        bool, typer.Option("--migrate", help="Upgrade the database schema first.")
    ] = False,
    healthcheck: Annotated[
        bool, typer.Option("--healthcheck", help="Exit 0 if a worker polled recently (ECS).")
    ] = False,
    metrics: Annotated[bool, typer.Option(help="Write CloudWatch EMF metric lines.")] = True,
) -> None:
    """Consume a queue: apply events exactly once, dead-letter poison, retry the rest."""
    config: Config = ctx.obj
    overrides: dict[str, Any] = {"queue": queue, "concurrency": concurrency}
    settings = WorkerSettings().model_copy(
        update={k: v for k, v in overrides.items() if v is not None}
    )
    if healthcheck:
        raise typer.Exit(0 if health_ok(settings) else 1)
    # The runtime is imported only now: the health check above must stay cheap.
    from consumers.runtime.app import run_worker
    from consumers.runtime.observability import configure_json_logging

    configure_json_logging()

    try:
        asyncio.run(
            run_worker(config, settings, drain=drain, migrate=migrate, emit_metrics=metrics)
        )
    except ConfigurationError as error:  # e.g. a misspelled database: one line, at once
        fail(str(error))
    except TransientError as error:  # still away after the start-up wait
        fail(str(error))
