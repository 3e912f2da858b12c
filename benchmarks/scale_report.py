"""The scale run's figures: the issue's named numbers, their verdicts, the 500 M paper
extrapolation, and the v2 switch (``benchmarks.scale``).

Everything here is computed from what the run measured; ``benchmarks.scale_readme``
renders the README's "At scale" block from the same document.
"""

from __future__ import annotations

import os
import platform
import tempfile
from pathlib import Path
from typing import Any, Final

from benchmarks import scale_db
from benchmarks.targets import judge

TARGETS: Final = {
    "apply_rate_ratio_last_to_first": (">=", 0.9),
    "verify_peak_rss_mb": ("<", 300.0),
    "ledger_payment_p99_ms": ("<", 50.0),
    "ledger_explain_month_p99_ms": ("<", 50.0),
    "ledger_history_limit_50_p99_ms": ("<", 50.0),
    "ledger_balances_account_p99_ms": ("<", 50.0),
    "hot_account_rate_ratio": (">=", 0.7),
}
#: pgledger's storage per transfer (its README's benchmark), the issue's point of comparison.
PGLEDGER_BYTES_PER_TRANSFER: Final = 743
PAPER_EVENTS: Final = 500_000_000
#: A size past which one table's VACUUM, index rebuilds and restores get slow enough to
#: plan partitions: the threshold the extrapolation names the event count of.
TABLE_COMFORT_BYTES: Final = 100 * 10**9
HOT_ROW: Final = (
    "Balances are projections written once per batch per account, never per event: a "
    "batch sums its events' point deltas by account and upserts each account's row once "
    "(INSERT … ON CONFLICT DO UPDATE adding the deltas), in the last round trip, sent "
    "together with the COMMIT (PostgresUnitOfWork._write_and_commit). A transaction "
    "therefore holds the hot account's balance row only between that statement and its "
    "commit, not while it locks payments, inserts the inbox rows and computes points "
    "(balance rows are locked in account order, so batches cannot deadlock on them)."
)
HOT_MONTH: Final = (
    " With monthly caps, a batch also locks (creating at zero) the account-months its "
    "payments count in, in its first round trip (PostgresUnitOfWork.claim), and holds "
    "them to COMMIT: what a month credits depends on the month's running total under its "
    "cap, so two transactions must not credit the same account-month at once. Batches "
    "that touch the hot account's month therefore wait for each other for a whole "
    "transaction, not a commit: the waits on ledger_months below measure it. Where that "
    "costs too much, the remedy is upstream, not a finer lock: deliver one account's "
    "events to one poller (an SQS FIFO message group per account, or a hot-account "
    "queue), so the others never queue behind it. Under rules without any cap a month "
    "credits what it earns, so a batch locks no account-month: it adds to the month rows "
    "like balances, in the last round trip."
)


def hot_account_text(table_bytes: dict[str, int]) -> str:
    """How the store updates a hot account's rows, for the schema this run measured."""
    return HOT_ROW + (HOT_MONTH if "ledger_months" in table_bytes else "")


def v2_switch(choice: str) -> tuple[bool, str]:
    """Whether the run adds v2 stories, and why: ``auto`` probes this commit's ledger."""
    if choice == "off":
        return False, "off (--v2 off)"
    available, why = v2_applies()
    if choice == "on" and not available:
        raise SystemExit(f"--v2 on, but {why}")
    return available, why


def v2_applies() -> tuple[bool, str]:
    """Applies one story of each v2 type to a scratch SQLite ledger: all applied or not."""
    from benchmarks.scale_workload import Mix, ScaleWorkload
    from consumers.bootstrap import bootstrap_ledger
    from consumers.handler import Outcome
    from infra.settings import Config

    workload = ScaleWorkload(Mix(events=2_000, v2=True, duplicate_share=0.0, conflict_share=0.0))
    kinds = {"refund_reversal", "chargeback", "chargeback_reversal", "points_grant"}
    probe: list[Any] = []
    for batch in workload:
        probe += [e for e in batch if str(e.event_type) in kinds]
        if {str(e.event_type) for e in probe} == kinds:
            break
    with tempfile.TemporaryDirectory(prefix="points-scale-probe-") as workdir:
        url = f"sqlite:///{Path(workdir) / 'probe.sqlite3'}"
        with bootstrap_ledger(Config.resolve(database_url=url), migrate=True) as ledger:
            results = ledger.handle_batch(probe)
    refused = [r.error for r in results if r.outcome is not Outcome.APPLIED]
    if refused:
        return False, f"off: this commit's ledger does not apply v2 events ({refused[0]})"
    return True, "on: this commit's ledger applies chargebacks, refund reversals and grants"


def expected_minutes(events: int, hot_events: int, rate: float, read_s_per_m: float) -> float:
    return (events + 2 * hot_events) / rate / 60 + events / 1e6 * read_s_per_m / 60


