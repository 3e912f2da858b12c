"""Points rules: earning rates per brand and excluded MCCs, in dated versions.

The rules file is JSON (``POINTS_RULES_FILE``)::

    {"versions": [
      {"effective_from": "2026-01-01T00:00:00+09:00",
       "rates_bp": {"visa": 100, "quicpay": 50},
       "excluded_mccs": ["4829", "6051", "6540", "9311"]}
    ]}

Every version is complete (nothing is inherited from the previous one), so a version can
be read on its own. ``effective_from`` is RFC 3339 with an offset, or ``null`` for "since
forever". The version applied to a payment is the latest one whose ``effective_from`` is
not after the anchor event's ``occurred_at`` (DESIGN §4); an anchor older than every
version gets the earliest version, so no payment is ever left without a rule.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Final

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

from schemas.errors import ConfigurationError
from schemas.events import Brand, Rfc3339

BASIS_POINTS: Final = 10_000
DEFAULT_RATES_BP: Final = MappingProxyType({Brand.VISA: 100, Brand.QUICPAY: 50})
DEFAULT_EXCLUDED_MCCS: Final = frozenset({"4829", "6051", "6540", "9311"})


class InvalidRules(ConfigurationError):
    """The rules file cannot be read or breaks its format; the process must not start."""

    code = "invalid_rules"


@dataclass(frozen=True)
class RuleVersion:
    """One version of the rules: a rate in basis points per brand and the excluded MCCs."""

    rates_bp: Mapping[Brand, int]
    excluded_mccs: frozenset[str]
    effective_from: datetime | None = None

    def rate_bp(self, brand: Brand, mcc: str) -> int:
        """The rate for a payment of ``brand`` whose anchor merchant has ``mcc``."""
        if mcc in self.excluded_mccs:
            return 0
        return self.rates_bp[brand]


@dataclass(frozen=True)
class Rules:
    """All versions, oldest first; ``for_anchor`` picks the one a payment earns under."""

    versions: tuple[RuleVersion, ...] = field(
        default_factory=lambda: (RuleVersion(DEFAULT_RATES_BP, DEFAULT_EXCLUDED_MCCS),)
    )

    def __post_init__(self) -> None:
        if not self.versions:
            raise InvalidRules("rules need at least one version")

    def for_anchor(self, occurred_at: datetime) -> RuleVersion:
        """The latest version not after ``occurred_at`` (the earliest if all are after)."""
        chosen = self.versions[0]
        for version in self.versions[1:]:
            assert version.effective_from is not None  # only the first may be open-ended
            if version.effective_from <= occurred_at:
                chosen = version
            else:
                break
        return chosen


DEFAULT_RULES: Final = Rules()


class _VersionFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    effective_from: Rfc3339 | None = None
    rates_bp: dict[Brand, Annotated[int, Field(ge=0, le=BASIS_POINTS)]]
    excluded_mccs: list[Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$")]] = []


class _RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    versions: list[_VersionFile] = Field(min_length=1)


def rules_from_versions(versions: Sequence[RuleVersion]) -> Rules:
    """Sort versions by ``effective_from`` and check that the order is unambiguous."""
    ordered = sorted(
        versions, key=lambda v: (v.effective_from is not None, v.effective_from or datetime.min)
    )
    if any(v.effective_from is None for v in ordered[1:]):
        raise InvalidRules("only one version may omit effective_from")
    starts = [v.effective_from for v in ordered if v.effective_from is not None]
    if len(set(starts)) != len(starts):
        raise InvalidRules("two versions share the same effective_from")
    for version in ordered:
        missing = set(Brand) - set(version.rates_bp)
        if missing:
            raise InvalidRules(
                f"version {version.effective_from} lacks rates for {sorted(missing)}"
            )
    return Rules(tuple(ordered))


def parse_rules(text: str) -> Rules:
    """Rules from the JSON text of a rules file (see the module docstring)."""
    try:
        document = _RulesFile.model_validate_json(text)
    except ValidationError as exc:
        raise InvalidRules(f"invalid rules file: {exc.errors()[0]['msg']}") from exc
    return rules_from_versions(
        [
            RuleVersion(
                rates_bp=MappingProxyType(dict(v.rates_bp)),
                excluded_mccs=frozenset(v.excluded_mccs),
                effective_from=v.effective_from,
            )
            for v in document.versions
        ]
    )


def load_rules(path: Path | None) -> Rules:
    """The rules in ``path`` (``POINTS_RULES_FILE``), or the built-in defaults when unset."""
    if path is None:
        return DEFAULT_RULES
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidRules(f"cannot read rules file {path}: {exc.strerror}") from exc
    return parse_rules(text)


def rules_to_json(rules: Rules) -> str:
    """The JSON form ``parse_rules`` reads back (used to write example files and tests)."""
    return json.dumps(
        {
            "versions": [
                {
                    "effective_from": v.effective_from.isoformat() if v.effective_from else None,
                    "rates_bp": {str(b): r for b, r in v.rates_bp.items()},
                    "excluded_mccs": sorted(v.excluded_mccs),
                }
                for v in rules.versions
            ]
        },
        indent=2,
    )
