"""What a finished log request means for the task that waited for it.

``Complete`` succeeds; ``Failed`` and ``TimedOut`` fail the task naming the request and its
interval; ``DoesNotExist`` (no logs for the interval) follows the ``on_no_logs`` policy.
"""

from __future__ import annotations

import logging
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

#: What to do when a request ends ``DoesNotExist``.
NO_LOGS_POLICIES = ("skip", "succeed", "fail")


def validate_on_no_logs(value: str) -> str:
    """Refuse an ``on_no_logs`` argument that is not a policy, naming the accepted ones."""
    if not isinstance(value, str) or value not in NO_LOGS_POLICIES:
        raise FaunaValidationError(
            f"on_no_logs={value!r} is not a policy: use 'skip' (default), 'succeed' or 'fail'."
        )
    return value


def describe(request: LogRequest) -> str:
    """Name a request in one line a person can search for: id, scope and interval."""
    return f"Fauna log request {request.request_id} for {request.scope or '?'} [{request.time_start}, {request.time_end})"


def submitter_of(task: Any) -> str:
    """Name the task that submitted the request ``task`` waits on: one of its upstreams."""
    upstream = sorted(getattr(task, "upstream_task_ids", None) or ())
    if not upstream:
        return "the task that submitted it"
    return "the task that submitted it (upstream: " + ", ".join(map(repr, upstream)) + ")"


def settle(request: LogRequest, on_no_logs: str, *, submitted_by: str | None = None) -> dict[str, Any]:
    """Turn a terminal request into the task's result (its XCom-safe details) or the exception that ends it.

    :param request: the terminal request.
    :param on_no_logs: the policy for ``DoesNotExist``.
    :param submitted_by: ``None`` when the settling task submitted the request itself (its retry
        submits a fresh one); else the task that did, for a task that only waited.
    :raises FaunaLogRequestFailed: ``Failed`` or ``TimedOut``; :class:`FaunaWaitedRequestFailed`
        (not retried) when the task only waited.
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
    # DoesNotExist, the one terminal state left: every caller waited until the request was terminal.
    message = f"{describe(request)} ended DoesNotExist: there are no logs for this interval."
    if on_no_logs == "skip":
        raise AirflowSkipException(message + " Skipping (on_no_logs='skip').")
    if on_no_logs == "fail":
        raise FaunaNoLogsError(message + " Failing (on_no_logs='fail').")
    log.info("%s Succeeding without a file (on_no_logs='succeed').", message)
    return request.to_xcom()
