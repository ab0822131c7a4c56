"""The record of every request the emulator received, for tests to assert on.

Why a record at all: the provider's promises (it retries a 429 after ``Retry-After``, it never
sends the account key to the presigned URL, it reuses its idempotency token) are only provable
from the server's side. Secrets are never stored: the bearer key becomes a short fingerprint
and the presigned URL's signature likewise, so a failing test can print the calls safely.
"""

from __future__ import annotations

import bisect
import dataclasses
import hashlib
import threading
from dataclasses import dataclass, field
from typing import Any

from airflow_provider_fauna.emulator.signing import SIGNATURE_PARAM


def fingerprint(secret: str) -> str:
    """First 8 hex digits of the SHA-256 of a secret: enough to tell secrets apart, useless to replay."""
    return hashlib.sha256(secret.encode()).hexdigest()[:8]


@dataclass(frozen=True)
class RecordedCall:
    """One request as the emulator saw and answered it.

    ``status`` is what was answered, 0 when the connection was dropped without an answer.
    For a download cut mid-body it is the status line that was sent (200/206), and ``fault``
    names the cut. ``fault`` joins several injected faults with ``+`` (``"slow+rate_limit"``).
    ``query`` holds the presigned URL's signature only as a fingerprint.
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
    seq: int = field(default=0, compare=False, repr=False)

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready form, for the ``GET /_emulator/calls`` control endpoint."""
        data = dataclasses.asdict(self)
        del data["seq"]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> RecordedCall:
        """Inverse of :meth:`as_dict`, for out-of-process users reading the control endpoint."""
        known = {f.name for f in dataclasses.fields(cls)} - {"seq"}
        return cls(**{k: v for k, v in data.items() if k in known})


def redact_query(query: dict[str, str]) -> dict[str, str]:
    """Copy a query string, keeping only a fingerprint of the presigned URL's signature."""
    if SIGNATURE_PARAM not in query:
        return dict(query)
    redacted = dict(query)
    redacted[SIGNATURE_PARAM] = f"sha256:{fingerprint(query[SIGNATURE_PARAM])}"
    return redacted


class CallLog:
    """Thread-safe, arrival-ordered list of finished calls.

    A call is numbered when it arrives and stored when it is answered, in arrival order: a
    slow answer does not move its call behind later ones. Calls still in flight are not listed.
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._next_seq = 0
        self._calls: list[RecordedCall] = []
        self._seqs: list[int] = []

    def arrive(self) -> int:
        """Number a call on arrival."""
        with self._lock:
            self._next_seq += 1
            return self._next_seq

    def finish(self, call: RecordedCall) -> None:
        """Store an answered call in its arrival place."""
        with self._lock:
            index = bisect.bisect(self._seqs, call.seq)
            self._seqs.insert(index, call.seq)
            self._calls.insert(index, call)

    def snapshot(self) -> list[RecordedCall]:
        """A copy of the calls so far; safe to read while the server keeps answering."""
        with self._lock:
            return list(self._calls)

    def clear(self) -> None:
        """Forget every call answered so far (calls in flight will still be stored)."""
        with self._lock:
            self._calls.clear()
            self._seqs.clear()
