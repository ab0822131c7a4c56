"""How the hook's calls travel: request shaping, the two HTTP clients, retries, answer reading.

The account key only ever travels in the ``Authorization`` header to the configured host:
redirects are never followed, ``.netrc`` is never consulted, and no exception raised here
carries a library exception (which holds the prepared request, key and all) along with it.
"""

from __future__ import annotations

import asyncio
import functools
import json
import os
import platform
import threading
import weakref
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import aiohttp
import requests
import requests.auth
import requests.utils
from tenacity import AsyncRetrying, Retrying

from airflow_provider_fauna import __version__
from airflow_provider_fauna.exceptions import (
    FaunaApiError,
    FaunaAuthError,
    FaunaConnectionError,
    FaunaNotFoundError,
    FaunaRateLimitedError,
    FaunaServerError,
)
from airflow_provider_fauna.hooks.link_template import DEFAULT_LINK_TEMPLATE
from airflow_provider_fauna.hooks.retry import RetryPolicy, parse_retry_after

if TYPE_CHECKING:
    from collections.abc import AsyncGenerator, Mapping

    from airflow_provider_fauna.hooks.retry import RetryLogger

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
    #: A success without a body is fine (``DELETE`` answers 204).
    empty_ok: bool = False
    #: A 404 on a retry means that the first attempt did the work.
    gone_ok_on_retry: bool = False


@dataclass(frozen=True)
class Settings:
    """What a connection resolves to: where to send, with which key, how patiently."""

    base_url: str
    key: str = field(repr=False)
    timeout: float
    policy: RetryPolicy
    #: The environment's proxy for ``base_url``, for aiohttp (``requests`` finds it by itself).
    proxy: str | None = field(default=None, repr=False)
    #: The URL template of the "Fauna log request" extra link.
    link_template: str = DEFAULT_LINK_TEMPLATE

    @property
    def headers(self) -> dict[str, str]:
        """Return the headers of every call (both clients set ``Content-Type`` for a JSON body)."""
        return {"Authorization": f"Bearer {self.key}", "Accept": "application/json", "User-Agent": USER_AGENT}


# ---------------------------------------------------------------------------- answers


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
    call: ApiCall, status: int, headers: Mapping[str, str], text: str, *, retried: bool = False
) -> Any:
    """Turn an HTTP answer into JSON, or raise the typed error its status means.

    ``headers`` is the client's own, case-insensitive mapping; ``retried`` says whether the
    answer is to a retry (a 404 may then mean that an earlier attempt did the work).
    """
    where: dict[str, Any] = {"method": call.method, "path": call.path}
    if 200 <= status < 300:
        if not text.strip():
            if call.empty_ok:
                return None
            raise FaunaApiError(status, "the answer had no body", **where)
        try:
            return json.loads(text)
        except ValueError:
            raise FaunaApiError(status, "the answer is not JSON", **where) from None
    reason = _error_reason(text, status)
    if 300 <= status < 400:
        reason = (
            "the API redirected the call; redirects are not followed, so that the account key "
            "never leaves the configured host. Check the connection's host."
        )
    elif status in (401, 403):
        raise FaunaAuthError(
            status, f"{reason} (check the account key in the connection's password field)", **where
        )
    elif status == 404:
        if call.gone_ok_on_retry and retried:
            return None
        raise FaunaNotFoundError(status, reason, **where)
    elif status == 429:
        retry_after = parse_retry_after(headers.get("Retry-After"))
        raise FaunaRateLimitedError(status, reason, retry_after=retry_after, **where)
    elif status >= 500:
        raise FaunaServerError(status, reason, **where)
    raise FaunaApiError(status, reason, **where)


def _unreachable(call: ApiCall, settings: Settings, error: Exception, attempt: int) -> FaunaConnectionError:
    kind = "timed out" if isinstance(error, requests.Timeout | asyncio.TimeoutError) else "failed"
    return FaunaConnectionError(
        f"{call.method} {call.path} to {settings.base_url} {kind} after {attempt} attempt(s): "
        f"{type(error).__name__}. Check the connection's host and the network."
    )


# ---------------------------------------------------------------------------- sync client
class _AuthorizationAsGiven(requests.auth.AuthBase):
    """Keep the request's own ``Authorization`` header: given no ``auth``, requests applies ``.netrc``."""

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        return request


