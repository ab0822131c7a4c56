"""Waiting for a log request, shared by the sensor and by operators that wait themselves.

Deferrable waits go to :class:`FaunaLogsTrigger`; its event comes back through
:func:`read_trigger_event`. Blocking waits (poke mode, ``deferrable=False``) use
:func:`poll_until_terminal`. Both tolerate transient API errors and stop at a wall-clock
deadline after one last status check.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_fauna.exceptions import (
    FaunaAuthError,
    FaunaError,
    FaunaNotFoundError,
    FaunaValidationError,
)
from airflow_provider_fauna.log_requests import LogRequest
from airflow_provider_fauna.triggers.logs import TRANSIENT_ERRORS, FaunaLogsTrigger, seconds_until

if TYPE_CHECKING:
    from datetime import timedelta

    from airflow_provider_fauna.hooks.fauna import FaunaAccountHook

#: Leave the trigger this much time before Airflow's own hard timeout, for its last check.
DEADLINE_MARGIN = 5.0
#: The first status call after a submission: an export is never done the moment it is
#: submitted, and short ones are done in a few seconds.
FIRST_POLL_AFTER_SUBMIT = 1.0


class TaskLogger(Protocol):
    """What the waiting functions need of a logger (stdlib and Airflow 3's structlog both fit)."""

    def info(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...

    def warning(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...


class WaitTimeout(FaunaError):
    """The deadline passed before the request reached a terminal state."""


def wait_deadline(context: Any, timeout: float | None, execution_timeout: timedelta | None) -> float | None:
    """The wall-clock deadline (epoch seconds) of a wait starting now.

    The earlier of ``now + timeout`` and the task's ``execution_timeout`` measured from the
    task instance's start, a few seconds early so the last check happens before Airflow's
    own timeout would kill the task.
    """
    now = time.time()
    candidates: list[float] = []
    if timeout is not None:
        candidates.append(now + float(timeout))
    if execution_timeout is not None:
        start = getattr(context.get("ti"), "start_date", None)
        if isinstance(start, datetime):
            begun = start.timestamp() if start.tzinfo else start.replace(tzinfo=timezone.utc).timestamp()
        else:
            begun = now
        candidates.append(begun + execution_timeout.total_seconds() - DEADLINE_MARGIN)
    return min(candidates) if candidates else None


def check_status(hook: FaunaAccountHook, request_id: str, log: TaskLogger) -> LogRequest | None:
    """One status call; ``None`` when the API is having a bad moment (429, 5xx, no answer)."""
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
    """Block until the request is terminal; raise :class:`WaitTimeout` after a last check.

    Polls at ``first_poll_at`` (epoch seconds; ``None`` for at once), then once per
    ``poll_interval``, as :class:`FaunaLogsTrigger` does.
    """
    time.sleep(seconds_until(first_poll_at, deadline))
    while True:
        request = check_status(hook, request_id, log)
        if request is not None and request.is_terminal:
            return request
        if request is not None:
            log.info("Fauna log request %s is %s.", request_id, request.state)
        if deadline is not None and deadline - time.time() <= 0:
            raise WaitTimeout(f"Fauna log request {request_id} did not finish before the deadline.")
        time.sleep(seconds_until(time.time() + poll_interval, deadline))


def wait_or_defer(
    task: Any,
    context: Any,
    hook: FaunaAccountHook,
    request_id: str,
    *,
    current: LogRequest | None,
    poll_interval: float,
    timeout: float | None,
    submitted: bool = False,
) -> LogRequest:
    """The terminal request: ``current`` if it already is, else wait for it.

    With ``task.deferrable`` the task defers to :class:`FaunaLogsTrigger` and resumes in its
    ``execute_complete`` (this function then does not return); otherwise it polls in place.
    Either way the deadline is the earlier of ``timeout`` and the task's ``execution_timeout``.

    A wait costs one status call per ``poll_interval``. The task has just made one (its
    answer is ``current``, or ``None`` when the API had a bad moment), which counts as the
    first: the next comes a ``poll_interval`` later. When that call was the submission
    (``submitted``), whose answer is always ``Pending``, the next comes after
    :data:`FIRST_POLL_AFTER_SUBMIT` instead (or ``poll_interval``, if shorter).
    """
    if current is not None and current.is_terminal:
        return current
    deadline = wait_deadline(context, timeout, task.execution_timeout)
    first_poll_at = time.time() + (
        min(FIRST_POLL_AFTER_SUBMIT, poll_interval) if submitted else poll_interval
    )
    if task.deferrable:
        task.defer(
            trigger=FaunaLogsTrigger(
                request_id=request_id,
                fauna_conn_id=hook.fauna_conn_id,
                end_time=deadline,
                poll_interval=poll_interval,
                first_poll_at=first_poll_at,
            ),
            method_name="execute_complete",
        )
    try:
        return poll_until_terminal(
            hook,
            request_id,
            poll_interval=poll_interval,
            deadline=deadline,
            log=task.log,
            first_poll_at=first_poll_at,
        )
    except FAIL_FAST_ERRORS as err:
        raise AirflowFailException(str(err)) from err


def read_trigger_event(event: dict[str, Any] | None) -> LogRequest:
    """The terminal request a :class:`FaunaLogsTrigger` event carries, or the error it reports."""
    if not event:
        raise FaunaError("The Fauna logs trigger fired without an event.")
    status = event.get("status")
    if status == "terminal":
        return LogRequest.from_api(event["request"])
    if status == "timeout":
        raise WaitTimeout(event.get("message") or "The wait for the Fauna log request timed out.")
    message = event.get("message") or f"The Fauna logs trigger reported {status!r}."
    if event.get("error_type") in FAIL_FAST_ERROR_NAMES:
        raise AirflowFailException(message)
    raise FaunaError(message)


#: Errors that a retry of the task cannot cure: a rejected key, an unknown request, bad input.
FAIL_FAST_ERRORS = (FaunaAuthError, FaunaNotFoundError, FaunaValidationError)
FAIL_FAST_ERROR_NAMES = frozenset(cls.__name__ for cls in FAIL_FAST_ERRORS)
