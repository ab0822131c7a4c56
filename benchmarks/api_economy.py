"""Benchmark 4: status calls per log request, against the vendor example's 1-second polling.

For each request length (2 s, 30 s, 5 min in the full run) an emulator process completes its
requests after exactly that long; one worker process (:mod:`benchmarks.economy_worker`) waits
on a request of each length as a deferrable ``FaunaLogsSensor`` does (its own status check,
then ``FaunaLogsTrigger``) at the default interval of 60 s, and on another with 1-second
polling, all at once. The emulator counts the status calls.

Nothing is time-compressed: the 5-minute case takes five minutes of wall time, which is why
``python -m benchmarks`` starts this benchmark first and lets it wait while the others run
(it makes a handful of calls a second at most, next to nothing for the others' figures), and
why ``--quick`` leaves the 5-minute case out.

Figures per length, against two yardsticks: a poll every ``poll_interval`` (one call at the
start, then one per interval: the literal budget) and the vendor's one per second. Targets:
no more calls than a poll every ``poll_interval``; a completion noticed within one
``poll_interval``.
"""

from __future__ import annotations

import contextlib
import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.proc import run_worker, worker_env
from benchmarks.report import Result, Target, ratio
from benchmarks.servers import emulator_process

if TYPE_CHECKING:
    from collections.abc import Callable

    from benchmarks.servers import Emulator

#: The trigger's (and the sensor's) default poll_interval.
POLL_INTERVAL = 60.0
STATUS_PREFIX = "/api/v1/logs/"


@dataclass(frozen=True)
class Plan:
    """Request lengths in seconds, and the trigger's poll_interval."""

    lengths: tuple[float, ...]
    poll_interval: float = POLL_INTERVAL

    @classmethod
    def full(cls) -> Plan:
        """2 s, 30 s and 5 min, at the default 60 s poll_interval (about 5 min of wall time)."""
        return cls((2.0, 30.0, 300.0))

    @classmethod
    def quick(cls) -> Plan:
        """2 s and 30 s (about 35 s of wall time)."""
        return cls((2.0, 30.0))

    @classmethod
    def smoke(cls) -> Plan:
        """2 s only, polled every 2 s so that the wait takes seconds, not a minute."""
        return cls((2.0,), poll_interval=2.0)


def _name(length: float) -> str:
    return f"{length / 60:g} min" if length >= 60 else f"{length:g} s"


def fixed_interval_calls(length: float, interval: float) -> int:
    """Calls of a poller that asks at 0 and then every ``interval``, until it sees the end."""
    return math.ceil(length / interval) + 1


def run_cases(plan: Plan, say: Callable[[str], None]) -> dict[str, Any]:
    """Start one emulator per length and the worker; returns the worker's cases with call counts."""
    conn_ids = {length: f"fauna_economy_{int(length)}" for length in plan.lengths}
    with contextlib.ExitStack() as stack:
        home = stack.enter_context(tempfile.TemporaryDirectory(prefix="bench-airflow-home-"))
        emulators: dict[float, Emulator] = {
            length: stack.enter_context(emulator_process(completion_delay=length)) for length in plan.lengths
        }
        env = worker_env(Path(home), {conn_ids[n]: e.connection_json() for n, e in emulators.items()})
        args = ["--poll-interval", str(plan.poll_interval)]
        for length in plan.lengths:
            args += ["--case", f"{_name(length)}={conn_ids[length]}={length:g}"]
        say(f"waiting on requests of {', '.join(_name(n) for n in plan.lengths)} (real time)")
        result = run_worker(
            "economy_worker", args, env, timeout=max(plan.lengths) + 3 * plan.poll_interval + 120
        )
        for length, emulator in emulators.items():
            case = result["cases"][_name(length)]
            calls = emulator.calls(method="GET", path_prefix=STATUS_PREFIX)
            for who in ("sensor", "vendor"):
                path = f"{STATUS_PREFIX}{case[f'{who}_request_id']}"
                case[who]["calls"] = sum(1 for c in calls if c["path"] == path)
    return dict(result)


def result(plan: Plan, measured: dict[str, Any]) -> Result:
    """``api_economy``: the table and the targets."""
    rows: list[list[Any]] = []
    over_budget, late = [], []
    for length in plan.lengths:
        name = _name(length)
        case = measured["cases"][name]
        ours, vendor = case["sensor"], case["vendor"]
        budget = fixed_interval_calls(length, plan.poll_interval)
        noticed = ours["noticed_at"] - ours["completed_at"]
        rows.append(
            [
                name,
                ours["calls"],
                budget,
                vendor["calls"],
                ratio(ours["calls"], vendor["calls"]),
                noticed,
                vendor["noticed_at"] - vendor["completed_at"],
            ]
        )
        if ours["calls"] > budget:
            over_budget.append(f"{name}: {ours['calls']} > {budget}")
        if not 0 <= noticed <= plan.poll_interval or ours["events"] != 1 or ours["state"] != "Complete":
            late.append(f"{name}: noticed after {noticed:.1f} s, {ours['events']} event(s), {ours['state']}")
    interval = f"{plan.poll_interval:g} s"
    return Result(
        name="api_economy",
        title=f"API economy: status calls per request (deferrable sensor, poke_interval {interval})",
        headers=[
            "request takes",
            "sensor calls",
            f"one per {interval}",
            "1 s polling calls",
            "sensor / 1 s",
            "sensor noticed after s",
            "1 s polling noticed after s",
        ],
        rows=rows,
        targets=[
            Target(
                f"no more calls than one per poll_interval ({interval})",
                not over_budget,
                "; ".join(over_budget) or "every wait within the budget",
            ),
            Target(
                "completion noticed within one poll_interval",
                not late,
                "; ".join(late) or f"every completion noticed within {interval}, by one event",
            ),
        ],
        notes=[
            "real time, not compressed: each request completes after exactly the stated time (emulator)",
            "calls counted by the emulator: the sensor's own check before it defers, then the trigger's",
            f"'one per {interval}': a poller asking at 0 and every {interval} after, until it sees the end",
        ],
        data={"poll_interval": plan.poll_interval, "cases": measured["cases"]},
    )
