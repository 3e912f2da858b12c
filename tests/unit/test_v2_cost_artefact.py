"""``benchmarks.v2_cost --append``: every run lands in the artefact as it ends."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from benchmarks.v2_cost import append_run, code_of


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


def _git(repo: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-C", str(repo), "-c", "user.name=t", "-c", "user.email=t@example.com", *args],
        check=True,
        capture_output=True,
    )


def _repo(tmp_path: Path) -> Path:
    repo = tmp_path / "tree"
    for path in ("consumers/ledger.py", "benchmarks/v2_cost.py", "README.md"):
        (repo / path).parent.mkdir(parents=True, exist_ok=True)
        (repo / path).write_text("one\n")
    _git(repo, "init", "-q")
    _git(repo, "add", ".")
    _git(repo, "commit", "-q", "-m", "first")
    return repo


def test_a_change_outside_the_ledger_code_keeps_its_digest(tmp_path: Path) -> None:
    """The benchmark or the README changed, committed or not: the same ledger code."""
    repo = _repo(tmp_path)
    before = code_of(repo)
    (repo / "benchmarks" / "v2_cost.py").write_text("two\n")
    assert code_of(repo) == before
    _git(repo, "commit", "-q", "-am", "benchmark")
    (repo / "README.md").write_text("two\n")
    assert code_of(repo) == before


def test_a_change_to_the_ledger_code_changes_its_digest_committed_or_not(tmp_path: Path) -> None:
    repo = _repo(tmp_path)
    before = code_of(repo)
    (repo / "consumers" / "ledger.py").write_text("two\n")
    uncommitted = code_of(repo)
    _git(repo, "commit", "-q", "-am", "ledger")
    assert before != uncommitted
    assert code_of(repo) not in (before, uncommitted)
    assert code_of(repo, "HEAD~1") == before
