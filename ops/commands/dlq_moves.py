"""``points dlq redrive|export|purge``: the DLQ commands that change state.

Each prints its summary whatever happens — done, partly failed, incomplete, or stopped by
Ctrl-C (then exit 130, with what it held released at once) — as text or ``--json``.
Whole-queue actions (unfiltered redrive, purge) need ``--reason`` and a confirmation.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra.aws import sqs_client
from infra.resolve import queue_url, topology
from infra.settings import Config
from ops import export as export_api
from ops import native as native_api
from ops import purge as purge_api
from ops import redrive as redrive_api
from ops.commands.common import (
    HoldOption,
    JsonFlag,
    QueueOption,
    ReasonOption,
    SettleOption,
    YesFlag,
    confirm_whole_queue,
    finish,
    one_line_errors,
    operator_run,
    require_reason,
    say,
    waiting,
)
from ops.dlq_queues import find_dlq
from ops.examine import Examined
from ops.output import CliError, console, print_json
from ops.scan import ScanOptions, queue_counts
from ops.selection import Selection

MarkerDirOption = Annotated[
    Path | None,
    typer.Option(
        "--marker-dir",
        envvar="POINTS_EXPORT_MARKER_DIR",
        help="Where export markers live (default: $XDG_STATE_HOME/points/exports).",
    ),
]


def depth(config: Config, queue: str) -> int:
    """Visible + in flight, for progress totals."""
    with one_line_errors():
        sqs = sqs_client(config.aws)
        visible, in_flight = queue_counts(
            sqs, queue_url(sqs, find_dlq(topology(config), queue).physical_name)
        )
    return visible + in_flight


def _dlq_name(config: Config, queue: str) -> str:
    with one_line_errors():
        return find_dlq(topology(config), queue).name


def redrive_command(
    ctx: typer.Context,
    queue: QueueOption = "points",
    ids: Annotated[
        list[str] | None,
        typer.Option("--id", help="DLQ message id, the id the worker logged, or event id."),
    ] = None,
    where: Annotated[
        list[str] | None,
        typer.Option(
            "--where",
            help="KEY=VALUE, KEY in event_id, event_type, payment_id, account_id, brand, error.",
        ),
    ] = None,
    errors: Annotated[
        list[str] | None, typer.Option("--error", help="Error type (repeatable).")
    ] = None,
    max_messages: Annotated[
        int | None, typer.Option("--max", min=1, help="Move at most N.")
    ] = None,
    rate: Annotated[float | None, typer.Option("--rate", help="At most N messages/second.")] = None,
    dry_run: Annotated[bool, typer.Option("--dry-run", help="Count, move nothing.")] = False,
    native: Annotated[
        bool, typer.Option("--native", help="Whole queue via SQS StartMessageMoveTask.")
    ] = False,
    reason: ReasonOption = None,
    yes: YesFlag = False,
    hold: HoldOption = 30,
    settle: SettleOption = 60.0,
    as_json: JsonFlag = False,
) -> None:
    """Move selected messages back to their source queue, in one pass (send, then delete)."""
    config: Config = ctx.obj
    with one_line_errors():
        selection = Selection.parse(ids or (), where or (), errors or ())
    if native and (not selection.everything or max_messages is not None):
        raise CliError("--native moves the whole queue: drop --id/--where/--error/--max")
    if selection.everything and not dry_run:
        reason = require_reason(reason, "redriving a whole DLQ")
        confirm_whole_queue("this redrive", _dlq_name(config, queue), yes)
    if native:
        with one_line_errors():
            summary = native_api.native_redrive(
                config, queue=queue, rate=rate, dry_run=dry_run, reason=reason
            )
        _print_redrive(summary, as_json)
        return
    with operator_run("redrive", depth(config, queue)) as (stop, advance):
        seen = dict.fromkeys(redrive_api.MoveOutcome, 0)

        def on_message(outcome: redrive_api.MoveOutcome, _item: Examined) -> None:
            seen[outcome] += 1
            advance(1, "redrive: " + ", ".join(f"{k} {n}" for k, n in seen.items()))

        summary = redrive_api.redrive(
            config,
            queue=queue,
            selection=selection,
            max_messages=max_messages,
            rate=rate,
            dry_run=dry_run,
            options=ScanOptions(hold_seconds=hold, settle_seconds=settle),
            on_message=on_message,
            stop=stop,
            reason=reason,
            on_wait=waiting,
        )
    _print_redrive(summary, as_json)
    finish(summary.end, summary.failed)


def _print_redrive(summary: redrive_api.RedriveSummary, as_json: bool) -> None:
    verb = "would move" if summary.dry_run else "moved"
    line = f"{verb} {summary.moved}, skipped {summary.skipped}, failed {summary.failed}"
    notes = []
    if summary.redrive_id is not None:
        notes.append(f"redrive {summary.redrive_id}")
    if summary.returned:
        notes.append(f"{summary.returned} of the skipped came back failing again")
    if summary.task_handle:
        notes.append(f"SQS move task {summary.task_handle}")
    if summary.end.interrupted:
        notes.append("interrupted: the rest was released")
    follow = (
        f"; follow each message with `points dlq status {summary.redrive_id}`"
        if summary.redrive_id is not None and summary.task_handle is None
        else ""
    )
    detail = (f" ({'; '.join(notes)})" if notes else "") + follow
    if as_json:
        print_json(summary.as_json())  # the JSON shape is fixed (DESIGN §6): the rest on stderr
        if detail:
            say(f"{line}{detail}")
    else:
        console.print(line + detail, highlight=False)
    for failure in summary.failures[:20]:
        say(f"  failed: {failure}")


def export_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="JSON lines file to create.")],
    queue: QueueOption = "points",
    delete: Annotated[
        bool, typer.Option("--delete", help="Delete each message once its line is on disk.")
    ] = False,
    reason: ReasonOption = None,
    marker_dir: MarkerDirOption = None,
    hold: HoldOption = 30,
    settle: SettleOption = 60.0,
    as_json: JsonFlag = False,
) -> None:
    """Save every message of a DLQ (body, attributes, reason, timestamps) as JSON lines."""
    config: Config = ctx.obj
    with operator_run("export", depth(config, queue)) as (stop, advance):
        summary = export_api.export(
            config,
            out=out,
            queue=queue,
            delete=delete,
            marker_dir=marker_dir or export_api.default_marker_dir(),
            options=ScanOptions(hold_seconds=hold, settle_seconds=settle),
            stop=stop,
            reason=reason,
            on_batch=advance,
            on_wait=waiting,
        )
    if as_json:
        print_json(summary.as_json())
    else:
        console.print(
            f"exported {summary.exported} message(s) of {summary.queue} to {summary.file}"
            + (f"; deleted {summary.deleted}, failed {summary.failed}" if delete else "")
            + ("" if summary.end.complete else " (incomplete: no purge is allowed from it)"),
            highlight=False,
        )
    finish(summary.end, summary.failed)  # what was not deleted is in the DLQ (and the file)


def purge_command(
    ctx: typer.Context,
    queue: QueueOption = "points",
    reason: ReasonOption = None,
    yes: YesFlag = False,
    force: Annotated[
        bool,
        typer.Option("--force", help="Empty the queue (SQS PurgeQueue) without an export: lossy."),
    ] = False,
    marker_dir: MarkerDirOption = None,
    hold: HoldOption = 30,
    settle: SettleOption = 60.0,
    as_json: JsonFlag = False,
) -> None:
    """Delete exactly the messages the last complete `dlq export` saved; the rest stays."""
    config: Config = ctx.obj
    reason = require_reason(reason, "a purge")
    confirm_whole_queue("this purge", _dlq_name(config, queue), yes)
    with operator_run("purge", depth(config, queue)) as (stop, advance):
        summary = purge_api.purge(
            config,
            queue=queue,
            reason=reason,
            force=force,
            marker_dir=marker_dir or export_api.default_marker_dir(),
            options=ScanOptions(hold_seconds=hold, settle_seconds=settle),
            stop=stop,
            on_batch=advance,
            on_wait=waiting,
        )
    if as_json:
        print_json(summary.as_json())
    elif summary.forced:
        console.print(f"purged ~{summary.purged} message(s) of {summary.queue} (forced, no export)")
    else:
        left = (
            f"; left {summary.left} that are not in the export (they arrived after it)"
            if summary.left
            else ""
        )
        console.print(
            f"purged {summary.purged} message(s) of {summary.queue}, every one saved in "
            f"{summary.export_file}{left}",
            highlight=False,
        )
    finish(summary.end)
