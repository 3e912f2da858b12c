"""``points dlq list|show|redrive|export|purge``: argument parsing and printing only.

The work is in ``ops.dlq``, ``ops.redrive`` and ``ops.export``; this module turns their
errors into one-line CLI errors and their results into tables or ``--json``.
"""

from __future__ import annotations

import functools
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn
from rich.table import Table

from infra.aws import sqs_client
from infra.resolve import ResourceNotFound, queue_url, topology
from infra.settings import Config
from ops import dlq as dlq_api
from ops import export as export_api
from ops import redrive as redrive_api
from ops.dlq_queues import find_dlq
from ops.errors import OpsError
from ops.examine import Examined
from ops.output import CliError, console, err_console, exit_with, print_json
from ops.scan import ScanOptions, queue_counts
from ops.selection import Selection

app = typer.Typer(help="Dead-letter queues: list, show, redrive, export, purge.")

JsonFlag = Annotated[bool, typer.Option("--json", help="Machine-readable output.")]
QueueOption = Annotated[
    str,
    typer.Option(
        "--queue", help="A source queue (its DLQ) or a DLQ name, e.g. points, points-delivery-dlq."
    ),
]
HoldOption = Annotated[
    int,
    typer.Option(
        "--visibility-timeout",
        min=1,
        max=43200,
        help="Seconds examined messages stay hidden if this command dies (then they reappear).",
    ),
]
MarkerDirOption = Annotated[
    Path | None,
    typer.Option(
        "--marker-dir",
        envvar="POINTS_EXPORT_MARKER_DIR",
        help="Where export markers live (default: $XDG_STATE_HOME/points/exports).",
    ),
]


@contextmanager
def one_line_errors() -> Iterator[None]:
    """Operator mistakes and missing resources become one line with exit code 2."""
    try:
        yield
    except (OpsError, ResourceNotFound) as exc:
        raise CliError(str(exc)) from None


