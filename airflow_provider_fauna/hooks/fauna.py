"""The Fauna Account API over an Airflow connection.

One code path shapes every call (:class:`ApiCall` and ``FaunaAccountHook._headers``) and reads every answer
(:func:`_read_answer`); the sync methods send with ``requests`` and the async ones (for
triggers) with ``aiohttp``, both under the same :class:`RetryPolicy`. The account key only
ever travels in the ``Authorization`` header to the configured host: redirects are never
followed, and the key is registered with Airflow's secrets masker as soon as it is read.

The async calls of every hook on one event loop share one ``aiohttp`` session (see
``_loop_session()``), so a triggerer running a thousand waits keeps a few connections warm
instead of opening, and tearing down, a connection and a session for every status poll.
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import json
import logging
import math
import os
import platform
import re
import threading
import time
import uuid
import weakref
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import aiohttp
import requests
import requests.auth
import requests.utils
from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson
from airflow.providers.common.compat.sdk import BaseHook, mask_secret

from airflow_provider_fauna import __version__
from airflow_provider_fauna.exceptions import (
    FaunaApiError,
    FaunaAuthError,
    FaunaConnectionError,
    FaunaNotFoundError,
    FaunaRateLimitedError,
    FaunaServerError,
    FaunaValidationError,
)
from airflow_provider_fauna.hooks.link_template import (
    DEFAULT_LINK_TEMPLATE,
    LINK_TEMPLATE_EXTRA,
    check_link_template,
)
from airflow_provider_fauna.hooks.retry import RetryPolicy, parse_retry_after
from airflow_provider_fauna.log_requests import (
    ALL_STATES,
    LogRequest,
    LogRequestSpec,
    validate_request_id,
)

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, AsyncIterator, Iterator, Mapping
    from datetime import datetime

    from airflow.providers.common.compat.sdk import Connection

log = logging.getLogger(__name__)

DEFAULT_HOST = "https://account.fauna.com"
DEFAULT_TIMEOUT = 30.0
MAX_PAGE_SIZE = 100
USER_AGENT = (
    f"airflow-provider-fauna/{__version__} (python/{platform.python_version()}; +https://airflow.apache.org)"
)
#: An OAuth app id: one path segment with at least one letter or digit (never ``.`` or ``..``).
_APP_ID = re.compile(r"^[A-Za-z0-9_\-.]*[A-Za-z0-9][A-Za-z0-9_\-.]*$")


@dataclass(frozen=True)
class ApiCall:
    """One Account API call, independent of the client that sends it."""

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    json: Any | None = None
    #: Statuses that count as success although they carry no JSON body (``DELETE`` answers 204).
    empty_ok: bool = False
    #: A 404 on a retry means the first attempt did the work (a ``DELETE`` whose answer was lost).
    gone_ok_on_retry: bool = False


@dataclass(frozen=True)
class _Settings:
    """What a connection resolves to: where to send, with which key, how patiently."""

    base_url: str
    key: str = field(repr=False)
    timeout: float
    policy: RetryPolicy
    #: The environment's proxy for ``base_url`` (``HTTP(S)_PROXY``, honouring ``NO_PROXY``), for
    #: the async client; ``requests`` finds the same one by itself.
    proxy: str | None = field(default=None, repr=False)
    #: The extra link's URL template (the ``link_template`` extra; the dashboard by default).
    link_template: str = DEFAULT_LINK_TEMPLATE


@dataclass(frozen=True)
class _LoopSession:
    """An event loop's shared session, and the suspended generator that closes it with the loop."""

    session: aiohttp.ClientSession
    closer: AsyncGenerator[None, None]


_LOOP_SESSIONS: weakref.WeakKeyDictionary[asyncio.AbstractEventLoop, _LoopSession] = (
    weakref.WeakKeyDictionary()
)
_LOOP_SESSIONS_LOCK = threading.Lock()


