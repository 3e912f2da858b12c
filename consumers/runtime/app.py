"""Running a worker from resolved settings (the ``points worker`` command); the assembly
is ``consumers.bootstrap.bootstrap_worker``."""

from __future__ import annotations

import gc
from typing import Any

from consumers.bootstrap import bootstrap_worker
from consumers.runtime.settings import WorkerSettings
from infra.settings import Config


async def run_worker(config: Config, settings: WorkerSettings, **options: Any) -> int:
    """Consume ``settings.queue`` until stopped (or drained); returns messages handled.

    ``options`` are ``bootstrap_worker``'s (``drain``, ``migrate``, ``handler``, …).
    """
    async with bootstrap_worker(config, settings, **options) as worker:
        freeze_start_up()
        await worker.run()
        return worker.processed


def freeze_start_up() -> None:
    """Leave what start-up built out of every later garbage collection (``gc.freeze``).

    Modules, models, botocore's service data, the connection pools: ~145,000 objects that
    live as long as the process. Unfrozen, every full collection walked them all, 75–87 ms
    of CPU each, one every few thousand messages (measured in a drain of 6,000 on fauxqs +
    PostgreSQL); frozen, the same collection took 1–2 ms. Nothing is collected at the
    freeze itself (that would cost the same 80 ms); the few cycles start-up left as
    garbage stay, once. For a worker process only: a test process must not freeze its
    other tests' garbage.
    """
    gc.freeze()
