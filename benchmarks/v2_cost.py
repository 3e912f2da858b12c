"""What ledger v2 costs against another checkout, in one run (issue #13's 15 % budget).

``python -m benchmarks.v2_cost --tree v1=/path/to/v1 --tree v2=. --batch 100`` starts one
child process per checkout, each with that checkout's own venv and code, each on a
temporary PostgreSQL database of ``POINTS_BENCH_POSTGRES_URL``. The children apply the
same events (``benchmarks.ledger.workload``, identical in both versions) through their
bootstrapped ledger and time the raw-insert ceiling of the same rows. The driver hands
out slices round by round, alternating which checkout goes first, so both see the same
host load; it prints per tree the µs/event of the ledger, its ratio to the ceiling, and
the apply-rate cost of every tree against the first.

The child code uses only what ``benchmarks/ledger.py`` offered before v2 (``workload``,
``_time_ledger``, ``_time_ceiling``, ``_raw_rows``, ``_raw_table``, ``temporary_postgres``),
so it runs in a pre-v2 checkout unchanged. ``--profile DIR`` writes one cProfile file per
tree of its ledger time (the ceiling is not profiled). ``--capped NAME`` makes that (v2)
tree publish ``CAPPED_RULES`` first, so its batches do the cap and campaign work; without
it a v2 tree runs under the default rules (no cap, no campaign), like ``benchmarks/ledger.py``.
The same checkout may be named twice, once capped. Every child runs the garbage collector
as ``points worker`` does (``consumers.runtime.app.tune_garbage_collector``: start-up
frozen, a young collection per 10,000 allocations), the workload frozen with the start-up
heap, so that no tree pays for collecting the benchmark's own 30,000 events.

What the cap and campaign work itself costs is measured against v1 *with the same driver
fixes* as v2 (``v1-driver-fixes.patch`` beside this file: its own BEGIN and COMMIT in the
pipelines — two round trips a batch instead of four — and the rows as orjson, since ff4bf57
as positional JSONB arrays as v2 sends them; apply it to a checkout of a2d12b9, the parent
of the v2 merge), so that a speed-up of the shared path is not counted as v2 being cheap;
v1 as it shipped is measured beside it. Each tree's summary records its commit (``+`` and
the diff's SHA-256 prefix when it has changes). ``--append FILE`` writes every run into the
artefact as it ends (point it outside the checkout under test, or that tree turns dirty).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import statistics
import subprocess
import sys
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import IO, Any, Final

from benchmarks.ledger import DEFAULT_POSTGRES, EVENTS, ROUNDS
from consumers.runtime.app import YOUNG_COLLECTION_THRESHOLD

#: Runs in the checkout under test (cwd), with its venv: one slice per line of stdin.
CHILD: Final = r"""
import cProfile, gc, json, os, sys, time
import sqlalchemy as sa
from benchmarks import ledger as bl
from consumers.bootstrap import bootstrap_ledger
from consumers.points import tables
from infra.settings import Config

server, count, size, profile = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
rules, young_threshold = sys.argv[5], int(sys.argv[6])
names = ("ledger_entries", "ledger_events", "ledger_payments", "ledger_months", "ledger_balances")
with bl.temporary_postgres(server) as url:
    ledger = bootstrap_ledger(Config.resolve(database_url=url), migrate=True)
    engine = ledger.engine
    if rules:  # a v2 checkout: publish them (the batches pick them up as workers do)
        from datetime import UTC, datetime, timedelta
        from consumers.points.publishing import publish_rules
        from consumers.points.rules import parse_rules
        publish_rules(ledger.store, parse_rules(rules), actor="v2_cost", reason="benchmark",
                      now=datetime.now(UTC), lead=timedelta(0), allow_backdate=True)
    bl._time_ledger(ledger, bl.workload(100, seed=99), size)  # warm pools, caches, plans
    with engine.begin() as connection:
        for name in names:
            if hasattr(tables, name):
                connection.execute(sa.delete(getattr(tables, name)))
    metadata = sa.MetaData()
    table = bl._raw_table(metadata)
    metadata.drop_all(engine)
    metadata.create_all(engine)
    events = bl.workload(count)
    rows = bl._raw_rows(events)
    # The garbage collector as ``points worker`` runs it since 50869f1 (after a2d12b9, so
    # no v1 tree has it itself, hence the driver's threshold in argv): what start-up built
    # frozen, a young collection per 10,000 allocations. The workload is frozen with the
    # start-up heap: left to the collector, its 30,000 events were walked by every full
    # collection (~140 ms, one round in five of a tree that promotes enough objects to set
    # them off), a heap no worker holds.
    gc.collect()
    gc.freeze()
    gc.set_threshold(young_threshold, *gc.get_threshold()[1:])
    profiler = cProfile.Profile() if profile else None
    with engine.connect() as connection:
        backends = list(connection.execute(sa.text(
            "SELECT pid FROM pg_stat_activity WHERE datname = current_database()")).scalars())

    def server_cpu():
        # CPU seconds of this database's backends (the server is on this host): user +
        # system ticks of /proc/PID/stat; a backend that went away counts no more.
        ticks = 0
        for pid in backends:
            try:
                with open(f"/proc/{pid}/stat") as stat:
                    fields = stat.read().rsplit(")", 1)[1].split()
                ticks += int(fields[11]) + int(fields[12])
            except OSError:
                pass
        return ticks / os.sysconf("SC_CLK_TCK")

    print("ready", flush=True)
    for line in sys.stdin:
        start, end = map(int, line.split())
        if profiler is not None:
            profiler.enable()
        cpu, server = time.process_time(), server_cpu()
        ledger_s = bl._time_ledger(ledger, events[start:end], size)
        cpu, server = time.process_time() - cpu, server_cpu() - server
        if profiler is not None:
            profiler.disable()
        raw_s = bl._time_ceiling(engine, table, rows[start:end], size)
        print(json.dumps({"ledger_s": ledger_s, "raw_s": raw_s, "events": end - start,
                          "client_cpu_s": cpu, "server_cpu_s": server}), flush=True)
    if profiler is not None:
        profiler.dump_stats(profile)
    metadata.drop_all(engine)
    ledger.close()
