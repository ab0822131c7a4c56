"""Wait for a log request on the triggerer, without holding a worker slot."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

from airflow.triggers.base import BaseTrigger, TriggerEvent

from airflow_provider_fauna.exceptions import FaunaError
from airflow_provider_fauna.hooks.fauna import FaunaAccountHook
from airflow_provider_fauna.waiting import TRANSIENT_ERRORS, call_deadline, check_known_state, seconds_until

if TYPE_CHECKING:
    from collections.abc import AsyncIterator

#: While the state does not change, a reminder line this often (seconds) shows the wait is alive.
REMINDER_SECONDS = 600.0


class FaunaLogsTrigger(BaseTrigger):
    """Poll a Fauna log request until it reaches a terminal state or the deadline passes.

    Rebuilt from :meth:`serialize` after a triggerer restart, it polls the same request again; its
    times are epoch seconds, so a restart neither extends the deadline nor delays the first poll.
    It fires one event, whose payload has ``status``:

    - ``"terminal"``: the request ended; ``request`` holds its XCom-safe details.
    - ``"timeout"``: ``end_time`` passed; a last status check was made first.
    - ``"error"``: a non-transient error (key rejected, request unknown, a state the provider
      does not know); ``message`` says which, ``error_type`` names its class.

    :param request_id: the log request to wait for.
    :param fauna_conn_id: the Fauna connection.
    :param end_time: the deadline, as epoch seconds (``time.time()``), or ``None`` for none.
    :param poll_interval: the wait between two status calls, in seconds.
    :param first_poll_at: when to make the first status call, as epoch seconds; ``None`` for at once.
    """

    def __init__(
        self,
        request_id: str,
        fauna_conn_id: str = FaunaAccountHook.default_conn_name,
        end_time: float | None = None,
        poll_interval: float = 60.0,
        first_poll_at: float | None = None,
    ) -> None:
        super().__init__()
        self.request_id = request_id
        self.fauna_conn_id = fauna_conn_id
        self.end_time = end_time
        self.poll_interval = poll_interval
        self.first_poll_at = first_poll_at

    def serialize(self) -> tuple[str, dict[str, Any]]:
        """Mirror ``__init__``: every argument, only primitives."""
        return (
            f"{type(self).__module__}.{type(self).__qualname__}",
            {
                "request_id": self.request_id,
                "fauna_conn_id": self.fauna_conn_id,
                "end_time": self.end_time,
                "poll_interval": self.poll_interval,
                "first_poll_at": self.first_poll_at,
            },
        )

    async def run(self) -> AsyncIterator[TriggerEvent]:
        """Poll once per ``poll_interval``; ride out transient errors; fire one event."""
        hook = FaunaAccountHook(fauna_conn_id=self.fauna_conn_id)
        await asyncio.sleep(seconds_until(self.first_poll_at, self.end_time))
        logged_state, logged_at = "", float("-inf")
        while True:
            try:
                request = check_known_state(
                    await hook.aget_log_request(self.request_id, deadline=call_deadline(self.end_time))
                )
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
                # A line per change of state, not per poll: log lines cost a busy triggerer dearly.
                now = time.monotonic()
                if request.state != logged_state or now - logged_at >= REMINDER_SECONDS:
                    self.log.info("Fauna log request %s is %s.", self.request_id, request.state)
                    logged_state, logged_at = request.state, now
            if self.end_time is not None and time.time() >= self.end_time:
                yield TriggerEvent(
                    {
                        "status": "timeout",
                        "request_id": self.request_id,
                        "message": f"Fauna log request {self.request_id} did not finish before the deadline.",
                    }
                )
                return
            # Wake up at the deadline for the last check rather than oversleeping it.
            await asyncio.sleep(seconds_until(time.time() + self.poll_interval, self.end_time))