async def _close_with_the_loop(
    loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession
) -> AsyncGenerator[None, None]:
    """Wait, suspended, until the loop shuts down its async generators; then close ``session``.

    ``asyncio.run`` (the triggerer's, pytest's) calls ``loop.shutdown_asyncgens()`` before it
    closes the loop, which closes this generator, so the shared session is closed cleanly
    instead of being reported as unclosed when the loop is gone. The entry is dropped too: the
    session refers to its loop, so the weak mapping alone would never let the loop go.
    """
    try:
        yield
    finally:
        with _LOOP_SESSIONS_LOCK:
            held = _LOOP_SESSIONS.get(loop)
            if held is not None and held.session is session:
                del _LOOP_SESSIONS[loop]
        await session.close()


async def _loop_session() -> aiohttp.ClientSession:
    """The running event loop's shared ``aiohttp`` session, made on first use.

    Why shared: a hook is made per trigger run, and a session per call opened a TCP connection
    and built a connector for every status poll; profiled with 1,000 triggers on one loop, that
    was most of the triggerer's CPU. Sharing is safe because the session carries nothing of a
    connection: the key, timeout and redirect rule travel with each request, and cookies are
    not kept (``DummyCookieJar``), so nothing one connection's answer sets reaches another.
    A session belongs to its loop, hence one per loop.
    """
    loop = asyncio.get_running_loop()
    with _LOOP_SESSIONS_LOCK:
        held = _LOOP_SESSIONS.get(loop)
    if held is not None and not held.session.closed:
        return held.session
    # No trust_env: with it aiohttp reads ~/.netrc and the proxy variables on a thread for every
    # request, and a .netrc entry for the API's host would clash with the Authorization header.
    # The proxy is resolved once per connection read instead (_Settings.proxy).
    session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    closer = _close_with_the_loop(loop, session)
    with _LOOP_SESSIONS_LOCK:
        _LOOP_SESSIONS[loop] = _LoopSession(session, closer)
    # Start the generator: the loop now tracks it and closes it at shutdown. It runs to its
    # ``yield`` without suspending, so no other task can make a second session meanwhile.
    await closer.asend(None)
    return session


async def _amask_secret(secret: str) -> None:
    """Register ``secret`` with the secrets masker from a coroutine (a trigger's ``run``).

    Airflow 3's ``amask_secret`` tells the supervisor without blocking the event loop; the
    sync ``mask_secret`` would reach it through a greenback portal from the loop's thread.
    Airflow 2 has no supervisor, and its ``mask_secret`` only records the value.
    """
    try:
        from airflow.sdk.log import amask_secret
    except ImportError:  # Airflow 2, or an Airflow 3 without it
        mask_secret(secret)
    else:
        await amask_secret(secret)


class _AuthorizationAsGiven(requests.auth.AuthBase):
    """Leave the request's own ``Authorization`` header (the key) as it is.

    Given no ``auth``, ``requests`` applies a ``.netrc`` login for the host on top of the
    headers, replacing the account key with a Basic login; an ``auth`` that changes nothing
    keeps it from looking.
    """

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


#: The variables that decide a proxy (either case), the key of :func:`_proxy_for`'s cache.
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def _environment_proxy(url: str) -> str | None:
    """The proxy ``requests`` would use for ``url`` from the environment, so that aiohttp uses it too.

    Without it a triggerer behind a proxy, whose workers reach the API through it, would see
    only connection errors and wait to its deadline. Working it out walks the whole
    environment twice (120 us here), and a triggerer reads a connection for every trigger run,
    so the answer is kept for as long as the proxy variables stay the same.
    """
    variables = tuple(os.environ.get(name) or os.environ.get(name.upper()) for name in _PROXY_VARIABLES)
    return _proxy_for(url, variables)


@functools.lru_cache(maxsize=64)
def _proxy_for(url: str, variables: tuple[str | None, ...]) -> str | None:
    return requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))


def _logs_call(method: str, path: str, body: Any | None = None, **params: str) -> ApiCall:
    return ApiCall(method, path, {"type": "query", **params}, body)


