"""``points schemas export``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from schemas.jsonschema import render_schema

app = typer.Typer(help="The event contract (JSON Schema for producers in other languages).")


@app.command("export")
def export(
    out: Annotated[Path | None, typer.Option(help="Write here instead of standard output.")] = None,
) -> None:
    """Write the JSON Schema of contract v1."""
    text = render_schema()
    if out is None:
        typer.echo(text, nl=False)
    else:
        out.write_text(text, encoding="utf-8")
