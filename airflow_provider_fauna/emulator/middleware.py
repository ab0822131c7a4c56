"""What wraps every request: recording, API fault injection, and the API's auth and errors.

Order, outermost first: :func:`record` (every request but ``/_emulator``), :func:`inject_faults`
(``/api`` only; infrastructure faults happen before the API sees the call), :func:`guard`
(``/api`` only: bearer key, ``type=query``, and errors as ``{"reason": ...}``).
"""

from __future__ import annotations

import asyncio
import dataclasses
import email.utils
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from airflow_provider_fauna.emulator.calls import RecordedCall, fingerprint, redact_query
from airflow_provider_fauna.emulator.context import CONTEXT
from airflow_provider_fauna.emulator.validation import ApiError

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

    from airflow_provider_fauna.emulator.faults import ApiFault

log = logging.getLogger("airflow_provider_fauna.emulator.calls")

# Typed request keys arrived in aiohttp 3.12; the provider supports older aiohttp too.
_REQUEST_KEY: Any = getattr(web, "RequestKey", None)
FAULTS_KEY: Any = _REQUEST_KEY("fauna_emulator_faults", list) if _REQUEST_KEY else "fauna_emulator_faults"
FINISH_KEY: Any = _REQUEST_KEY("fauna_emulator_finish", object) if _REQUEST_KEY else "fauna_emulator_finish"
CONTROL_PREFIX = "/_emulator/"
API_PREFIX = "/api/"
# The oauth pages never mention ``type``; only the log endpoints require it.
TYPE_REQUIRED_PREFIX = "/api/v1/logs"

_GATEWAY_PAGE = "<html><head><title>{code} {text}</title></head><body><center><h1>{code} {text}</h1></center></body></html>"


class Dropped(Exception):
    """The connection was closed on purpose without an answer."""


def note_fault(request: web.Request, label: str) -> None:
    """Name an injected fault on the call being recorded."""
    request.setdefault(FAULTS_KEY, []).append(label)


def json_error(status: int, reason: str, headers: dict[str, str] | None = None) -> web.Response:
    """An API error answer."""
    return web.json_response({"reason": reason}, status=status, headers=headers)


def _body_json(raw: bytes) -> Any:
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        return None


def finish_call(request: web.Request, status: int) -> None:
    """Record the call now, before the client can see the end of the answer.

    Why: a test reads ``emu.calls`` as soon as its request returns. A streamed body or a cut
    connection ends the client's request before the handler returns, so those handlers record
    first. Later calls for the same request do nothing.
    """
    finisher = request.get(FINISH_KEY)
    if finisher is not None:
        finisher(status)


@web.middleware
async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Append every non-control request, as answered, to the call log."""
    if request.path.startswith(CONTROL_PREFIX):
        return await handler(request)
    calls = request.app[CONTEXT].calls
    started = time.perf_counter()
    raw = await request.read()
    auth = request.headers.get("Authorization")
    bearer = auth[7:].strip() if auth and auth[:7].lower() == "bearer " else None
    arrived = RecordedCall(
        method=request.method,
        path=request.path,
        query=redact_query(dict(request.query)),
        json=_body_json(raw),
        status=0,
        fault=None,
        time=time.time(),
        key_fingerprint=fingerprint(bearer) if bearer else None,
        had_authorization=auth is not None,
    )
    seq = calls.arrive(arrived)
    done = False

    def finish(status: int) -> None:
        nonlocal done
        if done:
            return
        done = True
        labels = request.get(FAULTS_KEY)
        fault = "+".join(labels) if labels else None
        duration = time.perf_counter() - started
        calls.finish(seq, dataclasses.replace(arrived, status=status, fault=fault, duration=duration))
        log.info("%s %s -> %s%s", request.method, request.path, status, f" [{fault}]" if fault else "")

    request[FINISH_KEY] = finish
    try:
        response = await handler(request)
    except Dropped:
        finish(0)
        return web.Response(status=204)  # never reaches the client: the transport is gone
    except web.HTTPException as exc:
        finish(exc.status)
        raise
    except BaseException:
        finish(500)
        raise
    finish(response.status)
    return response


def _fault_response(fault: ApiFault) -> web.Response:
    if fault.kind == "rate_limit":
        retry_after = (
            email.utils.formatdate(time.time() + fault.retry_after, usegmt=True)
            if fault.retry_after_http_date
            else str(fault.retry_after)
        )
        return json_error(429, "Too many requests: rate limit exceeded", {"Retry-After": retry_after})
    if fault.status in (502, 504):
        text = "Bad Gateway" if fault.status == 502 else "Gateway Time-out"
        page = _GATEWAY_PAGE.format(code=fault.status, text=text)
        return web.Response(status=fault.status, text=page, content_type="text/html")
    reason = "Service unavailable" if fault.status == 503 else "Internal server error"
    return json_error(fault.status, reason)


@web.middleware
async def inject_faults(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Delay, refuse or drop API calls as the fault configuration draws."""
    if not request.path.startswith(API_PREFIX):
        return await handler(request)
    fault = request.app[CONTEXT].faults.draw_api(request.path)
    for label in fault.labels:
        note_fault(request, label)
    if fault.delay:
        await asyncio.sleep(fault.delay)
    if fault.kind in ("rate_limit", "server_error"):
        return _fault_response(fault)
    response = await handler(request)
    if fault.kind == "drop":
        finish_call(request, 0)
        if request.transport is not None:
            request.transport.abort()
        raise Dropped
    return response


def _check_access(request: web.Request) -> None:
    auth = request.headers.get("Authorization", "")
    scheme, _, key = auth.partition(" ")
    if scheme.lower() != "bearer" or not key.strip():
        raise ApiError(401, "missing account key: send 'Authorization: Bearer <account key secret>'")
    if not request.app[CONTEXT].keys.accepts(key.strip()):
        raise ApiError(401, "invalid, expired or revoked account key")
    kind = request.query.get("type")
    if kind is None and request.path.startswith(TYPE_REQUIRED_PREFIX):
        raise ApiError(400, "missing required query parameter 'type' (valid value: query)")
    if kind is not None and kind != "query":
        raise ApiError(400, f"invalid type {kind!r}: the valid value is 'query'")


@web.middleware
async def guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    """Authenticate API calls and turn every API error into ``{"reason": ...}``."""
    if not request.path.startswith(API_PREFIX):
        return await handler(request)
    try:
        _check_access(request)
        return await handler(request)
    except ApiError as exc:
        headers = {"WWW-Authenticate": "Bearer"} if exc.status == 401 else None
        return json_error(exc.status, exc.reason, headers)
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        allow = exc.headers.get("Allow")
        return json_error(exc.status, exc.reason, {"Allow": allow} if allow else None)
