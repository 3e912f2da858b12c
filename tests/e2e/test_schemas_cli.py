"""``points schemas export|check`` through the real console script."""

from __future__ import annotations

import json
from pathlib import Path

from schemas.jsonschema import payment_event_schema
from tests.support.cli import run_points

RELEASED = (
    Path(__file__).resolve().parents[2] / "schemas" / "released" / "payment-event.v1.schema.json"
)


def test_check_passes_against_the_released_schema() -> None:
    """The gate CI runs: exit 0 and ``{"compatible": true}``."""
    result = run_points("schemas", "check", "--against", str(RELEASED), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"compatible": True, "breaking": []}


def test_check_fails_on_a_breaking_change(tmp_path: Path) -> None:
    """A schema without ``account_id`` checked against the release: exit 1, the change named."""
    schema = payment_event_schema()
    del schema["$defs"]["Clearing"]["properties"]["account_id"]
    candidate = tmp_path / "candidate.json"
    candidate.write_text(json.dumps(schema), encoding="utf-8")
    result = run_points("schemas", "check", "--against", str(RELEASED), "--schema", str(candidate))
    assert result.returncode == 1
    assert "clearing: field 'account_id' removed" in result.stdout


def test_check_names_an_unreadable_file_in_one_line(tmp_path: Path) -> None:
    """A missing release file: exit 2, one line, no traceback."""
    result = run_points("schemas", "check", "--against", str(tmp_path / "missing.json"))
    assert result.returncode == 2
    assert "cannot read" in result.stderr
    assert "Traceback" not in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_export_asyncapi_writes_the_document(tmp_path: Path) -> None:
    """``export --asyncapi --out FILE --json`` writes AsyncAPI 3.0 and says what it wrote."""
    out = tmp_path / "doc.json"
    result = run_points("schemas", "export", "--asyncapi", "--out", str(out), "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout) == {"out": str(out), "document": "asyncapi"}
    assert json.loads(out.read_text(encoding="utf-8"))["asyncapi"] == "3.0.0"
