"""How the hook's calls travel: the two HTTP clients, their retries, and reading the answers.

The key goes only in the ``Authorization`` header to the configured host: no redirect is followed,
no ``.netrc`` read, and no library exception (which holds the request, key and all) is chained.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import platform
import time
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import requests
import requests.utils
import urllib3.exceptions
from tenacity import AsyncRetrying, Retrying

from airflow_provider_fauna import __version__
from airflow_provider_fauna.exceptions import (
    FaunaApiError,
    FaunaAuthError,
    FaunaConnectionError,
    FaunaError,
    FaunaNotFoundError,
    FaunaRateLimitedError,
    FaunaServerError,
)
from airflow_provider_fauna.hooks.retry import RetryLogger, RetryPolicy, parse_retry_after

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Mapping
    from types import TracebackType

#: The most of an answer's body (decoded) the hook reads: a log request or a page is a few KiB.
MAX_ANSWER_BYTES = 1 << 20
#: What one read of a body asks for, so that the total time is checked between reads.
_CHUNK = 64 * 1024

USER_AGENT = (
    f"airflow-provider-fauna/{__version__} (python/{platform.python_version()}; +https://airflow.apache.org)"
)


@dataclass(frozen=True)
class ApiCall:
    """One Account API call, independent of the client that sends it."""

    method: str
    path: str
    params: dict[str, str] = field(default_factory=dict)
    json: Any | None = None
    empty_ok: bool = False
    #: A 404 on a retry means that an earlier attempt did the work.
    gone_ok_on_retry: bool = False


@dataclass(frozen=True)
class Settings:
    """What a connection resolves to: where to send, with which key, how patiently."""

    base_url: str
    key: str = field(repr=False)
    timeout: float
    policy: RetryPolicy
    #: The environment's proxy for ``base_url``, for aiohttp (``requests`` finds it by itself).
    proxy: str | None = field(repr=False)
    link_template: str
    #: The Airflow connection the settings come from, named in errors.
    conn_id: str = ""

    @property
    def headers(self) -> dict[str, str]:
        """Return the headers of every call (both clients set ``Content-Type`` for a JSON body)."""
        return {"Authorization": f"Bearer {self.key}", "Accept": "application/json", "User-Agent": USER_AGENT}


def _error_reason(text: str, status: int) -> str:
    """Return the API's own explanation: ``reason``, ``message`` or ``error`` of the body, or its start."""
    try:
        body = json.loads(text)
    except ValueError:
        body = None
    if isinstance(body, dict):
        for key in ("reason", "message", "error"):
            if isinstance(body.get(key), str) and body[key]:
                return body[key]
    return " ".join(text.split())[:200] or f"HTTP {status}"


def read_answer(
    call: ApiCall,
    status: int,
    headers: Mapping[str, str],
    text: str,
    *,
    retried: bool = False,
    conn_id: str = "",
) -> Any:
    """Turn an HTTP answer into JSON, or raise the typed error its status means.

    :param headers: the client's own, case-insensitive, mapping.
    :param retried: whether the answer is to a retry.
    :param conn_id: the Airflow connection the key came from, named in a 401/403.
    """
    where: dict[str, Any] = {"method": call.method, "path": call.path}
    if 200 <= status < 300:
        if call.empty_ok and not text.strip():
            return None
        try:
            return json.loads(text)
        except ValueError:
            what = "is not JSON" if text.strip() else "had no body"
            raise FaunaApiError(status, f"the answer {what}", **where) from None
    if status == 404 and call.gone_ok_on_retry and retried:
        return None
    reason = _error_reason(text, status)
    if 300 <= status < 400:
        reason = (
            "the API redirected the call; redirects are not followed, so that the account key "
            "never leaves the configured host. Check the connection's host."
        )
    elif status in (401, 403):
        where_key = f"connection {conn_id!r}'s" if conn_id else "the connection's"
        reason += f" (check the account key in {where_key} password field)"
    elif status == 429:
        retry_after = parse_retry_after(headers.get("Retry-After"))
        raise FaunaRateLimitedError(status, reason, retry_after=retry_after, **where)
    errors = {401: FaunaAuthError, 403: FaunaAuthError, 404: FaunaNotFoundError}
    raise errors.get(status, FaunaServerError if status >= 500 else FaunaApiError)(status, reason, **where)


