"""The rules of waiting for a log request, shared by the trigger and by tasks that wait in place.

Both poll once per interval, ride out transient API errors and stop at a wall-clock deadline
after a last status check.
"""

from __future__ import annotations

import time
from datetime import datetime
from typing import TYPE_CHECKING, Any, Protocol

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_fauna import exceptions
from airflow_provider_fauna.exceptions import (
    FaunaConnectionError,
    FaunaError,
    FaunaRateLimitedError,
    FaunaServerError,
)
from airflow_provider_fauna.log_requests import LogRequest

if TYPE_CHECKING:
    from datetime import timedelta

    from airflow_provider_fauna.hooks.fauna import FaunaAccountHook

#: Errors the API may clear up by itself: keep polling instead of failing the task.
TRANSIENT_ERRORS = (FaunaRateLimitedError, FaunaServerError, FaunaConnectionError)
#: Leave the trigger this much time before Airflow's own hard timeout, for its last check.
DEADLINE_MARGIN = 5.0


class TaskLogger(Protocol):
    """What the waiting functions need of a logger (stdlib and Airflow 3's structlog both fit)."""

    def info(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...

    def warning(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...


class WaitTimeout(FaunaError):
    """The deadline passed before the request reached a terminal state."""


def seconds_until(when: float | None, deadline: float | None) -> float:
    """Return how long to sleep before a poll due at ``when``, never past ``deadline``, never negative.

    :param when: epoch seconds; ``None`` is now (so is a time already past: a trigger rebuilt late).
    :param deadline: epoch seconds of the last check, if any.
    """
    now = time.time()
    due = now if when is None else when
    if deadline is not None:
        due = min(due, deadline)
    return max(0.0, due - now)


def wait_deadline(context: Any, timeout: float | None, execution_timeout: timedelta | None) -> float | None:
    """Return the wall-clock deadline (epoch seconds) of a wait starting now, if any.

    :param context: the task's context (its task instance's start counts for ``execution_timeout``).
    :param timeout: seconds from now.
    :param execution_timeout: the task's, a few seconds early so the last check comes before Airflow's.
    """
    deadlines = [] if timeout is None else [time.time() + timeout]
    if execution_timeout is not None:
        # Airflow's start_date is always timezone-aware; a stub task instance may have none.
        start = getattr(context.get("ti"), "start_date", None)
        begun = start.timestamp() if isinstance(start, datetime) else time.time()
        deadlines.append(begun + execution_timeout.total_seconds() - DEADLINE_MARGIN)
    return min(deadlines, default=None)


def fetch_status(hook: FaunaAccountHook, request_id: str, log: TaskLogger) -> LogRequest | None:
    """Call the API for the request's status; ``None`` when it is having a bad moment (429, 5xx, no answer).

    :param hook: the hook to call with.
    :param request_id: the request to ask about.
    :param log: where a transient error is reported.
    """
    try:
        return hook.get_log_request(request_id)
    except TRANSIENT_ERRORS as err:
        log.warning("Status of Fauna log request %s not known yet: %s", request_id, err)
        return None


def poll_until_terminal(
    hook: FaunaAccountHook,
    request_id: str,
    *,
    poll_interval: float,
    deadline: float | None,
    log: TaskLogger,
    first_poll_at: float | None = None,
) -> LogRequest:
    """Block until the request is terminal, as the trigger would wait; raise :class:`WaitTimeout` after a last check.

    :param hook: the hook to call with.
    :param request_id: the request to wait for.
    :param poll_interval: seconds between two status calls.
    :param deadline: epoch seconds, if any.
    :param log: where progress is reported.
    :param first_poll_at: epoch seconds of the first status call; ``None`` for at once.
    """
    time.sleep(seconds_until(first_poll_at, deadline))
    while True:
        if (request := fetch_status(hook, request_id, log)) is not None:
            if request.is_terminal:
                return request
            log.info("Fauna log request %s is %s.", request_id, request.state)
        if deadline is not None and deadline - time.time() <= 0:
            raise WaitTimeout(f"Fauna log request {request_id} did not finish before the deadline.")
        time.sleep(seconds_until(time.time() + poll_interval, deadline))


def read_trigger_event(event: dict[str, Any] | None) -> LogRequest:
    """Return the terminal request a :class:`FaunaLogsTrigger` event carries, or raise the error it reports.

    :param event: the event's payload.
    """
    if not event:
        raise FaunaError("The Fauna logs trigger fired without an event.")
    status = event.get("status")
    if status == "terminal":
        return LogRequest.from_api(event["request"])
    if status == "timeout":
        raise WaitTimeout(event.get("message") or "The wait for the Fauna log request timed out.")
    message = event.get("message") or f"The Fauna logs trigger reported {status!r}."
    error_type = getattr(exceptions, str(event.get("error_type")), None)
    if isinstance(error_type, type) and issubclass(error_type, AirflowFailException):
        raise AirflowFailException(message)
    raise FaunaError(message)
