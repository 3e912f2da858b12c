"""``points publish --file events.jsonl``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from infra.aws import sns_client
from infra.resolve import topic_arn
from infra.settings import Config
from ops.output import JsonFlag, console, fail, print_json
from producers.publisher import SnsPublisher
from schemas.envelope import decode_body
from schemas.errors import PermanentError
from schemas.events import Event


def publish(
    ctx: typer.Context,
    file: Annotated[Path, typer.Option("--file", help="JSON lines, one v1 event per line.")],
    as_json: JsonFlag = False,
) -> None:
    """Validate every line first, then publish them all (nothing is published if one is bad)."""
    config: Config = ctx.obj
    events = read_events(file)
    sns = sns_client(config.aws)
    message_ids = SnsPublisher(sns, topic_arn(config, sns)).publish_batch(events)
    if as_json:
        print_json({"published": len(message_ids), "message_ids": message_ids})
    else:
        console.print(f"published {len(message_ids)} events from {file}", highlight=False)


def read_events(path: Path) -> list[Event]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except (OSError, UnicodeDecodeError) as exc:
        fail(f"cannot read {path}: {exc}")
    events: list[Event] = []
    problems: list[str] = []
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        try:
            events.append(decode_body(line))
        except PermanentError as exc:
            problems.append(f"{path}:{number}: {exc}")
    if problems:
        shown = "\n  ".join(problems[:20])
        fail(f"{len(problems)} invalid line(s), nothing published:\n  {shown}")
    return events
