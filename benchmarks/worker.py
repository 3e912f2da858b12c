"""Worker end to end: the real Worker/BatchProcessor/PointsLedger next to its ceilings.

Each measurement runs in a fresh spawned child (``benchmarks.worker_child``), so that its
CPU time and peak RSS are one worker's alone. Per backbone:

- **fauxqs** (the yardstick: ``SqsTransport`` over HTTP, filled through SNS → SQS raw
  delivery): the worker with ``CONCURRENCY`` pollers over the **transport ceiling**, the
  best bare receive(10) + delete rate of the same transport with 1 or ``CONCURRENCY``
  pollers. Three interleaved rounds, each on a fresh emulator and a fresh database; the
  headline is the median of the per-round ratios, with the best and worst round beside it.
- **memory** (the in-memory transport, in the worker's process: it measures us): the
  worker with **one** poller over ``PointsLedger.handle_batch`` alone on the same bodies,
  in the batches of 100 that poller forms under a backlog, on one connection: same
  events, batch size and connections, so the ratio is what the runtime (decode, logs,
  EMF, acknowledgements) keeps of the ledger's rate. The bare in-memory ceiling is
  reported too, but is two orders of magnitude above any worker.
- **moto** (a few hundred messages, labelled moto-bound: it measures moto).

The queue is filled before the clock starts and drained while timed (4,000 messages;
moto 200); both the ceiling and the worker drain the same pre-filled depth, so a depth
effect cancels in the ratio. No feeder process competes for the two cores.
"""

from __future__ import annotations

import os
import statistics
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from contextlib import contextmanager
from dataclasses import dataclass
from multiprocessing import get_context
from typing import Any, Final, TypeVar

from benchmarks.backbones import Fauxqs, QueueSet, points_topology, publish
from benchmarks.ledger import DEFAULT_POSTGRES, temporary_postgres, temporary_sqlite
from benchmarks.worker_child import CONCURRENCY, Backbone, child_run, settings
from benchmarks.workload import payment_bodies
from consumers.bootstrap import bootstrap_ledger
from infra.local import EmbeddedAws
from infra.settings import Config

__all__ = ["CONCURRENCY", "PLANS", "Plan", "measure", "scratch_database", "settings"]

T = TypeVar("T")
#: False only in the smoke test: measure in this process (CPU and RSS then include ours).
ISOLATE = True


def in_child(function: Callable[..., T], *args: Any) -> T:
    """Run ``function(*args)`` in a fresh spawned process (its own CPU clock and RSS)."""
    if not ISOLATE:
        return function(*args)
    with ProcessPoolExecutor(1, mp_context=get_context("spawn")) as pool:
        return pool.submit(function, *args).result()


@contextmanager
def scratch_database(kind: str, postgres_server: str) -> Iterator[str]:
    """A migrated, empty ledger database: a temp SQLite file or a scratch PostgreSQL db."""
    context = temporary_sqlite() if kind == "sqlite" else temporary_postgres(postgres_server)
    with context as url:
        bootstrap_ledger(Config.resolve(database_url=url), migrate=True).close()
        yield url


def on_memory(
    bodies: Sequence[str], database_url: str | None, mode: str, pollers: int = CONCURRENCY
) -> dict[str, Any]:
    return in_child(child_run, Backbone("memory"), mode, list(bodies), database_url, pollers)


def on_fauxqs(
    bodies: Sequence[str], database_url: str | None, mode: str, pollers: int = CONCURRENCY
) -> dict[str, Any]:
    """A fresh fauxqs, filled through SNS, drained by the child."""
    with Fauxqs() as fauxqs:
        queues = points_topology(fauxqs.endpoint_url)
        publish_rate = publish(fauxqs.endpoint_url, queues.topic_arn, bodies)
        backbone = Backbone("fauxqs", fauxqs.endpoint_url, queues, fauxqs.pid)
        result = in_child(child_run, backbone, mode, list(bodies), database_url, pollers)
    result["fill_publish_per_s"] = round(publish_rate)
    return result


def on_moto(
    bodies: Sequence[str], database_url: str | None, mode: str, pollers: int = CONCURRENCY
) -> dict[str, Any]:
    """moto via ``infra.apply`` (the real topology); filled through SNS."""
    from benchmarks.backbones import clients
    from infra.apply import apply_topology
    from infra.topology import DEFAULT_TOPOLOGY

    with EmbeddedAws() as aws:
        sns, sqs = clients(aws.endpoint_url)
        applied = apply_topology(DEFAULT_TOPOLOGY, sns, sqs)
        points = applied.queues["points"]
        queues = QueueSet(applied.topic_arn, points.url, points.dlq_url)
        for start in range(0, len(bodies), 50):  # keep moto's queue shallow while filling
            publish(aws.endpoint_url, queues.topic_arn, bodies[start : start + 50], threads=1)
        assert aws._process is not None
        backbone = Backbone("moto", aws.endpoint_url, queues, aws._process.pid)
        return in_child(child_run, backbone, mode, list(bodies), database_url, pollers)


RUNNERS: Final = {"memory": on_memory, "fauxqs": on_fauxqs, "moto": on_moto}


