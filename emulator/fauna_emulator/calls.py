"""The record of every request the emulator received, for tests to assert on.

Why a record at all: the provider's promises (it retries a 429 after ``Retry-After``, it never
sends the account key to the presigned URL, it reuses its idempotency token) are only provable
from the server's side. Secrets are never stored: the bearer key becomes a short fingerprint
and the presigned URL's signature likewise, so a failing test can print the calls safely.
"""

from __future__ import annotations

import dataclasses
import hashlib
import threading
from dataclasses import dataclass
from typing import Any

from fauna_emulator.signing import SIGNATURE_PARAM


def fingerprint(secret: str) -> str:
    """First 8 hex digits of the SHA-256 of a secret: enough to tell secrets apart, useless to replay."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class RecordedCall:
    """One request as the emulator saw and answered it.

    ``status`` is what was answered; 0 while the answer is still being prepared (a slow call
    in flight) and for a connection dropped without an answer. For a download cut mid-body it
    is the status line that was sent (200/206), and ``fault`` names the cut. ``fault`` joins
    several injected faults with ``+`` (``"slow+rate_limit"``). ``query`` holds the presigned
    URL's signature only as a fingerprint. ``time`` is the arrival (epoch seconds).
    """

    method: str
    path: str
    query: dict[str, str]
    json: Any
    status: int
    fault: str | None
    time: float
    key_fingerprint: str | None = None
    had_authorization: bool = False
    duration: float = 0.0

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, for the ``GET /_emulator/calls`` control endpoint."""
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecordedCall:
        """Inverse of :meth:`as_dict`, for out-of-process users reading the control endpoint."""
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


def redact_query(query: dict[str, str]) -> dict[str, str]:
    """Copy a query string, keeping only a fingerprint of the presigned URL's signature."""
    if SIGNATURE_PARAM not in query:
        return dict(query)
    redacted = dict(query)
    redacted[SIGNATURE_PARAM] = f"sha256:{fingerprint(query[SIGNATURE_PARAM])}"
    return redacted


class CallLog:
    """Thread-safe list of calls in arrival order.

    A call is listed as soon as it arrives (``status`` 0), so a client that gave up on a slow
    answer still finds its call, and is updated in place when answered. A call that arrived
    before :meth:`clear` is not listed again when it is answered after it.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next_seq = 0
        self._calls: dict[int, RecordedCall] = {}

    def arrive(self, call: RecordedCall) -> int:
        """List a call that has just arrived; returns its number for :meth:`finish`."""
        with self._lock:
            self._next_seq += 1
            self._calls[self._next_seq] = call
            return self._next_seq

    def finish(self, seq: int, call: RecordedCall) -> None:
        """Replace an arrived call with its answered form (unless cleared meanwhile)."""
        with self._lock:
            if seq in self._calls:
                self._calls[seq] = call

    def snapshot(self) -> list[RecordedCall]:
        """A copy of the calls so far; safe to read while the server keeps answering."""
        with self._lock:
            return list(self._calls.values())

    def clear(self) -> None:
        """Forget every call so far."""
        with self._lock:
            self._calls.clear()
