"""The container health signal: a file every poll touches, and a cheap check of its age.

Kept apart from the runtime so that ``points worker --healthcheck`` (run by ECS every 30 s
in every task) imports almost nothing.
"""

from __future__ import annotations

import contextlib
import time

from consumers.runtime.settings import WorkerSettings


def touch_health(settings: WorkerSettings) -> None:
    with contextlib.suppress(OSError):
        settings.health_path().touch()


def health_ok(settings: WorkerSettings, now: float | None = None) -> bool:
    """For the container health check: has the worker polled recently?"""
    try:
        age = (now if now is not None else time.time()) - settings.health_path().stat().st_mtime
    except OSError:
        return False
    return age <= settings.health_max_age_seconds
