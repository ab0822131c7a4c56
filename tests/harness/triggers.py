"""Running a trigger the way the triggerer does, and killing it midway."""

from __future__ import annotations

import asyncio
import contextlib
import time
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Callable


async def run_until_killed(trigger: Any, polled: Callable[[], bool], timeout: float = 60.0) -> Any:
    """Run a trigger as the triggerer would, and kill it once ``polled()``; its event, if it fired.

    Killing on a condition, not after a fixed time, keeps a test exact on a loaded machine,
    where the first poll can take seconds. After ``timeout`` seconds it is killed anyway.
    """

    async def first_event() -> Any:
        async for event in trigger.run():
            return event
        return None

    running = asyncio.ensure_future(first_event())
    deadline = time.monotonic() + timeout
    while not running.done() and not polled() and time.monotonic() < deadline:
        await asyncio.sleep(0.02)
    if running.done():
        return running.result()
    running.cancel()  # the triggerer dies: its coroutines are cancelled mid-wait
    with contextlib.suppress(asyncio.CancelledError):
        await running
    return None


def record_datetime_triggers(monkeypatch: Any) -> list[Any]:
    """Record the moment of every ``DateTimeTrigger`` that runs (the trigger runs unchanged).

    Patches the class's ``run`` for the test (``monkeypatch``), on Airflow 3's standard
    provider or Airflow 2's core module, whichever this Airflow has.
    """
    try:
        from airflow.providers.standard.triggers.temporal import DateTimeTrigger
    except ImportError:  # Airflow 2
        from airflow.triggers.temporal import DateTimeTrigger  # type: ignore[no-redef]
    original = DateTimeTrigger.run
    moments: list[Any] = []

    async def run(self: Any) -> Any:
        moments.append(self.moment)
        async for event in original(self):
            yield event

    monkeypatch.setattr(DateTimeTrigger, "run", run)
    return moments
