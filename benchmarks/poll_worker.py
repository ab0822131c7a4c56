"""Many waits for log requests in one asyncio event loop, in a fresh process, measured.

``python -m benchmarks.poll_worker --mode MODE --count N ...``; prints one result line (see
:mod:`benchmarks.proc`). The worker submits its ``N`` log requests first (not measured), has
the emulator forget those calls, then measures the waits:

* ``trigger``: ``N`` :class:`FaunaLogsTrigger` run as Airflow's triggerer runs them: created one
  at a time with ``await asyncio.sleep(0)`` in between (``TriggerRunner.create_triggers``), each
  iterated with ``async for`` to its end, counting its events.
* ``bare_shared``: ``N`` bare loops on one shared ``aiohttp.ClientSession``: GET the status,
  read the JSON, stop at a terminal state, else sleep ``poll_interval`` (the trigger's
  schedule). What any asyncio client must do at the least.
* ``bare_own``: the same, each loop with a session (and so a connection pool) of its own.
* ``trigger_gc_frozen``: ``trigger`` after ``gc.freeze()`` (what Airflow's DAG processor does
  after start-up, and the triggerer does not): a what-if that shows how much of a stall is the
  garbage collector walking the heap Airflow's imports left, rather than the provider's code.

Measured: process CPU time, wall time, the longest lateness of a monitor task that sleeps
5 ms at a time (an event-loop stall), RSS before and peak RSS during the waits.

Every mode runs in a process that has imported Airflow and the provider first, as a triggerer
has: the garbage collector's passes over that heap cost the same whoever allocates, so the
bare fleets pay them too and the ratio compares the code, not the imports. Every mode also
waits once before measuring (:func:`warm_up`), as a triggerer that has been running has.
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import time
from typing import Any

from benchmarks.proc import PeakMeter, emit, profiled
from benchmarks.servers import connection_from_env, http, submit_log_request

MODES = ("trigger", "bare_shared", "bare_own", "trigger_gc_frozen")
TERMINAL = frozenset({"Complete", "DoesNotExist", "Failed", "TimedOut"})
#: The monitor's sleep; its lateness past this is the stall.
MONITOR_TICK = 0.005
#: Stalls longer than this are counted.
STALL_LIMIT = 0.050


def _connection() -> tuple[str, str]:
    return connection_from_env("fauna_default")


def submit_requests(count: int) -> list[str]:
    """Submit ``count`` log requests (sequentially, not measured); returns their ids."""
    url, key = _connection()
    return [submit_log_request(url, key)["request_id"] for _ in range(count)]


def forget_calls() -> None:
    """Have the emulator forget the calls so far (submissions, warm-up): only the fleet's are counted."""
    http("POST", f"{_connection()[0]}/_emulator/reset", {})


def warm_up(mode: str, request_id: str) -> None:
    """One wait of the mode, on a loop of its own, before measuring: what a running triggerer has done.

    A fresh process pays once for what a triggerer that has been running paid long ago: Airflow
    imports modules on its first connection lookup, and every code path runs for the first time.
    For the trigger modes this is one trigger with a deadline of now (one status call, then its
    timeout event); for the bare modes, one GET.
    """
    if mode.startswith("trigger"):
        from airflow_provider_fauna.triggers.logs import FaunaLogsTrigger

        async def once() -> None:
            trigger = FaunaLogsTrigger(request_id=request_id, end_time=time.time())
            async for _ in trigger.run():
                pass

    else:

        async def once() -> None:
            import aiohttp

            base, key = _connection()
            async with (
                aiohttp.ClientSession() as session,
                session.get(
                    f"{base}/api/v1/logs/{request_id}?type=query", headers={"Authorization": f"Bearer {key}"}
                ) as response,
            ):
                await response.json()

    asyncio.run(once())


class StallMonitor:
    """Sleep 5 ms at a time and note how late each wake-up is: the loop's longest stall.

    Also times the garbage collector's passes, the usual suspect of a stall in a process with a
    large heap (Airflow's), so that a stall can be told apart from slow code.
    """

    def __init__(self) -> None:
        self.worst = 0.0
        self.worst_busy = 0.0
        self.worst_busy_without_gc = 0.0
        self.over_limit = 0
        self.ticks = 0
        self.gc_worst = 0.0
        self.gc_worst_generation = -1
        self.gc_total = 0.0
        self._gc_started = 0.0

    def gc_callback(self, phase: str, info: dict[str, Any]) -> None:
        """``gc.callbacks`` hook: time each collection, in CPU time of the collecting thread."""
        if phase == "start":
            self._gc_started = time.thread_time()
            return
        took = time.thread_time() - self._gc_started
        self.gc_total += took
        if took > self.gc_worst:
            self.gc_worst, self.gc_worst_generation = took, int(info.get("generation", -1))

    async def run(self) -> None:
        """Until cancelled.

        Besides the lateness itself, two readings of it: the part the loop's own thread spent
        on the CPU (lateness not so spent is the OS running another process, noise on a small
        machine), and that part without the garbage collector's passes.
        """
        while True:
            before, cpu_before, gc_before = time.perf_counter(), time.thread_time(), self.gc_total
            await asyncio.sleep(MONITOR_TICK)
            late = time.perf_counter() - before - MONITOR_TICK
            busy = min(late, time.thread_time() - cpu_before)
            self.ticks += 1
            self.worst = max(self.worst, late)
            self.worst_busy = max(self.worst_busy, busy)
            self.worst_busy_without_gc = max(self.worst_busy_without_gc, busy - (self.gc_total - gc_before))
            if late > STALL_LIMIT:
                self.over_limit += 1


