"""Benchmark 3: a thousand ``FaunaLogsTrigger`` in one event loop, against bare aiohttp pollers.

The emulator runs in a process of its own (its CPU is not counted); each fleet of waits runs in
a fresh process (:mod:`benchmarks.poll_worker`) against log requests it submitted itself, so
every fleet starts with requests as young as the others'. The status polls are counted by the
emulator (``GET /_emulator/calls``), not by the client.

Figures: CPU per status poll (process CPU time / polls) as a ratio of the bare fleets', the
longest event-loop stall, memory per wait (peak RSS above the RSS before the fleet / N), and
how many events each trigger fired. Targets: CPU per poll <= 1.5 x a bare GET on a shared
session (the stricter baseline: a session per loop costs the bare fleet more), no stall over
50 ms, under 50 KiB per trigger, every trigger fires exactly once.

The schedule is shortened (a request completes after ``completion_delay`` seconds, the
trigger's ``poll_interval`` is a few seconds instead of a minute) so that a run takes
seconds; each wait still makes about six polls, as a five-minute export does at the default
interval of a minute.
"""

from __future__ import annotations

import math
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.poll_worker import MODES, STALL_LIMIT
from benchmarks.proc import run_worker, split_cpus, worker_env
from benchmarks.report import KiB, Result, Target, median
from benchmarks.servers import emulator_process

if TYPE_CHECKING:
    from collections.abc import Callable

CPU_RATIO_LIMIT = 1.5
#: The fleets whose CPU per poll the target compares; they run in every round.
PAIR = ("trigger", "bare_shared")
MEMORY_PER_TRIGGER_LIMIT = 50 * KiB
STATUS_PREFIX = "/api/v1/logs/"


@dataclass(frozen=True)
class Plan:
    """How many waits, how long a request takes, how often it is polled, how many rounds."""

    count: int
    completion_delay: float
    poll_interval: float
    rounds: int = 2
    #: The fleets of the first round (later rounds run only :data:`PAIR`).
    modes: tuple[str, ...] = MODES

    @classmethod
    def full(cls) -> Plan:
        """1,000 triggers; requests of 20 s; polls every 4 s, at 0, 4, ... 20 s; three rounds."""
        return cls(1000, 20.0, 4.0, 3)

    @classmethod
    def quick(cls) -> Plan:
        """200 triggers; requests of 8 s; polls every 2 s, at 0, 2, ... 8 s; two rounds of the two compared fleets."""
        return cls(200, 8.0, 2.0, 2, PAIR)

    @classmethod
    def smoke(cls) -> Plan:
        """20 triggers, 2 s requests, one round of the two compared fleets: only proves the machinery works."""
        return cls(20, 2.0, 1.0, 1, PAIR)


LABELS = {
    "trigger": "FaunaLogsTrigger",
    "bare_shared": "bare GET, shared session",
    "bare_own": "bare GET, session per loop",
    "trigger_gc_frozen": "FaunaLogsTrigger, gc.freeze() (what-if)",
}


def run_fleets(plan: Plan, say: Callable[[str], None]) -> list[dict[str, dict[str, Any]]]:
    """Run every mode's fleet once per round against one emulator process; returns the rounds."""
    rounds: list[dict[str, dict[str, Any]]] = []
    worker_cpus, server_cpus = split_cpus() or (None, None)
    with (
        tempfile.TemporaryDirectory(prefix="bench-airflow-home-") as home,
        emulator_process(completion_delay=plan.completion_delay, cpus=server_cpus) as emulator,
    ):
        env = worker_env(Path(home), {"fauna_default": emulator.connection_json()})
        timeout = 300.0 + plan.completion_delay * 3 + plan.count * 0.1
        for number in range(plan.rounds):
            fleets: dict[str, dict[str, Any]] = {}
            # The first round runs every fleet; later ones only the two the CPU ratio compares,
            # in alternating order, so that a slow spell of the machine does not hit one alone.
            modes = plan.modes if number == 0 else PAIR if number % 2 == 0 else tuple(reversed(PAIR))
            for mode in modes:
                emulator.reset(state=True)
                args = [
                    "--mode",
                    mode,
                    "--count",
                    str(plan.count),
                    "--poll-interval",
                    str(plan.poll_interval),
                ]
                fleet = run_worker("poll_worker", args, env, timeout, worker_cpus)
                calls = emulator.calls(method="GET", path_prefix=STATUS_PREFIX)
                fleet["polls"] = len(calls)
                fleet["poll_statuses"] = sorted({c["status"] for c in calls})
                fleets[mode] = fleet
                say(
                    f"  round {number + 1} {mode:<18} {fleet['polls']} polls, "
                    f"{fleet['cpu_seconds'] / max(1, fleet['polls']) * 1e6:.0f} us CPU/poll, "
                    f"stall {fleet['max_stall'] * 1000:.0f} ms, "
                    f"{fleet['peak_above'] / KiB / plan.count:.1f} KiB/wait"
                )
            rounds.append(fleets)
    return rounds


def _cpu_per_poll(fleet: dict[str, Any]) -> float:
    return float(fleet["cpu_seconds"]) / max(1, int(fleet["polls"]))


