"""``points schemas export`` and ``points schemas check``: the contract for other languages."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Any

import typer

from ops.output import JsonFlag, console, exit_with, fail, print_json
from schemas.asyncapi import render_asyncapi
from schemas.compatibility import breaking_changes
from schemas.jsonschema import payment_event_schema, render_schema

app = typer.Typer(help="The event contract: JSON Schema, AsyncAPI, compatibility gate.")


@app.command("export")
def export(
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
    asyncapi: Annotated[
        bool, typer.Option("--asyncapi", help="The AsyncAPI 3.0 document instead.")
    ] = False,
    as_json: JsonFlag = False,
) -> None:
    """Write the JSON Schema of contract v1 (or, with ``--asyncapi``, the AsyncAPI document).

    Without ``--out`` the document itself is the output (it is JSON either way); with it,
    ``--json`` reports what was written as ``{"out", "document"}``.
    """
    text = render_asyncapi() if asyncapi else render_schema()
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        fail(f"cannot write {out}: {exc.strerror or exc}")
    kind = "asyncapi" if asyncapi else "jsonschema"
    if as_json:
        print_json({"out": str(out), "document": kind})
    else:
        console.print(f"wrote the {kind} document to {out}", highlight=False)


@app.command("check")
def check(
    against: Annotated[
        Path, typer.Option("--against", help="The released JSON Schema to stay compatible with.")
    ],
    schema: Annotated[
        Path | None,
        typer.Option("--schema", help="The schema to check (default: this code's export)."),
    ] = None,
    as_json: JsonFlag = False,
) -> None:
    """Exit 1 when the schema refuses anything the released one accepted (a breaking change:
    field or event type removed, type or bound narrowed, enum value removed, new required
    field); additive changes pass. ``--json``: ``{"compatible", "breaking"}``."""
    released = _read_schema(against)
    current = payment_event_schema() if schema is None else _read_schema(schema)
    problems = breaking_changes(released, current)
    if as_json:
        print_json({"compatible": not problems, "breaking": problems})
    elif problems:
        console.print(f"{len(problems)} breaking change(s) against {against}:", highlight=False)
        for problem in problems:
            console.print(f"  {problem}", highlight=False, markup=False)
    else:
        console.print(f"compatible with {against}", highlight=False)
    if problems:
        exit_with(1)


def _read_schema(path: Path) -> dict[str, Any]:
    try:
        document = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        fail(f"cannot read {path}: {exc.strerror or exc}")
    except ValueError as exc:
        fail(f"{path} is not JSON: {exc}")
    if not isinstance(document, dict) or "oneOf" not in document:
        fail(f"{path} is not a contract JSON Schema (no top-level oneOf of event types)")
    return document
