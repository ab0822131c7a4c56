"""Wait for log requests of known lengths two ways, in a fresh process: the sensor, and 1-second polling.

``python -m benchmarks.economy_worker --case NAME=CONN_ID ...``; prints one result line (see
:mod:`benchmarks.proc`). For each case (an emulator whose requests take a known time, reached
through its own ``AIRFLOW_CONN_<CONN_ID>``) it submits two requests, then waits, all cases at
once in one event loop:

* on one as a deferrable :class:`FaunaLogsSensor` does: its ``execute`` checks the status once
  and defers (the :class:`TaskDeferred` it raises is caught), then the trigger it deferred to
  runs to its event, as the triggerer would run it;
* on the other as the vendor's example does: ask for the status, sleep 1 s, ask again.

It reports, per case, when each request completed (the ``updated_at`` of its ``Complete``
state) and when each waiter noticed; the calls themselves are counted by the emulator.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime as dt
import time
from typing import Any

from benchmarks.proc import emit
from benchmarks.servers import connection_from_env, submit_log_request

#: The vendor example's pause between two status calls.
VENDOR_INTERVAL = 1.0
TERMINAL = frozenset({"Complete", "DoesNotExist", "Failed", "TimedOut"})


def _epoch(text: str) -> float:
    return dt.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()


def _defer(request_id: str, conn_id: str, poll_interval: float) -> Any:
    """Run a deferrable sensor's ``execute`` (one status call) and return the trigger it defers to."""
    from airflow.providers.common.compat.sdk import TaskDeferred

    from airflow_provider_fauna.sensors.logs import FaunaLogsSensor

    sensor = FaunaLogsSensor(
        task_id="wait_for_logs",
        request_id=request_id,
        fauna_conn_id=conn_id,
        poke_interval=poll_interval,
        deferrable=True,
    )
    try:
        sensor.execute({})
    except TaskDeferred as deferred:
        return deferred.trigger
    raise RuntimeError(f"the sensor did not defer on request {request_id}")


async def _sensor_wait(request_id: str, conn_id: str, poll_interval: float) -> dict[str, Any]:
    # In the loop's own thread: Airflow 2.11 refuses an operator's execute() from another
    # thread than the one that defined the class. One blocking call, made before any other
    # wait has had a chance to poll.
    trigger = _defer(request_id, conn_id, poll_interval)
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
            jobs.append(_sensor_wait(case["sensor_request_id"], case["conn_id"], poll_interval))
            jobs.append(_vendor_wait(session, case["vendor_request_id"], case["conn_id"]))
        done = await asyncio.gather(*jobs)
    for i, case in enumerate(cases.values()):
        case["sensor"], case["vendor"] = done[2 * i], done[2 * i + 1]


def main() -> None:
    """Submit two requests per case, wait on them both ways, print the result line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--case", action="append", required=True, help="NAME=CONN_ID=SECONDS")
    parser.add_argument("--poll-interval", type=float, required=True)
    args = parser.parse_args()

    # Import before submitting: Airflow takes seconds to import, and the requests' clocks start
    # at submission.
    import aiohttp  # noqa: F401

    import airflow_provider_fauna.sensors.logs  # noqa: F401

    cases: dict[str, dict[str, Any]] = {}
    for spec in args.case:
        name, conn_id, seconds = spec.split("=")
        sensor_request, vendor_request = (submit_log_request(*connection_from_env(conn_id)) for _ in range(2))
        cases[name] = {
            "conn_id": conn_id,
            "length": float(seconds),
            "sensor_request_id": sensor_request["request_id"],
            "vendor_request_id": vendor_request["request_id"],
            "submitted_at": _epoch(sensor_request["updated_at"]),
        }
    asyncio.run(_wait_all(cases, args.poll_interval))
    emit(
        {
            "poll_interval": args.poll_interval,
            "vendor_interval": VENDOR_INTERVAL,
            "cases": cases,
        }
    )


if __name__ == "__main__":
    main()