def result(plan: Plan, rounds: list[dict[str, dict[str, Any]]]) -> Result:
    """``triggerer_scale``: medians of CPU per poll, worst stalls and memory over the rounds; targets."""

    def over(
        mode: str, pick: Callable[[dict[str, Any]], float], how: Callable[[list[float]], float]
    ) -> float:
        """``how`` of ``pick`` over the rounds that ran ``mode``; NaN (shown "-") if none did."""
        values = [pick(r[mode]) for r in rounds if mode in r]
        return how(values) if values else math.nan

    def vs_bare(mode: str, baseline: str) -> float:
        pairs = [r for r in rounds if mode in r and baseline in r]
        return (
            median([_cpu_per_poll(r[mode]) / _cpu_per_poll(r[baseline]) for r in pairs])
            if pairs
            else math.nan
        )

    rows = []
    for mode in plan.modes:
        cpu = over(mode, _cpu_per_poll, median)
        rows.append(
            [
                LABELS[mode],
                over(mode, lambda f: f["polls"] / plan.count, median),
                cpu * 1e6,
                vs_bare(mode, "bare_shared"),
                over(mode, lambda f: f["max_stall"] * 1000, max),
                over(mode, lambda f: f["max_stall_busy"] * 1000, max),
                over(mode, lambda f: f["max_stall_busy_without_gc"] * 1000, max),
                over(mode, lambda f: f["gc_worst_cpu_seconds"] * 1000, max),
                over(mode, lambda f: f["peak_above"] / plan.count / KiB, max),
            ]
        )
    vs_shared = vs_bare("trigger", "bare_shared")
    vs_own = vs_bare("trigger", "bare_own")
    stall = over("trigger", lambda f: f["max_stall"], max)
    busy = over("trigger", lambda f: f["max_stall_busy"], max)
    busy_no_gc = over("trigger", lambda f: f["max_stall_busy_without_gc"], max)
    gc_pass = over("trigger", lambda f: f["gc_worst_cpu_seconds"], max)
    frozen = over("trigger_gc_frozen", lambda f: f["max_stall"], max)
    full_gc = over("trigger", lambda f: f["full_gc_cpu_seconds"], median)
    gen2 = sum(r["trigger"]["gc_collections"][2] for r in rounds)
    per_wait = over("trigger", lambda f: f["peak_above"] / plan.count, max)
    fired = [r[m]["events_per_wait"] for r in rounds for m in r if m.startswith("trigger")]
    once = sum(1 for events in fired for e in events if e == 1)
    statuses = sorted(
        {s for r in rounds for m in r if m.startswith("trigger") for s in r[m]["event_statuses"]}
    )
    targets = [
        Target(
            "CPU per poll <= 1.5 x bare",
            vs_shared <= CPU_RATIO_LIMIT,
            f"{vs_shared:.2f} x a bare GET on a shared session"
            + ("" if math.isnan(vs_own) else f" ({vs_own:.2f} x with a session per loop)")
            + f", median of {len(rounds)} round(s)",
        ),
        Target(
            "no stall over 50 ms",
            stall <= STALL_LIMIT,
            f"longest stall {stall * 1000:.0f} ms; of it on the loop's CPU {busy * 1000:.0f} ms, "
            f"{busy_no_gc * 1000:.0f} ms of that outside the garbage collector (worst GC pass "
            f"{gc_pass * 1000:.0f} ms CPU)"
            + ("" if math.isnan(frozen) else f"; with gc.freeze() {frozen * 1000:.0f} ms")
            + f". A full collection of this heap (Airflow's) takes {full_gc * 1000:.0f} ms of CPU; "
            f"{gen2} happened during the {len(rounds)} measured trigger fleet(s)",
        ),
        Target(
            "under 50 KiB per trigger",
            per_wait < MEMORY_PER_TRIGGER_LIMIT,
            f"{per_wait / KiB:.1f} KiB per trigger (peak RSS growth / {plan.count}, worst round)",
        ),
        Target(
            "every trigger fires exactly once",
            once == len(fired) * plan.count and statuses == ["terminal"],
            f"{once} of {len(fired) * plan.count} trigger runs fired exactly once; event statuses {statuses}",
        ),
    ]
    return Result(
        name="triggerer_scale",
        title=f"Triggerer scale: {plan.count} waits in one event loop",
        headers=[
            "fleet",
            "polls/wait",
            "CPU us/poll",
            "CPU vs bare shared",
            "max stall ms",
            "on loop CPU ms",
            "same, no GC ms",
            "worst GC pass ms",
            "KiB/wait",
        ],
        rows=rows,
        targets=targets,
        notes=[
            f"requests complete after {plan.completion_delay:g} s; poll_interval {plan.poll_interval:g} s "
            "(shortened from the default 60 s so that a run takes seconds)",
            "triggers created one per loop iteration and iterated to their end, as Airflow's TriggerRunner does",
            "emulator in its own process, pinned to other CPUs than the fleet's; each fleet in a fresh process; "
            "polls counted by the emulator",
            "connection from AIRFLOW_CONN_FAUNA_DEFAULT (AIRFLOW_HOME a temporary directory), resolved once per "
            "trigger run (Airflow's lookup, about 160 us of CPU, is in the trigger's figures)",
            f"CPU: median over {len(rounds)} round(s) of the per-round ratio (trigger and shared-session bare "
            "run in every round, any other fleet only in the first); stalls, GC and memory: worst round",
            "every fleet runs in a process that has imported Airflow (its heap, its garbage collector) and "
            "has waited once before measuring, as a running triggerer has",
        ],
        data={
            "plan": {
                "count": plan.count,
                "completion_delay": plan.completion_delay,
                "poll_interval": plan.poll_interval,
                "rounds": plan.rounds,
            },
            "cpu_ratio_vs_bare_shared": vs_shared,
            "cpu_ratio_vs_bare_own": vs_own,
            "memory_per_trigger_bytes": per_wait,
            "rounds": [
                {m: {k: v for k, v in f.items() if k != "events_per_wait"} for m, f in r.items()}
                for r in rounds
            ],
        },
    )