def _spec(
    time_start: datetime | str,
    time_end: datetime | str,
    database: str | None,
    region_group: str | None,
    idempotency_token: str | None,
) -> LogRequestSpec:
    """The validated spec behind :meth:`FaunaAccountHook.request_logs` and its async twin."""
    return LogRequestSpec.build(
        time_start=time_start,
        time_end=time_end,
        database=database,
        region_group=region_group,
        idempotency_token=idempotency_token,
    )


def _done_before(call: ApiCall, error: FaunaApiError, attempt: int) -> bool:
    """Whether ``error`` on a retry only says that an earlier attempt already did the work."""
    return call.gone_ok_on_retry and attempt > 1 and isinstance(error, FaunaNotFoundError)


def _header(headers: Mapping[str, str], name: str) -> str | None:
    """A header's value whatever the case the server spelled it in (``retry-after`` too)."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def _read_answer(call: ApiCall, status: int, headers: Mapping[str, str], text: str) -> Any:
    """Turn an HTTP answer into JSON, or into the typed error its status means.

    Both clients hand over their own header mapping: a plain ``dict`` of it would lose the
    case-insensitivity, and a ``retry-after`` in lower case would go unread on one path only.
    """
    if 200 <= status < 300:
        if not text.strip():
            if call.empty_ok:
                return None
            raise FaunaApiError(status, "the answer had no body", method=call.method, path=call.path)
        try:
            return json.loads(text)
        except ValueError as err:
            raise FaunaApiError(status, "the answer is not JSON", method=call.method, path=call.path) from err
    reason = _error_reason(text, status)
    kwargs: dict[str, Any] = {"method": call.method, "path": call.path}
    if 300 <= status < 400:
        raise FaunaApiError(
            status,
            "the API redirected the call; redirects are not followed, so that the account key "
            "never leaves the configured host. Check the connection's host.",
            **kwargs,
        )
    if status in (401, 403):
        raise FaunaAuthError(
            status, f"{reason} (check the account key in the connection's password field)", **kwargs
        )
    if status == 404:
        raise FaunaNotFoundError(status, reason, **kwargs)
    if status == 429:
        raise FaunaRateLimitedError(
            status, reason, retry_after=parse_retry_after(_header(headers, "Retry-After")), **kwargs
        )
    if status >= 500:
        raise FaunaServerError(status, reason, **kwargs)
    raise FaunaApiError(status, reason, **kwargs)


def _error_reason(text: str, status: int) -> str:
    """The API's own explanation: ``reason`` in one page's error body, ``message`` in another's."""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("reason", "message", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key]
    snippet = " ".join(text.split())[:200]
    return snippet or f"HTTP {status}"


