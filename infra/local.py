"""The embedded local AWS: a real moto server process on loopback.

moto runs as a child process (not in-process) so that its CPU time and its global
interpreter lock are not ours, and so that every client, boto3 or aiobotocore, talks to it
over HTTP exactly as it would talk to AWS (DESIGN §8).
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path
from typing import IO, Any, Final

from infra.settings import DEFAULT_REGION

LOOPBACK: Final = "127.0.0.1"
START_TIMEOUT_SECONDS: Final = 30.0
#: moto accepts any credentials; these only stop botocore from looking for real ones.
DUMMY_CREDENTIALS: Final = {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}


class EmbeddedAwsError(RuntimeError):
    """The embedded moto server could not be started."""


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((LOOPBACK, 0))
        port: int = sock.getsockname()[1]
        return port


def stop_process(process: subprocess.Popen[Any]) -> None:
    """Terminate a child that is still running; kill it if it has not ended in ten seconds."""
    if process.poll() is None:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


class EmbeddedAws:
    """``with EmbeddedAws() as aws:`` runs moto on a free loopback port until the block ends."""

    def __init__(self, port: int = 0, region: str = DEFAULT_REGION, log: Path | None = None):
        self.port = port or free_port()
        self.region = region
        self._log_path = log
        self._log: IO[bytes] | None = None
        self._process: subprocess.Popen[bytes] | None = None

    @property
    def endpoint_url(self) -> str:
        return f"http://{LOOPBACK}:{self.port}"

    def environment(self) -> dict[str, str]:
        """Variables that point boto3, aiobotocore and child processes at this server."""
        return {
            "AWS_ENDPOINT_URL": self.endpoint_url,
            "AWS_REGION": self.region,
            "AWS_DEFAULT_REGION": self.region,
            **DUMMY_CREDENTIALS,
        }

    def start(self) -> EmbeddedAws:
        output: IO[bytes] | int = subprocess.DEVNULL
        if self._log_path is not None:
            self._log = output = self._log_path.open("ab")
        self._process = subprocess.Popen(
            [sys.executable, "-m", "moto.server", "-H", LOOPBACK, "-p", str(self.port)],
            stdout=output,
            stderr=output,
            env={**os.environ, **DUMMY_CREDENTIALS},
        )
        self._wait_until_ready()
        return self

    def stop(self) -> None:
        if self._process is not None:
            stop_process(self._process)
        self._process = None
        if self._log is not None:
            self._log.close()
            self._log = None

    def reset(self) -> None:
        """Forget every resource (moto's reset API); cheaper than a restart between tests."""
        request = urllib.request.Request(f"{self.endpoint_url}/moto-api/reset", method="POST")
        with urllib.request.urlopen(request, timeout=10):
            pass

    def __enter__(self) -> EmbeddedAws:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _wait_until_ready(self) -> None:
        deadline = time.monotonic() + START_TIMEOUT_SECONDS
        assert self._process is not None
        while time.monotonic() < deadline:
            if self._process.poll() is not None:
                raise EmbeddedAwsError(
                    f"moto server exited with code {self._process.returncode} on port {self.port}"
                )
            try:
                with urllib.request.urlopen(f"{self.endpoint_url}/moto-api/", timeout=1):
                    return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                time.sleep(0.05)
        self.stop()
        raise EmbeddedAwsError(
            f"moto server did not answer on {self.endpoint_url} "
            f"within {START_TIMEOUT_SECONDS:.0f} s"
        )
