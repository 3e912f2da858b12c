"""``points replay FILE [--to-queue Q | --to-topic]``: re-send a ``dlq export`` file."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra.settings import Config
from ops.commands.common import JsonFlag, ReasonOption, one_line_errors
from ops.output import console, exit_with, print_json
from ops.progress import progress_bar
from ops.replay import read_export
from ops.replay import replay as replay_file


def replay(
    ctx: typer.Context,
    file: Annotated[Path, typer.Argument(help="A file written by `points dlq export`.")],
    to_queue: Annotated[
        str | None,
        typer.Option("--to-queue", help="Send every line here (a DLQ name restores exactly)."),
    ] = None,
    to_topic: Annotated[
        bool, typer.Option("--to-topic", help="Publish decodable events to the topic.")
    ] = False,
    reason: ReasonOption = None,
    as_json: JsonFlag = False,
) -> None:
    """Re-send exported messages: to their source queue by default (audited)."""
    config: Config = ctx.obj
    with one_line_errors():
        total = len(read_export(file))
        with progress_bar("replay", total) as advance:
            summary = replay_file(
                config,
                file,
                to_queue=to_queue,
                to_topic=to_topic,
                reason=reason,
                on_batch=lambda n: advance(n, None),
            )
    if as_json:
        print_json(summary.as_json())
    else:
        where = ", ".join(f"{n} to {name}" for name, n in summary.targets.items()) or "nothing"
        console.print(
            f"replayed {summary.replayed} ({where}); skipped {summary.skipped}, "
            f"failed {summary.failed}",
            highlight=False,
        )
    if summary.failed:
        exit_with(1)  # some lines were not sent: replaying the file again is safe
