"""The headline figures of every committed ``make bench-scale`` run, one line each.

``benchmarks/scale.json`` and ``scale-production.json`` hold the latest run on each kind of
server; a figure near its target (last ÷ first) moves from run to run with the machine's
disk and neighbours, so the README shows the spread over every run committed so far, kept
in ``benchmarks/scale-history.json``. ``benchmarks.scale`` adds its run when it writes one
of the committed files; ``python -m benchmarks.scale_history add FILE [--as NAME]`` adds a
document written before (e.g. one read back with ``git show COMMIT:benchmarks/scale.json``).
"""

from __future__ import annotations

import argparse
import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any, Final

from benchmarks.report_text import get
from benchmarks.scale_report import TARGETS

HISTORY: Final = Path(__file__).with_name("scale-history.json")


def summary(document: dict[str, Any], artefact: str) -> dict[str, Any]:
    """One run's line: where it ran and the figures judged against the issue's targets."""
    server = get(document, "machine", "postgresql") or {}
    p99s = [document.get(name) for name in TARGETS if name.endswith("_p99_ms")]
    return {
        "artefact": artefact,
        "commit": str(get(document, "machine", "git", "commit") or "")[:10],
        "started_at": document.get("started_at"),
        "smoke": document.get("smoke"),
        "cpu_model": get(document, "machine", "cpu_model") or "not recorded",
        "memory_gb": get(document, "machine", "memory_gb"),
        "shared_buffers": server.get("shared_buffers"),
        "autovacuum": server.get("autovacuum", "not recorded"),
        "apply_rate_ratio_last_to_first": document.get("apply_rate_ratio_last_to_first"),
        "cpu_per_event_ratio_first_to_last": document.get("cpu_per_event_ratio_first_to_last"),
        "verify_peak_rss_mb": document.get("verify_peak_rss_mb"),
        "slowest_query_p99_ms": max((p for p in p99s if p is not None), default=None),
        "hot_account_rate_ratio": document.get("hot_account_rate_ratio"),
    }


def load(path: Path = HISTORY) -> list[dict[str, Any]]:
    runs: list[dict[str, Any]] = json.loads(path.read_text()) if path.exists() else []
    return runs


def add(document: dict[str, Any], artefact: str, path: Path = HISTORY) -> list[dict[str, Any]]:
    """Add a full run (not a smoke run) once, in the order the runs started."""
    runs = load(path)
    line = summary(document, artefact)
    if line["smoke"] or any(r["started_at"] == line["started_at"] for r in runs):
        return runs
    runs = sorted([*runs, line], key=lambda r: str(r["started_at"]))
    path.write_text(json.dumps(runs, indent=2) + "\n")
    return runs


def of(artefact: str, runs: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [r for r in runs if r["artefact"] == artefact]


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale_history")
    parser.add_argument("action", choices=("add",))
    parser.add_argument("file", type=Path)
    parser.add_argument("--as", dest="artefact", help="the committed file it stands for")
    args = parser.parse_args(argv)
    document = json.loads(args.file.read_text())
    add(document, args.artefact or args.file.name)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
