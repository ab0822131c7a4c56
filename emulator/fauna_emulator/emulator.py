"""``FaunaEmulator``: the Account API on a local port, run from a test, a script or the CLI.

Why a background thread with its own event loop: tests are mostly synchronous (the provider's
hook uses ``requests``) and must be able to call the emulator while it serves, and async tests
must not share their loop with the server, or a blocked test would freeze the server too.
Every method below is safe to call from any thread while the server runs.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from typing import TYPE_CHECKING, Any

from fauna_emulator.calls import CallLog, RecordedCall
from fauna_emulator.context import Context, KeyRing
from fauna_emulator.faults import FaultConfig, FaultInjector
from fauna_emulator.filecache import FileCache
from fauna_emulator.oauth import OAuthApps
from fauna_emulator.server import build_app, serve
from fauna_emulator.signing import UrlSigner
from fauna_emulator.state import Account
from fauna_emulator.validation import ApiError

if TYPE_CHECKING:
    from collections.abc import Iterable
    from types import TracebackType

    from aiohttp import web

log = logging.getLogger(__name__)

_WILDCARD_HOSTS = {"0.0.0.0": "127.0.0.1", "::": "::1", "": "127.0.0.1"}


class FaunaEmulator:
    """A local, fault-injecting Fauna Account API. See the package docstring for the contract."""

    def __init__(
        self,
        keys: Iterable[str] | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        completion_delay: float = 0.0,
        url_ttl: float = 3600.0,
        records_per_file: int = 200,
        faults: FaultConfig | None = None,
        oauth_apps: list[dict[str, Any]] | None = None,
        file_cache_dir: str | None = None,
        seed: int = 0,
    ) -> None:
        if completion_delay < 0 or url_ttl < 0 or records_per_file < 0:
            raise ValueError("completion_delay, url_ttl and records_per_file cannot be negative")
        self.host, self._requested_port = host, port
        self._initial_keys = tuple(keys or ())
        self._keys = KeyRing(self._initial_keys)
        self._faults = FaultInjector(faults or FaultConfig(), seed)
        self._calls = CallLog()
        self._signer = UrlSigner()
        self._apps = OAuthApps(oauth_apps)
        self._files = FileCache(file_cache_dir)
        self._account = Account(
            files=self._files,
            signer=self._signer,
            faults=self._faults,
            completion_delay=completion_delay,
            url_ttl=url_ttl,
            records_per_file=records_per_file,
            seed=seed,
        )
        self._initial_timing = (completion_delay, url_ttl, records_per_file)
        self._stopped = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._port: int | None = None

    # --- lifecycle -------------------------------------------------------------------------

    def start(self) -> FaunaEmulator:
        """Serve on a background daemon thread; return once the port is bound."""
        if self._thread is not None or self._stopped:
            raise RuntimeError("an emulator starts once; make a new one to serve again")
        context = Context(
            self._account, self._apps, self._files, self._signer, self._faults, self._calls, self._keys
        )
        ready = threading.Event()
        failure: list[BaseException] = []
        self._thread = threading.Thread(
            target=self._run, args=(build_app(context), ready, failure), name="fauna-emulator", daemon=True
        )
        self._thread.start()
        ready.wait()
        if failure:
            self._thread.join()
            self._thread = None
            raise failure[0]
        log.info("Fauna emulator listening on %s", self.url)
        return self

    def _run(self, app: web.Application, ready: threading.Event, failure: list[BaseException]) -> None:
        loop = asyncio.new_event_loop()
        asyncio.set_event_loop(loop)
        try:
            runner, self._port = loop.run_until_complete(serve(app, self.host, self._requested_port))
        except BaseException as exc:  # handed to start()
            failure.append(exc)
            loop.close()
            ready.set()
            return
        self._loop = loop
        ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(runner.cleanup())
            loop.run_until_complete(loop.shutdown_default_executor())
            loop.close()

    def stop(self) -> None:
        """Stop serving, wait for the server thread, delete the temporary file cache."""
        if self._thread is None:
            return
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join()
        self._thread, self._loop, self._stopped = None, None, True
        self._files.close()

    def __enter__(self) -> FaunaEmulator:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    # --- where it listens ------------------------------------------------------------------

    @property
    def port(self) -> int:
        """The bound port (after ``start``)."""
        if self._port is None:
            raise RuntimeError("the emulator is not started")
        return self._port

    @property
    def url(self) -> str:
        """Base URL for clients, e.g. ``http://127.0.0.1:8765`` (a wildcard host becomes loopback)."""
        host = _WILDCARD_HOSTS.get(self.host, self.host)
        if ":" in host:
            host = f"[{host}]"
        return f"http://{host}:{self.port}"

    # --- recorded calls --------------------------------------------------------------------

    @property
    def calls(self) -> list[RecordedCall]:
        """Every request received (API calls and downloads), in arrival order."""
        return self._calls.snapshot()

    def api_calls(self, method: str | None = None, path_prefix: str | None = None) -> list[RecordedCall]:
        """The ``/api/...`` calls, optionally only one method and/or under a path prefix."""
        return [
            c
            for c in self._calls.snapshot()
            if c.path.startswith("/api/")
            and (method is None or c.method == method.upper())
            and (path_prefix is None or c.path.startswith(path_prefix))
        ]

    def download_calls(self) -> list[RecordedCall]:
        """The presigned-URL downloads."""
        return [c for c in self._calls.snapshot() if c.path.startswith("/_files/")]

    def reset_calls(self) -> None:
        """Forget the calls recorded so far."""
        self._calls.clear()

    # --- behaviour -------------------------------------------------------------------------

    @property
    def faults(self) -> FaultConfig:
        """The faults in force."""
        return self._faults.config

    @faults.setter
    def faults(self, config: FaultConfig) -> None:
        self._faults.install(config)

    def add_key(self, key: str, ttl: float | None = None) -> None:
        """Accept an account key secret (for ``ttl`` seconds, if given)."""
        self._keys.add(key, ttl)

    def revoke_key(self, key: str) -> None:
        """Answer 401 to this key from now on."""
        self._keys.revoke(key)

    def set_outcome(self, scope: str, state: str | None, count: int | None = None) -> None:
        """Force the terminal state of requests on a database (and its children) or region group.

        With ``count``, only the next ``count`` requests created on that scope end in ``state``.
        """
        self._account.set_outcome(scope, state, count)

    def clear_outcomes(self) -> None:
        """Stop forcing outcomes."""
        self._account.clear_outcomes()

    def reset(self) -> None:
        """Back to how the emulator started, for tests sharing one emulator.

        Forgets recorded calls, log requests, idempotency tokens, forced outcomes and deleted
        OAuth apps; restores the faults (none), the keys, ``completion_delay``, ``url_ttl`` and
        ``records_per_file`` given to the constructor, and ``status_urls``. Generated files stay cached.
        """
        self.reset_calls()
        self.faults = FaultConfig()
        self.reset_state()
        self._keys.replace(self._initial_keys)
        self.completion_delay, self.url_ttl, self.records_per_file = self._initial_timing
        self.status_urls = True

    # --- timing, adjustable while serving ---------------------------------------------------

    @property
    def completion_delay(self) -> float:
        """Seconds from submission to the terminal state. Changing it also reschedules requests
        still in progress (their states are computed from it on each read)."""
        return self._account.completion_delay

    @completion_delay.setter
    def completion_delay(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("completion_delay cannot be negative")
        self._account.completion_delay = seconds

    @property
    def url_ttl(self) -> float:
        """Lifetime in seconds of presigned URLs issued from now on."""
        return self._account.url_ttl

    @url_ttl.setter
    def url_ttl(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("url_ttl cannot be negative")
        self._account.url_ttl = seconds

    @property
    def records_per_file(self) -> int:
        """Records in the file of log requests submitted from now on."""
        return self._account.records_per_file

    @records_per_file.setter
    def records_per_file(self, count: int) -> None:
        if count < 0:
            raise ValueError("records_per_file cannot be negative")
        self._account.records_per_file = count

    @property
    def status_urls(self) -> bool:
        """Whether a status read or a list page carries ``presigned_url`` (default ``True``).

        ``False`` answers as the reference's own status sample does, without the URL: a client
        then gets one only from ``POST /api/v1/logs/{id}/url``.
        """
        return self._account.status_urls

    @status_urls.setter
    def status_urls(self, value: bool) -> None:
        self._account.status_urls = bool(value)

    def reset_state(self) -> None:
        """Forget log requests, idempotency tokens and forced outcomes; restore the OAuth apps."""
        self._account.reset()
        self._apps.reset()

    # --- what the account holds ------------------------------------------------------------

    @property
    def log_requests(self) -> list[dict[str, Any]]:
        """Every log request as the API would return it now, in submission order."""
        return self._account.snapshot(self.url if self._port is not None else "")

    def file_bytes(self, request_id: str) -> bytes:
        """The exact gzip bytes the request's presigned URL serves (builds the file if needed).

        Raises KeyError for an unknown request id.
        """
        try:
            spec = self._account.spec_of(request_id)
        except ApiError:
            raise KeyError(request_id) from None
        cached = self._files.ensure(spec).result()
        with open(cached.path, "rb") as handle:
            return handle.read()
