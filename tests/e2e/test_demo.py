"""``points demo`` on the embedded default: the whole story, exit 0."""

from __future__ import annotations

import subprocess

import pytest

from tests.support.cli import run_points


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    return run_points("demo", timeout=300, env={"COLUMNS": "200"})


def test_demo_exits_zero(demo: subprocess.CompletedProcess[str]) -> None:
    """The demo starts its own AWS and databases and finishes cleanly."""
    assert demo.returncode == 0, demo.stderr


def test_demo_shows_provisional_then_confirmed_points(
    demo: subprocess.CompletedProcess[str],
) -> None:
    """Alice's ¥1,200 Visa payment shows 12 provisional points, then 12 confirmed."""
    rows = [line for line in demo.stdout.splitlines() if "acct-alice" in line and "│" in line]
    cells = [[c.strip() for c in row.split("│")[1:4]] for row in rows]
    assert ["acct-alice", "0", "12"] in cells
    assert ["acct-alice", "12", "0"] in cells


def test_demo_ends_with_the_ops_story(demo: subprocess.CompletedProcess[str]) -> None:
    """A poison event is shown with its reason; the crash-looped refund is redriven once."""
    assert "unsupported_schema_version" in demo.stdout
    assert '{"moved": 1, "skipped": 1, "failed": 0, "dry_run": false}' in demo.stdout
    assert "`points ledger verify`: clean" in demo.stdout
