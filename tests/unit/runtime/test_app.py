"""The worker process's start-up tuning of the garbage collector."""

from __future__ import annotations

import subprocess
import sys

from consumers.runtime.app import YOUNG_COLLECTION_THRESHOLD


def test_start_up_is_frozen_and_young_collections_are_rarer() -> None:
    """After the tuning, start-up's objects are frozen and the young threshold is raised.

    In a process of its own: freezing this test process would keep other tests' garbage.
    """
    script = (
        "import gc; from consumers.runtime.app import tune_garbage_collector;"
        "tune_garbage_collector(); print(gc.get_freeze_count(), gc.get_threshold()[0])"
    )
    output = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True
    ).stdout.split()
    assert int(output[0]) > 0
    assert int(output[1]) == YOUNG_COLLECTION_THRESHOLD
