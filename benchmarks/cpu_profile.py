"""Where the worker's CPU goes, per message: ``python -m benchmarks.cpu_profile``.

The worker of ``benchmarks.worker`` (fauxqs + PostgreSQL, 4 pollers, JSON logs and EMF to
/dev/null) drains a pre-filled queue in a spawned child while py-spy (the ``bench``
extra) samples it from outside: every thread, ``--gil`` (only samples of the thread
holding the GIL, i.e. running Python; a thread waiting for the GIL or in a syscall is not
counted as busy), ``--nonblocking`` (the child is never paused). Each sample is put in
one part by the frames on its stack (``PARTS``, first match wins); samples of start-up
and of the harness are left out. A part's CPU per message is its share of the counted
samples times the child's measured CPU per message (user + system, ``psutil``), so the
parts add up to the measured figure. What it cannot see: CPU spent with the GIL released
(libpq's and the kernel's share of a query or a socket write); those land in the parts
in proportion, which is why the split is a guide and the total is the measurement. One
part over-counts: "hand-off to the handler thread" gathers its samples on one line,
``SimpleQueue.put`` in ``_DaemonThreads.submit``, where the event loop wakes the handler
thread and then, most likely, waits for the GIL that thread takes; a round trip through
``in_daemon_thread`` costs ~23 µs of CPU, once per batch of up to 100 messages (0.2–0.3 µs
per message), against the 0.01–0.02 ms per message that part is given.

Writes ``benchmarks/profile.json`` (committed; the README's CPU table is generated from
it by ``benchmarks.report``) and prints it.
"""

from __future__ import annotations

import json
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import Sequence
from multiprocessing import get_context
from pathlib import Path
from typing import Any, Final

from benchmarks.backbones import Fauxqs, points_topology, publish
from benchmarks.ledger import DEFAULT_POSTGRES
from benchmarks.worker import scratch_database
from benchmarks.worker_child import Backbone, child_run
from benchmarks.workload import payment_bodies

OUTPUT: Final = Path(__file__).with_name("profile.json")
MESSAGES: Final = 6000
RUNS: Final = 2
RATE_HZ: Final = 1000

#: (part, frames any of which puts a sample in it), first match wins: the ledger's own
#: work before the runtime's, so that a log line written inside the handler would count
#: for the ledger, not the logs.
PARTS: Final[tuple[tuple[str, tuple[str, ...]], ...]] = (
    ("canonical JSON + SHA-256 (in handle_batch, before its transaction)", ("stored_event (",)),
    ("ledger transaction (PointsLedger.handle_batch)", ("handle_batch (",)),
    ("hand-off to the handler thread", ("in_daemon_thread", "points-handler")),
    ("decode: envelope + pydantic (decode_all)", ("decode_all (",)),
    ("outcome log lines (JSON)", ("BatchProcessor._count (",)),
    ("EMF metric line", ("MetricsSink.emit (",)),
    ("SQS: SigV4 signature", ("PostSigner", "SigV4Auth")),
    (
        "SQS: request and response (HTTP client, JSON)",
        ("SqsApi", "aiohttp", "botocore", "received_from_sqs"),
    ),
    ("retry wrapper (RetryPolicy, tenacity)", ("RetryPolicy", "tenacity")),
    ("asyncio loop and worker bookkeeping", ("run_forever",)),
)
#: Stacks of start-up and of the harness itself: not the worker's steady state.
EXCLUDED: Final = ("__aenter__", "__aexit__", "cpu_seconds", "spawn_main;_main;", "_find_and_load")


def part_of(stack: str) -> str | None:
    """The part a collapsed py-spy stack belongs to, or None for start-up and harness."""
    if "run_forever" not in stack and "points-handler" not in stack:
        return None
    if any(frame in stack for frame in EXCLUDED) and "Worker" not in stack:
        return None
    for part, frames in PARTS:
        if any(frame in stack for frame in frames):
            return part
    return "other"


def count_samples(raw: str) -> Counter[str]:
    """Samples per part from py-spy's ``--format raw`` output (``stack count`` lines)."""
    counts: Counter[str] = Counter()
    for line in raw.splitlines():
        stack, _, number = line.rpartition(" ")
        part = part_of(stack)
        if part is not None and number.isdigit():
            counts[part] += int(number)
    return counts


def _child(backbone: Backbone, bodies: Sequence[str], url: str, go: Any, out: Any) -> None:
    go.wait()
    out.put(child_run(backbone, "worker", bodies, url))


def _py_spy() -> str:
    beside = Path(sys.executable).with_name("py-spy")
    found = str(beside) if beside.exists() else shutil.which("py-spy")
    if found is None:
        raise RuntimeError("py-spy is installed by `make bench` (the bench extra)")
    return found


def profile_once(bodies: Sequence[str], server: str) -> tuple[dict[str, Any], Counter[str]]:
    """One sampled drain: the child's measurement and its samples per part."""
    context = get_context("spawn")
    with (
        scratch_database("postgresql", server) as url,
        Fauxqs() as fauxqs,
        tempfile.TemporaryDirectory() as workdir,
    ):
        queues = points_topology(fauxqs.endpoint_url)
        publish(fauxqs.endpoint_url, queues.topic_arn, bodies)
        backbone = Backbone("fauxqs", fauxqs.endpoint_url, queues, fauxqs.pid)
        go, out = context.Event(), context.Queue()
        child = context.Process(target=_child, args=(backbone, list(bodies), url, go, out))
        child.start()
        samples = Path(workdir) / "samples.txt"
        options = ["--format", "raw", "--rate", str(RATE_HZ), "--gil", "--nonblocking"]
        options += ["--threads", "--output", str(samples)]
        spy = subprocess.Popen(
            [_py_spy(), "record", "--pid", str(child.pid), *options],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        time.sleep(1.0)  # py-spy attached before the child starts its start-up
        go.set()
        result = out.get(timeout=600)
        child.join(timeout=60)
        spy.wait(timeout=60)
        return result, count_samples(samples.read_text() if samples.exists() else "")


def measure(
    messages: int = MESSAGES, runs: int = RUNS, server: str = DEFAULT_POSTGRES
) -> dict[str, Any]:
    bodies = payment_bodies(messages)
    measured: list[dict[str, Any]] = []
    counts: Counter[str] = Counter()
    for _ in range(runs):
        result, samples = profile_once(bodies, server)
        measured.append(result)
        counts += samples
    cpu = statistics.median(float(r["cpu_ms_per_msg_worker"]) for r in measured)
    total = sum(counts.values()) or 1
    return {
        "what": "worker on fauxqs + PostgreSQL (4 pollers, batches topped up to 100)",
        "method": "py-spy --gil --nonblocking, every thread; parts by stack frames",
        "messages_per_run": messages,
        "runs": runs,
        "cpu_ms_per_msg_worker": round(cpu, 3),
        "cpu_ms_per_msg_worker_rounds": [r["cpu_ms_per_msg_worker"] for r in measured],
        "samples": sum(counts.values()),
        "split": [
            {
                "part": part,
                "share": round(n / total, 3),
                "cpu_ms_per_msg": round(cpu * n / total, 3),
            }
            for part, n in counts.most_common()
        ],
    }


def main() -> None:
    document = json.dumps(measure(), indent=2)
    OUTPUT.write_text(document + "\n")
    print(document)


if __name__ == "__main__":
    main()
