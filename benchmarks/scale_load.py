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
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from typing import Any, Final

from benchmarks.scale_db import backend_cpu_seconds
from consumers.bootstrap import Ledger
from consumers.handler import Outcome

#: Batches generated ahead, per loader: enough to hide the generator, little memory.
AHEAD_PER_LOADER: Final = 4
PROGRESS_SECONDS: Final = 15.0

Progress = Callable[[str], None]


@dataclass
class Load:
    """What a load did: counts by outcome, windows, timings."""

    target: int
    window: int
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
    #: (applied events, seconds) of each full window, in order.
    windows: list[tuple[int, float]] = field(default_factory=list)
    _window_start: float = 0.0
    _window_applied: int = 0

    @property
    def rate(self) -> float:
        return self.applied / self.seconds if self.seconds else 0.0

    def window_rates(self) -> list[float]:
        return [applied / seconds for applied, seconds in self.windows if seconds]

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
            "apply_rate_per_window": [round(r) for r in self.window_rates()],
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
        return {
            "ledger_process": round(
                (self.process_cpu_seconds - self.generator_cpu_seconds) * per, 3
            ),
            "generator": round(self.generator_cpu_seconds * per, 3),
            "postgres_backends": _rounded(
                None if self.postgres_cpu_seconds is None else self.postgres_cpu_seconds * per, 3
            ),
            "wall": round(self.seconds * per, 3),
        }

    def _record(self, results: Sequence[Any], started: float, finished: float) -> None:
        applied = sum(1 for r in results if r.outcome is Outcome.APPLIED)
        self.applied += applied
        self.duplicates += sum(1 for r in results if r.outcome is Outcome.DUPLICATE)
        self.rejected += sum(1 for r in results if r.outcome is Outcome.REJECTED)
        self.delivered += len(results)
        self.batches += 1
        self.ledger_seconds += finished - started
        self._window_applied += applied
        if self._window_applied >= self.window:
            self.windows.append((self._window_applied, finished - self._window_start))
            self._window_start, self._window_applied = finished, 0


def _rounded(value: float | None, digits: int = 1) -> float | None:
    return None if value is None else round(value, digits)


def grow(
    ledger: Ledger,
    batches: Iterable[Sequence[Any]],
    target: int,
    *,
    window: int,
    loaders: int = 1,
    progress: Progress | None = None,
) -> Load:
    """Apply batches until ``target`` events are applied (a few batches more with several
    loaders: those in flight finish)."""
    load = Load(target, window, loaders)
    ahead: queue.Queue[Sequence[Any] | None] = queue.Queue(maxsize=AHEAD_PER_LOADER * loaders)
    done = threading.Event()
    lock = threading.Lock()
    errors: list[BaseException] = []

    def produce() -> None:
        started = time.thread_time()
        try:
            for batch in batches:
                while not done.is_set():
                    try:
                        ahead.put(batch, timeout=0.2)
                        break
                    except queue.Full:
                        continue
                if done.is_set():
                    return
        except BaseException as exc:
            errors.append(exc)
            done.set()
        finally:
            load.generator_cpu_seconds = time.thread_time() - started

    def apply() -> None:
        try:
            _apply()
        except BaseException as exc:  # a failed load stops every thread, then raises
            errors.append(exc)
            done.set()

    def _apply() -> None:
        while not done.is_set():
            try:
                batch = ahead.get(timeout=0.2)
            except queue.Empty:
                continue
            if batch is None:
                return
            started = time.perf_counter()
            results = ledger.handle_batch(batch)
            with lock:
                load._record(results, started, time.perf_counter())
                if load.applied >= target:
                    done.set()

    producer = threading.Thread(target=produce, name="scale-generator", daemon=True)
    workers = [threading.Thread(target=apply, name=f"scale-loader-{n}") for n in range(loaders)]
    backends_before = backend_cpu_seconds(ledger.engine)
    cpu_before = time.process_time()
    began = load._window_start = time.perf_counter()
    producer.start()
    for worker in workers:
        worker.start()
    _report_until_done(load, done, began, progress)
    for worker in workers:
        worker.join()
    load.seconds = time.perf_counter() - began
    done.set()
    producer.join()
    load.process_cpu_seconds = time.process_time() - cpu_before
    backends_after = backend_cpu_seconds(ledger.engine)
    if backends_before is not None and backends_after is not None:
        load.postgres_cpu_seconds = backends_after - backends_before
    if errors:
        raise errors[0]
    return load


def _report_until_done(
    load: Load, done: threading.Event, began: float, progress: Progress | None
) -> None:
    while not done.wait(PROGRESS_SECONDS):
        if progress is None:
            continue
        seconds = time.perf_counter() - began
        rate = load.applied / seconds if seconds else 0.0
        left = (load.target - load.applied) / rate if rate else float("inf")
        progress(
            f"{load.applied:,} / {load.target:,} applied, {rate:,.0f} ev/s, "
            f"{seconds / 60:.1f} min so far, ~{left / 60:.1f} min left"
        )
