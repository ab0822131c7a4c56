"""Reading the emulator's recorded calls in time."""

from __future__ import annotations

import threading
import time
from contextlib import contextmanager
from itertools import pairwise
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


def gaps(calls: list[Any]) -> list[float]:
    """Seconds between consecutive recorded calls (each has a ``time``), in the order given."""
    return [later.time - earlier.time for earlier, later in pairwise(calls)]


@contextmanager
def hold_until(emulator: Any, released: Callable[[], bool], timeout: float = 60.0) -> Iterator[None]:
    """Keep the emulator's log requests in progress until ``released()``, then let them complete.

    For tests that must see a request in progress: a fixed ``completion_delay`` races the test
    on a loaded machine, where a first poll can come seconds late. The check runs on a thread
    every 20 ms; after ``timeout`` seconds the requests complete anyway, so a test cannot hang.
    """
    emulator.completion_delay = 3600.0
    stop = threading.Event()

    def release() -> None:
        deadline = time.monotonic() + timeout
        try:
            while not stop.is_set() and not released() and time.monotonic() < deadline:
                stop.wait(0.02)
        finally:
            emulator.completion_delay = 0.0

    watcher = threading.Thread(target=release, name="hold-until", daemon=True)
    watcher.start()
    try:
        yield
    finally:
        stop.set()
        watcher.join()


def requests_read(emulator: Any, times: int = 1) -> Callable[[], bool]:
    """A condition for :func:`hold_until`: the status of a log request was read and answered ``times`` times.

    Answered, not only arrived: a read still being answered when the hold ends could see the end.
    """

    def read() -> bool:
        calls = emulator.calls
        return (
            sum(c.status and c.method == "GET" and c.path.startswith("/api/v1/logs/") for c in calls) >= times
        )

    return read
