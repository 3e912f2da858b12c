"""How ``benchmarks.cpu_profile`` files py-spy samples into parts of the worker."""

from __future__ import annotations

from benchmarks.cpu_profile import count_samples, part_of

LOOP = "thread (1): MainThread;run (asyncio/runners.py:190);BaseEventLoop.run_forever (x:1)"
HANDLER = "thread (2): points-handler;Thread._bootstrap (threading.py:1002)"


def test_ledger_work_in_the_handler_thread_is_split_hash_first() -> None:
    """Canonical JSON + hash is its own part; the rest of handle_batch is the transaction."""
    hashing = f"{HANDLER};PointsLedger.handle_batch (l:1);stored_event (l:2);canonical_json (c:1)"
    writing = f"{HANDLER};PointsLedger.handle_batch (l:1);_Batch.run (l:3)"
    assert part_of(hashing) == "canonical JSON + SHA-256 (in handle_batch, before its transaction)"
    assert part_of(writing) == "ledger transaction (PointsLedger.handle_batch)"


def test_runtime_parts_come_from_the_frames_on_the_event_loop() -> None:
    """Decode, log lines and the SQS signature are told apart by their frames."""
    poll = f"{LOOP};Worker._poll (w:1);BatchProcessor.process (p:1)"
    assert part_of(f"{poll};decode_all (p:2);decode_body (e:1)") == (
        "decode: envelope + pydantic (decode_all)"
    )
    assert part_of(f"{poll};BatchProcessor._count (p:3);info (l:1)") == "outcome log lines (JSON)"
    signing = f"{LOOP};Worker._poll (w:1);SqsApi.call (s:1);PostSigner.sign (g:1)"
    assert part_of(signing) == "SQS: SigV4 signature"
    assert part_of(f"{LOOP};Handle._run (e:1)") == "asyncio loop and worker bookkeeping"


def test_start_up_and_harness_samples_are_left_out() -> None:
    """Imports, the ledger's bootstrap and the harness's CPU readings are not the worker's
    steady state."""
    assert part_of("thread (1): MainThread;<module> (x:1);_find_and_load (b:1)") is None
    assert part_of(f"{LOOP};_child (c:1);_AsyncGeneratorContextManager.__aenter__ (c:2)") is None
    raw = f"{LOOP};Handle._run (e:1) 3\n{LOOP};_child (c:1);cpu_seconds (b:1) 5\n"
    assert sum(count_samples(raw).values()) == 3
