"""Running the real ``points`` console script in a child process, as operators do."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

POINTS = Path(sys.executable).with_name("points")


def run_points(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(POINTS), *args],
        capture_output=True,
        text=True,
        timeout=timeout,
        env={**os.environ, **(env or {})},
        check=False,
    )
