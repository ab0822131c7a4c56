"""What a finished log request means for the task that waited for it.

The sensor, the request operator (``wait_for_completion``) and the standalone transfers all
end the same way, so the rules live here once: ``Complete`` succeeds, ``Failed`` and
``TimedOut`` fail the task naming the request and its interval (without spending the
retries of a task that only waited on the request, since they could not help), and
``DoesNotExist`` (no logs for the interval) follows the ``on_no_logs`` policy.
"""

from __future__ import annotations

import logging
from enum import Enum
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowSkipException

from airflow_provider_fauna.exceptions import (
    FaunaLogRequestFailed,
    FaunaNoLogsError,
    FaunaValidationError,
    FaunaWaitedRequestFailed,
)
from airflow_provider_fauna.log_requests import LogRequestState

if TYPE_CHECKING:
    from airflow_provider_fauna.log_requests import LogRequest

log = logging.getLogger(__name__)


class NoLogsPolicy(str, Enum):
    """What to do when a request ends ``DoesNotExist`` (nothing was logged in the interval)."""

    SKIP = "skip"
    SUCCEED = "succeed"
    FAIL = "fail"


def validate_on_no_logs(value: str | NoLogsPolicy) -> NoLogsPolicy:
    """Read an ``on_no_logs`` argument, refusing unknown values with the accepted ones."""
    try:
        return NoLogsPolicy(value)
    except ValueError:
        raise FaunaValidationError(
            f"on_no_logs={value!r} is not a policy: use 'skip' (default), 'succeed' or 'fail'."
        ) from None


def describe(request: LogRequest) -> str:
    """Name a request in one line a person can search for: id, scope and interval."""
    return f"Fauna log request {request.request_id} for {request.scope or '?'} [{request.time_start}, {request.time_end})"


def submitter_of(task: Any) -> str:
    """Name the task that submitted the request ``task`` waits on: one of its upstreams."""
    upstream = sorted(getattr(task, "upstream_task_ids", None) or ())
    if not upstream:
        return "the task that submitted it"
    return "the task that submitted it (upstream: " + ", ".join(map(repr, upstream)) + ")"


def settle(
    request: LogRequest, on_no_logs: NoLogsPolicy, *, submitted_by: str | None = None
) -> dict[str, Any]:
    """Turn a terminal request into the task's result, or into the exception that ends it.

    :param submitted_by: ``None`` when the task settling the request submitted it itself (its
        retry submits a fresh request); otherwise the task that did, or a description of it,
        for a task that only waited on the request (a sensor, a transfer given ``request_id``),
        whose retry could only wait on the same failed request again.
    :returns: the request's XCom-safe details when the task is to succeed.
    :raises FaunaLogRequestFailed: the export ``Failed`` or ``TimedOut``: retried by Airflow when
        the task submitted the request, else :class:`FaunaWaitedRequestFailed`, which is not.
    :raises AirflowSkipException: no logs, with ``on_no_logs="skip"``.
    :raises FaunaNoLogsError: no logs, with ``on_no_logs="fail"``.
    """
    if request.state == LogRequestState.COMPLETE:
        return request.to_xcom()
    if request.is_failed and submitted_by is None:
        raise FaunaLogRequestFailed(
            f"{describe(request)} ended {request.state}. A retry of this task submits a fresh "
            "request instead of reusing this one."
        )
    if request.is_failed:
        raise FaunaWaitedRequestFailed(
            f"{describe(request)} ended {request.state}. Retrying this task cannot help: it waits "
            f"on this very request. Clear {submitted_by} together with its downstream tasks: "
            "that task then submits a fresh request."
        )
    if request.state == LogRequestState.DOES_NOT_EXIST:
        message = f"{describe(request)} ended DoesNotExist: there are no logs for this interval."
        if on_no_logs is NoLogsPolicy.SKIP:
            raise AirflowSkipException(message + " Skipping (on_no_logs='skip').")
        if on_no_logs is NoLogsPolicy.FAIL:
            raise FaunaNoLogsError(message + " Failing (on_no_logs='fail').")
        log.info("%s Succeeding without a file (on_no_logs='succeed').", message)
        return request.to_xcom()
    raise FaunaLogRequestFailed(f"{describe(request)} is in state {request.state!r}, which is not terminal.")