def _send_once(session: requests.Session, settings: Settings, call: ApiCall, attempt: int) -> Any:
    try:
        response = session.request(
            call.method,
            settings.base_url + call.path,
            params=call.params,
            json=call.json,
            headers=settings.headers,
            auth=_AuthorizationAsGiven(),
            timeout=(min(10.0, settings.timeout), settings.timeout),
            allow_redirects=False,
        )
    except requests.RequestException as err:
        failure: Exception = err
    else:
        return read_answer(call, response.status_code, response.headers, response.text, retried=attempt > 1)
    # Raised outside the except block, so the library's exception is not its __context__.
    raise _unreachable(call, settings, failure, attempt)


def send(session: requests.Session, settings: Settings, call: ApiCall, log: RetryLogger) -> Any:
    """Send ``call`` with ``requests`` under the settings' retry policy; return the answer's JSON."""
    for attempt in Retrying(**settings.policy.retry_args(log)):
        with attempt:
            return _send_once(session, settings, call, attempt.retry_state.attempt_number)
    raise AssertionError("unreachable: tenacity raises the last error")  # pragma: no cover


# ---------------------------------------------------------------------------- async client
#: Each loop's session, and the suspended generator that closes it with the loop.
_LOOP_SESSIONS: weakref.WeakKeyDictionary[
    asyncio.AbstractEventLoop, tuple[aiohttp.ClientSession, AsyncGenerator[None, None]]
] = weakref.WeakKeyDictionary()
_LOOP_SESSIONS_LOCK = threading.Lock()


async def _close_with_the_loop(
    loop: asyncio.AbstractEventLoop, session: aiohttp.ClientSession
) -> AsyncGenerator[None, None]:
    """Stay suspended until the loop shuts down its async generators; then close ``session``.

    The entry is dropped too: the session refers to its loop, so the weak mapping alone would
    never let the loop go.
    """
    try:
        yield
    finally:
        with _LOOP_SESSIONS_LOCK:
            if _LOOP_SESSIONS.get(loop, (None,))[0] is session:
                del _LOOP_SESSIONS[loop]
        await session.close()


async def _loop_session() -> aiohttp.ClientSession:
    """Return the running loop's shared ``aiohttp`` session, made on first use.

    A triggerer runs many waits on one loop; one session keeps a few connections warm instead of
    opening one per poll (see docs/performance.rst). Sharing is safe: the key, timeout and
    redirect rule travel with each request, and no cookies are kept.
    """
    loop = asyncio.get_running_loop()
    with _LOOP_SESSIONS_LOCK:
        session = _LOOP_SESSIONS.get(loop, (None,))[0]
    if session is not None and not session.closed:
        return session
    # No trust_env: aiohttp would read ~/.netrc, whose login would clash with the key.
    session = aiohttp.ClientSession(cookie_jar=aiohttp.DummyCookieJar())
    closer = _close_with_the_loop(loop, session)
    with _LOOP_SESSIONS_LOCK:
        _LOOP_SESSIONS[loop] = (session, closer)
    # The loop now tracks the generator; it runs to its yield without suspending.
    await closer.asend(None)
    return session


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


async def _asend_once(settings: Settings, call: ApiCall, attempt: int) -> Any:
    try:
        session = await _loop_session()
        async with session.request(
            call.method,
            settings.base_url + call.path,
            params=call.params,
            json=call.json,
            headers=settings.headers,
            allow_redirects=False,
            timeout=aiohttp.ClientTimeout(total=settings.timeout),
            proxy=settings.proxy,
        ) as response:
            # errors="replace": a gateway's page in Latin-1 is a server error, as on the sync path.
            status, headers, text = response.status, response.headers, await response.text(errors="replace")
    except (TimeoutError, aiohttp.ClientError) as err:
        failure: Exception = err
    else:
        return read_answer(call, status, headers, text, retried=attempt > 1)
    raise _unreachable(call, settings, failure, attempt)


async def asend(settings: Settings, call: ApiCall, log: RetryLogger) -> Any:
    """Send ``call`` with aiohttp under the settings' retry policy; return the answer's JSON."""
    async for attempt in AsyncRetrying(**settings.policy.retry_args(log)):
        with attempt:
            return await _asend_once(settings, call, attempt.retry_state.attempt_number)
    raise AssertionError("unreachable: tenacity raises the last error")  # pragma: no cover
