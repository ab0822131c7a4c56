"""The account's log requests and their state machine.

States move with time and are computed lazily, whenever a request is read (status, list,
new URL, or the Python API), so nothing runs in the background and a slow poller sees the same
history as a fast one. With ``d`` = ``completion_delay``::

    submit ──> Pending ──(d/2)──> Requested ──(d, file built)──> Complete
                                                           └──> DoesNotExist | Failed | TimedOut
    Complete ──(POST .../url)──> CreatingNewUrl ──(next read)──> Complete

* Every transition adds 1 to ``version`` and sets ``updated_at`` to the moment it happened on
  that schedule (not the moment it was observed). So the first read after ``d`` shows
  ``Complete`` at version 2, as in the vendor's how-to; the new-URL answer is version 3 and the
  following read version 4.
* The submit answer is always the ``Pending`` object (version 0), even with ``d`` = 0.
* A ``Complete`` request also waits for its file to be built (large files take seconds); it
  stays ``Requested`` until then, and becomes ``Failed`` if the build fails.
* The terminal state is, in order: a forced outcome (``set_outcome``) for the most specific
  scope that covers the request (its database, a parent database, or its region group), as it
  stands when the request reaches its terminal state; else the outcome drawn from
  ``outcome_ratios`` at submission; else ``Complete``.
* A URL is issued when the request completes (its lifetime counted from then) and on each
  new-URL call; old URLs keep working until they expire, as presigned URLs do. Expiries are
  whole seconds, rounded down (a URL never outlives ``url_ttl``; a TTL of 0 gives a URL that
  is already expired); a new URL asked for within the same second as the previous one
  expires one second later, so that it is always a different URL.
* An ``idempotency_token`` seen within 24 hours returns the existing request as it is now.
"""

from __future__ import annotations

import math
import random
import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fauna_emulator import pagination
from fauna_emulator.logfile import LogFileSpec
from fauna_emulator.signing import file_path
from fauna_emulator.timeutil import format_epoch, format_utc, to_epoch_us
from fauna_emulator.validation import (
    REGION_GROUPS,
    TERMINAL_STATES,
    ApiError,
    bad_request,
    region_group_of,
)

if TYPE_CHECKING:
    import datetime as dt
    import uuid
    from collections.abc import Callable
    from concurrent.futures import Future

    from fauna_emulator.faults import FaultInjector
    from fauna_emulator.filecache import CachedFile, FileCache
    from fauna_emulator.signing import UrlSigner
    from fauna_emulator.validation import ListInput, LogRequestInput

IDEMPOTENCY_WINDOW = 24 * 3600.0
URL_STATES = ("Complete", "CreatingNewUrl")


@dataclass
class LogRequest:
    """One log request as the emulator keeps it (mutable; guarded by the account's lock)."""

    seq: int
    request_id: str
    database: str | None
    region_group: str
    time_start: dt.datetime
    time_end: dt.datetime
    submitted_at: float
    spec: LogFileSpec
    drawn_outcome: str | None
    state: str = "Pending"
    version: int = 0
    updated_at: float = 0.0
    url: str | None = None
    url_expires_at: int | None = None

    def render(self, base_url: str, *, with_url: bool = True) -> dict[str, Any]:
        """The object as the API returns it.

        :param with_url: include the presigned URL once there is one (``False``: as the
            reference's own status sample, which has none).
        """
        out: dict[str, Any] = {"request_id": self.request_id}
        if self.database is not None:
            out["database"] = self.database
        out.update(
            region_group=self.region_group,
            state=self.state,
            time_start=format_utc(self.time_start),
            time_end=format_utc(self.time_end),
            updated_at=format_epoch(self.updated_at),
            version=self.version,
        )
        if with_url and self.state in URL_STATES and self.url is not None and self.url_expires_at is not None:
            out["presigned_url"] = base_url + self.url
            out["presigned_url_expiration_time"] = format_epoch(self.url_expires_at)
        return out


@dataclass(frozen=True)
class Submitted:
    """The outcome of a submit: the answer, the request, and whether it is new."""

    answer: dict[str, Any]
    request: LogRequest
    created: bool
    build: Future[CachedFile] | None = None
    """The file build started for a new request that is meant to complete."""


def check_scope(scope: str) -> str:
    """A region group or a database path, else ValueError."""
    if scope not in REGION_GROUPS:
        region_group_of(scope)
    return scope


