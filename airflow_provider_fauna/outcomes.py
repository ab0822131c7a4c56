"""What a finished log request means for the task that waited for it.

The sensor, the request operator (``wait_for_completion``) and the standalone transfers all
end the same way, so the rules live here once: ``Complete`` succeeds, ``Failed`` and
``TimedOut`` fail the task naming the request and its interval, and ``DoesNotExist`` (no
logs for the interval) follows the ``on_no_logs`` policy.
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
    """A one-line name for a request that a person can search for: id, scope and interval."""
    return f"Fauna log request {request.request_id} for {request.scope or '?'} [{request.time_start}, {request.time_end})"


def settle(request: LogRequest, on_no_logs: NoLogsPolicy) -> dict[str, Any]:
    """Turn a terminal request into the task's result, or into the exception that ends it.

    :returns: the request's XCom-safe details when the task is to succeed.
    :raises FaunaLogRequestFailed: the export ``Failed`` or ``TimedOut``.
    :raises AirflowSkipException: no logs, with ``on_no_logs="skip"``.
    :raises FaunaNoLogsError: no logs, with ``on_no_logs="fail"``.
    """
    if request.state == LogRequestState.COMPLETE:
        return request.to_xcom()
    if request.is_failed:
        raise FaunaLogRequestFailed(
            f"{describe(request)} ended {request.state}. Retry the task that requested it: "
            "a retry submits a fresh request instead of reusing this one."
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
