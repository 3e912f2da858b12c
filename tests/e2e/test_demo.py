"""``points demo`` on the embedded default."""

from __future__ import annotations

from tests.cli import run_points


def test_demo_runs_end_to_end() -> None:
    """The demo starts its own AWS and database, exits 0 and prints readable results."""
    result = run_points("demo", timeout=300)
    assert result.returncode == 0, result.stderr
    assert "visa" in result.stdout
    assert "quicpay" in result.stdout
