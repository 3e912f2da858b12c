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

The document opens with the numbers the issues name (``headline()``), then ``targets``:
each judged against the issue's target, then every section in detail. Then the worker's CPU
profile (``benchmarks.cpu_profile`` → ``benchmarks/profile.json``), and the README's
Performance block is regenerated from both (``benchmarks.report``).
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

from benchmarks import burst, cpu_profile, ledger, outbox, powertools, report, worker
from benchmarks.targets import judge

RESULTS: Final = Path(__file__).with_name("results.json")
TARGETS: Final = {
    "ledger_postgres_batch10_ratio_to_ceiling": (">=", 0.5),
    "ledger_sqlite_batch10_ratio_to_ceiling": (">=", 0.5),
    "worker_cpu_ms_per_message": ("<=", 0.40),
    "worker_ratio_to_transport_ceiling": (">=", 0.6),
    "powertools_speedup": (">=", 5.0),
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


def _ledger_point(ledger_result: dict[str, Any], database: str, size: int = 10) -> dict[str, Any]:
    points = ledger_result.get("databases", {}).get(database)
    if isinstance(points, list):
        for point in points:
            if point.get("batch_size") == size:
                return dict(point)
    return {}


def _get(document: dict[str, Any], *path: str) -> Any:
    value: Any = document
    for key in path:
        if not isinstance(value, dict) or key not in value:
            return None
        value = value[key]
    return value


def headline(results: dict[str, Any]) -> dict[str, Any]:
    """The issues' named numbers (medians of rounds, with best and worst) from one run."""
    rss = [
        _get(results["worker"], kind, f"worker_{db}", "peak_rss_mb")
        for kind in ("memory", "fauxqs")
        for db in ("sqlite", "postgresql")
    ] + [_get(results["burst"], f"workers_{n}", "peak_rss_mb_per_worker") for n in burst.WORKERS]
    numbers = [r for r in rss if isinstance(r, (int, float))]
    # fauxqs (SNS→SQS over HTTP) + PostgreSQL: the production shape.
    worker = _get(results["worker"], "fauxqs", "worker_postgresql") or {}
    cpu = worker.get("cpu_ms_per_msg_worker_rounds") or []
    out: dict[str, Any] = {}
    for database, name in (("postgresql", "postgres"), ("sqlite", "sqlite")):
        point = _ledger_point(results["ledger"], database)
        out[f"ledger_{name}_batch10_ratio_to_ceiling"] = point.get("median_round_ratio")
        out[f"ledger_{name}_batch10_ratio_to_ceiling_best"] = point.get("best_round_ratio")
        out[f"ledger_{name}_batch10_ratio_to_ceiling_worst"] = point.get("worst_round_ratio")
    return out | {
        "worker_cpu_ms_per_message": worker.get("cpu_ms_per_msg_worker"),
        "worker_cpu_ms_per_message_best": min(cpu) if cpu else None,
        "worker_cpu_ms_per_message_worst": max(cpu) if cpu else None,
        "worker_ratio_to_transport_ceiling": worker.get("ratio_to_transport_ceiling"),
        "worker_ratio_to_transport_ceiling_best": worker.get("ratio_to_transport_ceiling_best"),
        "worker_ratio_to_transport_ceiling_worst": worker.get("ratio_to_transport_ceiling_worst"),
        "worker_ratio_to_transport_ceiling_sqlite": _get(
            results["worker"], "fauxqs", "worker_sqlite", "ratio_to_transport_ceiling"
        ),
        # The in-memory worker (1 poller, batches of 100) over handle_batch alone on the same
        # bodies, batch size and connection: what the runtime keeps of the ledger's rate.
        "worker_memory_ratio_to_ledger_postgres": _get(
            results["worker"], "memory", "worker_postgresql", "ratio_to_ledger_alone"
        ),
        "worker_memory_ratio_to_ledger_sqlite": _get(
            results["worker"], "memory", "worker_sqlite", "ratio_to_ledger_alone"
        ),
        "powertools_speedup": _get(results["powertools"], "postgresql", "speedup"),
        "powertools_speedup_best": _get(results["powertools"], "postgresql", "speedup_best"),
        "powertools_speedup_worst": _get(results["powertools"], "postgresql", "speedup_worst"),
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
    return judge(numbers, TARGETS)


def burst_context(results: dict[str, Any]) -> dict[str, Any]:
    """The burst next to the database: ledger-only and raw-insert rates at batch 10."""
    point = _ledger_point(results["ledger"], "postgresql")
    if not point:
        return {}
    ledger_eps, raw_eps = point["ledger_eps"], point["ceiling_eps"]
    return {
        "postgres_ledger_batch10_events_per_s": ledger_eps,
        "postgres_raw_insert_batch10_rows_per_s": raw_eps,
        "1m_events_minutes_at_ledger_rate": round(1e6 / ledger_eps / 60, 1),
        "1m_events_minutes_at_raw_insert_ceiling": round(1e6 / raw_eps / 60, 1),
    }


def profile() -> dict[str, Any]:
    """The worker's CPU split, written to its own artefact (``benchmarks/profile.json``)."""
    split = cpu_profile.measure()
    cpu_profile.OUTPUT.write_text(json.dumps(split, indent=2) + "\n")
    return {"written": "benchmarks/profile.json", "samples": split["samples"]}


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
    results["profile"] = _timed(sections, "profile", profile)
    results["load_average_at_end"] = [round(x, 2) for x in os.getloadavg()]
    results["section_seconds"] = sections
    results["total_seconds"] = round(sum(sections.values()), 1)
    numbers = headline(results)
    # The names at the top level of the document, then their verdicts, then details.
    return {**numbers, "targets": verdicts(numbers), **results}


def main() -> None:
    started = time.perf_counter()
    document = json.dumps(run(), indent=2)
    RESULTS.write_text(document + "\n")
    print(document)
    report.main([])
    print(f"make bench: {time.perf_counter() - started:.0f} s; README Performance regenerated")


if __name__ == "__main__":
    main()
