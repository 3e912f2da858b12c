"""Ctrl-C and SIGTERM for operator commands that move messages.

The first signal asks the command to stop after the batch in hand: what it already moved
stays moved, what it holds is released at once (not after its visibility timeout), and its
summary is printed. A second Ctrl-C aborts at once (then held messages come back only
after their visibility timeout).
"""

from __future__ import annotations

import signal
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Final

EXIT_INTERRUPTED: Final = 130
_SIGNALS: Final = (signal.SIGINT, signal.SIGTERM)


@contextmanager
def stop_on_signals(announce: Callable[[str], None]) -> Iterator[threading.Event]:
    """An event set by the first SIGINT/SIGTERM; the second SIGINT raises KeyboardInterrupt."""
    stop = threading.Event()

    def handle(signum: int, _frame: FrameType | None) -> None:
        if stop.is_set() and signum == signal.SIGINT:
            raise KeyboardInterrupt
        stop.set()
        announce("stopping after the current batch; Ctrl-C again to abort at once")

    if threading.current_thread() is not threading.main_thread():
        yield stop  # signals go to the main thread only: nothing to install
        return
    previous = {signum: signal.getsignal(signum) for signum in _SIGNALS}
    for signum in _SIGNALS:
        signal.signal(signum, handle)
    try:
        yield stop
    finally:
        for signum, handler in previous.items():
            signal.signal(signum, handler)
