"""``make bench-scale``: a ledger of millions of events, measured as it grows (issue #16).

``python -m benchmarks.scale [--events N] [--hot-events N] [--keep]`` writes one JSON
document to ``benchmarks/scale.json``:

1. grows a fresh PostgreSQL ledger to ``--events`` applied events (default 5,000,000)
   through the bootstrapped ledger (``consumers.bootstrap.bootstrap_ledger``, as the worker
   and the CLI get it) in batches of 100 from ``--loaders`` concurrent loaders, drawn from
   ``benchmarks.scale_workload`` (the chaos workload's stories over 100,000 accounts and
   six months, caps and campaigns published as the ledger's rules), and reports the apply
   rate of every million (``apply_rate_per_million``) and the last over the first;
2. on the full ledger: storage per applied event (``pg_total_relation_size`` of every
   ledger table with its indexes and TOAST), then after ``ANALYZE`` ``points ledger
   verify`` as a process (wall time, peak RSS) and the p50/p99 of the operator's queries
   (``benchmarks.scale_reads``);
3. a hot-account run (``--hot-events``, half of the stories on one account) against a
   uniform run of the same size, each on a fresh database with ``--loaders`` concurrent
   loaders, and the lock waits sampled during each (``hot_account_rate_ratio``).

Databases are named ``points_scale_<UTC timestamp>_<part>`` and dropped at the end
unless ``--keep``. Progress goes to stderr; the document to the file and stdout.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Final

from benchmarks import report, scale_db, scale_history, scale_load, scale_reads, scale_report
from benchmarks.scale_workload import RULES, Mix, ScaleWorkload
from consumers.bootstrap import Ledger, bootstrap_ledger
from infra.settings import Config

OUTPUT: Final = Path(__file__).with_name("scale.json")
#: The documents the README shows (``make bench-scale`` and ``make bench-scale-production``):
#: a run written to either is added to ``scale-history.json`` and the README regenerated.
COMMITTED: Final = (OUTPUT.resolve(), OUTPUT.with_name("scale-production.json").resolve())
FULL_RUN_EVENTS: Final = 5_000_000
MILLION: Final = 1_000_000
#: The hot and uniform runs alternate in this many slices.
SLICES: Final = 10
#: Apply rates of four loaders on this machine (2 shared vCPUs): under the load of other
#: engineers' test suites (load average 6-10, measured in 60k-300k runs), and when quiet
#: (what the measured CPU per event, ~0.45 ms ours + PostgreSQL's, allows on two cores).
#: The announced duration is computed from both.
QUIET_EVENTS_PER_S: Final = 3_000
LOADED_EVENTS_PER_S: Final = 1_100
#: ``verify`` (and the queries) on the full ledger, seconds per million events: measured
#: under load (200k events in 78 s), and half of it when quiet.
QUIET_READ_SECONDS_PER_MILLION: Final = 200
LOADED_READ_SECONDS_PER_MILLION: Final = 400


def log(message: str) -> None:
    stamp = datetime.now(UTC).strftime("%H:%M:%S")
    print(f"[bench-scale {stamp}] {message}", file=sys.stderr, flush=True)


def arguments(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m benchmarks.scale", description=__doc__)
    parser.add_argument("--events", type=int, default=FULL_RUN_EVENTS)
    parser.add_argument("--hot-events", type=int, default=MILLION)
    parser.add_argument("--accounts", type=int, default=100_000)
    parser.add_argument(
        "--loaders",
        type=int,
        default=4,
        help="concurrent loaders, each handing batches to the ledger as a worker poller does "
        "(4 apply 1.65x the rate of 1 on this machine, the 5 M run's time)",
    )
    parser.add_argument("--samples", type=int, default=1000, help="per query")
    parser.add_argument(
        "--v2",
        choices=("auto", "on", "off"),
        default="auto",
        help="v2 stories (chargebacks, refund reversals, grants): auto = on when the "
        "ledger on this commit applies them",
    )
    parser.add_argument("--keep", action="store_true", help="keep the databases")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    parser.add_argument(
        "--server",
        default=os.environ.get("POINTS_BENCH_POSTGRES_URL", scale_db.DEFAULT_SERVER),
        help="PostgreSQL server URL (POINTS_BENCH_POSTGRES_URL)",
    )
    return parser.parse_args(argv)


def window_size(events: int) -> int:
    """A million events per window; a fifth of a smaller (smoke) run."""
    return MILLION if events >= 2 * MILLION else max(1, events // 5)


@contextmanager
def ledger_on(url: str, rules_file: Path) -> Iterator[Ledger]:
    """The ledger as production bootstraps it, its rules from ``POINTS_RULES_FILE``."""
    config = Config.resolve(database_url=url)
    config.points = config.points.model_copy(update={"rules_file": rules_file})
    with bootstrap_ledger(config, migrate=True) as ledger:
        yield ledger


def main_run(args: argparse.Namespace, mix: Mix, name: str, rules_file: Path) -> dict[str, Any]:
    """Grow one ledger to ``--events``, then measure storage, verify and the queries."""
    with (
        scale_db.fresh_database(args.server, name, keep=args.keep) as url,
        ledger_on(url, rules_file) as ledger,
    ):
        workload = ScaleWorkload(mix)
        log(
            f"growing {name} to {args.events:,} applied events "
            f"({args.loaders} loaders, batches of 100)"
        )
        load = scale_load.Load(args.events, window_size(args.events), args.loaders)
        scale_load.grow(ledger, iter(workload), load, args.events, progress=log)
        sizes = scale_db.table_sizes(ledger.engine)
        scale_db.analyze(ledger.engine)
        log(f"applied {load.applied:,} at {load.rate:,.0f} ev/s; analyzed; running verify")
        verify = scale_reads.verify_process(url, rules_file)
        log(f"verify: {verify['seconds']} s, peak RSS {verify['peak_rss_mb']} MB; queries")
        latency = scale_reads.query_latency(ledger, workload, args.samples)
        return {
            "database": name,
            "server": scale_db.server_context(ledger.engine),
            "load": load.as_dict(),
            "workload": {"mix": mix.__dict__, "payments": workload.payments}
            | {"delivered": dict(sorted(workload.stats.items()))},
            "table_bytes": sizes,
            "verify": verify,
            "query_latency_ms": latency,
        }


def contention_runs(
    args: argparse.Namespace, mixes: dict[str, Mix], stamp: str, rules_file: Path
) -> dict[str, dict[str, Any]]:
    """Each mix on a fresh database with ``--loaders`` concurrent loaders, lock waits
    sampled, applied in ``SLICES`` alternating slices (the order flips every slice) so that
    the machine's load drifts over all runs alike."""
    with ExitStack() as stack:
        runs = {}
        for part, mix in mixes.items():
            name = f"points_scale_{stamp}_{part}"
            url = stack.enter_context(scale_db.fresh_database(args.server, name, keep=args.keep))
            ledger = stack.enter_context(ledger_on(url, rules_file))
            sampler = stack.enter_context(scale_db.LockSampler(ledger.engine))
            load = scale_load.Load(args.hot_events, None, args.loaders)
            runs[part] = (name, ledger, iter(ScaleWorkload(mix)), load, sampler)
        log(
            f"{' and '.join(mixes)}: {args.hot_events:,} events each, {args.loaders} loaders, "
            f"{SLICES} alternating slices"
        )
        for n in range(1, SLICES + 1):
            until = -(-args.hot_events * n // SLICES)
            for part in list(runs)[:: 1 if n % 2 else -1]:
                _, ledger, batches, load, _ = runs[part]
                scale_load.grow(ledger, batches, load, until)
            log(
                f"slice {n}/{SLICES}: "
                + ", ".join(f"{part} {r[3].rate:,.0f} ev/s" for part, r in runs.items())
            )
        return {
            part: {"database": name, "load": load.as_dict(), "lock_waits": sampler.as_dict()}
            for part, (name, _, _, load, sampler) in runs.items()
        }


def run(args: argparse.Namespace) -> dict[str, Any]:
    started = time.perf_counter()
    stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S")
    v2, v2_reason = scale_report.v2_switch(args.v2)
    quiet, loaded = (
        scale_report.expected_minutes(args.events, args.hot_events, rate, reads)
        for rate, reads in (
            (QUIET_EVENTS_PER_S, QUIET_READ_SECONDS_PER_MILLION),
            (LOADED_EVENTS_PER_S, LOADED_READ_SECONDS_PER_MILLION),
        )
    )
    log(
        f"expected duration on this 2-core machine: ~{quiet:.0f} min when it is quiet "
        f"(~{QUIET_EVENTS_PER_S:,} ev/s), up to ~{loaded:.0f} min under other suites' load "
        f"(~{LOADED_EVENTS_PER_S:,} ev/s); progress every 15 s. {args.events:,} events, then "
        f"verify and queries, then 2 × {args.hot_events:,} (uniform, hot account). "
        f"v2 stories: {v2_reason}"
    )
    document: dict[str, Any] = {
        "started_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "smoke": args.events < FULL_RUN_EVENTS,
        "machine": scale_report.machine(),
        "load_average_at_start": [round(x, 2) for x in os.getloadavg()],
    }
    mix = Mix(events=args.events, accounts=args.accounts, v2=v2)
    hot_mix = replace(mix, events=args.hot_events)
    with tempfile.TemporaryDirectory(prefix="points-scale-") as workdir:
        rules_file = Path(workdir) / "rules.json"
        rules_file.write_text(json.dumps(RULES, indent=2))
        main = main_run(args, mix, f"points_scale_{stamp}_main", rules_file)
        uniform = replace(hot_mix, skewed=False)
        contention = contention_runs(
            args, {"uniform": uniform, "hot": replace(uniform, hot_share=0.5)}, stamp, rules_file
        )
    document["machine"]["postgresql"] = main.pop("server")
    document |= {
        "load_average_at_end": [round(x, 2) for x in os.getloadavg()],
        "duration_seconds": round(time.perf_counter() - started),
        "v2_stories": {"on": v2, "why": v2_reason},
        "runs": {"main": main, **contention},
    }
    return scale_report.summarise(document)


def main(argv: Sequence[str] | None = None) -> int:
    args = arguments(argv)
    document = run(args)
    text = json.dumps(document, indent=2) + "\n"
    args.output.write_text(text)
    print(text)
    log(f"wrote {args.output} in {document['duration_seconds'] / 60:.1f} min")
    if args.output.resolve() in COMMITTED:
        scale_history.add(document, args.output.name)
        report.main([])
        log("benchmarks/scale-history.json and README Performance (At scale) updated")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
