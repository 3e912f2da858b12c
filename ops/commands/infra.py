"""``points infra apply``, ``points infra template`` and ``points local``."""

from __future__ import annotations

import json
import os
import signal
import socket
import threading
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from infra.apply import apply_topology
from infra.aws import sns_client, sqs_client
from infra.cloudformation import render_template, to_json, to_yaml
from infra.local import LOOPBACK, EmbeddedAws
from infra.resolve import topology
from infra.settings import Config
from ops.output import JsonFlag, console, fail, print_json

app = typer.Typer(help="The messaging topology.")


@app.command("apply")
def apply(ctx: typer.Context, as_json: JsonFlag = False) -> None:
    """Create or update topic, queues, DLQs and subscriptions (idempotent)."""
    config: Config = ctx.obj
    result = apply_topology(topology(config), sns_client(config.aws), sqs_client(config.aws))
    if as_json:
        print_json(result.as_json())
        return
    for change in result.changes or ["no changes: the topology is up to date"]:
        console.print(f"• {change}", highlight=False)
    console.print(f"topic {result.topic_arn}", highlight=False)
    for name, queue in result.queues.items():
        console.print(f"queue {name}: {queue.url} (DLQ {queue.dlq_url})", highlight=False)


class TemplateFormat(StrEnum):
    json = "json"
    yaml = "yaml"


@app.command("template")
def template(
    ctx: typer.Context,
    out: Annotated[
        Path | None, typer.Option("--out", help="Write here instead of standard output.")
    ] = None,
    fmt: Annotated[
        TemplateFormat, typer.Option("--format", help="json (default) or yaml.")
    ] = TemplateFormat.json,
    as_json: JsonFlag = False,
) -> None:
    """CloudFormation for production: topology, ECS workers, autoscaling, alarms, IAM.

    Without ``--out`` the template itself is the output (``--json`` forces JSON); with it,
    ``--json`` reports what was written as ``{"out", "format", "resources"}``.
    """
    config: Config = ctx.obj
    document = render_template(topology(config))
    if as_json and out is None:
        fmt = TemplateFormat.json
    text = to_yaml(document) if fmt is TemplateFormat.yaml else to_json(document)
    if out is None:
        typer.echo(text, nl=False)
        return
    out.write_text(text, encoding="utf-8")
    resources = len(document["Resources"])
    if as_json:
        print_json({"out": str(out), "format": fmt.value, "resources": resources})
        return
    console.print(f"wrote {out} ({resources} resources)", highlight=False)


def local(
    ctx: typer.Context,
    port: Annotated[int, typer.Option(help="Loopback port for the moto server.")] = 4566,
    as_json: JsonFlag = False,
) -> None:
    """Run an embedded AWS (moto server), apply the topology, stay up until Ctrl-C.

    ``--json`` prints one line, ``{"endpoint_url", "environment"}``, once it is ready.
    """
    config: Config = ctx.obj
    _require_free_port(port)
    stop = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stop.set())
    with EmbeddedAws(port=port, region=config.aws.region) as aws:
        os.environ.update(aws.environment())  # this process's clients use its credentials too
        local_config = Config.resolve(endpoint_url=aws.endpoint_url, region=config.aws.region)
        apply_topology(
            topology(local_config), sns_client(local_config.aws), sqs_client(local_config.aws)
        )
        if as_json:
            typer.echo(
                json.dumps({"endpoint_url": aws.endpoint_url, "environment": aws.environment()})
            )
        else:
            console.print(
                f"embedded AWS on {aws.endpoint_url}; topology applied. In another shell:"
            )
            for key, value in aws.environment().items():
                console.print(f"  export {key}={value}", highlight=False)
            console.print("Ctrl-C to stop.")
        try:
            while not stop.wait(0.5):
                pass
        except KeyboardInterrupt:
            pass
    if not as_json:
        console.print("stopped.")


def _require_free_port(port: int) -> None:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        try:
            probe.bind((LOOPBACK, port))
        except OSError:
            fail(f"port {port} on {LOOPBACK} is already in use; choose another with --port")
