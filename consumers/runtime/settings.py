"""Worker settings (``POINTS_WORKER_*``), resolved once at start-up; flags override them."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from infra.topology import LONG_POLL_SECONDS, VISIBILITY_TIMEOUT_SECONDS

if TYPE_CHECKING:
    from consumers.retries import RetryPolicy


class WorkerSettings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="POINTS_WORKER_", extra="ignore", frozen=True)

    #: Logical queue name from the topology (``points`` or ``notifications``).
    queue: str = "points"
    #: Concurrent pollers, each holding at most one batch in flight.
    concurrency: int = Field(default=2, ge=1, le=64)
    batch_size: int = Field(default=10, ge=1, le=10)
    #: Under a backlog a poller tops a batch up with immediate receives to this many
    #: messages, applied in one handler call (one ledger transaction).
    max_batch_messages: int = Field(default=100, ge=1, le=500)
    wait_seconds: int = Field(default=LONG_POLL_SECONDS, ge=0, le=20)
    visibility_timeout: int = Field(default=VISIBILITY_TIMEOUT_SECONDS, ge=5, le=43_200)
    #: How often visibility is extended while a batch is still being processed.
    heartbeat_seconds: float = Field(default=VISIBILITY_TIMEOUT_SECONDS / 3, gt=0)
    #: ``--drain``: exit once nothing was received (and nothing is in flight) for this long.
    drain_idle_seconds: float = Field(default=2.0, ge=0)
    #: In-process attempts for a transient failure (a lock wait, a lost race, the database
    #: briefly away) before the batch is handed back to SQS: the worker's ``RetryPolicy``.
    transient_attempts: int = Field(default=8, ge=1, le=20)
    transient_wait_initial: float = Field(default=0.05, ge=0)
    transient_wait_max: float = Field(default=2.0, ge=0)
    #: Visibility backoff after in-process retries: base × 2^(receive count − 1), capped.
    backoff_base_seconds: int = Field(default=10, ge=0)
    backoff_max_seconds: int = Field(default=900, ge=0, le=43_200)
    #: SIGTERM: how long in-flight batches may take before their messages are released.
    shutdown_grace_seconds: float = Field(default=20.0, ge=0)
    #: Touched on every poll; ``points worker --healthcheck`` reads its age.
    health_file: Path | None = None
    health_max_age_seconds: float = Field(default=90.0, gt=0)

    def retry_policy(self) -> RetryPolicy:
        """The process's one retry policy (batches, and the start-up wait with a deadline)."""
        from consumers.retries import RetryPolicy  # not at import: the health check is cheap

        return RetryPolicy(
            attempts=self.transient_attempts,
            initial_wait=self.transient_wait_initial,
            max_wait=self.transient_wait_max,
        )

    def health_path(self) -> Path:
        return self.health_file or Path(f"/tmp/points-worker-{self.queue}.health")  # noqa: S108
