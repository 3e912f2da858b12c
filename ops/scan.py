"""Looking at every message of a DLQ exactly once, at any size, without consuming any.

SQS has no "peek": a message is only seen by receiving it, which hides it for the
visibility timeout. A scan therefore

- holds what it has received for as long as it holds it: a heartbeat thread extends the
  visibility of every held message before it lapses (as the worker does for its batch), so
  a scan that takes longer than the timeout still never sees a message twice and never
  lets one go; the timeout itself stays short, so a killed scan gives everything back soon.
  Holding is work that grows with what is held (one call per 10 messages per round): when
  a round takes longer than a quarter of the timeout (a slow or loaded SQS, a big queue),
  the heartbeat stretches the timeout it asks for, so it keeps up instead of letting
  messages lapse back faster than they can be received again;
- never spins: receives that bring only messages it already has (lapsed ones) are not
  progress, and after ``settle_seconds`` of them it ends incomplete and says why;
- decides that it is complete from the queue, never from "nothing new for a while": when a
  receive brings nothing, the queue must show nothing visible and no message in flight
  beyond the ones this scan holds. Otherwise it waits (``settle_seconds``) for messages
  held by another reader to come back, then says what it could not see (``complete`` is
  False and ``incomplete_reason`` says why) — commands report that and exit non-zero;
- stops between batches when asked (``stop``: the first Ctrl-C), and on exit sets the
  visibility of everything it still holds to 0, so the messages are at once visible again.
"""

from __future__ import annotations

import contextlib
import math
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Final, Literal, TypeVar

from botocore.exceptions import BotoCoreError, ClientError
from tenacity import Retrying, retry_if_exception, stop_after_attempt, wait_random_exponential

from consumers.runtime.transport import Received, received_from_sqs
from infra.aws import is_retryable_aws_error

if TYPE_CHECKING:
    from mypy_boto3_sqs import SQSClient

T = TypeVar("T")
SQS_BATCH: Final = 10
#: Threads that give held messages back at the end of a scan.
RELEASE_THREADS: Final = 4
#: Standard queues refuse receives beyond this many messages in flight (AWS quota).
SQS_IN_FLIGHT_LIMIT: Final = 120_000
#: Threads that extend held messages: 20,000 held at 20 ms per call is 40 s in one thread.
HEARTBEAT_THREADS: Final = 4
#: SQS's longest visibility timeout (12 h): the most a stretched hold can ask for.
MAX_VISIBILITY_SECONDS: Final = 43_200
#: A heartbeat round may take this share of the hold at most before the hold is stretched.
ROUNDS_PER_HOLD: Final = 4


@dataclass(frozen=True)
class ScanOptions:
    """How a scan receives: ``hold_seconds`` is how long a crash hides messages (the
    heartbeat stretches it only when it cannot keep up with a shorter one)."""

    hold_seconds: int = 30
    #: Long polling (≥1 s) asks every SQS server, so a scan cannot miss messages on a
    #: small queue; 0 is exact on an emulator and makes tests fast.
    wait_seconds: int = 1
    batch_size: int = SQS_BATCH
    #: How long to wait, when the queue shows messages this scan cannot receive (held by
    #: another reader, or SQS's approximate counts not yet caught up), before giving up.
    settle_seconds: float = 60.0
    #: Receives bringing back only lapsed messages for this long (or ``settle_seconds`` if
    #: longer) mean the scan cannot hold what it has: it ends incomplete instead of
    #: spinning. Re-receiving 20,000 held messages at SQS speed takes well under this.
    lapse_patience_seconds: float = 120.0


@dataclass(frozen=True)
class ScanEnd:
    """How a scan ended: whether it saw the whole queue (else why not), and whether Ctrl-C
    stopped it. Every command's summary carries one; the CLI turns it into an exit code."""

    complete: bool = True
    interrupted: bool = False
    incomplete_reason: str | None = None

    @property
    def audit_outcome(self) -> Literal["completed", "interrupted", "incomplete"]:
        if self.interrupted:
            return "interrupted"
        return "completed" if self.complete else "incomplete"


def aws_call(call: Callable[[], T]) -> T:
    """One AWS call, retried on throttling/5xx/connection errors only (bounded, jittered)."""
    retrying = Retrying(
        retry=retry_if_exception(is_retryable_aws_error),
        stop=stop_after_attempt(4),
        wait=wait_random_exponential(multiplier=0.1, max=2.0),
        reraise=True,
    )
    for attempt in retrying:
        with attempt:
            return call()
    raise AssertionError("unreachable")  # pragma: no cover


@dataclass
class _Held:
    handle: str
    #: monotonic time at which SQS makes it visible again unless extended
    until: float


