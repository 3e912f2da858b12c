"""The distribution the Dockerfile installs carries everything the worker needs at runtime."""

from __future__ import annotations

import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_contains_migrations_and_schema(wheel: Path) -> None:
    """A non-editable install has the Alembic migrations and the JSON Schema."""
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "consumers/migrations/env.py" in names
    assert "consumers/migrations/versions/0001_worker_tables.py" in names
    assert "schemas/payment-event.v1.schema.json" in names
    assert "schemas/payment-events.asyncapi.json" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_dockerfile_runs_the_worker_as_non_root_with_a_healthcheck() -> None:
    """The image drops root, checks health through the CLI and starts `points worker`."""
    text = (ROOT / "Dockerfile").read_text()
    assert "USER 10001:10001" in text
    assert 'CMD ["points", "worker", "--healthcheck"]' in text
    assert 'ENTRYPOINT ["points"]' in text
    assert 'CMD ["worker", "--queue", "points"]' in text


def test_dockerfile_installs_exactly_the_worker_lock() -> None:
    """The image installs requirements/worker.lock with --no-deps, then runs pip check."""
    text = (ROOT / "Dockerfile").read_text()
    assert "COPY requirements/worker.lock" in text
    assert "pip install --no-cache-dir --no-deps -r /tmp/worker.lock /wheels/*.whl" in text
    assert "pip check" in text
