"""``make bench``: every benchmark in one run, one JSON document, ``benchmarks/results.json``.

Absolute numbers on a shared 2-core machine are noise; ratios measured side by side in the
same run are not. So every throughput stands next to its ceiling, measured moments apart:

1. ledger (``benchmarks.ledger``): events/s of ``PointsLedger.handle_batch`` at batch
   1/10/100 over the raw multi-row INSERT rate of the same rows on the same database;
2. worker (``benchmarks.worker``): the real worker over the bare receive+delete rate of the
   same backbone (in-memory, fauxqs; moto labelled moto-bound);
3. Powertools (``benchmarks.powertools``): ours over theirs, same events and duplicates;
4. clearing burst (``benchmarks.burst``): 1, 2, 4 worker processes on PostgreSQL;
5. memory: peak RSS of one worker process during (2) and (4);
plus the outbox (``benchmarks.outbox``): ``record()`` latency and relay throughput.

The document opens with the numbers the issue names (``headline()``), then ``targets``: each
judged against the issue's target, then every section in detail.
"""

from __future__ import annotations

import json
import os
import platform
import sqlite3
import subprocess
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

import psutil

from benchmarks import burst, ledger, outbox, powertools, worker

RESULTS: Final = Path(__file__).with_name("results.json")
TARGETS: Final = {
    "ledger_postgres_batch10_ratio_to_ceiling": (">=", 0.5),
    "ledger_sqlite_batch10_ratio_to_ceiling": (">=", 0.5),
    "worker_ratio_to_transport_ceiling": (">=", 0.8),
    "powertools_speedup": (">=", 3.0),
    "worker_peak_rss_mb": ("<", 150.0),
}


def machine() -> dict[str, Any]:
    node = subprocess.run(["node", "--version"], capture_output=True, text=True, check=False)
    return {
        "cpus": os.cpu_count(),
        "cpu_model": _cpu_model(),
        "memory_gb": round(psutil.virtual_memory().total / 2**30, 1),
        "python": platform.python_version(),
        "sqlite": sqlite3.sqlite_version,
        "node": node.stdout.strip(),
        "shared": "yes: other engineers' test suites run on the same 2 cores",
    }


def _cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor()


def _timed(
    sections: dict[str, float], name: str, call: Callable[[], dict[str, Any]]
) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        return call()
    except Exception as error:  # one broken section must not hide the others
        return {"error": f"{type(error).__name__}: {error}"}
    finally:
        sections[name] = round(time.perf_counter() - started, 1)


def _batch10_ratio(ledger_result: dict[str, Any], database: str) -> float | None:
    points = ledger_result.get("databases", {}).get(database)
    if not isinstance(points, list):
        return None
    for point in points:
        if point.get("batch_size") == 10:
            return float(point["ratio"])
    return None


def _ledger_eps(ledger_result: dict[str, Any], database: str) -> float | None:
    points = ledger_result.get("databases", {}).get(database)
    if not isinstance(points, list):
        return None
    for point in points:
        if point.get("batch_size") == 10:
            return float(point["ledger_eps"])
    return None


def _ratio(numerator: Any, denominator: Any) -> float | None:
    if isinstance(numerator, (int, float)) and isinstance(denominator, (int, float)):
        return round(numerator / denominator, 3) if denominator else None
    return None


