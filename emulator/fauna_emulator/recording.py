"""Recording every request (but ``/_emulator``) as a :class:`RecordedCall`, as answered.

Why a middleware, outermost: every way a request can end (an answer, an HTTP error, an
injected drop, a cut download) must leave exactly one record, listed in arrival order the
moment the request arrives and completed when it is answered.
"""

from __future__ import annotations

import dataclasses
import json
import logging
import time
from typing import TYPE_CHECKING, Any

from aiohttp import web

from fauna_emulator.calls import RecordedCall, fingerprint, redact_query
from fauna_emulator.context import CONTEXT

if TYPE_CHECKING:
    from aiohttp.typedefs import Handler

log = logging.getLogger("fauna_emulator.calls")

# Typed request keys arrived in aiohttp 3.12; the provider supports older aiohttp too.
_REQUEST_KEY: Any = getattr(web, "RequestKey", None)
FAULTS_KEY: Any = _REQUEST_KEY("fauna_emulator_faults", list) if _REQUEST_KEY else "fauna_emulator_faults"
FINISH_KEY: Any = _REQUEST_KEY("fauna_emulator_finish", object) if _REQUEST_KEY else "fauna_emulator_finish"
CONTROL_PREFIX = "/_emulator/"


class Dropped(Exception):
    """The connection was closed on purpose without an answer."""


def note_fault(request: web.Request, label: str) -> None:
    """Name an injected fault on the call being recorded."""
    request.setdefault(FAULTS_KEY, []).append(label)


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
