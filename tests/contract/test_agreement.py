"""One truth for every language (DESIGN §3): the committed JSON Schema accepts exactly what
the consumer accepts, under python-jsonschema with format checks and under ajv 8 +
ajv-formats, over a generated corpus of edge cases."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from jsonschema import Draft202012Validator

from tests.contract.judges import ajv, consumer, python_jsonschema
from tests.support.corpus import text_cases, value_cases

ROOT = Path(__file__).resolve().parents[2]
SCHEMA = json.loads((ROOT / "schemas" / "payment-event.v1.schema.json").read_text("utf-8"))
CASES = value_cases()


@pytest.fixture(scope="module")
def verdicts() -> dict[str, tuple[bool, bool, str]]:
    texts = [case.text for case in CASES]
    by_python = python_jsonschema(SCHEMA, texts)
    by_ajv = ajv(SCHEMA, texts)
    by_consumer = [consumer(text) for text in texts]
    return {
        case.name: (p, a, c)
        for case, p, a, c in zip(CASES, by_python, by_ajv, by_consumer, strict=True)
    }


def test_the_three_judges_agree_on_every_case(verdicts: dict[str, tuple[bool, bool, str]]) -> None:
    """No case is accepted by one of python-jsonschema, ajv and the consumer and refused by
    another."""
    disagreements = [
        f"{name}: python-jsonschema={p} ajv={a} consumer={c}"
        for name, (p, a, c) in verdicts.items()
        if not p == a == (c == "accepted")
    ]
    accepted = sum(c == "accepted" for _, _, c in verdicts.values())
    print(
        f"\ncontract corpus: {len(verdicts)} cases, {accepted} accepted, "
        f"{len(verdicts) - accepted} refused, {len(disagreements)} disagreements"
    )
    assert not disagreements, "\n".join(disagreements[:40])


def test_the_corpus_is_not_degenerate(verdicts: dict[str, tuple[bool, bool, str]]) -> None:
    """The corpus holds hundreds of cases, with both verdicts well represented."""
    outcomes = [c for _, _, c in verdicts.values()]
    assert len(outcomes) >= 1000
    assert 100 <= outcomes.count("accepted") <= len(outcomes) - 500


@pytest.mark.parametrize(
    ("case", "accepted"),
    [
        ("amount 1200.0", True),
        ("amount 1.2e3", True),
        ("amount 1200.5", False),
        ("occurred_at '2026-11-21 01:00:00Z'", False),
        ("occurred_at '2026-11-21T10:00:00+0900'", False),
        ("occurred_at '2026-12-31T23:59:60Z'", False),
        ("occurred_at '2026-11-21T10:00:00.0000000000Z'", False),
        ("occurred_at '2026-11-21T10:00:00.123456000Z'", True),
        ("mcc '5411\\n'", False),
        ("unknown field 'Type'", True),
    ],
)
def test_the_reported_disagreements_are_settled(
    verdicts: dict[str, tuple[bool, bool, str]], case: str, accepted: bool
) -> None:
    """Each disagreement reported in issue 15 now gets one verdict from all three judges."""
    python, by_ajv, by_consumer = verdicts[case]
    assert (python, by_ajv, by_consumer == "accepted") == (accepted, accepted, accepted)


@pytest.mark.parametrize(
    ("case", "accepted"),
    [
        ("points_grant: valid", True),
        ("points 0", False),
        ("points -0.0", False),
        ("points -5e2", True),
        ("points -10000000", True),
        ("points 10000001", False),
        ("source #12 'referral\\n'", False),
        ("source #13 'aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa\\n'", False),
        ("memo #4", True),  # 200 astral code points (400 UTF-16 units)
        ("memo #5", False),  # 201 code points
        ("points_grant with merchant", True),  # unknown to a grant, so ignored
        ("payment fields as a points_grant", False),
        ("grant fields as a chargeback", False),
    ],
)
def test_the_points_grant_rules_get_one_verdict(
    verdicts: dict[str, tuple[bool, bool, str]], case: str, accepted: bool
) -> None:
    """DESIGN §3's grant rules (never 0 however spelled, bounds, the source pattern without
    a final newline, memo length in code points) get the same verdict from all three."""
    python, by_ajv, by_consumer = verdicts[case]
    assert (python, by_ajv, by_consumer == "accepted") == (accepted, accepted, accepted)


@pytest.mark.parametrize("case", text_cases(), ids=lambda case: case.name)
def test_non_i_json_text_is_an_invalid_body(case: object) -> None:
    """Duplicate keys, NaN/Infinity and lone surrogates are ``invalid_body``, unknown fields
    included: no schema validator can see them, so the consumer refuses them itself."""
    assert consumer(case.text) == "invalid_body"  # type: ignore[attr-defined]


def test_the_schema_is_valid_draft_2020_12() -> None:
    """The committed schema is itself a valid 2020-12 schema."""
    Draft202012Validator.check_schema(SCHEMA)
