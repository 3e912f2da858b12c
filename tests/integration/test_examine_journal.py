"""The failure journal as ``points dlq show`` opens it, on a real SQLite URL."""

from __future__ import annotations

from pathlib import Path

from ops.examine import Journal


def test_missing_sqlite_journal_is_absent_and_not_created(tmp_path: Path) -> None:
    """Opening the journal of a database that does not exist creates nothing."""
    path = tmp_path / "none.sqlite3"
    journal = Journal(f"sqlite:///{path}")
    assert not journal.available
    assert journal.lookup([("m", "e")]) == {}
    assert not path.exists()