def _get(document: dict[str, Any], *path: str) -> Any:
    value: Any = document
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def headline(results: dict[str, Any]) -> dict[str, Any]:
    """The issue's named numbers (and a few beside them) from the sections of one run."""
    rss = [
        _get(results["worker"], kind, f"worker_{db}", "peak_rss_mb")
        for kind in ("memory", "fauxqs")
        for db in ("sqlite", "postgresql")
    ] + [_get(results["burst"], f"workers_{n}", "peak_rss_mb_per_worker") for n in burst.WORKERS]
    numbers = [r for r in rss if isinstance(r, (int, float))]
    return {
        "ledger_postgres_batch10_ratio_to_ceiling": _batch10_ratio(results["ledger"], "postgresql"),
        "ledger_sqlite_batch10_ratio_to_ceiling": _batch10_ratio(results["ledger"], "sqlite"),
        # fauxqs (SNS→SQS, aiobotocore) + PostgreSQL: the production shape.
        "worker_ratio_to_transport_ceiling": _get(
            results["worker"], "fauxqs", "worker_postgresql", "ratio_to_transport_ceiling"
        ),
        "worker_ratio_to_transport_ceiling_sqlite": _get(
            results["worker"], "fauxqs", "worker_sqlite", "ratio_to_transport_ceiling"
        ),
        # The worker on the in-memory transport over PointsLedger.handle_batch alone at
        # batch 10 on the same database: what the runtime keeps of the database-bound rate.
        "worker_memory_ratio_to_ledger_postgres": _ratio(
            _get(results["worker"], "memory", "worker_postgresql", "events_per_s"),
            _ledger_eps(results["ledger"], "postgresql"),
        ),
        "worker_memory_ratio_to_ledger_sqlite": _ratio(
            _get(results["worker"], "memory", "worker_sqlite", "events_per_s"),
            _ledger_eps(results["ledger"], "sqlite"),
        ),
        "powertools_speedup": _get(results["powertools"], "postgresql", "speedup"),
        "powertools_speedup_sqlite": _get(results["powertools"], "sqlite", "speedup"),
        "burst_events": _get(results["burst"], "events"),
        "burst_events_per_s_1_worker": _get(results["burst"], "workers_1", "events_per_s"),
        "burst_events_per_s_2_workers": _get(results["burst"], "workers_2", "events_per_s"),
        "burst_events_per_s_4_workers": _get(results["burst"], "workers_4", "events_per_s"),
        "burst_1m_events_minutes_4_workers": _get(
            results["burst"], "workers_4", "extrapolated_1m_events_minutes"
        ),
        "worker_peak_rss_mb": max(numbers) if numbers else None,
    }


def verdicts(numbers: dict[str, Any]) -> dict[str, str]:
    out: dict[str, str] = {}
    for name, (op, target) in TARGETS.items():
        value = numbers.get(name)
        if not isinstance(value, (int, float)):
            out[name] = "not measured"
            continue
        met = value >= target if op == ">=" else value < target
        out[name] = f"{'met' if met else 'MISSED'} ({value} {op} {target} wanted)"
    return out


def burst_context(results: dict[str, Any]) -> dict[str, Any]:
    """The burst next to the database: ledger-only and raw-insert rates at batch 10."""
    points = _get(results["ledger"], "databases", "postgresql")
    if not isinstance(points, list):
        return {}
    for point in points:
        if point.get("batch_size") == 10:
            ledger_eps, raw_eps = point["ledger_eps"], point["ceiling_eps"]
            return {
                "postgres_ledger_batch10_events_per_s": ledger_eps,
                "postgres_raw_insert_batch10_rows_per_s": raw_eps,
                "1m_events_minutes_at_ledger_rate": round(1e6 / ledger_eps / 60, 1),
                "1m_events_minutes_at_raw_insert_ceiling": round(1e6 / raw_eps / 60, 1),
            }
    return {}


def run() -> dict[str, Any]:
    sections: dict[str, float] = {}
    results: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "machine": machine(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    results["ledger"] = _timed(sections, "ledger", ledger.run)
    results["worker"] = _timed(sections, "worker", worker.measure)
    results["powertools"] = _timed(sections, "powertools", powertools.measure)
    results["burst"] = _timed(sections, "burst", burst.measure)
    results["burst"]["database_ceiling"] = burst_context(results)
    results["outbox"] = _timed(sections, "outbox", outbox.measure)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["section_seconds"] = sections
    numbers = headline(results)
    # The names at the top level of the document, then their verdicts, then details.
    return {**numbers, "targets": verdicts(numbers), **results}


def main() -> None:
    document = json.dumps(run(), indent=2)
    RESULTS.write_text(document + "\n")
    print(document)


if __name__ == "__main__":
    main()
