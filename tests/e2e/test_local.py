"""``points local``: an embedded AWS with the topology, until stopped."""

from __future__ import annotations

import os
import signal
import subprocess
import time

from infra.local import free_port
from tests.support.cli import POINTS, run_points


def test_local_serves_the_applied_topology_until_terminated() -> None:
    """Another shell can use the printed endpoint at once; SIGTERM stops it cleanly."""
    port = free_port()
    process = subprocess.Popen(
        [str(POINTS), "local", "--port", str(port)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        assert process.stdout is not None
        deadline = time.monotonic() + 60
        for line in process.stdout:
            if "Ctrl-C to stop" in line:
                break
            assert time.monotonic() < deadline
        env = {
            "AWS_ENDPOINT_URL": f"http://127.0.0.1:{port}",
            "AWS_ACCESS_KEY_ID": "x",
            "AWS_SECRET_ACCESS_KEY": "x",
        }
        applied = run_points("infra", "apply", env={**os.environ, **env})
        assert applied.returncode == 0, applied.stderr
        assert "no changes" in applied.stdout
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=30) == 0
