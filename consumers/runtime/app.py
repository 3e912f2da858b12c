"""Running a worker from resolved settings (the ``points worker`` command); the assembly
is ``consumers.bootstrap.bootstrap_worker``."""

from __future__ import annotations

from typing import Any

from consumers.bootstrap import bootstrap_worker
from consumers.runtime.settings import WorkerSettings
from infra.settings import Config


async def run_worker(config: Config, settings: WorkerSettings, **options: Any) -> int:
    """Consume ``settings.queue`` until stopped (or drained); returns messages handled.

    ``options`` are ``bootstrap_worker``'s (``drain``, ``migrate``, ``handler``, …).
    """
    async with bootstrap_worker(config, settings, **options) as worker:
        await worker.run()
        return worker.processed