class Account:
    """All log requests of the one emulated account. Thread-safe."""

    def __init__(
        self,
        *,
        files: FileCache,
        signer: UrlSigner,
        faults: FaultInjector,
        completion_delay: float,
        url_ttl: float,
        records_per_file: int,
        seed: int,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self.files, self.signer, self.faults = files, signer, faults
        self.completion_delay = completion_delay
        self.url_ttl = url_ttl
        self.records_per_file = records_per_file
        self.seed = seed
        self.clock = clock
        #: Whether status reads and list pages carry the presigned URL; the new-URL answer always does.
        self.status_urls = True
        self._lock = threading.Lock()
        self._ids = random.Random(seed)
        self._seq = 0
        self._requests: dict[str, LogRequest] = {}
        self._tokens: dict[uuid.UUID, LogRequest] = {}
        self._outcomes: dict[str, str] = {}
        self._pinned: dict[str, list[Any]] = {}  # scope -> [state, requests left to pin]

    # --- queries and commands used by the HTTP handlers -------------------------------------

    def submit(self, data: LogRequestInput, base_url: str) -> Submitted:
        """Create a request (or find the one its idempotency token names)."""
        now = self.clock()
        with self._lock:
            token = data.idempotency_token
            known = self._tokens.get(token) if token is not None else None
            if known is not None and now - known.submitted_at < IDEMPOTENCY_WINDOW:
                self._advance(known, now)
                return Submitted(known.render(base_url, with_url=self.status_urls), known, created=False)
            request = self._create(data, now)
            if token is not None:
                self._tokens[token] = request
            answer = request.render(base_url)
            doomed = self._forced_outcome(request) or request.drawn_outcome
        # Start building now: the file is needed at completion, and big ones take a while.
        build = self.files.ensure(request.spec) if doomed in (None, "Complete") else None
        return Submitted(answer, request, created=True, build=build)

    def get(self, request_id: str, base_url: str) -> dict[str, Any]:
        """The request as it is now; 404 if unknown."""
        now = self.clock()
        with self._lock:
            request = self._find(request_id)
            self._advance(request, now)
            return request.render(base_url, with_url=self.status_urls)

    def new_url(self, request_id: str, version: int | None, base_url: str) -> dict[str, Any]:
        """Issue a new presigned URL for a Complete request (``CreatingNewUrl``, version + 1)."""
        now = self.clock()
        with self._lock:
            request = self._find(request_id)
            self._advance(request, now)
            if request.state != "Complete":
                raise bad_request(
                    f"log request {request_id} is {request.state}: "
                    "a new URL can only be created for a Complete request"
                )
            if version is not None and version != request.version:
                raise bad_request(
                    f"version {version} does not match the log request's current version "
                    f"{request.version}; read the request again and retry"
                )
            self._issue_url(request, now)
            self._move(request, "CreatingNewUrl", now)
            return request.render(base_url)

    def list_requests(self, query: ListInput, base_url: str) -> dict[str, Any]:
        """One page of requests in the given states, in submission order."""
        now = self.clock()
        with self._lock:
            for request in self._requests.values():
                self._advance(request, now)
            chosen, token = pagination.page(
                self._requests.values(),
                "logs",
                query.page.next_token,
                query.page.max_results,
                lambda r: r.state in query.states,
            )
            results = [r.render(base_url, with_url=self.status_urls) for r in chosen]
            return {"next_token": token, "results": results}

    # --- the Python API's helpers ------------------------------------------------------------

    def snapshot(self, base_url: str) -> list[dict[str, Any]]:
        """Every request as the API would return it now, in submission order."""
        now = self.clock()
        with self._lock:
            for request in self._requests.values():
                self._advance(request, now)
            return [r.render(base_url) for r in self._requests.values()]

    def spec_of(self, request_id: str) -> LogFileSpec:
        """The file content a request's URL serves; 404 ApiError if unknown."""
        with self._lock:
            return self._find(request_id).spec

    def set_outcome(self, scope: str, state: str | None, count: int | None = None) -> None:
        """Force the terminal state of requests on ``scope`` (None: stop forcing).

        With ``count``, only the next ``count`` requests created on ``scope`` get ``state``
        (later ones end as they otherwise would): how a test makes a first export fail and
        its fresh retry succeed.
        """
        check_scope(scope)
        if state is not None and state not in TERMINAL_STATES:
            raise ValueError(f"state must be one of {', '.join(TERMINAL_STATES)} (or null), got {state!r}")
        if count is not None and count < 1:
            raise ValueError(f"count must be at least 1, got {count!r}")
        with self._lock:
            if state is None:
                self._outcomes.pop(scope, None)
                self._pinned.pop(scope, None)
            elif count is not None:
                self._pinned[scope] = [state, count]
            else:
                self._outcomes[scope] = state

    def clear_outcomes(self) -> None:
        """Stop forcing any outcome."""
        with self._lock:
            self._outcomes.clear()
            self._pinned.clear()

    def reset(self) -> None:
        """Forget every request, idempotency token and forced outcome."""
        with self._lock:
            self._requests.clear()
            self._tokens.clear()
            self._outcomes.clear()
            self._pinned.clear()

    # --- internals (call with the lock held) -------------------------------------------------

    def _find(self, request_id: str) -> LogRequest:
        request = self._requests.get(request_id)
        if request is None:
            raise ApiError(404, f"log request {request_id!r} not found")
        return request

    def _create(self, data: LogRequestInput, now: float) -> LogRequest:
        request_id = str(self._ids.randrange(10**11, 10**12))
        while request_id in self._requests:
            request_id = str(self._ids.randrange(10**11, 10**12))
        self._seq += 1
        spec = LogFileSpec(
            region_group=data.region_group,
            database=data.database,
            time_start_us=to_epoch_us(data.time_start),
            time_end_us=to_epoch_us(data.time_end),
            records=self.records_per_file,
            seed=self.seed,
        )
        request = LogRequest(
            seq=self._seq,
            request_id=request_id,
            database=data.database,
            region_group=data.region_group,
            time_start=data.time_start,
            time_end=data.time_end,
            submitted_at=now,
            spec=spec,
            drawn_outcome=self._pin(data.database or data.region_group) or self.faults.draw_outcome(),
            updated_at=now,
        )
        self._requests[request_id] = request
        return request

    def _pin(self, scope: str | None) -> str | None:
        """Use up one of the outcomes pinned on ``scope`` (or a parent), if any are left."""
        while scope:
            pinned = self._pinned.get(scope)
            if pinned:
                pinned[1] -= 1
                if pinned[1] == 0:
                    del self._pinned[scope]
                return str(pinned[0])
            scope = scope.rpartition("/")[0]
        return None

    def _forced_outcome(self, request: LogRequest) -> str | None:
        scope = request.database or request.region_group
        while scope:
            if scope in self._outcomes:
                return self._outcomes[scope]
            scope = scope.rpartition("/")[0]
        return None

    def _move(self, request: LogRequest, state: str, at: float) -> None:
        request.state = state
        request.version += 1
        request.updated_at = at

    def _issue_url(self, request: LogRequest, at: float) -> None:
        expires = math.floor(at + self.faults.url_ttl(self.url_ttl))
        if expires == request.url_expires_at:
            expires += 1  # same second as the last URL: bump, so the new URL differs from it
        born_expired = self.faults.draw_early_expiry()
        enforced = math.floor(at) - 1 if born_expired else expires
        request.url = self.signer.presign(file_path(request.request_id), enforced, born_expired=born_expired)
        request.url_expires_at = expires

    def _advance(self, request: LogRequest, now: float) -> None:
        """Apply every transition due by ``now`` (see the module docstring)."""
        delay = self.completion_delay
        if request.state == "Pending" and now >= request.submitted_at + delay / 2:
            self._move(request, "Requested", request.submitted_at + delay / 2)
        if request.state == "Requested" and now >= request.submitted_at + delay:
            at = request.submitted_at + delay
            outcome = self._forced_outcome(request) or request.drawn_outcome or "Complete"
            if outcome == "Complete":
                built = self.files.poll(request.spec)
                if built is None:
                    return  # still building: stay Requested
                if isinstance(built, Exception):
                    outcome = "Failed"
                else:
                    at = min(max(at, built.ready_at), now)
            self._move(request, outcome, at)
            if outcome == "Complete":
                self._issue_url(request, at)
        elif request.state == "CreatingNewUrl":
            self._move(request, "Complete", now)
