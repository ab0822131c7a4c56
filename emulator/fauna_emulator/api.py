"""Handlers of the Account API endpoints (``/api/v1/...``).

Auth, ``type=query`` and error formatting happen in :mod:`.middleware`; these only parse,
delegate to the account and answer. Decisions where the vendor pages are silent:

* List log requests is ``GET /api/v1/logs`` with the JSON body the reference shows; without a
  body, ``states`` (comma-separated), ``next_token`` and ``max_results`` come from the query.
* ``regionGroup`` on the status and new-URL calls is accepted and ignored, unless it is not a
  region group (400).
* Presigned URLs are made absolute with the origin the client used to reach the emulator, so
  they work through whatever host name or port mapping the client sees.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
from typing import Any

from aiohttp import web

from fauna_emulator.context import CONTEXT
from fauna_emulator.recording import note_fault
from fauna_emulator.validation import (
    ApiError,
    bad_request,
    check_region_group,
    parse_list,
    parse_log_request,
    parse_page,
    parse_version,
)

routes = web.RouteTableDef()


def base_url(request: web.Request) -> str:
    """The origin the client used, e.g. ``http://127.0.0.1:8765``."""
    return str(request.url.origin())


async def read_json(request: web.Request) -> Any:
    """The parsed body, None if there is none; 400 if it is not JSON."""
    raw = await request.read()
    if not raw.strip():
        return None
    try:
        return json.loads(raw)
    except ValueError:
        raise bad_request("the request body is not valid JSON") from None


def _check_region_group_param(request: web.Request) -> None:
    value = request.query.get("regionGroup")
    if value is not None:
        check_region_group(value, "regionGroup")


@routes.post("/api/v1/logs")
async def submit(request: web.Request) -> web.Response:
    """Request a log export."""
    ctx = request.app[CONTEXT]
    data = parse_log_request(await read_json(request))
    submitted = ctx.account.submit(data, base_url(request))
    if submitted.created and submitted.request.drawn_outcome:
        note_fault(request, f"outcome:{submitted.request.drawn_outcome}")
    if submitted.build is not None and submitted.request.spec.records <= ctx.small_file_records:
        # A small file takes milliseconds: wait for it (off-loop) so that, with no completion
        # delay, the next read is deterministically Complete. A failed build is not this
        # call's error: the request will read as Failed.
        with contextlib.suppress(Exception):
            await asyncio.wrap_future(submitted.build)
    return web.json_response(submitted.answer)


@routes.get("/api/v1/logs")
async def list_requests(request: web.Request) -> web.Response:
    """List log requests in some states, a page at a time."""
    query = parse_list(await read_json(request), request.query)
    return web.json_response(request.app[CONTEXT].account.list_requests(query, base_url(request)))


@routes.get("/api/v1/logs/{request_id}")
async def status(request: web.Request) -> web.Response:
    """A log request's current state (and presigned URL once Complete)."""
    _check_region_group_param(request)
    account = request.app[CONTEXT].account
    return web.json_response(account.get(request.match_info["request_id"], base_url(request)))


@routes.post("/api/v1/logs/{request_id}/url")
async def new_url(request: web.Request) -> web.Response:
    """A new presigned URL for a Complete request."""
    _check_region_group_param(request)
    version = parse_version(await read_json(request))
    account = request.app[CONTEXT].account
    return web.json_response(account.new_url(request.match_info["request_id"], version, base_url(request)))


@routes.get("/api/v1/oauth/apps")
async def list_apps(request: web.Request) -> web.Response:
    """The account's OAuth apps, a page at a time."""
    page = parse_page(request.query, from_query=True)
    return web.json_response(request.app[CONTEXT].apps.list_apps(page))


@routes.delete("/api/v1/oauth/apps/{app_id}")
async def delete_app(request: web.Request) -> web.Response:
    """Delete an OAuth app: 204, or 404 if there is none with that id."""
    app_id = request.match_info["app_id"]
    if not request.app[CONTEXT].apps.delete(app_id):
        raise ApiError(404, f"OAuth app {app_id!r} not found")
    return web.Response(status=204)
