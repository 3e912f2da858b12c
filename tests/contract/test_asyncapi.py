"""The committed AsyncAPI 3.0 document: current, and valid for the official parser."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

from infra.topology import DEFAULT_TOPOLOGY, FILTER_POLICY_SCOPE
from schemas.asyncapi import asyncapi_document, render_asyncapi
from schemas.events import EventType
from tests.contract.judges import NODE_DIR, require_node_package

COMMITTED = Path(__file__).resolve().parents[2] / "schemas" / "payment-events.asyncapi.json"


def test_committed_asyncapi_is_current() -> None:
    """The committed document equals a fresh export (run `make schema` when this fails)."""
    assert COMMITTED.read_text(encoding="utf-8") == render_asyncapi()


def test_the_official_parser_finds_no_error() -> None:
    """@asyncapi/parser parses the committed document with no error-level diagnostic."""
    require_node_package()
    completed = subprocess.run(
        ["node", str(NODE_DIR / "asyncapi.mjs"), str(COMMITTED)],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    result: dict[str, Any] = json.loads(completed.stdout)
    errors = [d for d in result["diagnostics"] if d["severity"] == 0]
    assert result["valid"]
    assert errors == [], errors


def test_the_document_states_the_routing_of_the_topology() -> None:
    """Every event type is a message of the topic; each queue lists what its body-scoped
    filter policy admits."""
    document = asyncapi_document()
    assert set(document["channels"]["paymentEvents"]["messages"]) == {t.value for t in EventType}
    consumers = document["operations"]["publishPaymentEvent"]["bindings"]["sns"]["consumers"]
    assert [c["filterPolicy"] for c in consumers] == [
        q.filter_policy() for q in DEFAULT_TOPOLOGY.queues
    ]
    assert {c["filterPolicyScope"] for c in consumers} == {FILTER_POLICY_SCOPE}
    for spec in DEFAULT_TOPOLOGY.queues:
        channel = document["channels"][f"{spec.name}Queue"]
        assert set(channel["messages"]) == {t.value for t in spec.event_types}
