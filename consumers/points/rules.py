"""Points rules as data: dated, complete versions of rates, exclusions, a cap and campaigns.

A rules file (and a ``points rules publish`` file) is JSON, DESIGN §4.6::

    {"versions": [
      {"effective_from": "2026-12-01T00:00:00+09:00",
       "rates_bp": {"visa": 100, "quicpay": 50},
       "excluded_mccs": ["4829", "6051", "6540", "9311"],
       "monthly_cap_points": 1200,
       "campaigns": [{"id": "xmas-konbini", "starts_at": "2026-12-01T00:00:00+09:00",
                      "ends_at": "2026-12-26T00:00:00+09:00", "bonus_bp": 100,
                      "brands": ["visa"], "mccs": ["5411", "5499"], "countries": ["JP"]}]}
    ]}

Every version is complete (nothing is inherited from the previous one), so a version can
be read on its own. ``effective_from`` is RFC 3339 with an offset, or ``null``/absent for
"since forever" (v1 files). ``monthly_cap_points`` is an integer ≥ 0 or ``null`` (no cap,
the default); ``campaigns`` default to none, so a v1 file parses exactly as before.
A campaign applies from ``starts_at`` (inclusive) to ``ends_at`` (exclusive); an empty or
absent ``brands``/``mccs``/``countries`` list matches every value.

The version applied to a payment is the latest one whose ``effective_from`` is not after
the anchor event's ``occurred_at`` (DESIGN §4.2); an anchor older than every version gets
the earliest version, so no payment is ever left without a rule. The cap of an
account-month is that of the version in force at the month's first instant (JST, §4.3).

Validation is strict and every error is one line naming the field (``versions[1].
campaigns[0].bonus_bp: …``) or the version (by its ``effective_from``). Integers are JSON
integers (``100`` or ``100.0``, never ``"100"`` or ``true``); unknown fields and repeated
keys are refused, since a typo in a rules file silently changes what customers earn.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from functools import cached_property
from itertools import pairwise
from pathlib import Path
from types import MappingProxyType
from typing import Annotated, Any, Final

from pydantic import (
    BaseModel,
    BeforeValidator,
    ConfigDict,
    Field,
    Strict,
    StringConstraints,
    ValidationError,
)

from consumers.points.amounts import BASIS_POINTS
from consumers.points.months import MonthKey, month_start
from schemas.errors import ConfigurationError
from schemas.events import Brand, Rfc3339

#: A cap must fit the 64-bit integer columns the ledger keeps points in.
MAX_CAP_POINTS: Final = 2**63 - 1
DEFAULT_RATES_BP: Final = MappingProxyType({Brand.VISA: 100, Brand.QUICPAY: 50})
DEFAULT_EXCLUDED_MCCS: Final = frozenset({"4829", "6051", "6540", "9311"})


class InvalidRules(ConfigurationError):
    """The rules file cannot be read or breaks its format; the process must not start."""

    code = "invalid_rules"


@dataclass(frozen=True)
class Campaign:
    """A bonus on top of the base rate for anchors in a time window and scope (§4.2)."""

    id: str
    starts_at: datetime
    ends_at: datetime
    bonus_bp: int
    brands: frozenset[Brand] = frozenset()
    mccs: frozenset[str] = frozenset()
    countries: frozenset[str] = frozenset()

    def matches(self, brand: Brand, mcc: str, country: str, at: datetime) -> bool:
        """``starts_at ≤ at < ends_at`` and each listed scope contains the value."""
        return (
            self.starts_at <= at < self.ends_at
            and (not self.brands or brand in self.brands)
            and (not self.mccs or mcc in self.mccs)
            and (not self.countries or country in self.countries)
        )


@dataclass(frozen=True, slots=True)
class Rate:
    """A payment's rate in basis points and the ids of the campaigns in it (sorted)."""

    rate_bp: int
    campaigns: tuple[str, ...] = ()


@dataclass(frozen=True)
class RuleVersion:
    """One complete version of the rules (DESIGN §4.6)."""

    rates_bp: Mapping[Brand, int]
    excluded_mccs: frozenset[str]
    effective_from: datetime | None = None
    monthly_cap_points: int | None = None
    campaigns: tuple[Campaign, ...] = ()

    def rate_bp(self, brand: Brand, mcc: str) -> int:
        """The base rate for ``brand`` at ``mcc`` without campaigns (the v1 rate)."""
        if mcc in self.excluded_mccs:
            return 0
        return self.rates_bp[brand]

    def rate(self, brand: Brand, mcc: str, country: str, at: datetime) -> Rate:
        """The §4.2 rate of an anchor: 0 if excluded, else base plus matching bonuses."""
        if mcc in self.excluded_mccs:
            return Rate(0)
        applied = [c for c in self.campaigns_by_id if c.matches(brand, mcc, country, at)]
        if not applied:
            return Rate(self.rates_bp[brand])
        bonus = sum(c.bonus_bp for c in applied)
        return Rate(self.rates_bp[brand] + bonus, tuple(c.id for c in applied))

    @cached_property
    def campaigns_by_id(self) -> tuple[Campaign, ...]:
        """The campaigns sorted by id, once: ``rate`` filters them in that order instead of
        sorting every payment's matches (``rate`` 0.37 → 0.19 s over 21,376 calls, profiled
        at batch 100)."""
        return tuple(sorted(self.campaigns, key=lambda c: c.id))

    @property
    def label(self) -> str:
        """How errors name this version."""
        if self.effective_from is None:
            return "version without effective_from"
        return f"version {self.effective_from.isoformat()}"