class DlqScan:
    """``with DlqScan(sqs, url) as scan: for batch in scan.batches(): …``.

    Every message is yielded once. Everything received stays hidden until the scan ends;
    whatever the caller did not ``forget`` (because it deleted it) is released on exit, also
    when the caller fails or is interrupted. After ``batches()`` ends, ``complete`` says
    whether the scan saw every message the queue had when it started.
    """

    def __init__(
        self,
        sqs: SQSClient,
        url: str,
        options: ScanOptions | None = None,
        *,
        stop: threading.Event | None = None,
        on_wait: Callable[[str], None] | None = None,
    ) -> None:
        self._sqs = sqs
        self._url = url
        self._options = options or ScanOptions()
        self._stop = stop or threading.Event()
        self._on_wait = on_wait or (lambda _why: None)
        self._held: dict[str, _Held] = {}
        self._lock = threading.Lock()
        self._seen: set[str] = set()
        self._closing = threading.Event()
        self._heartbeat = threading.Thread(
            target=self._beat, name="dlq-scan-heartbeat", daemon=True
        )
        self._extender = ThreadPoolExecutor(HEARTBEAT_THREADS, "dlq-scan-extend")
        #: What receives and extensions ask for: the hold, stretched if the heartbeat lags.
        self.visibility_seconds = self._options.hold_seconds
        self.complete = False
        self.interrupted = False
        self.incomplete_reason: str | None = None
        self.depth_at_start = 0

    def __enter__(self) -> DlqScan:
        visible, in_flight = queue_counts(self._sqs, self._url)
        self.depth_at_start = visible + in_flight
        self._heartbeat.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self._closing.set()
        if self._heartbeat.is_alive():
            self._heartbeat.join(timeout=5)
        self._extender.shutdown(wait=True, cancel_futures=True)
        self.release_all()

    def end(self, *, enough: bool = False) -> ScanEnd:
        """How it ended; ``enough``: the caller stopped on purpose (``--limit``, ``--max``)."""
        if self.interrupted:
            return ScanEnd(complete=False, interrupted=True, incomplete_reason="interrupted")
        if self.complete or enough:
            return ScanEnd()
        return ScanEnd(complete=False, incomplete_reason=self.incomplete_reason)

    @property
    def seen(self) -> int:
        return len(self._seen)

    @property
    def held(self) -> int:
        with self._lock:
            return len(self._held)

    def batches(self) -> Iterator[list[Received]]:
        """New messages, batch by batch, until the queue shows this scan has them all."""
        waiting_since: float | None = None
        lapsing_since: float | None = None
        while not self._stopped():
            try:
                received = self._receive()
            except ClientError as exc:
                if _code(exc) != "OverLimit":
                    raise
                self.incomplete_reason = (
                    f"SQS keeps at most {SQS_IN_FLIGHT_LIMIT:,} messages in flight; this scan "
                    f"holds {self.held:,}: take the queue in parts (`dlq export --delete`)"
                )
                return
            new = self._take(received)
            if new:
                waiting_since = lapsing_since = None
                yield new
                continue
            if received:  # only messages it has: they lapsed and came back, no progress
                lapsing_since = lapsing_since or time.monotonic()
                if time.monotonic() - lapsing_since >= self._lapse_patience():
                    self.incomplete_reason = self._lapsing_reason()
                    return
                continue
            lapsing_since = None
            missing = self._unaccounted()
            if missing is None:
                self.complete = True
                return
            now = time.monotonic()
            if waiting_since is None:
                waiting_since = now
                self._on_wait(missing)
            if now - waiting_since >= self._options.settle_seconds:
                self.incomplete_reason = missing
                return
            self._stop.wait(min(1.0, self._options.settle_seconds))

    def handle(self, message_id: str) -> str:
        """The newest receipt handle: SQS only honours the latest one for deletes."""
        with self._lock:
            return self._held[message_id].handle

    def forget(self, message_ids: Sequence[str]) -> None:
        """These were deleted: nothing to release (and nothing to keep hidden)."""
        with self._lock:
            for message_id in message_ids:
                self._held.pop(message_id, None)

    def release_all(self) -> None:
        """Make everything still held visible again (best effort: the timeout is the backstop).

        In a few threads: releasing 20,000 messages is 2,000 calls, and the operator waits."""
        with self._lock:
            handles = [held.handle for held in self._held.values()]
            self._held.clear()

        def release(chunk: Sequence[str]) -> None:
            with contextlib.suppress(ClientError, BotoCoreError):
                self._set_visibility(chunk, 0)

        with ThreadPoolExecutor(RELEASE_THREADS) as pool:
            list(pool.map(release, _chunks(handles)))

    def _lapse_patience(self) -> float:
        return max(self._options.settle_seconds, self._options.lapse_patience_seconds)

    def _lapsing_reason(self) -> str:
        return (
            f"held messages kept lapsing back into the queue faster than this scan could "
            f"receive them (visibility timeout {self.visibility_seconds} s, {self.held:,} "
            "held): retry with a longer --visibility-timeout"
        )

    def _stopped(self) -> bool:
        if self._stop.is_set():
            self.interrupted = True
            self.incomplete_reason = "interrupted"
        return self._stop.is_set()

    def _take(self, received: list[Received]) -> list[Received]:
        """Hold everything received (a repeat gets its newer handle); return the new ones."""
        until = time.monotonic() + self.visibility_seconds
        new: list[Received] = []
        with self._lock:
            for message in received:
                self._held[message.message_id] = _Held(message.receipt_handle, until)
                if message.message_id not in self._seen:
                    self._seen.add(message.message_id)
                    new.append(message)
        return new

    def _unaccounted(self) -> str | None:
        """None when the queue holds nothing this scan has not seen; else what is missing."""
        visible, in_flight = queue_counts(self._sqs, self._url)
        mine = self.held
        if visible == 0 and in_flight <= mine:
            return None
        if visible:
            return f"{visible} message(s) visible but not received (SQS counts lag)"
        return (
            f"{in_flight - mine} message(s) held by another reader (another `points dlq` "
            "command, or one that was killed: they reappear after its visibility timeout)"
        )

    def _beat(self) -> None:
        """Extend every held message well before its visibility lapses; stretch the
        visibility when a round takes longer than its share of it."""
        tick = max(0.2, self._options.hold_seconds / ROUNDS_PER_HOLD)
        while not self._closing.wait(tick):
            started = time.monotonic()
            self._extend_due(started)
            self._stretch(time.monotonic() - started)

    def _extend_due(self, now: float) -> None:
        visibility = self.visibility_seconds
        with self._lock:
            due = [(i, h.handle) for i, h in self._held.items() if h.until - now < visibility / 2]
        list(self._extender.map(lambda chunk: self._extend(chunk, visibility), _chunks(due)))

    def _extend(self, chunk: Sequence[tuple[str, str]], visibility: int) -> None:
        if self._closing.is_set():
            return  # the scan is ending: release_all takes over
        asked = time.monotonic()  # the new timeout runs from about now: count from before
        try:
            extended = self._set_visibility([handle for _, handle in chunk], visibility)
        except (ClientError, BotoCoreError):
            return  # lapsed messages are received again: the scan dedupes them
        with self._lock:
            for index in extended:
                message_id, handle = chunk[index]
                held = self._held.get(message_id)
                if held is not None and held.handle == handle:
                    held.until = asked + visibility

    def _stretch(self, round_seconds: float) -> None:
        """A round must fit ROUNDS_PER_HOLD times in the visibility; it never shrinks back
        (a scan is finite, and a lapse costs more than a longer hold)."""
        needed = math.ceil(round_seconds * ROUNDS_PER_HOLD)
        if needed > self.visibility_seconds:
            self.visibility_seconds = min(MAX_VISIBILITY_SECONDS, needed)

    def _set_visibility(self, handles: Sequence[str], seconds: int) -> list[int]:
        """Change visibility of up to 10 messages; returns the indexes that succeeded."""
        entries: list[Any] = [
            {"Id": str(i), "ReceiptHandle": h, "VisibilityTimeout": seconds}
            for i, h in enumerate(handles)
        ]
        response = self._sqs.change_message_visibility_batch(QueueUrl=self._url, Entries=entries)
        return [int(ok["Id"]) for ok in response.get("Successful", [])]

    def _receive(self) -> list[Received]:
        response = aws_call(
            lambda: self._sqs.receive_message(
                QueueUrl=self._url,
                MaxNumberOfMessages=self._options.batch_size,
                WaitTimeSeconds=self._options.wait_seconds,
                VisibilityTimeout=self.visibility_seconds,
                MessageSystemAttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
                MessageAttributeNames=["All"],
            )
        )
        return [received_from_sqs(m) for m in response.get("Messages", [])]


def _chunks(items: Sequence[T]) -> Iterator[Sequence[T]]:
    for start in range(0, len(items), SQS_BATCH):
        yield items[start : start + SQS_BATCH]


def _code(exc: ClientError) -> str:
    return str(exc.response.get("Error", {}).get("Code", ""))


def queue_counts(sqs: SQSClient, url: str) -> tuple[int, int]:
    """(visible, in flight), as SQS approximates them."""
    attributes = aws_call(
        lambda: sqs.get_queue_attributes(
            QueueUrl=url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
            ],
        )
    )["Attributes"]
    return (
        int(attributes.get("ApproximateNumberOfMessages", "0")),
        int(attributes.get("ApproximateNumberOfMessagesNotVisible", "0")),
    )