async def _bare_wait(session: Any, url: str, headers: dict[str, str], poll_interval: float) -> list[str]:
    """Poll ``url`` on the trigger's schedule (at once, then every ``poll_interval``) until a terminal state."""
    while True:
        async with session.get(url, headers=headers) as response:
            answer = await response.json()
        if answer["state"] in TERMINAL:
            return ["terminal"]
        await asyncio.sleep(poll_interval)


async def _run_bare(ids: list[str], poll_interval: float, shared: bool) -> list[list[str]]:
    import aiohttp

    base, key = _connection()
    headers = {"Authorization": f"Bearer {key}", "Accept": "application/json"}
    common = aiohttp.ClientSession() if shared else None

    async def one(request_id: str) -> list[str]:
        url = f"{base}/api/v1/logs/{request_id}?type=query"
        if common is not None:
            return await _bare_wait(common, url, headers, poll_interval)
        async with aiohttp.ClientSession() as own:
            return await _bare_wait(own, url, headers, poll_interval)

    try:
        return await _create_and_gather([lambda rid=rid: one(rid) for rid in ids])
    finally:
        if common is not None:
            await common.close()


async def _run_triggers(ids: list[str], poll_interval: float) -> list[list[str]]:
    from airflow_provider_fauna.triggers.logs import FaunaLogsTrigger

    async def one(request_id: str) -> list[str]:
        trigger = FaunaLogsTrigger(request_id=request_id, poll_interval=poll_interval)
        return [event.payload["status"] async for event in trigger.run()]

    return await _create_and_gather([lambda rid=rid: one(rid) for rid in ids])


async def _create_and_gather(factories: list[Any]) -> list[list[str]]:
    """Start the waits one per loop iteration, as the triggerer does, and wait for them all."""
    tasks = []
    for factory in factories:
        await asyncio.sleep(0)
        tasks.append(asyncio.create_task(factory()))
    return list(await asyncio.gather(*tasks))


async def _measured(mode: str, ids: list[str], poll_interval: float) -> dict[str, Any]:
    monitor = StallMonitor()
    watching = asyncio.create_task(monitor.run())
    gc.callbacks.append(monitor.gc_callback)
    collections = [g["collections"] for g in gc.get_stats()]
    started = time.perf_counter()
    try:
        if mode.startswith("trigger"):
            events = await _run_triggers(ids, poll_interval)
        else:
            events = await _run_bare(ids, poll_interval, shared=mode == "bare_shared")
    finally:
        gc.callbacks.remove(monitor.gc_callback)
    wall = time.perf_counter() - started
    watching.cancel()
    collections = [g["collections"] - before for g, before in zip(gc.get_stats(), collections, strict=True)]
    return {
        "wall_seconds": wall,
        "events_per_wait": [len(e) for e in events],
        "event_statuses": sorted({s for e in events for s in e}),
        "max_stall": monitor.worst,
        "max_stall_busy": monitor.worst_busy,
        "max_stall_busy_without_gc": monitor.worst_busy_without_gc,
        "stalls_over_limit": monitor.over_limit,
        "monitor_ticks": monitor.ticks,
        "gc_worst_cpu_seconds": monitor.gc_worst,
        "gc_worst_generation": monitor.gc_worst_generation,
        "gc_cpu_seconds": monitor.gc_total,
        "gc_collections": collections,
        "gc_objects_at_end": len(gc.get_objects()),
    }


def main() -> None:
    """Submit, then measure ``N`` concurrent waits in one loop; print the result line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--mode", choices=MODES, required=True)
    parser.add_argument("--count", type=int, required=True)
    parser.add_argument("--poll-interval", type=float, required=True)
    parser.add_argument("--profile", help="write a profile of the measured part here (figures then void)")
    args = parser.parse_args()

    import aiohttp  # noqa: F401  (imported before the baseline in every mode)

    import airflow_provider_fauna.triggers.logs  # noqa: F401  (Airflow's heap, in every mode)

    ids = submit_requests(args.count)
    warm_up(args.mode, ids[0])
    forget_calls()
    # What one full collection of this heap costs: a stall of that length whenever one happens
    # on the loop, whoever allocated (whether one falls inside the run depends on thresholds).
    full_gc = time.thread_time()
    gc.collect()
    full_gc = time.thread_time() - full_gc
    if args.mode == "trigger_gc_frozen":
        gc.freeze()
    meter = PeakMeter()
    meter.start()
    cpu = time.process_time()
    with profiled(args.profile):
        measured = asyncio.run(_measured(args.mode, ids, args.poll_interval))
    cpu = time.process_time() - cpu
    meter.stop()
    emit(
        {
            "mode": args.mode,
            "count": args.count,
            "poll_interval": args.poll_interval,
            "cpu_seconds": cpu,
            "rss_before": meter.before,
            "peak_rss": meter.peak,
            "peak_above": meter.above,
            "peak_was_reset": meter.peak_was_reset,
            "full_gc_cpu_seconds": full_gc,
            **measured,
        }
    )


if __name__ == "__main__":
    main()
