"""Rules: defaults, the JSON rules file, and version choice by the anchor's occurred_at."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from consumers.points.amounts import Points
from consumers.points.rules import (
    DEFAULT_RULES,
    InvalidRules,
    load_rules,
    parse_rules,
    rules_to_json,
)
from schemas.events import Brand
from tests.unit.points.helpers import earned, ev

TWO_VERSIONS = {
    "versions": [
        {
            "effective_from": "2026-12-01T00:00:00+09:00",
            "rates_bp": {"visa": 200, "quicpay": 100},
            "excluded_mccs": ["4829"],
        },
        {"rates_bp": {"visa": 100, "quicpay": 50}, "excluded_mccs": ["4829", "6051"]},
    ]
}


def test_default_rules_are_the_design_rates() -> None:
    """Without a rules file: visa 100 bp, quicpay 50 bp, MCCs 4829 6051 6540 9311 excluded."""
    version = DEFAULT_RULES.for_anchor(datetime(2030, 1, 1, tzinfo=UTC))
    assert version.rates_bp == {Brand.VISA: 100, Brand.QUICPAY: 50}
    assert version.excluded_mccs == {"4829", "6051", "6540", "9311"}


def test_no_rules_file_means_defaults() -> None:
    """``POINTS_RULES_FILE`` unset loads the built-in rules."""
    assert load_rules(None) is DEFAULT_RULES


def test_rules_file_versions_are_sorted_by_effective_from() -> None:
    """Versions may be listed in any order; the open-ended one comes first."""
    rules = parse_rules(json.dumps(TWO_VERSIONS))
    assert rules.versions[0].effective_from is None
    assert rules.versions[1].rates_bp[Brand.VISA] == 200


def test_anchor_before_a_version_uses_the_previous_one() -> None:
    """An anchor one second before ``effective_from`` earns under the older version."""
    rules = parse_rules(json.dumps(TWO_VERSIONS))
    story = ev("clearing", 1000, occurred_at="2026-11-30T23:59:59+09:00")
    assert earned(story, rules=rules) == Points(10, 0)


def test_anchor_at_effective_from_uses_the_new_version() -> None:
    """``effective_from`` is inclusive: an anchor at that instant gets the new rate."""
    rules = parse_rules(json.dumps(TWO_VERSIONS))
    story = ev("clearing", 1000, occurred_at="2026-11-30T15:00:00Z")
    assert earned(story, rules=rules) == Points(20, 0)


def test_the_anchor_not_the_latest_event_picks_the_version() -> None:
    """A payment anchored before the switch keeps the old rate for later events too."""
    rules = parse_rules(json.dumps(TWO_VERSIONS))
    auth = ev("authorization", 1000, occurred_at="2026-11-30T10:00:00+09:00")
    clearing = ev("clearing", 1000, occurred_at="2026-12-02T10:00:00+09:00")
    assert earned(auth, clearing, rules=rules) == Points(10, 0)


def test_anchor_before_every_version_uses_the_earliest() -> None:
    """With only dated versions, an older anchor still earns under the earliest one."""
    only_dated = {"versions": [TWO_VERSIONS["versions"][0]]}
    rules = parse_rules(json.dumps(only_dated))
    story = ev("clearing", 1000, occurred_at="2020-01-01T00:00:00Z")
    assert earned(story, rules=rules) == Points(20, 0)


def test_rules_file_round_trips(tmp_path: Path) -> None:
    """``rules_to_json`` writes what ``load_rules`` reads back."""
    path = tmp_path / "rules.json"
    rules = parse_rules(json.dumps(TWO_VERSIONS))
    path.write_text(rules_to_json(rules))
    assert load_rules(path) == rules


def test_missing_brand_rate_is_refused() -> None:
    """Every version must rate every brand: a silent 0 % would lose points."""
    broken = {"versions": [{"rates_bp": {"visa": 100}}]}
    with pytest.raises(InvalidRules, match="quicpay"):
        parse_rules(json.dumps(broken))


def test_two_open_ended_versions_are_refused() -> None:
    """Only one version may omit ``effective_from``."""
    broken = {"versions": [{"rates_bp": {"visa": 1, "quicpay": 1}}] * 2}
    with pytest.raises(InvalidRules, match="only one version"):
        parse_rules(json.dumps(broken))


def test_naive_effective_from_is_refused() -> None:
    """``effective_from`` needs an offset, like event timestamps."""
    broken = {
        "versions": [
            {"effective_from": "2026-12-01T00:00:00", "rates_bp": {"visa": 1, "quicpay": 1}}
        ]
    }
    with pytest.raises(InvalidRules):
        parse_rules(json.dumps(broken))


def test_unreadable_rules_file_is_a_clear_error(tmp_path: Path) -> None:
    """A missing file names itself instead of falling back to defaults."""
    with pytest.raises(InvalidRules, match="cannot read rules file"):
        load_rules(tmp_path / "missing.json")