"""

#: ``--capped NAME``: rules that make the v2 work happen in the workload (November 2026): a
#: monthly cap of 400 points, which most accounts reach, and a campaign for Visa at
#: LAWSON (5411, JP) in the first week, which two thirds of the payments get.
CAPPED_RULES: Final = json.dumps(
    {
        "versions": [
            {
                "rates_bp": {"visa": 100, "quicpay": 50},
                "excluded_mccs": ["4829", "6051", "6540", "9311"],
                "monthly_cap_points": 400,
                "campaigns": [
                    {
                        "id": "konbini",
                        "starts_at": "2026-11-01T00:00:00+09:00",
                        "ends_at": "2026-11-08T00:00:00+09:00",
                        "bonus_bp": 100,
                        "brands": ["visa"],
                        "mccs": ["5411"],
                        "countries": ["JP"],
                    }
                ],
            }
        ]
    }
)


@dataclass
class Child:
    """One checkout's process and what it measured, round by round."""

    name: str
    process: subprocess.Popen[str]
    rounds: list[dict[str, float]] = field(default_factory=list)

    def measure(self, start: int, end: int) -> None:
        stdin, stdout = self._pipes()
        stdin.write(f"{start} {end}\n")
        stdin.flush()
        self.rounds.append(json.loads(stdout.readline()))

    def wait_ready(self) -> None:
        line = self._pipes()[1].readline()
        if line.strip() != "ready":
            raise RuntimeError(f"{self.name}: child did not start: {line!r}")

    def close(self) -> None:
        self._pipes()[0].close()
        self.process.wait(timeout=120)

    def _pipes(self) -> tuple[IO[str], IO[str]]:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        return self.process.stdin, self.process.stdout

    def _per_event(self, key: str, events: float) -> int:
        """µs per event of a per-round total (0 from a child that does not report it)."""
        return round(1e6 * sum(r.get(key, 0.0) for r in self.rounds) / events)

    def summary(self) -> dict[str, Any]:
        ledger_us = [1e6 * r["ledger_s"] / r["events"] for r in self.rounds]
        ratios = [r["raw_s"] / r["ledger_s"] for r in self.rounds]
        events = sum(r["events"] for r in self.rounds)
        return {
            "us_per_event": round(1e6 * sum(r["ledger_s"] for r in self.rounds) / events),
            "best_round_us": round(min(ledger_us)),
            "worst_round_us": round(max(ledger_us)),
            "median_round_us": round(statistics.median(ledger_us)),
            "ratio_to_ceiling": round(
                sum(r["raw_s"] for r in self.rounds) / sum(r["ledger_s"] for r in self.rounds), 3
            ),
            "median_round_ratio": round(statistics.median(ratios), 3),
            "best_round_ratio": round(max(ratios), 3),
            "worst_round_ratio": round(min(ratios), 3),
            "round_us": [round(us) for us in ledger_us],
            # CPU per event, which the host's load barely moves: this process (Python and
            # the driver) and the database backends it used.
            "client_cpu_us": self._per_event("client_cpu_s", events),
            "server_cpu_us": self._per_event("server_cpu_s", events),
        }


#: What the ledger a tree runs is made of: its code and the dependencies it installs. The
#: README's verdict pools the runs of one ledger code only (``v2_cost_readme``), so a
#: change to the benchmark or to the README does not start a new set of runs, and a change
#: to the ledger does.
CODE_PATHS: Final = ("consumers", "schemas", "pyproject.toml", "requirements")


