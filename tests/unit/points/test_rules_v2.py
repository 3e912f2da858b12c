"""Rules v2 as data (DESIGN §4.6): the file format, strict validation with one-line errors,
version selection, the built-in default, canonical form and identity of a version."""

from __future__ import annotations

import copy
import json
from datetime import datetime
from random import Random
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from consumers.points.rules import (
    DEFAULT_RULES,
    InvalidRules,
    Rate,
    canonical_version_json,
    parse_rules,
    rules_to_json,
    version_digest,
    with_default,
)
from schemas.events import Brand
from tests.support.stories_v2 import rules_documents
from tests.support.v2_kit import campaign, rules_with, version

DESIGN_EXAMPLE: dict[str, Any] = {
    "versions": [
        {
            "effective_from": "2026-12-01T00:00:00+09:00",
            "rates_bp": {"visa": 100, "quicpay": 50},
            "excluded_mccs": ["4829", "6051", "6540", "9311"],
            "monthly_cap_points": 1200,
            "campaigns": [
                {
                    "id": "xmas-konbini",
                    "starts_at": "2026-12-01T00:00:00+09:00",
                    "ends_at": "2026-12-26T00:00:00+09:00",
                    "bonus_bp": 100,
                    "brands": ["visa"],
                    "mccs": ["5411", "5499"],
                    "countries": ["JP"],
                }
            ],
        }
    ]
}


def _at(text: str) -> datetime:
    return datetime.fromisoformat(text)


def test_design_example_parses_into_a_capped_version_with_a_campaign() -> None:
    """The §4.6 example: cap 1200 and the xmas-konbini campaign with its three scopes."""
    (parsed,) = parse_rules(json.dumps(DESIGN_EXAMPLE)).versions
    assert parsed.monthly_cap_points == 1200
    (xmas,) = parsed.campaigns
    assert (xmas.id, xmas.bonus_bp, xmas.brands, xmas.mccs, xmas.countries) == (
        "xmas-konbini",
        100,
        frozenset({Brand.VISA}),
        frozenset({"5411", "5499"}),
        frozenset({"JP"}),
    )


def test_v1_file_parses_with_no_cap_and_no_campaigns() -> None:
    """A v1 file (rates and exclusions only) means what it meant: no cap, no campaigns."""
    v1 = {"versions": [{"rates_bp": {"visa": 200, "quicpay": 100}, "excluded_mccs": ["4829"]}]}
    (parsed,) = parse_rules(json.dumps(v1)).versions
    assert (parsed.effective_from, parsed.monthly_cap_points, parsed.campaigns) == (None, None, ())
    assert parsed.rate_bp(Brand.VISA, "5411") == 200


def test_default_has_no_cap_and_no_campaigns() -> None:
    """The built-in default: visa 100, quicpay 50, 4 MCCs excluded, no cap, no campaigns."""
    (default,) = DEFAULT_RULES.versions
    assert (default.monthly_cap_points, default.campaigns) == (None, ())
    assert default.rate(Brand.QUICPAY, "5411", "JP", _at("2026-11-01T00:00:00+09:00")) == Rate(50)


