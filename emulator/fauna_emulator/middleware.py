"""The API's own middlewares: fault injection, then auth and error formatting.

Order, outermost first (after :func:`.recording.record`): :func:`inject_faults` (``/api``
only; infrastructure faults happen before the API sees the call), :func:`guard` (``/api``
only: bearer key, ``type=query``, and every error as ``{"reason": ...}``).
"""

from __future__ import annotations

import asyncio
import email.utils
import time
from typing import TYPE_CHECKING

from aiohttp import web

from fauna_emulator.context import CONTEXT
from fauna_emulator.recording import Dropped, finish_call, note_fault
from fauna_emulator.validation import ApiError

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

    from fauna_emulator.faults import ApiFault

API_PREFIX = "/api/"
# The oauth pages never mention ``type``; only the log endpoints require it.
TYPE_REQUIRED_PREFIX = "/api/v1/logs"

_GATEWAY_PAGE = "<html><head><title>{code} {text}</title></head><body><center><h1>{code} {text}</h1></center></body></html>"


def json_error(status: int, reason: str, headers: dict[str, str] | None = None) -> web.Response:
    """An API error answer."""
    return web.json_response({"reason": reason}, status=status, headers=headers)


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