def code_of(tree: Path, revision: str = "HEAD") -> str:
    """A digest of ``CODE_PATHS`` as the tree has them: the files at ``revision`` (their
    blob ids) and, at ``HEAD``, the uncommitted changes to them."""
    git = ["git", "-C", str(tree)]
    listing = subprocess.run(
        [*git, "ls-tree", "-r", revision, "--", *CODE_PATHS],
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    diff = ""
    if revision == "HEAD":
        diff = subprocess.run(
            [*git, "diff", "HEAD", "--", *CODE_PATHS], capture_output=True, text=True, check=True
        ).stdout
    return hashlib.sha256((listing + diff).encode()).hexdigest()[:12]


def describe(tree: Path) -> str:
    """The tree's commit, and a digest of its uncommitted changes if it has any."""
    git = ["git", "-C", str(tree)]
    head = subprocess.run([*git, "rev-parse", "--short", "HEAD"], capture_output=True, text=True)
    diff = subprocess.run([*git, "diff", "HEAD"], capture_output=True, text=True).stdout
    if not diff:
        return head.stdout.strip()
    return f"{head.stdout.strip()}+{hashlib.sha256(diff.encode()).hexdigest()[:12]}"


def start_child(
    name: str, tree: Path, server: str, count: int, size: int, profile: str, rules: str
) -> Child:
    # A tree without a venv of its own (a scratch copy) runs on the driver's interpreter:
    # PYTHONPATH puts its code first.
    python = tree / ".venv" / "bin" / "python"
    if not python.exists():
        python = Path(sys.executable)
    process = subprocess.Popen(
        [
            str(python),
            "-c",
            CHILD,
            server,
            str(count),
            str(size),
            profile,
            rules,
            str(YOUNG_COLLECTION_THRESHOLD),
        ],
        cwd=tree,
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": str(tree)},
    )
    return Child(name, process)


def run(
    trees: dict[str, Path],
    server: str,
    size: int,
    count: int,
    rounds: int,
    profile_dir: Path | None,
    capped: frozenset[str] = frozenset(),
) -> dict[str, Any]:
    """Every tree's ledger on the same slices, alternating which goes first."""
    children = [
        start_child(
            name,
            tree,
            server,
            count,
            size,
            str(profile_dir / f"{name}-b{size}.prof") if profile_dir else "",
            CAPPED_RULES if name in capped else "",
        )
        for name, tree in trees.items()
    ]
    try:
        for child in children:
            child.wait_ready()
        load_before = os.getloadavg()
        step = -(-count // rounds)
        for n, start in enumerate(range(0, count, step)):
            order = children if n % 2 == 0 else children[::-1]
            for child in order:
                child.measure(start, min(start + step, count))
        load_after = os.getloadavg()
    finally:
        for child in children:
            child.close()
    summaries = {
        child.name: child.summary()
        | {"tree": describe(trees[child.name]), "code": code_of(trees[child.name])}
        for child in children
    }
    base = summaries[children[0].name]["us_per_event"]
    for child in children:
        summary = summaries[child.name]
        # The apply rate lost against the first tree: 1 - rate / base rate, over the run
        # and as the median of the rounds (each round's slice applied by both, back to
        # back: robust to the host's load drifting between rounds).
        summary["cost_vs_first"] = round(1 - base / summary["us_per_event"], 3)
        paired = [
            1 - theirs["ledger_s"] / ours["ledger_s"]
            for ours, theirs in zip(child.rounds, children[0].rounds, strict=True)
        ]
        summary["median_round_cost_vs_first"] = round(statistics.median(paired), 3)
    return {
        "batch_size": size,
        "events": count,
        "rounds": rounds,
        "load_average_1m": [round(load_before[0], 2), round(load_after[0], 2)],
        "trees": summaries,
    }


def append_run(artefact: Path, result: dict[str, Any]) -> None:
    """Every run goes into the artefact the moment it ends, stamped with its time: the
    README's verdict pools them all, so none can be left out after the fact."""
    document = json.loads(artefact.read_text(encoding="utf-8")) if artefact.exists() else {}
    stamp = datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC")
    document.setdefault("runs", []).append(result | {"measured_at": stamp})
    artefact.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--tree", action="append", required=True, help="NAME=PATH")
    parser.add_argument("--batch", type=int, action="append")
    parser.add_argument("--events", type=int)
    parser.add_argument("--rounds", type=int, default=ROUNDS)
    parser.add_argument("--profile", type=Path)
    parser.add_argument(
        "--capped", action="append", default=[], help="NAME: a v2 tree publishing CAPPED_RULES"
    )
    parser.add_argument(
        "--append", type=Path, help="FILE: add every run to this artefact's runs, as measured"
    )
    args = parser.parse_args()
    trees = {name: Path(path).resolve() for name, path in (t.split("=", 1) for t in args.tree)}
    server = os.environ.get("POINTS_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    for size in args.batch or [100]:
        count = args.events or EVENTS.get(size, 1000 * size)
        result = run(trees, server, size, count, args.rounds, args.profile, frozenset(args.capped))
        print(json.dumps(result), flush=True)
        if args.append:
            append_run(args.append, result)
    sys.exit(0)


if __name__ == "__main__":
    main()