DEFAULT_VERSION: Final = RuleVersion(DEFAULT_RATES_BP, DEFAULT_EXCLUDED_MCCS)


@dataclass(frozen=True)
class Rules:
    """All versions, oldest first; ``for_anchor`` picks the one a payment earns under."""

    versions: tuple[RuleVersion, ...] = field(default_factory=lambda: (DEFAULT_VERSION,))

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

    def for_month(self, month: MonthKey) -> RuleVersion:
        """The version in force at the first instant (JST) of ``month``."""
        return self.for_anchor(month_start(month))

    def cap_of(self, month: MonthKey) -> int | None:
        """The monthly cap of ``month`` in points (§4.3); ``None`` means no cap."""
        return self.for_month(month).monthly_cap_points

    @property
    def has_cap(self) -> bool:
        """Whether any version caps a month: without one, every month credits what it
        earns (``credited(E, None) = E``), so month totals can be added to like balances."""
        return any(v.monthly_cap_points is not None for v in self.versions)


DEFAULT_RULES: Final = Rules()


def with_default(published: Sequence[RuleVersion]) -> Rules:
    """The rule set of a ledger: the built-in default since forever, then ``published``.

    The default keeps applying to anchors before the first published version, so a first,
    future-dated publication changes nothing in the past. A published version without
    ``effective_from`` takes the default's place.
    """
    if any(v.effective_from is None for v in published):
        return rules_from_versions(published)
    return rules_from_versions([DEFAULT_VERSION, *published])


def _json_int(value: object) -> object:
    """A JSON number is one value however spelled: ``100.0`` is 100, ``100.5`` is refused."""
    if isinstance(value, float) and value.is_integer():
        return int(value)
    return value


