"""The operator's reads on a full ledger: ``verify`` as a process, queries in-process.

``verify`` runs as the operator runs it, ``points ledger verify --json`` in a process of
its own; its wall time and peak RSS (``os.wait4``'s ``ru_maxrss`` of that very process)
are measured. The queries are timed in-process on the code the CLI commands run (the
store methods behind ``ledger payment``, ``history --limit 50``, ``balances --account``,
and explain's), on a ledger bootstrapped as the CLI bootstraps it: Python's start-up,
the import of the CLI and printing are excluded, a pooled connection is reused.
"""

from __future__ import annotations

import contextlib
import importlib
import inspect
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Final

from benchmarks.scale_db import git_commit
from benchmarks.scale_workload import ScaleWorkload
from consumers.bootstrap import Ledger

#: ``verify`` on the full ledger is stopped (and reported as such) after this long.
VERIFY_TIMEOUT_SECONDS: Final = 3600.0
#: The month ``explain --month`` is asked about: inside every run's span.
EXPLAIN_MONTH: Final = "2026-09"


def verify_process(database_url: str, rules_file: Path) -> dict[str, Any]:
    """``points ledger verify --json`` on the ledger: wall time, peak RSS, verdict."""
    points = Path(sys.executable).with_name("points")
    command = [str(points)] if points.exists() else [sys.executable, "-m", "ops.cli"]
    command += ["ledger", "verify", "--json"]
    env = dict(os.environ, POINTS_DATABASE_URL=database_url, POINTS_RULES_FILE=str(rules_file))
    # The checkout the verify process runs (its own process, so the code on disk now): a
    # long run's load and its verify may run different commits, and the document says so.
    checkout = git_commit()
    started = time.perf_counter()
    process = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    timer = threading.Timer(VERIFY_TIMEOUT_SECONDS, process.send_signal, (signal.SIGKILL,))
    timer.start()
    # Read both pipes to the end (a full pipe would block the child), then reap it with
    # ``wait4``: its own resource usage, not that of every child this process ever had.
    stdout, stderr = _drain(process)
    _, status, usage = os.wait4(process.pid, 0)
    timer.cancel()
    process.returncode = os.waitstatus_to_exitcode(status)
    seconds = time.perf_counter() - started
    report: dict[str, Any] = {}
    with contextlib.suppress(ValueError):
        report = json.loads(stdout)
    return {
        "command": "points ledger verify --json",
        "git": checkout,
        "seconds": round(seconds, 1),
        "peak_rss_mb": round(usage.ru_maxrss / 1024, 1),  # Linux reports KiB
        "exit_code": process.returncode,
        "clean": report.get("clean"),
        "events": report.get("events"),
        "drifts": len(report.get("drifts", [])) if report else None,
        "error": stderr.strip().splitlines()[-1] if process.returncode and stderr else None,
    }


def _drain(process: subprocess.Popen[str]) -> tuple[str, str]:
    chunks: dict[str, str] = {}

    def read(name: str, stream: Any) -> None:
        chunks[name] = stream.read()

    threads = [
        threading.Thread(target=read, args=("out", process.stdout)),
        threading.Thread(target=read, args=("err", process.stderr)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return chunks.get("out", ""), chunks.get("err", "")


Query = Callable[[str], object]


def _history(ledger: Ledger) -> tuple[Query, str]:
    history: Any = ledger.store.history
    if "limit" in inspect.signature(history).parameters:
        return (lambda account: history(account, limit=50)), "store.history(account, limit=50)"
    return history, "store.history(account): this ledger has no --limit, every entry is read"


def _explain(ledger: Ledger) -> tuple[Query | None, str]:
    """What ``ledger explain ACCOUNT --month`` runs after bootstrapping, when this commit
    has the command: the month's story (the account's whole story on a commit before
    ``month_story``), its stored balance, the published rules, then the explanation
    (``consumers.points.story``)."""
    store: Any = ledger.store
    current_rules = getattr(ledger, "current_rules", None)
    try:
        story = importlib.import_module("consumers.points.story")
    except ModuleNotFoundError:
        story = None
    if story is None or current_rules is None or not hasattr(store, "account_story"):
        return None, "not measured: `ledger explain` is not on this commit"
    if hasattr(store, "month_story"):

        def bounded(account: str) -> object:
            month = store.month_story(account, EXPLAIN_MONTH)
            if not hasattr(month, "balance"):  # before the story carried it: a read of its own
                store.balances(account)
            return story.explain_month_story(account, month, current_rules())

        how = (
            "store.month_story (with the stored balance) + explain_month_story (the command's body)"
        )
        return bounded, how

    def whole(account: str) -> object:
        events = store.account_story(account)
        if not hasattr(events, "balance"):
            store.balances(account)
        return story.explain_story(account, events, current_rules(), EXPLAIN_MONTH)

    return whole, "store.account_story + explain_story(month) (the command's body)"


def query_latency(
    ledger: Ledger, workload: ScaleWorkload, samples: int, seed: int = 7
) -> dict[str, Any]:
    """p50/p99 (ms) of each query over ``samples`` random payments or accounts."""
    rng = random.Random(seed)
    payments = [workload.payment_id(rng.randint(1, workload.payments)) for _ in range(samples)]
    accounts = [f"acct-{rng.randrange(workload.mix.accounts):06d}" for _ in range(samples)]
    history, history_how = _history(ledger)
    explain, explain_how = _explain(ledger)
    queries: dict[str, tuple[Query | None, list[str], str]] = {
        "ledger_payment": (ledger.store.payment, payments, "store.payment(payment_id)"),
        "ledger_explain_month": (explain, accounts, explain_how),
        "ledger_history_limit_50": (history, accounts, history_how),
        "ledger_balances_account": (ledger.store.balances, accounts, "store.balances(account)"),
    }
    out: dict[str, Any] = {}
    for name, (query, keys, how) in queries.items():
        out[name] = {"measured": how} | (_timed(query, keys) if query else _absent())
    out["heaviest_account"] = {
        name: _timed(query, ["acct-000000"] * 20)
        for name, (query, keys, _) in queries.items()
        if query is not None and keys is accounts
    }
    return out


def _absent() -> dict[str, Any]:
    return {"p50_ms": None, "p99_ms": None, "samples": 0}


def _timed(query: Query, keys: list[str]) -> dict[str, Any]:
    query(keys[0])  # warm the pool's connection and the statement caches
    durations = []
    for key in keys:
        started = time.perf_counter()
        query(key)
        durations.append((time.perf_counter() - started) * 1000)
    durations.sort()
    return {
        "p50_ms": round(_percentile(durations, 0.50), 2),
        "p99_ms": round(_percentile(durations, 0.99), 2),
        "max_ms": round(durations[-1], 2),
        "samples": len(durations),
    }


def _percentile(ordered: list[float], share: float) -> float:
    return ordered[min(len(ordered) - 1, int(share * len(ordered)))]
