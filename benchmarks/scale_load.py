"""Grows a ledger to a number of applied events through ``Ledger.handle_batch``.

A producer thread draws batches from the workload into a small queue while ``loaders``
threads apply them, each through the bootstrapped ledger (its own pooled connection per
transaction): generating the next batch overlaps the database round trips of the current
one, so the generator is not what the rate measures. ``generator_cpu_seconds`` (the
producer thread's CPU time) shows what it cost.

The apply rate is counted in windows of ``window`` applied events (a million in the full
run): applied events over the wall time between the window's first and last batch.
"""

from __future__ import annotations

import queue
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from benchmarks.scale_db import BackendCpu, ServerIo, io_per_event
from consumers.bootstrap import Ledger
from consumers.handler import Outcome

#: Batches generated ahead, per loader: enough to hide the generator, little memory.
AHEAD_PER_LOADER: Final = 4
PROGRESS_SECONDS: Final = 15.0

Progress = Callable[[str], None]


@dataclass(frozen=True)
class Window:
    """One window of applied events: its wall time and the CPU spent in it by this
    process and by the server's backends (None when their ``/proc`` is unreadable), of
    which ``autovacuum_cpu`` by autovacuum's workers, and the server's buffer and WAL
    counters per applied event (``scale_db.ServerIo``; None when unreadable), and the
    events delivered in it by type (the workload's mix is not the same in every window:
    a story's later events — clearings, refunds, chargebacks — come days to weeks after
    its authorization, so the first window holds fewer of them)."""

    applied: int
    seconds: float
    process_cpu: float
    backend_cpu: float | None
    autovacuum_cpu: float | None = None
    io: dict[str, float] | None = None
    delivered_by_type: dict[str, int] = field(default_factory=dict)

    def cpu_ms_per_event(self) -> float | None:
        if self.backend_cpu is None:
            return None
        return self._per_event(self.process_cpu + self.backend_cpu)

    def cpu_split(self) -> dict[str, float | None]:
        """Where the window's CPU per event went: this process (loaders and generator),
        the ledger's backends, autovacuum."""
        backends, autovacuum = self.backend_cpu, self.autovacuum_cpu
        return {
            "process": self._per_event(self.process_cpu),
            "ledger_backends": (
                None if backends is None else self._per_event(backends - (autovacuum or 0.0))
            ),
            "autovacuum": None if autovacuum is None else self._per_event(autovacuum),
        }

    def _per_event(self, seconds: float) -> float:
        return round(1000 * seconds / max(1, self.applied), 3)


#: Counters so far: CPU seconds of this process, of the database's backends and of
#: autovacuum's share of them; the server's I/O counters (``scale_db.ServerIo``).
Counters = tuple[float, float | None, float | None, dict[str, int] | None]
Probe = Callable[[], Counters]


@dataclass
class Load:
    """What a load did: counts by outcome, windows, timings (accumulated over ``grow``
    calls that continue the same load)."""

    target: int
    #: Applied events per window; None: no windows (the load is run in slices).
    window: int | None
    loaders: int = 1
    applied: int = 0
    duplicates: int = 0
    rejected: int = 0
    delivered: int = 0
    batches: int = 0
    seconds: float = 0.0
    ledger_seconds: float = 0.0
    generator_cpu_seconds: float = 0.0
    #: CPU of this whole process (loaders and generator) and of the server's backends.
    process_cpu_seconds: float = 0.0
    postgres_cpu_seconds: float | None = None
    windows: list[Window] = field(default_factory=list)
    #: Batches drawn from the workload but not applied yet (a later call applies them).
    carry: list[Sequence[Any]] = field(default_factory=list)
    _mark: tuple[int, float, Counters] = (0, 0.0, (0.0, None, None, None))
    #: Events delivered by type since the window opened.
    _types: Counter[str] = field(default_factory=Counter)

    @property
    def rate(self) -> float:
        return self.applied / self.seconds if self.seconds else 0.0

    def as_dict(self) -> dict[str, Any]:
        return {
            "applied_events": self.applied,
            "loaders": self.loaders,
            "delivered_events": self.delivered,
            "duplicates": self.duplicates,
            "rejected": self.rejected,
            "batches": self.batches,
            "seconds": round(self.seconds, 1),
            "apply_rate_events_per_s": round(self.rate),
            "window_events": self.window,
            "apply_rate_per_window": [round(w.applied / w.seconds) for w in self.windows],
            "cpu_ms_per_event_per_window": [w.cpu_ms_per_event() for w in self.windows],
            "cpu_ms_per_event_per_window_split": [w.cpu_split() for w in self.windows],
            "server_io_per_event_per_window": [w.io for w in self.windows],
            "delivered_by_type_per_window": [w.delivered_by_type for w in self.windows],
            "ledger_busy_seconds": round(self.ledger_seconds, 1),
            "generator_cpu_seconds": round(self.generator_cpu_seconds, 1),
            "process_cpu_seconds": round(self.process_cpu_seconds, 1),
            "postgres_backend_cpu_seconds": _rounded(self.postgres_cpu_seconds),
            "cpu_ms_per_applied_event": self.cpu_split(),
        }

    def cpu_split(self) -> dict[str, float | None]:
        """Where an applied event's time went: our process (the generator's share apart),
        the server's backends, and wall time (the rest is waiting: for a core on a busy
        machine, for the disk's fsync at commit)."""
        per = 1000 / max(1, self.applied)
        backends = self.postgres_cpu_seconds
        return {
            "ledger_process": round(
                (self.process_cpu_seconds - self.generator_cpu_seconds) * per, 3
            ),
            "generator": round(self.generator_cpu_seconds * per, 3),
            "postgres_backends": None if backends is None else round(backends * per, 3),
            "wall": round(self.seconds * per, 3),
        }

    def _record(
        self, batch: Sequence[Any], results: Sequence[Any], started: float, finished: float
    ) -> None:
        self._types.update(event.event_type.value for event in batch)
        applied = sum(1 for r in results if r.outcome is Outcome.APPLIED)
        self.applied += applied
        self.duplicates += sum(1 for r in results if r.outcome is Outcome.DUPLICATE)
        self.rejected += sum(1 for r in results if r.outcome is Outcome.REJECTED)
        self.delivered += len(results)
        self.batches += 1
        self.ledger_seconds += finished - started

    def _open_window(self, at: float, cpu: Counters) -> None:
        self._mark = (self.applied, at, cpu)

    def _maybe_close_window(self, at: float, probe: Probe) -> None:
        applied, since, (process, backend, autovacuum, io) = self._mark
        if self.window is None or self.applied - applied < self.window:
            return
        now = probe()
        now_process, now_backend, now_autovacuum, now_io = now
        self.windows.append(
            Window(
                self.applied - applied,
                at - since,
                now_process - process,
                _difference(now_backend, backend),
                _difference(now_autovacuum, autovacuum),
                io_per_event(io, now_io, self.applied - applied),
                dict(sorted(self._types.items())),
            )
        )
        self._types = Counter()
        self._mark = (self.applied, at, now)


