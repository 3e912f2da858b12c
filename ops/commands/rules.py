"""``points rules publish FILE [--backdate] | list | show [--at ISO]`` (DESIGN §4.6, §6).

Rules live in the ledger database (``consumers.points.published``): ``publish`` appends a
file's versions (recorded in the operator audit), ``list`` shows every published version
and who published it why, ``show`` the version in force at an instant.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from consumers.bootstrap import Ledger, bootstrap_ledger
from consumers.points.published import latest_rules
from consumers.points.publishing import Published, publish_rules
from consumers.points.rules import (
    DEFAULT_VERSION,
    InvalidRules,
    RuleVersion,
    load_rules,
    version_digest,
    version_document,
)
from infra.settings import Config
from ops.audit import audited
from ops.commands.common import JsonFlag, ReasonOption, one_line_errors, require_reason
from ops.output import console, fail, print_json
from schemas.errors import ConfigurationError, TransientError
from schemas.events import parse_rfc3339

app = typer.Typer(help="Earning rules as data: publish versions, list them, show one.")


@contextmanager
def _ledger(config: Config) -> Iterator[Ledger]:
    """The ledger database; configuration and rule errors as one line."""
    try:
        ledger = bootstrap_ledger(config, check_rules=False)
    except (ConfigurationError, TransientError) as exc:
        fail(str(exc))
    with ledger:
        try:
            yield ledger
        except (InvalidRules, TransientError) as exc:
            fail(str(exc))


@app.command("publish")
def publish_command(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help='A rules file: {"versions": [...]}.')],
    reason: ReasonOption = None,
    backdate: Annotated[
        bool,
        typer.Option(
            "--backdate",
            help="Allow versions taking effect before now + POINTS_RULES_LEAD "
            "(recomputes the payments and months they change).",
        ),
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Append the file's rule versions (the same version again is a no-op)."""
    config: Config = ctx.obj
    why = require_reason(reason, "rules publish")
    try:
        incoming = load_rules(file)
    except InvalidRules as exc:
        fail(str(exc))
    arguments = {
        "file": str(file),
        "backdate": backdate,
        "versions": [version_digest(v) for v in incoming.versions],
    }
    with (
        _ledger(config) as ledger,
        one_line_errors(),
        audited(config, "rules publish", arguments=arguments, reason=why) as action,
    ):
        actor = action.log.entries(action_id=action.id)[0].actor
        result = ledger.retry.call(
            publish_rules,
            ledger.store,
            incoming,
            actor=actor,
            reason=why,
            now=datetime.now(UTC),
            lead=config.points.rules_lead,
            allow_backdate=backdate,
        )
        action.counts.update(_counts(result))
    if as_json:
        print_json({**_counts(result), "audit_id": action.id, **_listed(result)})
        return
    if not result.added:
        console.print(
            f"nothing to publish: {len(result.unchanged)} version(s) already published "
            f"(revision {result.revision})",
            highlight=False,
        )
        return
    backdated = (
        f"; backdated, {result.corrected_payments} payment(s) recomputed"
        if result.backdated
        else ""
    )
    console.print(
        f"published {len(result.added)} version(s) as revision {result.revision} "
        f"({len(result.unchanged)} already published{backdated})",
        highlight=False,
    )


def _counts(result: Published) -> dict[str, int]:
    return {
        "revision": result.revision,
        "added": len(result.added),
        "unchanged": len(result.unchanged),
        "backdated": len(result.backdated),
        "corrected_payments": result.corrected_payments,
    }


def _listed(result: Published) -> dict[str, list[str | None]]:
    def starts(versions: tuple[RuleVersion, ...]) -> list[str | None]:
        return [version_document(v)["effective_from"] for v in versions]

    return {"added_versions": starts(result.added), "unchanged_versions": starts(result.unchanged)}


@app.command("list")
def list_command(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every published version, oldest effective_from first (the built-in default before)."""
    config: Config = ctx.obj
    with _ledger(config) as ledger:
        published = ledger.retry.call(ledger.store.published_versions)
    published.sort(key=lambda p: _start_key(p.version))
    if as_json:
        print_json(
            [
                {
                    "effective_from": version_document(p.version)["effective_from"],
                    "digest": p.digest,
                    "publication_id": p.publication_id,
                    "published_at": p.published_at.isoformat(),
                    "actor": p.actor,
                    "reason": p.reason,
                    "backdated": p.backdated,
                    "version": version_document(p.version),
                }
                for p in published
            ]
        )
        return
    table = Table(title="published rule versions (before the first: the built-in default)")
    for column in ("effective_from", "cap", "campaigns", "digest", "pub", "at", "by", "reason"):
        table.add_column(column)
    for p in published:
        v = p.version
        table.add_row(
            "(always)" if v.effective_from is None else v.effective_from.isoformat(),
            "-" if v.monthly_cap_points is None else f"{v.monthly_cap_points:,}",
            ", ".join(c.id for c in v.campaigns) or "-",
            p.digest[:12],
            f"{p.publication_id}{' backdated' if p.backdated else ''}",
            p.published_at.isoformat(timespec="seconds"),
            p.actor,
            p.reason,
        )
    console.print(table)


def _start_key(version: RuleVersion) -> tuple[bool, datetime]:
    return (version.effective_from is not None, version.effective_from or datetime.min)


@app.command("show")
def show_command(
    ctx: typer.Context,
    at: Annotated[str | None, typer.Option("--at", help="RFC 3339 instant (default: now).")] = None,
    as_json: JsonFlag = False,
) -> None:
    """The rule version in force at an instant (what a payment anchored then earns under)."""
    config: Config = ctx.obj
    instant = _instant(at)
    with _ledger(config) as ledger:
        rules = ledger.retry.call(latest_rules, ledger.store)
    version = rules.for_anchor(instant)
    document: dict[str, Any] = {
        "at": instant.isoformat(),
        "built_in_default": version is DEFAULT_VERSION,
        "digest": version_digest(version),
        "version": version_document(version),
    }
    if as_json:
        print_json(document)
        return
    source = "the built-in default" if version is DEFAULT_VERSION else "published"
    console.print(f"in force at {instant.isoformat()} ({source}, {document['digest'][:12]}):")
    print_json(document["version"])


def _instant(at: str | None) -> datetime:
    if at is None:
        return datetime.now(UTC)
    try:
        return parse_rfc3339(at)
    except ValueError as exc:
        fail(f"--at {at!r}: {exc}")
