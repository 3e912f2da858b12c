"""Installs split by who installs them (DESIGN §2), tried in fresh virtual environments.

A payment service installs the base distribution and publishes; the worker image installs
``requirements/worker.lock`` exactly as the Dockerfile does. Neither carries moto.
"""

from __future__ import annotations

import json
import os
import subprocess
import textwrap
import venv
from pathlib import Path

import pytest

from infra.apply import apply_topology
from infra.aws import sns_client, sqs_client
from infra.resolve import topology
from infra.settings import Config
from tests.support.pipeline import queue_bodies

ROOT = Path(__file__).resolve().parents[2]
NEVER_IN_A_PRODUCER = {"moto", "sqlalchemy", "aiobotocore", "flask", "docker", "alembic"}
NEVER_IN_THE_IMAGE = {"moto", "flask", "docker", "werkzeug", "responses"}

pytestmark = pytest.mark.slow


def _run(*command: str, env: dict[str, str] | None = None, cwd: Path | None = None) -> str:
    result = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=540,
        check=False,
        env={**os.environ, **(env or {})},
        cwd=cwd,
    )
    assert result.returncode == 0, (
        f"{command[:4]}…\n{result.stdout[-2000:]}\n{result.stderr[-3000:]}"
    )
    return result.stdout


def _fresh_venv(path: Path) -> Path:
    venv.create(path, with_pip=True)
    return path / "bin" / "python"


def _installed(python: Path) -> set[str]:
    listed = json.loads(_run(str(python), "-m", "pip", "list", "--format", "json"))
    return {str(item["name"]).lower() for item in listed}


def test_the_base_install_publishes_and_carries_no_worker(
    aws: Config, wheel: Path, tmp_path: Path
) -> None:
    """``pip install points-pipeline`` (base) in a fresh venv publishes an event to moto with
    ``publish_event``; neither moto, SQLAlchemy nor aiobotocore was installed."""
    python = _fresh_venv(tmp_path / "producer")
    _run(str(python), "-m", "pip", "install", "-q", str(wheel))
    installed = _installed(python)
    assert installed.isdisjoint(NEVER_IN_A_PRODUCER), installed & NEVER_IN_A_PRODUCER
    assert {"boto3", "pydantic"} <= installed
    applied = apply_topology(topology(aws), sns_client(aws.aws), sqs_client(aws.aws))
    script = textwrap.dedent(
        """
        from producers import publish_event
        from schemas.events import Authorization

        print(publish_event(Authorization(
            event_id="from-a-payment-service", occurred_at="2026-11-21T10:00:00+09:00",
            brand="visa", payment_id="pay-1", account_id="acct-1", amount=1200,
            currency="JPY", merchant={"name": "LAWSON", "mcc": "5411", "country": "JP"},
        )))
        """
    )
    # Away from the checkout, so the installed wheel is what gets imported.
    _run(str(python), "-c", script, env={"PYTHONPATH": "", "PYTHONSAFEPATH": "1"}, cwd=tmp_path)
    (delivered,) = queue_bodies(aws, applied.queues["points"].url)
    assert delivered["event_id"] == "from-a-payment-service"


def test_the_worker_lock_installs_the_worker_and_cli_without_moto(
    wheel: Path, tmp_path: Path
) -> None:
    """As the Dockerfile does: the lock with --no-deps plus the wheel, ``pip check`` clean,
    the lock covers ``[ops]`` (nothing left to resolve), and ``points db upgrade`` runs."""
    lock = (ROOT / "requirements" / "worker.lock").read_text(encoding="utf-8")
    pinned = {line.split("==")[0].lower() for line in lock.splitlines() if "==" in line}
    assert pinned.isdisjoint(NEVER_IN_THE_IMAGE)
    python = _fresh_venv(tmp_path / "image")
    pip = (str(python), "-m", "pip")
    _run(
        *pip,
        "install",
        "-q",
        "--no-deps",
        "-r",
        str(ROOT / "requirements" / "worker.lock"),
        str(wheel),
    )
    _run(*pip, "check")
    would = _run(*pip, "install", "--dry-run", "--no-index", f"{wheel}[ops]")
    assert "Would install" not in would, would
    points = tmp_path / "image" / "bin" / "points"
    _run(str(points), "--database-url", f"sqlite:///{tmp_path}/ledger.db", "db", "upgrade")
    assert _installed(python).isdisjoint(NEVER_IN_THE_IMAGE)
