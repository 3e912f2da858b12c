"""The operator path at size (issue 14): ``python -m benchmarks.dlq``.

For each backbone (fauxqs at 20,000 dead letters, moto at 1,500) and each run:

1. the **emulator's ceiling**, measured moments before ours on scratch queues holding the
   same messages: a bare single-threaded loop that receives 10 (the same request as ours:
   attributes, 1 s long poll; long visibility, no heartbeat), sends them to another queue
   and deletes them — the fastest a one-pass redrive could go on that backbone — and a bare
   receive-everything loop (the ceiling of a scan);
2. the DLQ filled with N worker-style dead letters (valid events that failed during an
   outage: ``database_unavailable``), then the **real console script**, as an operator
   types it: ``dlq show --limit 50000 --json`` (lists all?), ``dlq export`` (lines =
   depth?), ``dlq redrive --dry-run`` (counts all?), ``dlq redrive`` (moves all?);
3. ``points worker --drain`` on the source queue, then ``points ledger balances --json``
   against the same command on a second ledger that got every distinct event once, straight
   through the production bootstrap: the DLQ round trip must lose and double nothing. (That
   ledger equals the reference model of DESIGN §4 on this path is
   ``tests/e2e/test_dlq_at_size.py``'s to show: benchmarks import nothing from ``tests``.)

The dead letters are the benchmarks' payment workload (authorizations, final clearings, a
refund for one payment in five, 5 % redelivered copies), so the redrive also carries
duplicates, as a real one does.

Rates include the CLI's start-up (1-2 s here), so they understate us. SQS's own
StartMessageMoveTask is documented at up to 500 messages/s; neither emulator implements it.
Writes ``benchmarks/dlq-results.json``.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Final

from benchmarks.backbones import Fauxqs, clients, points_topology
from benchmarks.run import machine
from benchmarks.workload import payment_bodies
from consumers.bootstrap import bootstrap_ledger
from consumers.db import make_engine, upgrade
from consumers.runtime.deadletter import failure_attributes
from consumers.runtime.transport import encode_attributes
from infra.apply import apply_topology
from infra.aws import sns_client, sqs_client
from infra.local import DUMMY_CREDENTIALS, EmbeddedAws
from infra.resolve import topology
from infra.settings import Config
from schemas.envelope import parse_event

RESULTS: Final = Path(__file__).with_name("dlq-results.json")
POINTS: Final = Path(sys.executable).with_name("points")
NATIVE_DOCUMENTED_RATE: Final = 500
SCRATCH: Final = ("bench-ceiling-from", "bench-ceiling-to")


class Emulator:
    """The backbone under test: its endpoint, environment and the points queues on it."""

    def __init__(self, name: str) -> None:
        self.name = name
        self._context: AbstractContextManager[Any] = Fauxqs() if name == "fauxqs" else EmbeddedAws()
        self.endpoint_url = ""
        self.environment: dict[str, str] = {}
        self.url = self.dlq_url = ""

    def __enter__(self) -> Emulator:
        server = self._context.__enter__()
        self.endpoint_url = server.endpoint_url
        self.environment = server.environment()
        if self.name == "fauxqs":  # fauxqs refuses SSE: the benchmarks' plain topology
            queues = points_topology(self.endpoint_url)
            self.url, self.dlq_url = queues.url, queues.dlq_url
        else:
            os.environ.update(DUMMY_CREDENTIALS)  # this process's clients talk to moto too
            config = Config.resolve(endpoint_url=self.endpoint_url, region=server.region)
            applied = apply_topology(
                topology(config), sns_client(config.aws), sqs_client(config.aws)
            )
            self.url, self.dlq_url = applied.queues["points"].url, applied.queues["points"].dlq_url
        return self

    def __exit__(self, *exc: object) -> None:
        self._context.__exit__(None, None, None)


def dead_letter_bodies(events: Sequence[dict[str, Any]]) -> list[dict[str, Any]]:
    """SendMessageBatch entries of worker-style dead letters (reason attached)."""
    entries = []
    for i, event in enumerate(events):
        attributes = failure_attributes(
            {
                "event_type": ("String", event["event_type"]),
                "brand": ("String", event["brand"]),
                "schema_version": ("Number", "1"),
            },
            error_type="database_unavailable",
            error_message="gave up after repeated connection failures",
            receive_count=5,
            message_id=f"src-{i}",
        )
        entries.append(
            {"MessageBody": json.dumps(event), "MessageAttributes": encode_attributes(attributes)}
        )
    return entries


def fill(endpoint_url: str, url: str, entries: Sequence[dict[str, Any]], threads: int = 4) -> None:
    from concurrent.futures import ThreadPoolExecutor

    _, sqs = clients(endpoint_url)
    chunks = [entries[i : i + 10] for i in range(0, len(entries), 10)]

    def send(chunk: Sequence[dict[str, Any]]) -> None:
        batch: Any = [{"Id": str(i), **entry} for i, entry in enumerate(chunk)]
        response = sqs.send_message_batch(QueueUrl=url, Entries=batch)
        assert not response.get("Failed"), response["Failed"]

    with ThreadPoolExecutor(threads) as pool:
        list(pool.map(send, chunks))


def ceiling(endpoint_url: str, entries: Sequence[dict[str, Any]]) -> dict[str, float]:
    """Bare receive-all and bare move rates on scratch queues of the same depth and the
    same messages (msg/s), with the requests ours make (attributes, 1 s long poll)."""
    _, sqs = clients(endpoint_url)
    source, target = (sqs.create_queue(QueueName=name)["QueueUrl"] for name in SCRATCH)
    fill(endpoint_url, source, entries)
    receive = _bare_loop(sqs, source, None, len(entries))
    move = _bare_loop(sqs, source, target, len(entries))
    for url in (source, target):
        sqs.delete_queue(QueueUrl=url)
    return {"receive_all_msg_per_s": receive, "move_msg_per_s": move}


def _bare_loop(sqs: Any, source: str, target: str | None, expected: int) -> float:
    """Receive everything (hidden 900 s, then released); with ``target``: move it."""
    started = time.perf_counter()
    handles: list[str] = []
    while len(handles) < expected:
        messages = sqs.receive_message(
            QueueUrl=source,
            MaxNumberOfMessages=10,
            VisibilityTimeout=900,
            WaitTimeSeconds=1,
            MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
            MessageAttributeNames=["All"],
        ).get("Messages", [])
        if not messages:
            break
        if target is None:
            handles += [m["ReceiptHandle"] for m in messages]
            continue
        sqs.send_message_batch(
            QueueUrl=target,
            Entries=[
                {
                    "Id": str(i),
                    "MessageBody": m["Body"],
                    "MessageAttributes": m["MessageAttributes"],
                }
                for i, m in enumerate(messages)
            ],
        )
        sqs.delete_message_batch(
            QueueUrl=source,
            Entries=[
                {"Id": str(i), "ReceiptHandle": m["ReceiptHandle"]} for i, m in enumerate(messages)
            ],
        )
        handles += ["moved"] * len(messages)
    rate = len(handles) / (time.perf_counter() - started)
    if target is None:  # give them back for the move loop
        for i in range(0, len(handles), 10):
            sqs.change_message_visibility_batch(
                QueueUrl=source,
                Entries=[
                    {"Id": str(j), "ReceiptHandle": h, "VisibilityTimeout": 0}
                    for j, h in enumerate(handles[i : i + 10])
                ],
            )
    return round(rate, 1)


def points(
    env: dict[str, str], *args: str, timeout: float = 3600
) -> tuple[subprocess.CompletedProcess[str], float]:
    started = time.perf_counter()
    result = subprocess.run(
        [str(POINTS), *args], capture_output=True, text=True, env=env, timeout=timeout, check=False
    )
    return result, time.perf_counter() - started


def one_run(emulator: Emulator, messages: int, workdir: Path) -> dict[str, Any]:
    events = [json.loads(body) for body in payment_bodies(messages, duplicates=0.05)]
    distinct = list({e["event_id"]: e for e in events}.values())
    database = f"sqlite:///{workdir / f'ledger-{time.monotonic_ns()}.sqlite3'}"
    engine = make_engine(database)
    upgrade(engine)
    engine.dispose()
    env = {
        **os.environ,
        **emulator.environment,
        "POINTS_DATABASE_URL": database,
        "POINTS_EXPORT_MARKER_DIR": str(workdir / "markers"),
        "POINTS_WORKER_DRAIN_IDLE_SECONDS": "3",
    }
    entries = dead_letter_bodies(events)
    bounds = ceiling(emulator.endpoint_url, entries)
    fill(emulator.endpoint_url, emulator.dlq_url, entries)
    run: dict[str, Any] = {"messages": len(events), "ceiling": bounds}
    steps: list[tuple[str, list[str], Callable[[str], int]]] = [
        (
            "show",
            ["dlq", "show", "--limit", "50000", "--json"],
            lambda out: len({m["message_id"] for m in json.loads(out)}),
        ),
        (
            "export",
            [
                "dlq",
                "export",
                "--out",
                str(workdir / f"export-{time.monotonic_ns()}.jsonl"),
                "--json",
            ],
            lambda out: _lines(json.loads(out)["file"]),
        ),
        (
            "dry_run",
            ["dlq", "redrive", "--dry-run", "--json"],
            lambda out: int(json.loads(out)["moved"]),
        ),
        (
            "redrive",
            ["dlq", "redrive", "--reason", "benchmark", "--yes", "--json"],
            lambda out: int(json.loads(out)["moved"]),
        ),
    ]
    for name, args, count in steps:
        result, seconds = points(env, *args)
        if result.returncode != 0:
            raise RuntimeError(f"{name}: exit {result.returncode}: {result.stderr[-500:]}")
        found = count(result.stdout)
        run[name] = {
            "count": found,
            "all": found == len(events),
            "seconds": round(seconds, 1),
            "msg_per_s": round(found / seconds, 1),
        }
    result, seconds = points(env, "worker", "--queue", "points", "--drain", "--no-metrics")
    balances, _ = points(env, "ledger", "balances", "--json")
    run["drain"] = {"seconds": round(seconds, 1), "exit": result.returncode}
    direct = applied_directly(distinct, workdir)
    expected, _ = points({**env, "POINTS_DATABASE_URL": direct}, "ledger", "balances", "--json")
    run["ledger_equals_direct_apply"] = json.loads(balances.stdout) == json.loads(expected.stdout)
    redrive = run["redrive"]["msg_per_s"]
    run["redrive_ratio_to_bare_move"] = round(redrive / bounds["move_msg_per_s"], 3)
    run["redrive_ratio_to_native_500"] = round(redrive / NATIVE_DOCUMENTED_RATE, 3)
    run["scan_ratio_to_bare_receive"] = round(
        run["show"]["msg_per_s"] / bounds["receive_all_msg_per_s"], 3
    )
    return run


def applied_directly(events: Sequence[dict[str, Any]], workdir: Path, batch: int = 100) -> str:
    """A fresh SQLite ledger with each of ``events`` applied once, in order; its URL."""
    url = f"sqlite:///{workdir / f'direct-{time.monotonic_ns()}.sqlite3'}"
    with bootstrap_ledger(Config.resolve(database_url=url), migrate=True) as ledger:
        for start in range(0, len(events), batch):
            ledger.handle_batch([parse_event(e) for e in events[start : start + batch]])
    return url


def _lines(path: str) -> int:
    with open(path, encoding="utf-8") as handle:
        return sum(1 for _ in handle)


def summarise(runs: list[dict[str, Any]]) -> dict[str, Any]:
    def span(key: Callable[[dict[str, Any]], float]) -> dict[str, float]:
        values = [key(r) for r in runs]
        return {"best": max(values), "worst": min(values)}

    return {
        "runs": len(runs),
        "every_command_saw_all": all(
            r[s]["all"] for r in runs for s in ("show", "export", "dry_run", "redrive")
        ),
        "ledger_equals_direct_apply": all(r["ledger_equals_direct_apply"] for r in runs),
        "redrive_msg_per_s": span(lambda r: r["redrive"]["msg_per_s"]),
        "bare_move_ceiling_msg_per_s": span(lambda r: r["ceiling"]["move_msg_per_s"]),
        "redrive_ratio_to_bare_move": span(lambda r: r["redrive_ratio_to_bare_move"]),
        "redrive_ratio_to_native_500": span(lambda r: r["redrive_ratio_to_native_500"]),
        "show_msg_per_s": span(lambda r: r["show"]["msg_per_s"]),
        "bare_receive_ceiling_msg_per_s": span(lambda r: r["ceiling"]["receive_all_msg_per_s"]),
        "scan_ratio_to_bare_receive": span(lambda r: r["scan_ratio_to_bare_receive"]),
    }


@contextmanager
def workspace() -> Iterator[Path]:
    with tempfile.TemporaryDirectory(prefix="points-dlq-bench-") as directory:
        yield Path(directory)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", action="append", choices=["fauxqs", "moto"])
    parser.add_argument("--fauxqs-messages", type=int, default=20_000)
    parser.add_argument("--moto-messages", type=int, default=1_500)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--moto-runs", type=int, default=1)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    # Backbones measured separately are merged into one document (each keeps its own runs).
    previous = json.loads(args.out.read_text()) if args.out.exists() else {}
    document: dict[str, Any] = {
        **previous,
        "started_at": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
        "machine": machine(),
        "load_average_at_start": os.getloadavg(),
    }
    for backbone in args.backbone or ["fauxqs", "moto"]:
        messages = args.fauxqs_messages if backbone == "fauxqs" else args.moto_messages
        count = args.runs if backbone == "fauxqs" else args.moto_runs
        runs = []
        for _ in range(count):
            with Emulator(backbone) as emulator, workspace() as workdir:
                runs.append(one_run(emulator, messages, workdir))
            print(json.dumps({backbone: runs[-1]}), flush=True)
        document[backbone] = {"summary": summarise(runs), "runs": runs}
        document["load_average_at_end"] = os.getloadavg()
        args.out.write_text(json.dumps(document, indent=2) + "\n", encoding="utf-8")
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