@dataclass(frozen=True)
class Plan:
    """What to measure on one backbone: sizes, ceilings, databases, interleaved rounds."""

    messages: int
    ceiling_pollers: tuple[int, ...]
    databases: tuple[str, ...]
    rounds: int = 1
    worker_pollers: int = CONCURRENCY
    #: Also time ``handle_batch`` alone on the same bodies (the like-for-like denominator).
    ledger_alone: bool = False


PLANS: Final = {
    "memory": Plan(4000, (1,), ("sqlite", "postgresql"), 3, worker_pollers=1, ledger_alone=True),
    "fauxqs": Plan(4000, (1, CONCURRENCY), ("sqlite", "postgresql"), rounds=3),
    "moto": Plan(200, (CONCURRENCY,), ("sqlite",)),
}


def spread(name: str, values: Sequence[float]) -> dict[str, float]:
    """``name`` (the median of several rounds), ``name_best`` and ``name_worst``."""
    return {
        name: round(statistics.median(values), 3),
        f"{name}_best": round(max(values), 3),
        f"{name}_worst": round(min(values), 3),
    }


def _rounds(
    kind: str, plan: Plan, bodies: Sequence[str], server: str
) -> list[dict[str, dict[str, Any]]]:
    """One dict per round: ``ceiling_<pollers>``, ``worker_<db>`` and ``ledger_<db>`` runs.
    Interleaved, so that the ceiling and the worker of a round see the same load."""
    run = RUNNERS[kind]
    rounds: list[dict[str, dict[str, Any]]] = []
    for _ in range(plan.rounds):
        one = {f"ceiling_{p}": run(bodies, None, "ceiling", p) for p in plan.ceiling_pollers}
        for database in plan.databases:
            with scratch_database(database, server) as url:
                one[f"worker_{database}"] = run(bodies, url, "worker", plan.worker_pollers)
            if plan.ledger_alone:
                with scratch_database(database, server) as url:
                    one[f"ledger_{database}"] = run(bodies, url, "ledger", 1)
        rounds.append(one)
    return rounds


def _median_run(runs: Sequence[dict[str, Any]], key: str) -> dict[str, Any]:
    """The medians of ``runs`` (numbers only) plus each round's ``key``."""
    numbers = {
        name: round(statistics.median(float(r[name]) for r in runs), 3)
        for name, value in runs[0].items()
        if isinstance(value, (int, float)) and all(r.get(name) is not None for r in runs)
    }
    numbers["peak_rss_mb"] = max(float(r["peak_rss_mb"]) for r in runs)
    return numbers | {f"{key}_rounds": [r[key] for r in runs], "rounds": len(runs)}


def summarise(kind: str, plan: Plan, rounds: Sequence[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    entry: dict[str, Any] = {"messages": plan.messages, "rounds": len(rounds)}
    if kind == "moto":
        entry["label"] = "moto-bound (DESIGN §8): measures moto, not us"
    # A round's ceiling: the best bare rate with 1 poller or as many as the worker has (on
    # fauxqs, concurrent long polls are not always faster than one).
    ceilings = [max((r[k] for k in r if k.startswith("ceiling_")), key=_eps) for r in rounds]
    entry["transport_ceiling"] = _median_run(ceilings, "events_per_s") | {
        "pollers_by_round": [_pollers(r) for r in rounds]
    }
    entry["worker_pollers"] = plan.worker_pollers
    for database in plan.databases:
        workers = [r[f"worker_{database}"] for r in rounds]
        worker = _median_run(workers, "events_per_s") | _median_run(
            workers, "cpu_ms_per_msg_worker"
        )
        ratios = [_eps(w) / _eps(c) for w, c in zip(workers, ceilings, strict=True)]
        worker |= spread("ratio_to_transport_ceiling", ratios)
        if plan.ledger_alone:
            alone = [r[f"ledger_{database}"] for r in rounds]
            entry[f"ledger_alone_{database}"] = _median_run(alone, "events_per_s") | {
                "batch_size": settings().max_batch_messages,
                "connections": 1,
            }
            worker |= spread(
                "ratio_to_ledger_alone",
                [_eps(w) / _eps(a) for w, a in zip(workers, alone, strict=True)],
            )
        entry[f"worker_{database}"] = worker
    return entry


def _eps(run: dict[str, Any]) -> float:
    return float(run["events_per_s"])


def _pollers(one: dict[str, dict[str, Any]]) -> int:
    best = max((k for k in one if k.startswith("ceiling_")), key=lambda k: _eps(one[k]))
    return int(best.removeprefix("ceiling_"))


def measure(
    plans: dict[str, Plan] | None = None, postgres_server: str | None = None
) -> dict[str, Any]:
    """Ceilings and the worker per backbone; the worker on each database, side by side."""
    plans = plans if plans is not None else PLANS
    server = postgres_server or os.environ.get("POINTS_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    result: dict[str, Any] = {
        "pollers_per_worker": CONCURRENCY,
        "receive_size": 10,
        "max_batch_messages": settings().max_batch_messages,
        "duplicate_share": 0.1,
    }
    for kind, plan in plans.items():
        rounds = _rounds(kind, plan, payment_bodies(plan.messages), server)
        result[kind] = summarise(kind, plan, rounds)
    return result


def main() -> None:
    import json

    print(json.dumps(measure(), indent=2))


if __name__ == "__main__":
    main()
