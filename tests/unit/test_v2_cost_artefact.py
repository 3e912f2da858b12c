"""``benchmarks.v2_cost --append``: every run lands in the artefact as it ends."""

from __future__ import annotations

import json
from pathlib import Path

from benchmarks.v2_cost import append_run


def test_each_run_is_appended_with_its_time_and_nothing_else_changes(tmp_path: Path) -> None:
    """Earlier runs and the artefact's own fields stay; the new run gets a UTC stamp."""
    artefact = tmp_path / "v2-cost.json"
    artefact.write_text(json.dumps({"benchmark": "x", "runs": [{"batch_size": 10}]}))
    append_run(artefact, {"batch_size": 100, "trees": {}})
    document = json.loads(artefact.read_text())
    assert document["benchmark"] == "x"
    assert [r["batch_size"] for r in document["runs"]] == [10, 100]
    assert document["runs"][1]["measured_at"].endswith(" UTC")


def test_the_first_run_creates_the_artefact(tmp_path: Path) -> None:
    artefact = tmp_path / "new.json"
    append_run(artefact, {"batch_size": 100})
    assert [r["batch_size"] for r in json.loads(artefact.read_text())["runs"]] == [100]