class FaunaAccountHook(BaseHook):
    """Talk to the Fauna Account API: log exports and OAuth apps.

    The connection (conn type ``fauna``) holds the account key secret in its password and,
    optionally, the API's URL in its host (default ``https://account.fauna.com``; the local
    emulator runs on ``http://127.0.0.1:PORT``). Extras may set ``timeout`` (seconds per
    call), ``max_retries``, ``backoff_base`` and ``backoff_max``.

    :param fauna_conn_id: the Airflow connection to use.
    :param timeout: seconds one HTTP call may take; overrides the connection's extra.
    :param retry_policy: how to retry 429, 5xx, timeouts and dropped connections; by default
        built from the connection's extras (5 attempts, 1 s doubling to at most 60 s).
    """

    conn_name_attr = "fauna_conn_id"
    default_conn_name = "fauna_default"
    conn_type = "fauna"
    hook_name = "Fauna"

    def __init__(
        self,
        fauna_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.fauna_conn_id = fauna_conn_id
        self.timeout = timeout
        self.retry_policy = retry_policy

    # ------------------------------------------------------------------ connection form
    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hide the fields that mean nothing to the Account API and label the rest (Airflow 2.11 UI)."""
        return {
            "hidden_fields": ["schema", "login", "port"],
            "relabeling": {"host": "Account API URL", "password": "Account key secret"},
            "placeholders": {
                "host": DEFAULT_HOST,
                "password": "fnacapi...",
                "extra": '{"timeout": 30, "max_retries": 5}',
            },
        }

    # ------------------------------------------------------------------ settings
    def _settings_from(self, conn: Connection, extra: dict[str, Any]) -> _Settings:
        key = (conn.password or "").strip()
        if not key:
            raise FaunaValidationError(
                f"Connection {self.fauna_conn_id!r} has no account key: put the account key secret "
                "(it starts with 'fnacapi') in the connection's password field."
            )
        try:
            timeout = float(
                self.timeout if self.timeout is not None else extra.get("timeout", DEFAULT_TIMEOUT)
            )
            policy = self.retry_policy or RetryPolicy.from_extra(extra)
        except (TypeError, ValueError) as err:
            raise FaunaValidationError(
                f"Connection {self.fauna_conn_id!r} has an invalid extra: {str(err).rstrip('.')}. "
                'Extras take numbers, for example {"timeout": 30, "max_retries": 5}.'
            ) from None
        if not math.isfinite(timeout) or timeout <= 0:
            raise FaunaValidationError(
                f"timeout={timeout} must be a positive number of seconds (the connection's extra "
                '"timeout", or the hook\'s timeout argument).'
            )
        base_url = self._base_url(conn, extra)
        link = check_link_template(self.fauna_conn_id, extra.get(LINK_TEMPLATE_EXTRA))
        return _Settings(base_url, key, timeout, policy, _environment_proxy(base_url), link)

    def _base_url(self, conn: Connection, extra: dict[str, Any]) -> str:
        host = (conn.host or "").strip() or DEFAULT_HOST
        if "://" not in host:
            host = f"{extra.get('scheme') or 'https'}://{host}"
        parts = urlsplit(host)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise FaunaValidationError(
                f"Connection {self.fauna_conn_id!r} has host {host!r}, which is not an http(s) URL: "
                f"use {DEFAULT_HOST} (or the emulator's http://127.0.0.1:PORT)."
            )
        netloc = parts.netloc
        if conn.port and parts.port is None:
            netloc = f"{netloc}:{conn.port}"
        return f"{parts.scheme}://{netloc}{parts.path.rstrip('/')}"

    @cached_property
    def _settings(self) -> _Settings:
        conn = self.get_connection(self.fauna_conn_id)
        settings = self._settings_from(conn, conn.extra_dejson)
        mask_secret(settings.key)
        return settings

    async def _asettings(self) -> _Settings:
        cached = self.__dict__.get("_settings")
        if cached is not None:
            return cached
        conn = await get_async_connection(self.fauna_conn_id, self)
        settings = self._settings_from(conn, await get_async_extra_dejson(conn))
        await _amask_secret(settings.key)
        self.__dict__["_settings"] = settings
        return settings

    @property
    def base_url(self) -> str:
        """The Account API's root URL this hook sends to."""
        return self._settings.base_url

    @property
    def link_template(self) -> str:
        """The URL template of the "Fauna log request" extra link (the ``link_template`` extra)."""
        return self._settings.link_template

    def get_conn(self) -> requests.Session:
        """A ``requests`` session for the Account API (it carries no credentials itself)."""
        return self._session

    @cached_property
    def _session(self) -> requests.Session:
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        return session

    # ------------------------------------------------------------------ shaping
    @staticmethod
    def _headers(settings: _Settings, call: ApiCall) -> dict[str, str]:
        headers = {
            "Authorization": f"Bearer {settings.key}",
            "Accept": "application/json",
            "User-Agent": USER_AGENT,
        }
        if call.json is not None:
            headers["Content-Type"] = "application/json"
        return headers

    def _log_retry(self, call: ApiCall, what: str, delay: float, attempt: int, policy: RetryPolicy) -> None:
        self.log.warning(
            "Fauna Account API %s on %s %s; retrying in %.1f s (attempt %d of %d).",
            what,
            call.method,
            call.path,
            delay,
            attempt + 1,
            policy.max_attempts,
        )

    def _next_delay(self, call: ApiCall, policy: RetryPolicy, attempt: int, error: Exception) -> float | None:
        """The wait before another attempt after ``error``, or ``None`` to give up (shared logic)."""
        if isinstance(error, FaunaApiError):
            if not policy.should_retry_status(error.status, attempt):
                return None
            retry_after = error.retry_after if isinstance(error, FaunaRateLimitedError) else None
            delay = policy.delay(attempt, retry_after)
            self._log_retry(call, f"answered {error.status}", delay, attempt, policy)
            return delay
        if not policy.should_retry_error(attempt):
            return None
        delay = policy.delay(attempt)
        self._log_retry(call, f"could not be reached ({error})", delay, attempt, policy)
        return delay

    def _connection_error(self, call: ApiCall, settings: _Settings, err: Exception) -> FaunaConnectionError:
        kind = "timed out" if isinstance(err, requests.Timeout | asyncio.TimeoutError) else "failed"
        return FaunaConnectionError(
            f"{call.method} {call.path} to {settings.base_url} {kind} after "
            f"{settings.policy.max_attempts} attempt(s): {type(err).__name__}. "
            "Check the connection's host and the network."
        )

    # ------------------------------------------------------------------ sending
    def _send(self, call: ApiCall) -> Any:
        settings = self._settings
        url = settings.base_url + call.path
        attempt = 0
        given_up: FaunaConnectionError | None = None
        while True:
            attempt += 1
            try:
                response = self._session.request(
                    call.method,
                    url,
                    params=call.params,
                    json=call.json,
                    headers=self._headers(settings, call),
                    auth=_AuthorizationAsGiven(),
                    timeout=(min(10.0, settings.timeout), settings.timeout),
                    allow_redirects=False,
                )
                self.log.debug("%s %s -> %s", call.method, call.path, response.status_code)
                return _read_answer(call, response.status_code, response.headers, response.text)
            except FaunaApiError as err:
                if _done_before(call, err, attempt):
                    return None
                delay = self._next_delay(call, settings.policy, attempt, err)
                if delay is None:
                    raise
            except requests.RequestException as err:
                delay = self._next_delay(call, settings.policy, attempt, err)
                given_up = None if delay is not None else self._connection_error(call, settings, err)
            if delay is None:
                # Raised here, outside the except block: the library's exception holds the
                # prepared request, Authorization header and all, and must not ride along
                # as ``__context__`` into whatever reports the error.
                assert given_up is not None
                raise given_up
            time.sleep(delay)

    async def _asend(self, call: ApiCall) -> Any:
        settings = await self._asettings()
        url = settings.base_url + call.path
        timeout = aiohttp.ClientTimeout(total=settings.timeout)
        attempt = 0
        given_up: FaunaConnectionError | None = None
        while True:
            attempt += 1
            try:
                session = await _loop_session()
                async with session.request(
                    call.method,
                    url,
                    params=call.params,
                    json=call.json,
                    headers=self._headers(settings, call),
                    allow_redirects=False,
                    timeout=timeout,
                    proxy=settings.proxy,
                ) as response:
                    # errors="replace": a proxy's 502 page in Latin-1 is a server error to retry,
                    # as on the sync path, not a UnicodeDecodeError that escapes the trigger.
                    text = await response.text(errors="replace")
                    self.log.debug("%s %s -> %s", call.method, call.path, response.status)
                    return _read_answer(call, response.status, response.headers, text)
            except FaunaApiError as err:
                if _done_before(call, err, attempt):
                    return None
                delay = self._next_delay(call, settings.policy, attempt, err)
                if delay is None:
                    raise
            except (TimeoutError, aiohttp.ClientError) as err:
                delay = self._next_delay(call, settings.policy, attempt, err)
                given_up = None if delay is not None else self._connection_error(call, settings, err)
            if delay is None:
                assert given_up is not None  # raised outside the except block, as in _send
                raise given_up
            await asyncio.sleep(delay)

    # ------------------------------------------------------------------ calls
    @staticmethod
    def _submit_call(spec: LogRequestSpec) -> ApiCall:
        return _logs_call("POST", "/api/v1/logs", spec.to_body())

    @staticmethod
    def _status_call(request_id: str) -> ApiCall:
        return _logs_call("GET", f"/api/v1/logs/{quote(validate_request_id(request_id), safe='')}")

    @staticmethod
    def _new_url_call(request_id: str, version: int | None) -> ApiCall:
        path = f"/api/v1/logs/{quote(validate_request_id(request_id), safe='')}/url"
        return _logs_call("POST", path, {"version": version} if version is not None else {})

    @staticmethod
    def _list_logs_call(states: tuple[str, ...], next_token: str | None, page_size: int) -> ApiCall:
        body: dict[str, Any] = {"states": list(states), "max_results": page_size}
        if next_token:
            body["next_token"] = next_token
        return _logs_call("GET", "/api/v1/logs", body)

    @staticmethod
    def _list_apps_call(next_token: str | None, page_size: int) -> ApiCall:
        params = {"max_results": str(page_size)}
        if next_token:
            params["next_token"] = next_token
        return ApiCall("GET", "/api/v1/oauth/apps", params)

    @staticmethod
    def _check_page_size(page_size: int) -> int:
        if not isinstance(page_size, int) or not 1 <= page_size <= MAX_PAGE_SIZE:
            raise FaunaValidationError(
                f"page_size={page_size!r} must be an integer from 1 to {MAX_PAGE_SIZE}."
            )
        return page_size

    @staticmethod
    def _check_states(states: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
        chosen = tuple(str(s) for s in (states if states is not None else ALL_STATES))
        unknown = [s for s in chosen if s not in ALL_STATES]
        if not chosen or unknown:
            raise FaunaValidationError(
                f"states={list(chosen)!r} must be a non-empty list of log request states "
                f"({', '.join(ALL_STATES)})."
            )
        return chosen

    # ------------------------------------------------------------------ log requests
    def request_logs(
        self,
        *,
        time_start: datetime | str,
        time_end: datetime | str,
        database: str | None = None,
        region_group: str | None = None,
        idempotency_token: str | None = None,
    ) -> LogRequest:
        """Submit a query-log export for ``[time_start, time_end)`` of a database or a region group.

        Everything is validated before the call (see :class:`LogRequestSpec`). The same
        ``idempotency_token`` within 24 hours resolves to the same request, so a retried
        task that derives its token deterministically never exports twice. Without a token,
        a random one is made for this call, so that the hook's own retries of a submission
        whose answer was lost (a dropped connection) cannot start a second export.
        """
        return self.submit(
            _spec(time_start, time_end, database, region_group, idempotency_token or str(uuid.uuid4()))
        )

    def submit(self, spec: LogRequestSpec) -> LogRequest:
        """Submit an already validated :class:`LogRequestSpec`."""
        request = LogRequest.from_api(self._send(self._submit_call(spec)))
        self.log.info("Fauna log request %s for %s is %s.", request.request_id, spec.scope, request.state)
        return request

    async def arequest_logs(
        self,
        *,
        time_start: datetime | str,
        time_end: datetime | str,
        database: str | None = None,
        region_group: str | None = None,
        idempotency_token: str | None = None,
    ) -> LogRequest:
        """Async twin of :meth:`request_logs`."""
        return await self.asubmit(
            _spec(time_start, time_end, database, region_group, idempotency_token or str(uuid.uuid4()))
        )

    async def asubmit(self, spec: LogRequestSpec) -> LogRequest:
        """Async twin of :meth:`submit`."""
        return LogRequest.from_api(await self._asend(self._submit_call(spec)))

    def get_log_request(self, request_id: str) -> LogRequest:
        """The current state of a log request (with the presigned URL once ``Complete``)."""
        return LogRequest.from_api(self._send(self._status_call(request_id)))

    async def aget_log_request(self, request_id: str) -> LogRequest:
        """Async twin of :meth:`get_log_request`, for triggers."""
        return LogRequest.from_api(await self._asend(self._status_call(request_id)))

    def create_log_file_url(self, request_id: str, version: int | None = None) -> LogRequest:
        """Ask for a fresh presigned URL of a completed request's log file (after the old one expired).

        :param version: the optimistic-lock version the caller last saw, if any.
        """
        return LogRequest.from_api(self._send(self._new_url_call(request_id, version)))

    async def acreate_log_file_url(self, request_id: str, version: int | None = None) -> LogRequest:
        """Async twin of :meth:`create_log_file_url`."""
        return LogRequest.from_api(await self._asend(self._new_url_call(request_id, version)))

    def list_log_requests(
        self, states: tuple[str, ...] | list[str] | None = None, *, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[LogRequest]:
        """Every log request of the account in ``states`` (all states by default), page after page."""
        chosen, size = self._check_states(states), self._check_page_size(page_size)
        token: str | None = None
        while True:
            page = self._send(self._list_logs_call(chosen, token, size)) or {}
            for item in page.get("results") or []:
                yield LogRequest.from_api(item)
            token = page.get("next_token")
            if not token:
                return

    async def alist_log_requests(
        self, states: tuple[str, ...] | list[str] | None = None, *, page_size: int = MAX_PAGE_SIZE
    ) -> AsyncIterator[LogRequest]:
        """Async twin of :meth:`list_log_requests`."""
        chosen, size = self._check_states(states), self._check_page_size(page_size)
        token: str | None = None
        while True:
            page = await self._asend(self._list_logs_call(chosen, token, size)) or {}
            for item in page.get("results") or []:
                yield LogRequest.from_api(item)
            token = page.get("next_token")
            if not token:
                return

    # ------------------------------------------------------------------ OAuth apps
    def list_oauth_apps(self, *, page_size: int = MAX_PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """Every OAuth app authorized for the account, page after page."""
        size = self._check_page_size(page_size)
        token: str | None = None
        while True:
            page = self._send(self._list_apps_call(token, size)) or {}
            yield from page.get("results") or []
            token = page.get("next_token")
            if not token:
                return

    def delete_oauth_app(self, app_id: str) -> None:
        """Delete an OAuth app, which disables the integration that created it."""
        if not isinstance(app_id, str) or not _APP_ID.match(app_id):
            raise FaunaValidationError(
                f"app_id={app_id!r} is not an OAuth app id: take it from list_oauth_apps()."
            )
        path = f"/api/v1/oauth/apps/{quote(app_id, safe='')}"
        self._send(ApiCall("DELETE", path, empty_ok=True, gone_ok_on_retry=True))
        self.log.info("Deleted Fauna OAuth app %s.", app_id)

    # ------------------------------------------------------------------ connection test
    def test_connection(self) -> tuple[bool, str]:
        """Make one cheap authenticated call (the first OAuth app) and say what happened."""
        try:
            settings = self._settings
            self.__dict__["_settings"] = dataclasses.replace(
                settings, timeout=min(settings.timeout, 10.0), policy=RetryPolicy(max_attempts=1)
            )
            self._send(self._list_apps_call(None, 1))
        except FaunaAuthError as err:
            return False, f"The account key was rejected ({err.status}): {err.reason}"
        except FaunaConnectionError as err:
            return False, f"The Account API could not be reached: {err}"
        except (FaunaApiError, FaunaValidationError) as err:
            return False, str(err)
        finally:
            self.__dict__.pop("_settings", None)
        return (
            True,
            f"Connected to the Fauna Account API at {settings.base_url}: the account key was accepted.",
        )