JsonInt = Annotated[int, BeforeValidator(_json_int), Strict()]
BasisPoints = Annotated[JsonInt, Field(ge=0, le=BASIS_POINTS)]
Mcc = Annotated[str, StringConstraints(pattern=r"^[0-9]{4}$"), Strict()]
Country = Annotated[str, StringConstraints(pattern=r"^[A-Z]{2}$"), Strict()]
CampaignId = Annotated[
    str, StringConstraints(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$"), Strict()
]


class _CampaignFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: CampaignId
    starts_at: Rfc3339
    ends_at: Rfc3339
    bonus_bp: BasisPoints
    brands: list[Brand] = []
    mccs: list[Mcc] = []
    countries: list[Country] = []


class _VersionFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    effective_from: Rfc3339 | None = None
    rates_bp: dict[Brand, BasisPoints]
    excluded_mccs: list[Mcc] = []
    monthly_cap_points: Annotated[JsonInt, Field(ge=0, le=MAX_CAP_POINTS)] | None = None
    campaigns: list[_CampaignFile] = []


class _RulesFile(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    versions: list[_VersionFile] = Field(min_length=1)


def _check_version(version: RuleVersion) -> RuleVersion:
    """Cross-field rules pydantic cannot state: every brand rated, sane campaigns."""
    missing = set(Brand) - set(version.rates_bp)
    if missing:
        raise InvalidRules(f"{version.label} lacks rates for {sorted(map(str, missing))}")
    seen: set[str] = set()
    for campaign in version.campaigns:
        if campaign.id in seen:
            raise InvalidRules(f"{version.label}: campaign id {campaign.id!r} appears twice")
        seen.add(campaign.id)
        if campaign.ends_at <= campaign.starts_at:
            raise InvalidRules(
                f"{version.label}: campaign {campaign.id!r}: ends_at must be after starts_at"
            )
    return version


def rules_from_versions(versions: Sequence[RuleVersion]) -> Rules:
    """Sort versions by ``effective_from`` and check that the order is unambiguous."""
    ordered = sorted(
        versions, key=lambda v: (v.effective_from is not None, v.effective_from or datetime.min)
    )
    if any(v.effective_from is None for v in ordered[1:]):
        raise InvalidRules("only one version may omit effective_from")
    for before, after in pairwise(ordered):
        if before.effective_from == after.effective_from:  # the same instant, any offset
            raise InvalidRules(f"two versions share the same effective_from ({after.label})")
    return Rules(tuple(_check_version(v) for v in ordered))


def _campaign(document: _CampaignFile) -> Campaign:
    return Campaign(
        id=document.id,
        starts_at=document.starts_at,
        ends_at=document.ends_at,
        bonus_bp=document.bonus_bp,
        brands=frozenset(document.brands),
        mccs=frozenset(document.mccs),
        countries=frozenset(document.countries),
    )


def _version(document: _VersionFile) -> RuleVersion:
    return RuleVersion(
        rates_bp=MappingProxyType(dict(document.rates_bp)),
        excluded_mccs=frozenset(document.excluded_mccs),
        effective_from=document.effective_from,
        monthly_cap_points=document.monthly_cap_points,
        # In id order: a version's meaning does not depend on how its file lists them.
        campaigns=tuple(sorted((_campaign(c) for c in document.campaigns), key=lambda c: c.id)),
    )


def _unique_keys(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    keys = [key for key, _ in pairs]
    repeated = sorted({key for key in keys if keys.count(key) > 1})
    if repeated:
        raise InvalidRules(f"invalid rules file: key {repeated[0]!r} appears twice in an object")
    return dict(pairs)


def _not_json(constant: str) -> Any:
    raise InvalidRules(f"invalid rules file: {constant} is not JSON")


def _where(location: tuple[int | str, ...]) -> str:
    """``('versions', 0, 'campaigns', 1, 'id')`` → ``versions[0].campaigns[1].id``."""
    text = ""
    for part in location:
        text += f"[{part}]" if isinstance(part, int) else f".{part}"
    return text.lstrip(".")


def parse_rules(text: str) -> Rules:
    """Rules from the JSON text of a rules file (see the module docstring)."""
    try:
        data = json.loads(text, object_pairs_hook=_unique_keys, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        raise InvalidRules(f"invalid rules file: not JSON ({exc.msg}, line {exc.lineno})") from exc
    if not isinstance(data, dict):
        raise InvalidRules('invalid rules file: expected an object {"versions": [...]}')
    try:
        document = _RulesFile.model_validate(data)
    except ValidationError as exc:
        errors = exc.errors()
        first = errors[0]
        more = f" (and {len(errors) - 1} more)" if len(errors) > 1 else ""
        message = str(first["msg"]).removeprefix("Value error, ")
        raise InvalidRules(
            f"invalid rules file: {_where(tuple(first['loc']))}: {message}{more}"
        ) from exc
    try:
        return rules_from_versions([_version(v) for v in document.versions])
    except InvalidRules as exc:
        raise InvalidRules(f"invalid rules file: {exc}") from exc


def load_rules(path: Path | None) -> Rules:
    """The rules in ``path`` (``POINTS_RULES_FILE``), or the built-in defaults when unset."""
    if path is None:
        return DEFAULT_RULES
    try:
        text = path.read_text(encoding="utf-8")
    except OSError as exc:
        raise InvalidRules(f"cannot read rules file {path}: {exc.strerror}") from exc
    except UnicodeDecodeError as exc:
        raise InvalidRules(f"cannot read rules file {path}: not UTF-8") from exc
    return parse_rules(text)


def _instant(moment: datetime | None) -> str | None:
    """An instant in its one canonical spelling: UTC, ``Z``, microseconds only if any."""
    if moment is None:
        return None
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _campaign_document(campaign: Campaign) -> dict[str, Any]:
    return {
        "id": campaign.id,
        "starts_at": _instant(campaign.starts_at),
        "ends_at": _instant(campaign.ends_at),
        "bonus_bp": campaign.bonus_bp,
        "brands": sorted(str(b) for b in campaign.brands),
        "mccs": sorted(campaign.mccs),
        "countries": sorted(campaign.countries),
    }


def version_document(version: RuleVersion) -> dict[str, Any]:
    """The canonical JSON object of a version: what it means, not how it was spelled.

    Instants in UTC, lists sorted and deduplicated, campaigns sorted by id, every key
    present (an absent list is written empty, an absent cap ``null``): two spellings of the
    same version give the same document, and ``parse_rules`` reads it back.
    """
    return {
        "effective_from": _instant(version.effective_from),
        "rates_bp": {str(b): version.rates_bp[b] for b in sorted(version.rates_bp)},
        "excluded_mccs": sorted(version.excluded_mccs),
        "monthly_cap_points": version.monthly_cap_points,
        "campaigns": [_campaign_document(c) for c in sorted(version.campaigns, key=lambda c: c.id)],
    }


def canonical_version_json(version: RuleVersion) -> str:
    """The canonical document as compact JSON with sorted keys (what ``digest`` hashes)."""
    return json.dumps(version_document(version), sort_keys=True, separators=(",", ":"))


def version_digest(version: RuleVersion) -> str:
    """SHA-256 hex of the canonical form: equal digests ⇔ the same version."""
    return hashlib.sha256(canonical_version_json(version).encode("utf-8")).hexdigest()


def rules_to_json(rules: Rules) -> str:
    """The JSON form ``parse_rules`` reads back (canonical versions, indented)."""
    return json.dumps({"versions": [version_document(v) for v in rules.versions]}, indent=2)
