"""Running a worker from resolved settings (the ``points worker`` command); the assembly
is ``consumers.bootstrap.bootstrap_worker``."""

from __future__ import annotations

from consumers.bootstrap import STARTUP_WAIT_SECONDS, bootstrap_worker
from consumers.handler import Handler
from consumers.runtime.settings import WorkerSettings
from infra.settings import Config


async def run_worker(
    config: Config,
    settings: WorkerSettings,
    *,
    drain: bool = False,
    migrate: bool = False,
    handler: Handler | None = None,
    emit_metrics: bool = True,
    startup_wait_seconds: float = STARTUP_WAIT_SECONDS,
) -> int:
    """Consume ``settings.queue`` until stopped (or drained); returns messages handled."""
    async with bootstrap_worker(
        config,
        settings,
        drain=drain,
        migrate=migrate,
        handler=handler,
        emit_metrics=emit_metrics,
        startup_wait_seconds=startup_wait_seconds,
    ) as worker:
        await worker.run()
        return worker.processed