def machine() -> dict[str, Any]:
    memory_kb = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            memory_kb = int(line.split()[1])
    models = [
        line.split(":", 1)[1].strip()
        for line in Path("/proc/cpuinfo").read_text().splitlines()
        if line.startswith("model name")
    ]
    return {
        "cpus": os.cpu_count(),
        "cpu_model": models[0] if models else None,
        "memory_gb": round(memory_kb / 2**20, 1),
        "python": platform.python_version(),
        "git": scale_db.git_commit(),
        "shared": "yes: other engineers' test suites run on the same cores",
    }


def summarise(document: dict[str, Any]) -> dict[str, Any]:
    """The issue's numbers at the top of the document, their verdicts, then the detail."""
    main = document["runs"]["main"]
    load = main["load"]
    rates = load["apply_rate_per_window"]
    applied = max(1, load["applied_events"])
    total_bytes = sum(main["table_bytes"].values())
    cpu = [c for c in load.get("cpu_ms_per_event_per_window", []) if c is not None]
    verified = main["verify"].get("clean") is not None
    numbers: dict[str, Any] = {
        "apply_rate_per_million": rates,
        "apply_rate_ratio_last_to_first": round(rates[-1] / rates[0], 3) if rates else None,
        # CPU (ours + the server's) per applied event is far less sensitive to the other
        # load on a shared machine than the wall-clock rate: the same question, asked twice.
        "cpu_ms_per_event_per_million": cpu,
        "cpu_per_event_ratio_first_to_last": round(cpu[0] / cpu[-1], 3) if cpu else None,
        # ... split into this process, the ledger's backends and autovacuum: whether a
        # window grew dearer in the ledger's own statements or in the vacuum of a bigger table.
        "cpu_ms_per_event_per_million_split": load.get("cpu_ms_per_event_per_window_split"),
        # ... and the server's buffer misses, hits and WAL per event: whether the dearer
        # statements read pages the cache no longer holds, or log whole pages after each
        # checkpoint.
        "server_io_per_event_per_million": load.get("server_io_per_event_per_window"),
        # ... and what was delivered in each: the first million holds fewer of the events
        # that come days to weeks into a story (they find a payment to update).
        "delivered_by_type_per_million": load.get("delivered_by_type_per_window"),
        "bytes_per_event": round(total_bytes / applied),
        "reference": {
            "pgledger_bytes_per_transfer": PGLEDGER_BYTES_PER_TRANSFER,
            "note": "pgledger stores one transfer (two entries) per row set; ours stores "
            "per applied event the inbox row with its canonical body, one entry, and the "
            "payment, account-month and balance projections it updates",
        },
        # A verify that did not run to its verdict (an error, a timeout) measured nothing.
        "verify_seconds": main["verify"]["seconds"] if verified else None,
        "verify_peak_rss_mb": main["verify"]["peak_rss_mb"] if verified else None,
        "verify_clean": main["verify"]["clean"],
        "verify_error": main["verify"].get("error"),
    }
    for name, figures in main["query_latency_ms"].items():
        if name != "heaviest_account":
            numbers[f"{name}_p50_ms"] = figures.get("p50_ms")
            numbers[f"{name}_p99_ms"] = figures.get("p99_ms")
    uniform, hot = document["runs"]["uniform"], document["runs"]["hot"]
    uniform_rate = uniform["load"]["apply_rate_events_per_s"]
    hot_rate = hot["load"]["apply_rate_events_per_s"]
    numbers["hot_account_rate_ratio"] = round(hot_rate / uniform_rate, 3) if uniform_rate else None
    numbers["hot_account"] = {
        "how_the_store_avoids_serialising": hot_account_text(main["table_bytes"]),
        "lock_waits_uniform": uniform["lock_waits"],
        "lock_waits_hot": hot["lock_waits"],
    }
    return {
        **numbers,
        "targets": judge(numbers, TARGETS),
        "extrapolation_500m": extrapolate(main),
        **document,
    }


def extrapolate(main: dict[str, Any]) -> dict[str, Any]:
    """500 M events on paper, linear in the measured bytes per event and verify rate."""
    applied = max(1, main["load"]["applied_events"])
    scale = PAPER_EVENTS / applied
    tables = {name: round(size * scale / 1e9, 1) for name, size in main["table_bytes"].items()}
    inbox = main["table_bytes"].get("ledger_events", 0) / applied
    verified = main["verify"].get("clean") is not None
    verify_rate = applied / max(0.001, main["verify"]["seconds"]) if verified else None
    return {
        "events": PAPER_EVENTS,
        "table_gb": tables,
        "total_gb": round(sum(tables.values()), 1),
        "verify_hours_at_measured_rate": (
            round(PAPER_EVENTS / verify_rate / 3600, 1) if verify_rate else None
        ),
        "verify_events_per_s": round(verify_rate) if verify_rate else None,
        "inbox_bytes_per_event": round(inbox),
        "inbox_events_at_100_gb": round(TABLE_COMFORT_BYTES / inbox) if inbox else None,
    }
