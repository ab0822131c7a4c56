"""Wait for a log request on the triggerer, without holding a worker slot.

The trigger keeps no state between runs: it is rebuilt from :meth:`serialize` after a
triggerer restart and simply polls the same request again. The deadline travels as
wall-clock time (epoch seconds), so a restart does not extend it.
"""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_fauna.exceptions import (
    FaunaConnectionError,
    FaunaError,
    FaunaRateLimitedError,
    FaunaServerError,
)
from airflow_provider_fauna.hooks.fauna import FaunaAccountHook

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

#: Errors the API may clear up by itself: keep polling instead of failing the task.
TRANSIENT_ERRORS = (FaunaRateLimitedError, FaunaServerError, FaunaConnectionError)
#: The first poll comes this soon after deferral; later ones back off to ``poll_interval``.
FIRST_POLL_DELAY = 1.0


def next_poll_delay(previous: float | None, poll_interval: float) -> float:
    """Start quickly (most short exports finish in seconds), then double up to ``poll_interval``."""
    if previous is None:
        return min(FIRST_POLL_DELAY, poll_interval)
    return min(previous * 2, poll_interval)


class FaunaLogsTrigger(BaseTrigger):
    """Poll a Fauna log request until it reaches a terminal state or the deadline passes.

    Fires exactly one event, whose payload has ``status``:

    - ``"terminal"``: the request ended; ``request`` holds its XCom-safe details.
    - ``"timeout"``: ``end_time`` passed; a last status check was made first.
    - ``"error"``: a non-transient error (key rejected, request unknown); ``message`` says which.

    :param request_id: the log request to wait for.
    :param fauna_conn_id: the Fauna connection.
    :param end_time: the deadline, as epoch seconds (``time.time()``), or ``None`` for none.
    :param poll_interval: the longest wait between two status calls, in seconds.
    """

    def __init__(
        self,
        request_id: str,
        fauna_conn_id: str = FaunaAccountHook.default_conn_name,
        end_time: float | None = None,
        poll_interval: float = 60.0,
    ) -> None:
        super().__init__()
        self.request_id = request_id
        self.fauna_conn_id = fauna_conn_id
        self.end_time = end_time
        self.poll_interval = poll_interval

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Mirror ``__init__``: every argument, only primitives."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "request_id": self.request_id,
                "fauna_conn_id": self.fauna_conn_id,
                "end_time": self.end_time,
                "poll_interval": self.poll_interval,
            },
        )

    def _time_left(self) -> float | None:
        return None if self.end_time is None else self.end_time - time.time()

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll with backoff; ride out transient errors; fire one event."""
        hook = FaunaAccountHook(fauna_conn_id=self.fauna_conn_id)
        delay: float | None = None
        logged_state: str | None = None
        logged_at = float("-inf")
        while True:
            try:
                request = await hook.aget_log_request(self.request_id)
            except TRANSIENT_ERRORS as err:
                self.log.warning("Status of Fauna log request %s not known yet: %s", self.request_id, err)
            except FaunaError as err:
                yield TriggerEvent(
                    {
                        "status": "error",
                        "request_id": self.request_id,
                        "error_type": type(err).__name__,
                        "message": str(err),
                    }
                )
                return
            else:
                if request.is_terminal:
                    yield TriggerEvent({"status": "terminal", "request": request.to_xcom()})
                    return
                # A line when the state changes, else one per poll_interval at most: the quick
                # early polls would otherwise log the same state several times in a few seconds
                # (with a thousand triggers, their logging was a tenth of the triggerer's CPU).
                now = time.monotonic()
                if request.state != logged_state or now - logged_at >= self.poll_interval:
                    self.log.info("Fauna log request %s is %s.", self.request_id, request.state)
                    logged_state, logged_at = request.state, now
            left = self._time_left()
            if left is not None and left <= 0:
                yield TriggerEvent(
                    {
                        "status": "timeout",
                        "request_id": self.request_id,
                        "message": f"Fauna log request {self.request_id} did not finish before the deadline.",
                    }
                )
                return
            delay = next_poll_delay(delay, self.poll_interval)
            # Wake up at the deadline for the last check rather than oversleeping it.
            await asyncio.sleep(delay if left is None else max(0.0, min(delay, left)))
