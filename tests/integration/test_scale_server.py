"""``benchmarks.scale_server``: the private server ``make bench-scale-production`` runs on."""

from __future__ import annotations

import shutil
import socket
import tempfile
from pathlib import Path

import pytest
import sqlalchemy as sa

from tests.conftest import IN_CI

pytestmark = [pytest.mark.postgres]


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_a_private_server_runs_with_a_quarter_of_memory_and_autovacuum_then_goes() -> None:
    from benchmarks import scale_server

    try:
        scale_server.bindir()
    except SystemExit as missing:
        if IN_CI:
            pytest.fail(f"CI=true requires PostgreSQL's server binaries: {missing}")
        pytest.skip(f"!!! SKIPPING: {missing}")
    # Not under pytest's tmp_path: as root the server runs as ``postgres``, which must
    # reach its directory (pytest's are private to the user running the tests).
    parent = Path(tempfile.mkdtemp(prefix="points-scale-server-"))
    parent.chmod(0o755)
    directory = parent / "server"
    url = scale_server.start(directory, _free_port())
    try:
        engine = sa.create_engine(url)
        with engine.connect() as connection:
            shared_buffers = connection.execute(
                sa.text(
                    "SELECT setting::bigint * 8192 FROM pg_settings WHERE name = 'shared_buffers'"
                )
            ).scalar_one()
            autovacuum = connection.execute(sa.text("SHOW autovacuum")).scalar_one()
        engine.dispose()
        quarter = scale_server.quarter_of_memory_mb() * 2**20
        assert shared_buffers == pytest.approx(quarter, rel=0.01)
        assert autovacuum == "on"
    finally:
        scale_server.stop(directory)
    assert not directory.exists()
    shutil.rmtree(parent, ignore_errors=True)
