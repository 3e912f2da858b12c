"""The distribution the Dockerfile installs carries everything the worker needs at runtime."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_wheel_contains_migrations_and_schema(tmp_path: Path) -> None:
    """A non-editable install has the Alembic migrations and the JSON Schema."""
    subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path),
            str(ROOT),
        ],
        check=True,
        capture_output=True,
        timeout=300,
    )
    (wheel,) = tmp_path.glob("points_pipeline-*.whl")
    names = set(zipfile.ZipFile(wheel).namelist())
    assert "consumers/migrations/env.py" in names
    assert "consumers/migrations/versions/0001_worker_tables.py" in names
    assert "schemas/payment-event.v1.schema.json" in names
    assert any(n.endswith("entry_points.txt") for n in names)


def test_dockerfile_runs_the_worker_as_non_root_with_a_healthcheck() -> None:
    """The image drops root, checks health through the CLI and starts `points worker`."""
    text = (ROOT / "Dockerfile").read_text()
    assert "USER 10001:10001" in text
    assert 'CMD ["points", "worker", "--healthcheck"]' in text
    assert 'ENTRYPOINT ["points"]' in text
    assert 'CMD ["worker", "--queue", "points"]' in text
