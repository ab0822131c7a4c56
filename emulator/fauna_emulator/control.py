"""HTTP control endpoints, for driving an emulator that runs in another process.

The demo and the benchmarks start the emulator with the command line; these endpoints give
them what the Python API gives tests. They need no auth and are not recorded as calls:

* ``GET /_emulator/health``: ``{"status": "ok", ...}`` once the server answers.
* ``GET /_emulator/calls``: a JSON list of recorded calls (``method=`` and ``path_prefix=``
  filter them like ``api_calls``).
* ``POST /_emulator/reset``: forget recorded calls; with body ``{"state": true}`` also forget
  log requests, idempotency tokens and forced outcomes, and restore the seed OAuth apps.
* ``GET`` / ``PUT /_emulator/faults``: read / replace the faults (JSON of FaultConfig fields).
* ``POST /_emulator/outcomes``: ``{"scope": ..., "state": ..., "count": N}``, ``state`` null to
  clear; with ``count``, only the next N requests on the scope end in ``state``.
* ``POST /_emulator/keys``: ``{"add": [...], "revoke": [...]}``.
* ``GET /_emulator/requests``: every log request as the API would return it.
* ``GET /_emulator/requests/{request_id}``: one of them (the provider's operator extra link
  points here when the connection's ``link_template`` extra says so, as the connection line
  printed by ``python -m fauna_emulator`` does); 404 if unknown.
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web

from fauna_emulator.api import base_url
from fauna_emulator.context import CONTEXT
from fauna_emulator.faults import FaultConfig
from fauna_emulator.validation import ApiError

routes = web.RouteTableDef()


async def _body(request: web.Request) -> dict[str, Any]:
    raw = await request.read()
    if not raw.strip():
        return {}
    try:
        data = json.loads(raw)
    except ValueError:
        raise _bad("the body is not valid JSON") from None
    if not isinstance(data, dict):
        raise _bad("the body must be a JSON object")
    return data


def _bad(reason: str) -> web.HTTPBadRequest:
    return web.HTTPBadRequest(text=json.dumps({"reason": reason}), content_type="application/json")


@routes.get("/_emulator/health")
async def health(request: web.Request) -> web.Response:
    """Liveness, for scripts waiting on a freshly started emulator."""
    ctx = request.app[CONTEXT]
    return web.json_response({"status": "ok", "url": base_url(request), "calls": len(ctx.calls.snapshot())})


@routes.get("/_emulator/calls")
async def calls(request: web.Request) -> web.Response:
    """The recorded calls, optionally filtered by method and path prefix."""
    method, prefix = request.query.get("method"), request.query.get("path_prefix", "")
    chosen = [
        c.as_dict()
        for c in request.app[CONTEXT].calls.snapshot()
        if (method is None or c.method == method.upper()) and c.path.startswith(prefix)
    ]
    return web.json_response(chosen)


@routes.post("/_emulator/reset")
async def reset(request: web.Request) -> web.Response:
    """Forget recorded calls (and, with ``{"state": true}``, the account's state)."""
    ctx = request.app[CONTEXT]
    body = await _body(request)
    ctx.calls.clear()
    done = ["calls"]
    if body.get("state"):
        ctx.account.reset()
        ctx.apps.reset()
        done.append("state")
    return web.json_response({"reset": done})


@routes.get("/_emulator/faults")
async def get_faults(request: web.Request) -> web.Response:
    """The faults in force."""
    return web.json_response(request.app[CONTEXT].faults.config.to_dict())


@routes.put("/_emulator/faults")
async def put_faults(request: web.Request) -> web.Response:
    """Replace the faults."""
    try:
        config = FaultConfig.from_dict(await _body(request))
    except (TypeError, ValueError) as exc:
        raise _bad(str(exc)) from None
    request.app[CONTEXT].faults.install(config)
    return web.json_response(config.to_dict())


@routes.post("/_emulator/outcomes")
async def outcomes(request: web.Request) -> web.Response:
    """Force (or, with a null state, stop forcing) the terminal state on a scope."""
    body = await _body(request)
    scope, state, count = body.get("scope"), body.get("state"), body.get("count")
    if not isinstance(scope, str):
        raise _bad("scope must be a region group or a database path")
    if count is not None and (not isinstance(count, int) or isinstance(count, bool)):
        raise _bad("count must be a whole number of requests (or null for all)")
    try:
        request.app[CONTEXT].account.set_outcome(scope, state, count)
    except ValueError as exc:
        raise _bad(str(exc)) from None
    return web.json_response({"scope": scope, "state": state, "count": count})


@routes.post("/_emulator/keys")
async def keys(request: web.Request) -> web.Response:
    """Accept or revoke account keys."""
    body = await _body(request)
    ring = request.app[CONTEXT].keys
    added, revoked = body.get("add", []), body.get("revoke", [])
    if not isinstance(added, list) or not isinstance(revoked, list):
        raise _bad("add and revoke must be lists of keys")
    if not all(isinstance(k, str) and k for k in [*added, *revoked]):
        raise _bad("add and revoke must be lists of non-empty strings")
    for key in added:
        ring.add(key)
    for key in revoked:
        ring.revoke(key)
    return web.json_response({"added": len(added), "revoked": len(revoked)})


@routes.get("/_emulator/requests")
async def log_requests(request: web.Request) -> web.Response:
    """Every log request, as the API would return it now."""
    return web.json_response(request.app[CONTEXT].account.snapshot(base_url(request)))


@routes.get("/_emulator/requests/{request_id}")
async def log_request(request: web.Request) -> web.Response:
    """One log request, as the API would return it now (no key needed: a page for people)."""
    try:
        found = request.app[CONTEXT].account.get(request.match_info["request_id"], base_url(request))
    except ApiError as exc:
        return web.json_response({"reason": exc.reason}, status=exc.status)
    return web.json_response(found)
