"""The aiohttp application and its listening socket.

Why the tuning: the emulator must keep answering 1,000 clients polling at once. The listen
backlog is raised so a burst of connects is not dropped by the kernel (which would stall
clients for a second before they retry a SYN), aiohttp's access log is off (the call log
replaces it), and shutdown waits at most a second for handlers still streaming.
"""

from __future__ import annotations

from aiohttp import web

from fauna_emulator import api, control, downloads
from fauna_emulator.context import CONTEXT, Context
from fauna_emulator.middleware import guard, inject_faults
from fauna_emulator.recording import record

BACKLOG = 4096
SHUTDOWN_TIMEOUT = 1.0


def build_app(context: Context) -> web.Application:
    """The emulator's routes and middlewares over ``context``."""
    app = web.Application(middlewares=[record, inject_faults, guard])
    app[CONTEXT] = context
    app.add_routes(api.routes)
    app.add_routes(downloads.routes)
    app.add_routes(control.routes)
    return app


async def serve(app: web.Application, host: str, port: int) -> tuple[web.AppRunner, int]:
    """Start listening; returns the runner (to clean up) and the bound port."""
    runner = web.AppRunner(app, access_log=None, shutdown_timeout=SHUTDOWN_TIMEOUT)
    await runner.setup()
    site = web.TCPSite(runner, host, port, backlog=BACKLOG)
    try:
        await site.start()
    except BaseException:
        await runner.cleanup()
        raise
    bound = runner.addresses[0][1]
    return runner, int(bound)
