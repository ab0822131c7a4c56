"""Wait for log requests of known lengths two ways, in a fresh process: the trigger, and 1-second polling.

``python -m benchmarks.economy_worker --case NAME=CONN_ID ...``; prints one result line (see
:mod:`benchmarks.proc`). For each case (an emulator whose requests take a known time, reached
through its own ``AIRFLOW_CONN_<CONN_ID>``) it submits two requests, then waits, all cases at
once in one event loop:

* on one with :class:`FaunaLogsTrigger` at the given ``poll_interval``, to its event;
* on the other as the vendor's example does: ask for the status, sleep 1 s, ask again.

It reports, per case, when each request completed (the ``updated_at`` of its ``Complete``
state) and when each waiter noticed, plus the number of status calls the trigger's schedule
(``next_poll_delay``) implies for that length; the calls themselves are counted by the emulator.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import math
import time
from typing import Any

from benchmarks.proc import emit
from benchmarks.servers import connection_from_env, submit_log_request

#: The vendor example's pause between two status calls.
VENDOR_INTERVAL = 1.0
TERMINAL = frozenset({"Complete", "DoesNotExist", "Failed", "TimedOut"})


def _epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _schedule_times(poll_interval: float, horizon: float) -> list[float]:
    """When the trigger polls, from its start (0) to ``horizon``, per ``next_poll_delay``."""
    from airflow_provider_fauna.triggers.logs import next_poll_delay

    times, delay = [0.0], None
    while times[-1] < horizon:
        delay = next_poll_delay(delay, poll_interval)
        times.append(times[-1] + delay)
    return times


def schedule_calls(length: float, poll_interval: float) -> int:
    """Status calls the trigger's schedule makes for a request that completes after ``length`` s.

    Polls at 0, then after each ``next_poll_delay``, until one comes at or after ``length``.
    """
    times = _schedule_times(poll_interval, length)
    return next(i for i, at in enumerate(times) if at >= length) + 1


def max_extra_calls(poll_interval: float, intervals: int = 20) -> int:
    """The most calls the schedule makes beyond "one at 0, then one per ``poll_interval``", for any length.

    The difference only changes just after a poll of either poller, so those lengths are the
    ones checked, up to ``intervals`` poll intervals (past the ramp, the excess stops growing).
    """
    horizon = intervals * poll_interval
    times = _schedule_times(poll_interval, horizon)
    lengths = [t + 1e-6 for t in times] + [k * poll_interval + 1e-6 for k in range(intervals + 1)]
    worst = 0
    for length in (n for n in lengths if n <= times[-1]):
        ours = next(i for i, at in enumerate(times) if at >= length) + 1
        worst = max(worst, ours - (math.ceil(length / poll_interval) + 1))
    return worst


async def _trigger_wait(request_id: str, conn_id: str, poll_interval: float) -> dict[str, Any]:
    from airflow_provider_fauna.triggers.logs import FaunaLogsTrigger

    trigger = FaunaLogsTrigger(request_id=request_id, fauna_conn_id=conn_id, poll_interval=poll_interval)
    events = [event.payload async for event in trigger.run()]
    noticed = time.time()
    request = events[0].get("request") or {}
    return {
        "events": len(events),
        "status": events[0].get("status"),
        "state": request.get("state"),
        "completed_at": _epoch(request["updated_at"]) if request.get("updated_at") else None,
        "noticed_at": noticed,
    }


async def _vendor_wait(session: Any, request_id: str, conn_id: str) -> dict[str, Any]:
    url, key = connection_from_env(conn_id)
    headers = {"Authorization": f"Bearer {key}"}
    while True:
        async with session.get(f"{url}/api/v1/logs/{request_id}?type=query", headers=headers) as response:
            answer = await response.json()
        if answer["state"] in TERMINAL:
            return {
                "state": answer["state"],
                "completed_at": _epoch(answer["updated_at"]),
                "noticed_at": time.time(),
            }
        await asyncio.sleep(VENDOR_INTERVAL)


async def _wait_all(cases: dict[str, dict[str, Any]], poll_interval: float) -> None:
    import aiohttp

    async with aiohttp.ClientSession() as session:
        jobs = []
        for case in cases.values():
            jobs.append(_trigger_wait(case["trigger_request_id"], case["conn_id"], poll_interval))
            jobs.append(_vendor_wait(session, case["vendor_request_id"], case["conn_id"]))
        done = await asyncio.gather(*jobs)
    for i, case in enumerate(cases.values()):
        case["trigger"], case["vendor"] = done[2 * i], done[2 * i + 1]


def main() -> None:
    """Submit two requests per case, wait on them both ways, print the result line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", action="append", required=True, help="NAME=CONN_ID=SECONDS")
    parser.add_argument("--poll-interval", type=float, required=True)
    args = parser.parse_args()

    # Import before submitting: Airflow takes seconds to import, and the requests' clocks start
    # at submission.
    import aiohttp  # noqa: F401

    import airflow_provider_fauna.triggers.logs  # noqa: F401

    cases: dict[str, dict[str, Any]] = {}
    for spec in args.case:
        name, conn_id, seconds = spec.split("=")
        trigger_request, vendor_request = (
            submit_log_request(*connection_from_env(conn_id)) for _ in range(2)
        )
        cases[name] = {
            "conn_id": conn_id,
            "length": float(seconds),
            "trigger_request_id": trigger_request["request_id"],
            "vendor_request_id": vendor_request["request_id"],
            "submitted_at": _epoch(trigger_request["updated_at"]),
            "schedule_calls": schedule_calls(float(seconds), args.poll_interval),
        }
    asyncio.run(_wait_all(cases, args.poll_interval))
    emit(
        {
            "poll_interval": args.poll_interval,
            "vendor_interval": VENDOR_INTERVAL,
            "max_extra_calls": max_extra_calls(args.poll_interval),
            "cases": cases,
        }
    )


if __name__ == "__main__":
    main()
