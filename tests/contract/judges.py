"""The three judges of a contract case: python-jsonschema, ajv (Node) and the consumer."""

from __future__ import annotations

import json
import shutil
import subprocess
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import pytest
from jsonschema import Draft202012Validator

from schemas.envelope import decode_body
from schemas.errors import PermanentError

NODE_DIR = Path(__file__).resolve().parent / "node"


def require_node_package() -> None:
    """Node and this folder's npm packages (``make test`` runs ``npm ci`` for them)."""
    if shutil.which("node") is None or not (NODE_DIR / "node_modules").is_dir():
        pytest.fail(f"needs Node.js 20+ and `npm ci --prefix {NODE_DIR}` (make test does it)")


def python_jsonschema(schema: dict[str, Any], texts: Sequence[str]) -> list[bool]:
    validator = Draft202012Validator(schema, format_checker=Draft202012Validator.FORMAT_CHECKER)
    return [validator.is_valid(json.loads(text)) for text in texts]


def ajv(schema: dict[str, Any], texts: Sequence[str]) -> list[bool]:
    require_node_package()
    completed = subprocess.run(
        ["node", str(NODE_DIR / "judge.mjs")],
        input=json.dumps({"schema": schema, "cases": list(texts)}),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    verdicts: list[bool] = json.loads(completed.stdout)
    assert len(verdicts) == len(texts)
    return verdicts


def consumer(text: str) -> str:
    """``accepted`` or the consumer's error code for this body."""
    try:
        decode_body(text)
    except PermanentError as exc:
        return exc.code
    return "accepted"
