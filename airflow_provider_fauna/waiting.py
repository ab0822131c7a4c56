"""The rules of waiting for a log request, shared by the trigger and by tasks that wait in place.

Both poll once per interval, ride out transient API errors and stop at a deadline after a last check.
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
    FaunaUnknownStateError,
)
from airflow_provider_fauna.log_requests import ALL_STATES, LogRequest

if TYPE_CHECKING:
    from datetime import timedelta

    from airflow_provider_fauna.hooks.fauna import FaunaAccountHook

#: Errors the API may clear up by itself: keep polling instead of failing the task.
TRANSIENT_ERRORS = (FaunaRateLimitedError, FaunaServerError, FaunaConnectionError)
#: Leave the trigger this much time before Airflow's own hard timeout, for its last check.
DEADLINE_MARGIN = 5.0
#: The time a status call of a wait may still take at (or just before) the deadline: the last check.
LAST_CHECK_SECONDS = 3.0


class TaskLogger(Protocol):
    """What the waiting functions need of a logger (stdlib and Airflow 3's structlog both fit)."""

    def info(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...

    def warning(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...


class WaitTimeout(FaunaError):
    """The deadline passed before the request reached a terminal state."""


def seconds_until(when: float | None, deadline: float | None) -> float:
    """Return how long to sleep before a poll due at ``when`` (epoch seconds, ``None``: now), never past ``deadline``."""
    now = time.time()
    due = now if when is None else when
    if deadline is not None:
        due = min(due, deadline)
    return max(0.0, due - now)


def call_deadline(deadline: float | None) -> float | None:
    """Return by when (epoch seconds) a wait's status call must be over, retries included.

    The wait's deadline, but never less than :data:`LAST_CHECK_SECONDS` from now, so that the
    last check gets an answer; less than :data:`DEADLINE_MARGIN`, so it ends before Airflow's limit.
    """
    return None if deadline is None else max(deadline, time.time() + LAST_CHECK_SECONDS)


def wait_deadline(context: Any, timeout: float | None, execution_timeout: timedelta | None) -> float | None:
    """Return the deadline (epoch seconds) of a wait starting now: ``timeout`` or the task's ``execution_timeout``.

    ``execution_timeout`` counts from the task instance's start, a few seconds early so that the
    last check comes before Airflow's own timeout.
    """
    deadlines = [] if timeout is None else [time.time() + timeout]
    if execution_timeout is not None:
        # Airflow's start_date is always timezone-aware; a stub task instance may have none.
        start = getattr(context.get("ti"), "start_date", None)
        begun = start.timestamp() if isinstance(start, datetime) else time.time()
        deadlines.append(begun + execution_timeout.total_seconds() - DEADLINE_MARGIN)
    return min(deadlines, default=None)


def check_known_state(request: LogRequest) -> LogRequest:
    """Return ``request``, or raise :class:`~airflow_provider_fauna.exceptions.FaunaUnknownStateError` if its state is not one the pages list.

    The hook has already read a listed state spelled in another case as that state.
    """
    if request.state not in ALL_STATES:
        raise FaunaUnknownStateError(
            f"Fauna log request {request.request_id} is in state {request.state!r}, which this provider "
            f"does not know (it knows {', '.join(ALL_STATES)}), so waiting could only end at the "
            "deadline. Look at the request in the Fauna dashboard, and upgrade the provider if the "
            "API has a new state."
        )
    return request


def fetch_status(
    hook: FaunaAccountHook, request_id: str, log: TaskLogger, *, deadline: float | None = None
) -> LogRequest | None:
    """Call the API for the request's status; ``None`` when it is having a bad moment (429, 5xx, no answer).

    :param deadline: the wait's deadline (epoch seconds), which bounds the call (:func:`call_deadline`).
    :raises ~airflow_provider_fauna.exceptions.FaunaUnknownStateError: the request is in a state the provider does not know.
    """
    try:
        request = hook.get_log_request(request_id, deadline=call_deadline(deadline))
    except TRANSIENT_ERRORS as err:
        log.warning("Status of Fauna log request %s not known yet: %s", request_id, err)
        return None
    return check_known_state(request)


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

    :param poll_interval: seconds between two status calls.
    :param deadline: epoch seconds, if any.
    :param first_poll_at: epoch seconds of the first status call; ``None`` for at once.
    """
    time.sleep(seconds_until(first_poll_at, deadline))
    while True:
        if (request := fetch_status(hook, request_id, log, deadline=deadline)) is not None:
            if request.is_terminal:
                return request
            log.info("Fauna log request %s is %s.", request_id, request.state)
        if deadline is not None and time.time() >= deadline:
            raise WaitTimeout(f"Fauna log request {request_id} did not finish before the deadline.")
        time.sleep(seconds_until(time.time() + poll_interval, deadline))


def read_trigger_event(event: dict[str, Any] | None) -> LogRequest:
    """Return the terminal request a :class:`FaunaLogsTrigger` event carries, or raise the error it reports."""
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