@app.command("list")
def list_command(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Every DLQ (queue and SNS delivery DLQs) with depth, in-flight count, oldest age."""
    config: Config = ctx.obj
    with one_line_errors():
        statuses = dlq_api.list_dlqs(config)
    if as_json:
        print_json([s.as_json() for s in statuses])
        return
    table = Table(title="dead-letter queues")
    for column in ("queue", "source", "kind", "depth", "in flight", "oldest"):
        table.add_column(column)
    for s in statuses:
        table.add_row(
            s.dlq.name,
            s.dlq.source,
            s.dlq.kind,
            str(s.depth),
            str(s.in_flight),
            _age(s.oldest_age_seconds, s.oldest_exact),
        )
    console.print(table)


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
    limit: Annotated[int, typer.Option("--limit", min=1, help="At most this many.")] = 100,
    group: Annotated[bool, typer.Option("--group", help="Group by error fingerprint.")] = False,
    hold: HoldOption = 30,
    as_json: JsonFlag = False,
) -> None:
    """The messages of a DLQ with why they failed; nothing is consumed."""
    config: Config = ctx.obj
    with one_line_errors():
        shown = dlq_api.show(config, queue, limit, ScanOptions(hold_seconds=hold))
    if group:
        groups = dlq_api.group(shown)
        if as_json:
            print_json([g.as_json() for g in groups])
        else:
            _print_groups(groups)
    elif as_json:
        print_json([m.as_json() for m in shown])
    else:
        _print_messages(shown)


def _print_messages(shown: list[dlq_api.ShownMessage]) -> None:
    table = Table(title=f"{len(shown)} dead-lettered message(s)")
    for column in ("message_id", "event_id", "event_type", "payment_id", "recv", "error"):
        table.add_column(column, overflow="fold")
    for m in shown:
        table.add_row(
            m.message_id,
            m.event_id or ("(undecodable)" if not m.decodable else "-"),
            m.event_type or "-",
            m.payment_id or "-",
            str(m.receive_count),
            m.error if m.error_source != "journal" else f"{m.error} (journal)",
        )
    console.print(table)


def _print_groups(groups: list[dlq_api.ErrorGroup]) -> None:
    table = Table(title="dead letters by error")
    for column in ("count", "error type", "fingerprint", "example"):
        table.add_column(column, overflow="fold")
    for g in groups:
        table.add_row(str(g.count), g.error_type, g.fingerprint, g.example)
    console.print(table)


@app.command("redrive")
def redrive_command(
    ctx: typer.Context,
    queue: QueueOption = "points",
    ids: Annotated[
        list[str] | None, typer.Option("--id", help="Message id or event id (repeatable).")
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
    hold: HoldOption = 30,
    as_json: JsonFlag = False,
) -> None:
    """Move selected messages back to their source queue (send first, then delete)."""
    config: Config = ctx.obj
    with one_line_errors():
        selection = Selection.parse(ids or (), where or (), errors or ())
        if native:
            if not selection.everything or max_messages is not None:
                raise CliError("--native moves the whole queue: drop --id/--where/--error/--max")
            summary = redrive_api.native_redrive(config, queue=queue, rate=rate, dry_run=dry_run)
        else:
            summary = _redrive_with_progress(
                config, queue, selection, max_messages, rate, dry_run, hold, as_json
            )
    if as_json:
        print_json(summary.as_json())
        if summary.task_handle:  # the JSON shape is fixed; operators still need the handle
            err_console.print(f"SQS move task {summary.task_handle}", highlight=False)
    else:
        verb = "would move" if dry_run else "moved"
        line = f"{verb} {summary.moved}, skipped {summary.skipped}, failed {summary.failed}"
        if summary.task_handle:
            line += f"; SQS move task {summary.task_handle}"
        console.print(line, highlight=False)
        for failure in summary.failures[:20]:
            err_console.print(f"  failed: {failure}", highlight=False)
    if summary.failed:
        exit_with(1)  # scripts must notice: the failed messages are still in the DLQ


def _redrive_with_progress(
    config: Config,
    queue: str,
    selection: Selection,
    max_messages: int | None,
    rate: float | None,
    dry_run: bool,
    hold: int,
    quiet: bool,
) -> redrive_api.RedriveSummary:
    run = functools.partial(
        redrive_api.redrive,
        config,
        queue=queue,
        selection=selection,
        max_messages=max_messages,
        rate=rate,
        dry_run=dry_run,
        options=ScanOptions(hold_seconds=hold),
    )
    if quiet:
        return run()
    total = _depth(config, queue)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn())
    with Progress(*columns, console=err_console, transient=False) as progress:
        task = progress.add_task("redrive", total=total or None)
        seen = dict.fromkeys(redrive_api.MoveOutcome, 0)

        def advance(outcome: redrive_api.MoveOutcome, _item: Examined) -> None:
            seen[outcome] += 1
            counts = ", ".join(f"{name} {n}" for name, n in seen.items())
            progress.update(task, advance=1, description=f"redrive: {counts}")

        return run(on_message=advance)


def _depth(config: Config, queue: str) -> int:
    sqs = sqs_client(config.aws)
    visible, _ = queue_counts(sqs, queue_url(sqs, find_dlq(topology(config), queue).physical_name))
    return visible


@app.command("export")
def export_command(
    ctx: typer.Context,
    out: Annotated[Path, typer.Option("--out", help="JSON lines file to create.")],
    queue: QueueOption = "points",
    delete: Annotated[
        bool, typer.Option("--delete", help="Delete each message once its line is on disk.")
    ] = False,
    marker_dir: MarkerDirOption = None,
    hold: HoldOption = 30,
    as_json: JsonFlag = False,
) -> None:
    """Save every message of a DLQ (body, attributes, reason, timestamps) as JSON lines."""
    config: Config = ctx.obj
    with one_line_errors():
        summary = export_api.export(
            config,
            out=out,
            queue=queue,
            delete=delete,
            marker_dir=marker_dir or export_api.default_marker_dir(),
            options=ScanOptions(hold_seconds=hold),
        )
    if as_json:
        print_json(summary.as_json())
    else:
        console.print(
            f"exported {summary.exported} message(s) of {summary.queue} to {summary.file}"
            + (f"; deleted {summary.deleted}, failed {summary.failed}" if delete else ""),
            highlight=False,
        )
    if summary.failed:
        exit_with(1)  # exported but not deleted: still in the DLQ (and in the file)


@app.command("purge")
def purge_command(
    ctx: typer.Context,
    queue: QueueOption = "points",
    force: Annotated[
        bool, typer.Option("--force", help="Purge even without a fresh export.")
    ] = False,
    marker_dir: MarkerDirOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Empty a DLQ; refused unless `dlq export` saved it in the last 15 minutes (or --force)."""
    config: Config = ctx.obj
    with one_line_errors():
        summary = export_api.purge(
            config,
            queue=queue,
            force=force,
            marker_dir=marker_dir or export_api.default_marker_dir(),
        )
    if as_json:
        print_json(summary.as_json())
        return
    saved = f" (saved in {summary.export_file})" if summary.export_file else ""
    console.print(f"purged ~{summary.purged} message(s) of {summary.queue}{saved}", highlight=False)
