"""``points audit [--since ISO] [--json]``: operator actions, newest first."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Annotated, Any

import typer

from infra.settings import Config
from ops.audit import AuditEntry, AuditLog
from ops.commands.common import JsonFlag, WideFlag, one_line_errors
from ops.output import CliError, print_json
from ops.tables import Column, emit_table


def audit(
    ctx: typer.Context,
    since: Annotated[
        str | None,
        typer.Option("--since", help="Only actions from then on (ISO 8601, e.g. 2026-11-24)."),
    ] = None,
    as_json: JsonFlag = False,
    wide: WideFlag = False,
) -> None:
    """Who did what to the queues and the ledger: when, arguments, counts, reason."""
    config: Config = ctx.obj
    after = parse_since(since)
    with one_line_errors():
        log = AuditLog.open(config.points.database_url)
    try:
        entries = log.entries(since=after)
    finally:
        log.close()
    if as_json:
        print_json([e.as_json() for e in entries])
        return
    columns = [
        Column("id", is_id=True, justify_right=True),
        Column("at (UTC)", is_id=True),
        Column("command", is_id=True),
        Column("who", is_id=True),
        Column("counts"),
        Column("reason"),
        Column("outcome", wide=True),
        Column("actor", is_id=True, wide=True),
        Column("arguments", wide=True),
    ]
    rows = [
        [
            str(e.id),
            f"{e.started_at:%Y-%m-%d %H:%M}",
            e.command,
            e.os_user,
            _counts(e),
            e.reason or "-",
            e.outcome,
            e.actor,
            _compact(e.arguments),
        ]
        for e in entries
    ]
    emit_table("operator actions", columns, rows, wide=wide)


def parse_since(since: str | None) -> datetime | None:
    if since is None:
        return None
    try:
        when = datetime.fromisoformat(since)
    except ValueError:
        raise CliError(f"--since {since!r} is not an ISO 8601 date or time") from None
    return when if when.tzinfo else when.replace(tzinfo=UTC)


def _counts(entry: AuditEntry) -> str:
    shown = {
        k: v for k, v in entry.counts.items() if isinstance(v, int) and not isinstance(v, bool)
    }
    text = ", ".join(f"{k} {v}" for k, v in shown.items() if v)
    return text if entry.outcome == "completed" else f"{text} ({entry.outcome})".strip()


def _compact(arguments: dict[str, Any]) -> str:
    return ", ".join(f"{k}={v}" for k, v in arguments.items() if v not in (None, [], {}, False))
