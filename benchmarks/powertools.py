"""Ours against the popular alternative, doing the same work on the same events.

**Theirs**: AWS Lambda Powertools for Python as its documentation composes it for SQS —
``BatchProcessor(EventType.SQS)`` + ``process_partial_response`` (partial batch failure)
around a record handler made idempotent with ``idempotent_function`` on a Redis
persistence layer (127.0.0.1:6379), keyed on the event's ``event_id``; the record handler
decodes the body and writes it to the ledger with ``PointsLedger.handle_batch([event])``
(one transaction per record).

**Ours**: ``consumers.runtime.processing.BatchProcessor`` with ``PointsLedger`` on the
in-memory transport: decode, one ledger transaction per batch (idempotency record in the
same transaction as the ledger change), batch delete; JSON outcome logs on (to /dev/null).

**Per record** (no Powertools, no Redis): each record decoded and written with
``PointsLedger.handle_batch([event])``, so that each factor gets its own credit: ours over
per-record is what one transaction per batch buys, per-record over theirs what
Powertools' machinery and two Redis round trips per record cost.

All three get the same batches of 10 messages, duplicates included, one batch at a time,
each on a fresh scratch database of the same kind (``benchmarks.powertools_contenders``).
The load of a shared machine drifts within seconds, so a round hands the three the
messages in ``SLICES`` slices, alternating (the order rotating slice by slice), and a
contender's rate is its events over the sum of its slices' times; ``ROUNDS`` rounds, each
on fresh databases; every figure is the median of the rounds with the best and worst.

The guarantee differs: Powertools' idempotency record lives in Redis, outside the
database transaction, so a crash between the two (or a Redis eviction/expiry, default
1 h) can apply an event twice or mark it done without its ledger change; ours commits
the inbox row and the ledger change together.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from contextlib import ExitStack
from typing import Any, Final

from benchmarks.ledger import DEFAULT_POSTGRES
from benchmarks.powertools_contenders import Contender, Ours, PerRecord, Powertools
from benchmarks.worker import scratch_database, spread
from benchmarks.workload import payment_bodies

REDIS_HOST: Final = "127.0.0.1"
REDIS_PORT: Final = 6379
EVENTS: Final = 1000
ROUNDS: Final = 5
SLICES: Final = 10
CONTENDERS: Final = ("ours", "per_record", "powertools")
#: Each factor's credit, as (name, numerator, denominator) of per-round rates.
RATIOS: Final = (
    ("speedup", "ours", "powertools"),
    ("batching_speedup", "ours", "per_record"),
    ("powertools_redis_cost", "per_record", "powertools"),
)
GUARANTEE: Final = (
    "ours: the idempotency record (inbox row) commits in the same database transaction as "
    "the ledger change, so an event is applied exactly once even across crashes; theirs: "
    "the idempotency record is in Redis, outside that transaction (a crash between the "
    "ledger commit and the Redis update, or an expired/evicted key, lets a redelivery "
    "reach the ledger again — here only the ledger's own inbox still catches it)"
)


def _contender(name: str, url: str, redis_url: str) -> Contender:
    if name == "ours":
        return Ours(url)
    if name == "per_record":
        return PerRecord(url)
    return Powertools(url, redis_url)


def one_round(
    bodies: Sequence[str], database: str, server: str, redis_url: str, slices: int = SLICES
) -> dict[str, dict[str, Any]]:
    """The three contenders over the same bodies, slice by slice, on databases of their own."""
    with ExitStack() as stack:
        contenders = {
            name: stack.enter_context(
                _contender(name, stack.enter_context(scratch_database(database, server)), redis_url)
            )
            for name in CONTENDERS
        }
        seconds = dict.fromkeys(CONTENDERS, 0.0)
        size = -(-len(bodies) // slices)
        for k, start in enumerate(range(0, len(bodies), size)):
            for name in CONTENDERS[k % 3 :] + CONTENDERS[: k % 3]:
                seconds[name] += contenders[name].run(bodies[start : start + size], start)
        ours, theirs = contenders["ours"], contenders["powertools"]
        assert isinstance(ours, Ours)
        assert isinstance(theirs, Powertools)
        extra = {
            "ours": {"left_on_queue": ours.left_on_queue()},
            "powertools": {"batch_item_failures": theirs.failures},
        }
    return {
        name: {
            "events": len(bodies),
            "seconds": round(seconds[name], 3),
            "events_per_s": round(len(bodies) / seconds[name]),
        }
        | extra.get(name, {})
        for name in CONTENDERS
    }


def summarise(rounds: Sequence[dict[str, dict[str, Any]]]) -> dict[str, Any]:
    """Per contender its median rate and spread; per factor the median ratio and spread."""
    result: dict[str, Any] = {"rounds": len(rounds)}
    for contender in CONTENDERS:
        rates = [float(r[contender]["events_per_s"]) for r in rounds]
        result[contender] = spread("events_per_s", rates) | {"events_per_s_rounds": rates}
    for name, top, bottom in RATIOS:
        ratios = [float(r[top]["events_per_s"]) / float(r[bottom]["events_per_s"]) for r in rounds]
        result |= spread(name, ratios) | {f"{name}_rounds": [round(x, 3) for x in ratios]}
    result["batch_item_failures"] = sum(r["powertools"]["batch_item_failures"] for r in rounds)
    result["left_on_queue"] = sum(r["ours"]["left_on_queue"] for r in rounds)
    return result


def measure(
    events: int = EVENTS,
    databases: Sequence[str] = ("postgresql", "sqlite"),
    postgres_server: str | None = None,
    redis_url: str | None = None,
    rounds: int = ROUNDS,
) -> dict[str, Any]:
    server = postgres_server or os.environ.get("POINTS_BENCH_POSTGRES_URL", DEFAULT_POSTGRES)
    redis_url = redis_url or os.environ.get(
        "POINTS_BENCH_REDIS_URL", f"redis://{REDIS_HOST}:{REDIS_PORT}/0"
    )
    bodies = payment_bodies(events, seed=17)
    distinct = len({json.loads(b)["event_id"] for b in bodies})
    result: dict[str, Any] = {
        "events": len(bodies),
        "duplicates": len(bodies) - distinct,
        "batch_size": 10,
        "slices_per_round": SLICES,
        "theirs": "aws-lambda-powertools BatchProcessor(SQS) + idempotent_function(Redis)"
        " + PointsLedger.handle_batch([event]) per record",
        "per_record": "PointsLedger.handle_batch([event]) per record, no Powertools, no Redis",
        "ours": "BatchProcessor + PointsLedger.handle_batch(batch), in-memory transport",
        "guarantee": GUARANTEE,
    }
    for database in databases:
        runs = [one_round(bodies, database, server, redis_url) for _ in range(rounds)]
        result[database] = summarise(runs)
    return result


def main() -> None:
    print(json.dumps(measure(), indent=2))


if __name__ == "__main__":
    main()