def _broken(change: str) -> dict[str, Any]:
    document = copy.deepcopy(DESIGN_EXAMPLE)
    v = document["versions"][0]
    c = v["campaigns"][0]
    match change:
        case "unknown version field":
            v["monthly_cap"] = 5
        case "unknown campaign field":
            c["bonus"] = 5
        case "ends_at equals starts_at":
            c["ends_at"] = "2026-11-30T15:00:00Z"  # the same instant as starts_at
        case "duplicate campaign id":
            v["campaigns"].append(dict(c))
        case "missing brand rate":
            del v["rates_bp"]["quicpay"]
        case "short mcc":
            v["excluded_mccs"] = ["482"]
        case "mcc with newline":
            c["mccs"] = ["5411\n"]
        case "lowercase country":
            c["countries"] = ["jp"]
        case "unknown brand":
            c["brands"] = ["amex"]
        case "rate above 10000":
            v["rates_bp"]["visa"] = 10_001
        case "negative bonus":
            c["bonus_bp"] = -1
        case "negative cap":
            v["monthly_cap_points"] = -1
        case "cap as a string":
            v["monthly_cap_points"] = "1200"
        case "cap as a boolean":
            v["monthly_cap_points"] = True
        case "fractional cap":
            v["monthly_cap_points"] = 12.5
        case "naive starts_at":
            c["starts_at"] = "2026-12-01T00:00:00"
        case "same effective_from twice":
            other = copy.deepcopy(v)
            other["effective_from"] = "2026-11-30T15:00:00Z"
            document["versions"].append(other)
        case "no versions":
            document["versions"] = []
        case _:
            raise AssertionError(change)
    return document


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("unknown version field", "versions[0].monthly_cap:"),
        ("unknown campaign field", "versions[0].campaigns[0].bonus:"),
        ("ends_at equals starts_at", "'xmas-konbini': ends_at must be after starts_at"),
        ("duplicate campaign id", "campaign id 'xmas-konbini' appears twice"),
        ("missing brand rate", "lacks rates for ['quicpay']"),
        ("short mcc", "versions[0].excluded_mccs[0]:"),
        ("mcc with newline", "versions[0].campaigns[0].mccs[0]:"),
        ("lowercase country", "versions[0].campaigns[0].countries[0]:"),
        ("unknown brand", "versions[0].campaigns[0].brands[0]:"),
        ("rate above 10000", "versions[0].rates_bp.visa:"),
        ("negative bonus", "versions[0].campaigns[0].bonus_bp:"),
        ("negative cap", "versions[0].monthly_cap_points"),
        ("cap as a string", "versions[0].monthly_cap_points"),
        ("cap as a boolean", "versions[0].monthly_cap_points"),
        ("fractional cap", "versions[0].monthly_cap_points"),
        ("naive starts_at", "versions[0].campaigns[0].starts_at:"),
        ("same effective_from twice", "two versions share the same effective_from"),
        ("no versions", "versions:"),
    ],
)
def test_invalid_rules_are_refused_in_one_line_naming_the_field(change: str, named: str) -> None:
    """Each broken rule is refused with a one-line ``InvalidRules`` naming where it is."""
    with pytest.raises(InvalidRules) as caught:
        parse_rules(json.dumps(_broken(change)))
    message = str(caught.value)
    assert named in message
    assert "\n" not in message


def test_a_repeated_key_is_refused() -> None:
    """``{"visa": 100, "visa": 900}`` is refused, not resolved last-wins."""
    text = json.dumps(DESIGN_EXAMPLE).replace('"visa": 100', '"visa": 100, "visa": 900', 1)
    with pytest.raises(InvalidRules, match="'visa' appears twice"):
        parse_rules(text)


def test_an_integral_float_is_the_integer() -> None:
    """A JSON number is one value however spelled: ``1200.0`` is a cap of 1200."""
    document = copy.deepcopy(DESIGN_EXAMPLE)
    document["versions"][0]["monthly_cap_points"] = 1200.0
    assert parse_rules(json.dumps(document)).versions[0].monthly_cap_points == 1200


def test_cap_zero_and_null_are_valid() -> None:
    """A cap of 0 (nothing credited) and ``null`` (no cap) are both allowed."""
    rules = rules_with(version(cap=None), version("2026-12-01T00:00:00+09:00", cap=0))
    assert [v.monthly_cap_points for v in rules.versions] == [None, 0]


def test_cap_of_a_month_is_the_version_at_its_first_instant() -> None:
    """A version starting 1 µs after December's first instant does not cap December."""
    rules = rules_with(version(cap=100), version("2026-12-01T00:00:00.000001+09:00", cap=0))
    assert (rules.cap_of("2026-12"), rules.cap_of("2027-01")) == (100, 0)


def test_a_version_at_a_month_start_in_another_offset_caps_that_month() -> None:
    """``2026-11-30T15:00:00Z`` is December's first instant in JST: it caps December."""
    rules = rules_with(version(cap=100), version("2026-11-30T15:00:00Z", cap=7))
    assert (rules.cap_of("2026-11"), rules.cap_of("2026-12")) == (100, 7)


def test_month_before_every_version_takes_the_earliest_cap() -> None:
    """With only dated versions, an earlier month is capped by the earliest version."""
    rules = rules_with(version("2026-12-01T00:00:00+09:00", cap=9))
    assert rules.cap_of("2026-01") == 9