def _difference(now: float | None, before: float | None) -> float | None:
    return None if now is None or before is None else now - before


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def grow(
    ledger: Ledger,
    batches: Iterator[Sequence[Any]],
    load: Load,
    until: int,
    *,
    progress: Progress | None = None,
) -> Load:
    """Apply batches until ``load`` counts ``until`` applied events (a few more with
    several loaders: the batches in flight finish). Batches drawn but not applied are
    kept for the next call continuing the same load, so slices of a run lose nothing."""
    ahead: queue.Queue[Sequence[Any]] = queue.Queue(maxsize=AHEAD_PER_LOADER * load.loaders)
    done = threading.Event()
    lock = threading.Lock()
    errors: list[BaseException] = []
    carried, load.carry = deque(load.carry), []
    unsent: list[Sequence[Any]] = []
    generator_cpu = [0.0]

    backends = BackendCpu(ledger.engine)
    server_io = ServerIo(ledger.engine)

    def probe() -> Counters:
        total = backends.seconds()
        autovacuum = None if total is None else backends.autovacuum_seconds
        return time.process_time(), total, autovacuum, server_io.counters()

    def sample_backends() -> None:
        with lock:  # the loaders close windows with the same counter
            backends.seconds()

    def produce() -> None:
        started = time.thread_time()
        try:
            while not done.is_set():
                batch = carried.popleft() if carried else next(batches, None)
                if batch is None:
                    return
                while not done.is_set():
                    try:
                        ahead.put(batch, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                else:
                    unsent.append(batch)
        except BaseException as exc:
            errors.append(exc)
            done.set()
        finally:
            generator_cpu[0] = time.thread_time() - started

    def apply() -> None:
        try:
            while not done.is_set():
                try:
                    batch = ahead.get(timeout=0.2)
                except queue.Empty:
                    continue
                started = time.perf_counter()
                results = ledger.handle_batch(batch)
                finished = time.perf_counter()
                with lock:
                    load._record(batch, results, started, finished)
                    load._maybe_close_window(finished, probe)
                    if load.applied >= until:
                        done.set()
        except BaseException as exc:  # a failed load stops every thread, then raises
            errors.append(exc)
            done.set()

    producer = threading.Thread(target=produce, name="scale-generator", daemon=True)
    workers = [
        threading.Thread(target=apply, name=f"scale-loader-{n}") for n in range(load.loaders)
    ]
    before = probe()
    process_before, backends_before, _, _ = before
    began = time.perf_counter()
    if not load.batches:
        load._open_window(began, before)
    producer.start()
    for worker in workers:
        worker.start()
    _report_until_done(load, until, done, began, progress, sample_backends)
    for worker in workers:
        worker.join()
    load.seconds += time.perf_counter() - began
    done.set()
    producer.join()
    while not ahead.empty():
        load.carry.append(ahead.get())
    load.carry += unsent + list(carried)  # in the order they were drawn
    process_after, backends_after, _, _ = probe()
    backends.close()
    server_io.close()
    load.process_cpu_seconds += process_after - process_before
    load.generator_cpu_seconds += generator_cpu[0]
    if backends_before is not None and backends_after is not None:
        load.postgres_cpu_seconds = (load.postgres_cpu_seconds or 0.0) + (
            backends_after - backends_before
        )
    if errors:
        raise errors[0]
    return load


def _report_until_done(
    load: Load,
    until: int,
    done: threading.Event,
    began: float,
    progress: Progress | None,
    sample_backends: Callable[[], None],
) -> None:
    """Report progress and sample the backends' CPU every ``PROGRESS_SECONDS``: a backend
    is counted only while it is seen, so an autovacuum worker that came and went between
    two window boundaries would escape the window's split."""
    applied_before = load.applied
    while not done.wait(PROGRESS_SECONDS):
        sample_backends()
        if progress is None:
            continue
        seconds = time.perf_counter() - began
        rate = (load.applied - applied_before) / seconds if seconds else 0.0
        left = (until - load.applied) / rate if rate else float("inf")
        progress(
            f"{load.applied:,} / {load.target:,} applied, {rate:,.0f} ev/s, "
            f"{seconds / 60:.1f} min so far, ~{left / 60:.1f} min left"
        )
