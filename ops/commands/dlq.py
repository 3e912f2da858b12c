"""``points dlq list|show|status|redrive|export|purge``: argument parsing and printing only.

The work is in ``ops.dlq``, ``ops.redrive``, ``ops.export``, ``ops.purge`` and
``ops.status``; this module and ``ops.commands.dlq_moves`` turn their errors into one-line
CLI errors and their results into tables, TSV or ``--json``.
"""

from __future__ import annotations

from typing import Annotated

import typer

from infra.settings import Config
from ops import dlq as dlq_api
from ops.commands import dlq_moves
from ops.commands.common import (
    HoldOption,
    JsonFlag,
    QueueOption,
    SettleOption,
    WideFlag,
    finish,
    one_line_errors,
    operator_run,
    say,
    waiting,
)
from ops.output import print_json
from ops.scan import ScanOptions
from ops.status import redrive_status
from ops.tables import Column, emit_table

app = typer.Typer(help="Dead-letter queues: list, show, redrive, status, export, purge.")
app.command("redrive")(dlq_moves.redrive_command)
app.command("export")(dlq_moves.export_command)
app.command("purge")(dlq_moves.purge_command)


@app.command("list")
def list_command(ctx: typer.Context, as_json: JsonFlag = False, wide: WideFlag = False) -> None:
    """Every DLQ (queue and SNS delivery DLQs) with depth, in-flight count, oldest age."""
    config: Config = ctx.obj
    with one_line_errors():
        statuses = dlq_api.list_dlqs(config)
    if as_json:
        print_json([s.as_json() for s in statuses])
        return
    columns = [
        Column("queue", is_id=True),
        Column("source", is_id=True),
        Column("kind"),
        Column("depth", justify_right=True),
        Column("in flight", justify_right=True),
        Column("oldest", justify_right=True),
        Column("url", is_id=True, wide=True),
    ]
    rows = [
        [
            s.dlq.name,
            s.dlq.source,
            s.dlq.kind,
            str(s.depth),
            str(s.in_flight),
            _age(s.oldest_age_seconds, s.oldest_exact),
            s.url,
        ]
        for s in statuses
    ]
    emit_table("dead-letter queues", columns, rows, wide=wide)


def _age(seconds: float | None, exact: bool) -> str:
    if seconds is None:
        return "-"
    text = f"{seconds:.0f}s" if seconds < 120 else f"{seconds / 60:.0f}m"
    if seconds >= 7200:
        text = f"{seconds / 3600:.1f}h"
    return text if exact else f"≥{text}"


@app.command("show")
def show_command(
    ctx: typer.Context,
    queue: QueueOption = "points",
    limit: Annotated[
        int | None,
        typer.Option("--limit", min=1, help="At most this many (default 100; all with --group)."),
    ] = None,
    group: Annotated[bool, typer.Option("--group", help="Group by error fingerprint.")] = False,
    hold: HoldOption = 30,
    settle: SettleOption = 60.0,
    as_json: JsonFlag = False,
    wide: WideFlag = False,
) -> None:
    """The messages of a DLQ with why they failed; nothing is consumed."""
    config: Config = ctx.obj
    if limit is None and not group:
        limit = dlq_api.DEFAULT_SHOW_LIMIT
    options = ScanOptions(hold_seconds=hold, settle_seconds=settle)
    depth = dlq_moves.depth(config, queue)
    with operator_run("reading", min(depth, limit or depth)) as (stop, advance):
        found = dlq_api.examine_queue(
            config, queue, limit, options, stop=stop, on_batch=advance, on_wait=waiting
        )
    shown = [dlq_api.ShownMessage.of(item) for item in found.items]
    if group:
        groups = dlq_api.group(shown)
        if as_json:
            print_json([g.as_json() for g in groups])
        else:
            _print_groups(groups, wide)
    elif as_json:
        print_json([m.as_json() for m in shown])
    else:
        _print_messages(shown, found, wide)
    finish(found.end)


def _print_messages(
    shown: list[dlq_api.ShownMessage], found: dlq_api.Examination, wide: bool
) -> None:
    title = f"{len(shown)} dead-lettered message(s)"
    if found.limited:
        title += f" (the first {len(shown)} of ~{found.depth_at_start}: use --limit)"
    columns = [
        Column("message_id", is_id=True),
        Column("event_type"),
        Column("error"),
        Column("event_id", is_id=True, wide=True),
        Column("payment_id", is_id=True, wide=True),
        Column("recv", wide=True, justify_right=True),
        Column("original_message_id", is_id=True, wide=True),
        Column("redrive", wide=True),
        Column("failed_at", wide=True),
    ]
    rows = [
        [
            m.message_id,
            m.event_type or ("(undecodable)" if not m.decodable else "-"),
            m.error if m.error_source != "journal" else f"{m.error} (journal)",
            m.event_id or "-",
            m.payment_id or "-",
            str(m.receive_count),
            m.original_message_id or "-",
            str(m.redrive_id) if m.redrive_id is not None else "-",
            m.failed_at or "-",
        ]
        for m in shown
    ]
    emit_table(title, columns, rows, wide=wide)


def _print_groups(groups: list[dlq_api.ErrorGroup], wide: bool) -> None:
    columns = [
        Column("count", justify_right=True),
        Column("error type", is_id=True),
        Column("example"),
        Column("fingerprint", wide=True),
    ]
    rows = [[str(g.count), g.error_type, g.example, g.fingerprint] for g in groups]
    emit_table("dead letters by error", columns, rows, wide=wide)


@app.command("status")
def status_command(
    ctx: typer.Context,
    redrive_id: Annotated[int, typer.Argument(help="The id `points dlq redrive` printed.")],
    as_json: JsonFlag = False,
    wide: WideFlag = False,
) -> None:
    """Per message a redrive moved: applied, still queued, or failed again (and why)."""
    config: Config = ctx.obj
    with one_line_errors():
        status = redrive_status(config, redrive_id)
    if as_json:
        print_json(status.as_json())
        return
    entry, counts = status.redrive, status.counts
    say(
        f"redrive {entry.id} of {entry.arguments.get('queue')} at "
        f"{entry.started_at:%Y-%m-%d %H:%M:%S}Z by {entry.actor} ({entry.outcome}): "
        f"moved {len(status.messages)}; applied {counts['applied']}, queued "
        f"{counts['queued']}, failed again {counts['failed_again']}"
    )
    columns = [
        Column("event_id", is_id=True),
        Column("state"),
        Column("reason"),
        Column("message_id", is_id=True, wide=True),
        Column("dlq_message_id", is_id=True, wide=True),
        Column("original_message_id", is_id=True, wide=True),
    ]
    rows = [
        [
            m.move.event_id or "(undecodable)",
            m.state.replace("_", " "),
            m.reason or "",
            m.move.message_id,
            m.move.dlq_message_id,
            m.move.original_message_id or "-",
        ]
        for m in status.messages
    ]
    emit_table(f"redrive {entry.id}", columns, rows, wide=wide)