def test_a_ledger_keeps_the_default_before_its_first_publication() -> None:
    """``with_default``: anchors before the first published version keep the default."""
    (published,) = rules_with(version("2026-12-01T00:00:00+09:00", visa=300)).versions
    rules = with_default([published])
    before = rules.for_anchor(_at("2026-11-30T23:59:59+09:00"))
    after = rules.for_anchor(_at("2026-12-01T00:00:00+09:00"))
    assert (before.rate_bp(Brand.VISA, "5411"), after.rate_bp(Brand.VISA, "5411")) == (100, 300)


def test_a_published_open_ended_version_replaces_the_default() -> None:
    """A published version without ``effective_from`` is the ledger's since-forever one."""
    (published,) = rules_with(version(None, visa=7)).versions
    assert with_default([published]).versions == (published,)


def _spelled_differently() -> tuple[dict[str, Any], dict[str, Any]]:
    one = version(
        "2026-12-01T00:00:00+09:00",
        excluded=["6051", "4829"],
        cap=1200,
        campaigns=[
            campaign("b", "2026-12-01T00:00:00+09:00", "2026-12-26T00:00:00+09:00", 50),
            campaign("a", "2026-12-01T00:00:00+09:00", "2026-12-02T00:00:00+09:00", mccs=[]),
        ],
    )
    other = version(
        "2026-11-30T15:00:00Z",
        excluded=["4829", "6051", "4829"],
        cap=1200,
        campaigns=[
            campaign("a", "2026-11-30T10:00:00-05:00", "2026-12-01T15:00:00Z"),
            campaign("b", "2026-11-30T15:00:00.000000Z", "2026-12-25T15:00:00Z", 50),
        ],
    )
    return one, other


def test_the_same_version_spelled_differently_has_one_digest() -> None:
    """Offsets, list order, duplicates, absent vs empty lists: one canonical form."""
    one, other = _spelled_differently()
    (a,) = rules_with(one).versions
    (b,) = rules_with(other).versions
    assert canonical_version_json(a) == canonical_version_json(b)
    assert version_digest(a) == version_digest(b)


def test_any_difference_in_meaning_changes_the_digest() -> None:
    """Another cap (or another campaign bonus) is another version."""
    one, _ = _spelled_differently()
    (a,) = rules_with(one).versions
    one["monthly_cap_points"] = 1201
    (b,) = rules_with(one).versions
    assert version_digest(a) != version_digest(b)


def test_canonical_rules_json_reads_back_to_the_same_rules() -> None:
    """``rules_to_json`` writes canonical versions that ``parse_rules`` reads back equal."""
    rules = parse_rules(json.dumps(DESIGN_EXAMPLE))
    again = parse_rules(rules_to_json(rules))
    assert again == rules
    assert [version_digest(v) for v in again.versions] == [
        version_digest(v) for v in rules.versions
    ]


def test_canonical_instants_are_utc() -> None:
    """The canonical form writes instants in UTC with ``Z``."""
    (parsed,) = parse_rules(json.dumps(DESIGN_EXAMPLE)).versions
    document = json.loads(canonical_version_json(parsed))
    assert document["effective_from"] == "2026-11-30T15:00:00Z"
    assert document["campaigns"][0]["ends_at"] == "2026-12-25T15:00:00Z"


def test_version_selection_is_by_instant_not_by_offset() -> None:
    """An anchor at the version's instant written in -05:00 selects that version."""
    rules = rules_with(version(visa=100), version("2026-12-01T00:00:00+09:00", visa=200))
    moment = _at("2026-11-30T10:00:00-05:00")  # Dec 1 00:00 JST
    assert rules.for_anchor(moment).rates_bp[Brand.VISA] == 200


@settings(max_examples=200, deadline=None)
@given(rules_documents(), st.randoms(use_true_random=False))
def test_canonical_form_is_a_fixed_point_of_any_spelling(
    document: dict[str, Any], shuffler: Random
) -> None:
    """Any generated rules document, its lists shuffled: the canonical JSON reads back to
    the same rules, with the same digests as the unshuffled document."""
    shuffled = copy.deepcopy(document)
    for v in shuffled["versions"]:
        shuffler.shuffle(v["excluded_mccs"])
        shuffler.shuffle(v["campaigns"])
        for c in v["campaigns"]:
            for key in ("brands", "mccs", "countries"):
                shuffler.shuffle(c.get(key, []))
    rules = parse_rules(json.dumps(document))
    again = parse_rules(rules_to_json(parse_rules(json.dumps(shuffled))))
    assert again == rules
    assert [version_digest(v) for v in again.versions] == [
        version_digest(v) for v in rules.versions
    ]