def _too_large(call: ApiCall, status: int) -> FaunaApiError:
    return FaunaApiError(
        status,
        f"answer too large: more than {MAX_ANSWER_BYTES} bytes (a log request or a page is a few KiB); "
        "a proxy in the way, or a change of the API?",
        method=call.method,
        path=call.path,
    )


def _decoded(call: ApiCall, status: int, body: bytes) -> str:
    """Return the body as text, or raise when it is over :data:`MAX_ANSWER_BYTES`.

    An error page over the limit is cut to it instead: only its start makes the reason.
    """
    if len(body) > MAX_ANSWER_BYTES:
        if 200 <= status < 300:
            raise _too_large(call, status)
        body = body[:MAX_ANSWER_BYTES]
    # errors="replace": a gateway's page in Latin-1 is a server error all the same.
    return body.decode("utf-8", errors="replace")


def attempt_timeout(settings: Settings, deadline: float | None) -> float:
    """Return the seconds the next attempt may take: the timeout, cut to the time left before ``deadline``."""
    return settings.timeout if deadline is None else min(settings.timeout, deadline - time.time())


def _unreachable(call: ApiCall, settings: Settings, error: Exception, attempt: int) -> FaunaConnectionError:
    timeouts = (requests.Timeout, asyncio.TimeoutError, urllib3.exceptions.TimeoutError)
    kind = "timed out" if isinstance(error, timeouts) else "failed"
    return FaunaConnectionError(
        f"{call.method} {call.path} to {settings.base_url} {kind} after {attempt} attempt(s): "
        f"{type(error).__name__}. Check the connection's host and the network."
    )


class _Origin:
    """Where the last attempt's error was raised, so that it is raised from there and not from tenacity.

    With ``reraise=True`` tenacity raises the final error out of its own frames, which bury the
    provider's lines under a dozen of its own; the retry policy itself stays tenacity's.
    """

    def __init__(self) -> None:
        self.traceback: TracebackType | None = None

    def keep(self, error: BaseException) -> None:
        """Note ``error``'s traceback so far: the attempt's frame down to where it was raised."""
        self.traceback = error.__traceback__

    def restore(self, error: FaunaError) -> FaunaError:
        """Return ``error`` with the traceback its attempt gave it."""
        return error.with_traceback(self.traceback)


def send(
    session: requests.Session,
    settings: Settings,
    call: ApiCall,
    log: RetryLogger,
    *,
    deadline: float | None = None,
) -> Any:
    """Send ``call`` with ``requests`` under the settings' retry policy; return the answer's JSON.

    :param deadline: epoch seconds by which the call must be over, retries included.
    """
    origin = _Origin()
    try:
        for attempt in Retrying(**settings.policy.retry_args(log, deadline=deadline)):
            with attempt:
                try:
                    number = attempt.retry_state.attempt_number
                    return _send_once(session, settings, call, number, attempt_timeout(settings, deadline))
                except FaunaError as err:
                    origin.keep(err)
                    raise
    except FaunaError as err:
        raise origin.restore(err) from None
    raise AssertionError("unreachable: tenacity raises the last error")  # pragma: no cover


def _read_body(response: requests.Response, ends: float) -> bytes | None:
    """Read the decoded body up to one byte over the limit; ``None`` if ``ends`` (monotonic) came first.

    ``requests`` limits each socket read only: the socket's timeout is cut to the time left
    before every read, which makes ``ends`` the bound of the whole body.
    """
    body = bytearray()
    sock = getattr(getattr(response.raw, "connection", None), "sock", None)
    while len(body) <= MAX_ANSWER_BYTES:
        if (left := ends - time.monotonic()) <= 0:
            return None
        if sock is not None:
            sock.settimeout(left)
        # read1: one network read at most, decoded (gzip too) to at most the size asked for.
        if not (chunk := response.raw.read1(_CHUNK, decode_content=True)):
            break
        body += chunk
    return bytes(body)


