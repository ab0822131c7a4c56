"""Reading the emulator's recorded calls in time."""

from __future__ import annotations

from itertools import pairwise
from typing import Any


def gaps(calls: list[Any]) -> list[float]:
    """Seconds between consecutive recorded calls (each has a ``time``), in the order given."""
    return [later.time - earlier.time for earlier, later in pairwise(calls)]