def _send_once(
    session: requests.Session, settings: Settings, call: ApiCall, number: int, timeout: float
) -> Any:
    ends = time.monotonic() + timeout
    failure: Exception = requests.Timeout()
    if timeout > 0:
        try:
            response = session.request(
                call.method,
                settings.base_url + call.path,
                params=call.params,
                json=call.json,
                headers=settings.headers,
                # An auth that adds nothing: given none, requests would apply a .netrc login.
                auth=lambda request: request,
                timeout=(min(10.0, timeout), timeout),
                allow_redirects=False,
                stream=True,
            )
            try:
                body = _read_body(response, ends)
            finally:
                response.close()
        except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as err:
            failure = err
        else:
            if body is not None:
                return read_answer(
                    call,
                    response.status_code,
                    response.headers,
                    _decoded(call, response.status_code, body),
                    retried=number > 1,
                    conn_id=settings.conn_id,
                )
    # Raised outside the except block, so the library's exception is not its __context__.
    raise _unreachable(call, settings, failure, number)


#: Each loop's session, and the suspended generator that closes it with the loop.
_LOOP_SESSIONS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, tuple[aiohttp.ClientSession, AsyncGenerator[None, None]]
] = weakref.WeakKeyDictionary()


async def _close_with_the_loop(
    loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession
) -> AsyncGenerator[None, None]:
    # Suspended until the loop shuts down its async generators. The entry goes too: the session
    # refers to its loop, so the weak mapping alone would never let the loop go.
    try:
        yield
    finally:
        _LOOP_SESSIONS.pop(loop, None)
        await session.close()


async def _loop_session() -> aiohttp.ClientSession:
    """Return the running loop's session, so a triggerer's many waits reuse its connections.

    Sharing is safe: the key, timeout and redirect rule travel with each request, and no cookies
    are kept. Each entry is only ever touched from its loop's thread.
    """
    loop = asyncio.get_running_loop()
    if loop not in _LOOP_SESSIONS:
        # No trust_env: aiohttp would read ~/.netrc, whose login would clash with the key.
        session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
        closer = _close_with_the_loop(loop, session)
        _LOOP_SESSIONS[loop] = (session, closer)
        # The loop now tracks the generator, which runs to its yield without suspending.
        await closer.asend(None)
    return _LOOP_SESSIONS[loop][0]


#: The variables that decide a proxy (either case), the key of :func:`_proxy_for`'s cache.
_PROXY_VARIABLES = ("http_proxy", "https_proxy", "all_proxy", "no_proxy")


def environment_proxy(url: str) -> str | None:
    """Return the proxy ``requests`` would use for ``url``, so that aiohttp goes through it too."""
    variables = tuple(os.environ.get(name) or os.environ.get(name.upper()) for name in _PROXY_VARIABLES)
    return _proxy_for(url, variables)


@functools.lru_cache(maxsize=64)
def _proxy_for(url: str, variables: tuple[str | None, ...]) -> str | None:
    # Cached while the variables stay the same: working it out walks the whole environment.
    return requests.utils.select_proxy(url, requests.utils.get_environ_proxies(url))


async def asend(settings: Settings, call: ApiCall, log: RetryLogger, *, deadline: float | None = None) -> Any:
    """Send ``call`` with aiohttp under the settings' retry policy; return the answer's JSON.

    :param deadline: epoch seconds by which the call must be over, retries included.
    """
    origin = _Origin()
    try:
        async for attempt in AsyncRetrying(**settings.policy.retry_args(log, deadline=deadline)):
            with attempt:
                try:
                    number = attempt.retry_state.attempt_number
                    return await _asend_once(settings, call, number, attempt_timeout(settings, deadline))
                except FaunaError as err:
                    origin.keep(err)
                    raise
    except FaunaError as err:
        raise origin.restore(err) from None
    raise AssertionError("unreachable: tenacity raises the last error")  # pragma: no cover


async def _asend_once(settings: Settings, call: ApiCall, number: int, timeout: float) -> Any:
    failure: Exception = TimeoutError()
    if timeout <= 0:
        raise _unreachable(call, settings, failure, number)
    try:
        session = await _loop_session()
        async with session.request(
            call.method,
            settings.base_url + call.path,
            params=call.params,
            json=call.json,
            headers=settings.headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=timeout),
            proxy=settings.proxy,
        ) as response:
            body = bytearray()
            # aiohttp decodes gzip in bounded steps; reading stops one chunk over the limit.
            while len(body) <= MAX_ANSWER_BYTES and (chunk := await response.content.read(_CHUNK)):
                body += chunk
            text = _decoded(call, response.status, bytes(body))
            return read_answer(
                call, response.status, response.headers, text, retried=number > 1, conn_id=settings.conn_id
            )
    except (TimeoutError, aiohttp.ClientError) as err:
        failure = err
    raise _unreachable(call, settings, failure, number)
