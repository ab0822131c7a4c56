"""Request a Fauna query-log export for the DAG run's data interval."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperator, conf

from airflow_provider_fauna.arguments import check_bool
from airflow_provider_fauna.hooks.fauna import FaunaAccountHook
from airflow_provider_fauna.links import LINK_XCOM_KEY, FaunaLogRequestLink, log_request_url, push_no_link_yet
from airflow_provider_fauna.outcomes import settle
from airflow_provider_fauna.partitions import request_details
from airflow_provider_fauna.tasks import (
    DEFAULT_EXPORT_LAG,
    DEFAULT_WAIT_TIMEOUT,
    LOG_REQUEST_XCOM_KEY,
    SubmitsExport,
    submit_reusing,
    validate_interval_source,
    validate_scope_arguments,
    wait_for_export_lag,
    wait_or_defer,
)
from airflow_provider_fauna.waiting import read_trigger_event

if TYPE_CHECKING:
    from collections.abc import Sequence
    from datetime import datetime, timedelta

    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_fauna.log_requests import LogRequest


class FaunaLogsRequestOperator(SubmitsExport, BaseOperator):
    """Submit a query-log export of a database or a region group for the run's data interval.

    A retried or cleared task reuses the request it made (its token is derived from the task
    instance) while it is in progress or ``Complete``; it submits a fresh one in place of one
    that ended ``Failed``, ``TimedOut`` or ``DoesNotExist``, or that completed before the
    interval's end plus ``export_lag``. Returns the request id and pushes the request's details
    under the XCom key ``log_request``.

    :param database: the database path with its region group, e.g. ``us-std/ECommerce`` (templated).
    :param region_group: export a whole region group instead (``us-std``, ``eu-std``, ``classic``; templated).
    :param time_start: start of the interval, inclusive (templated); default: data interval start.
    :param time_end: end of the interval, exclusive (templated); default: data interval end.
    :param fauna_conn_id: the Fauna connection (templated).
    :param wait_for_completion: also wait until the request is terminal, as the sensor would.
    :param deferrable: wait on the triggerer (with ``wait_for_completion``); defaults to
        ``[operators] default_deferrable``.
    :param poll_interval: the wait between two status calls, in seconds (the first comes 1 s after
        the submission).
    :param timeout: how long to wait, in seconds or a ``timedelta``; 6 hours by default. ``None``
        waits until ``execution_timeout`` (for ever without one).
    :param on_no_logs: ``"skip"`` (default), ``"succeed"`` or ``"fail"`` when the request ends
        ``DoesNotExist`` (only with ``wait_for_completion``).
    :param export_lag: seconds (or a timedelta) after the interval's end before which the export
        is not submitted, since logs are not exportable the instant the interval ends (default
        15 minutes; ``0``: submit at once). A past interval, as in every backfill, never waits.
        With ``deferrable`` the task waits on the triggerer (``DateTimeTrigger``), else it
        sleeps in the worker.
    """

    template_fields: Sequence[str] = ("database", "region_group", "time_start", "time_end", "fauna_conn_id")
    operator_extra_links = (FaunaLogRequestLink(),)
    ui_color = "#c9a7ff"

    def __init__(
        self,
        *,
        database: str | None = None,
        region_group: str | None = None,
        time_start: datetime | str | None = None,
        time_end: datetime | str | None = None,
        fauna_conn_id: str = FaunaAccountHook.default_conn_name,
        wait_for_completion: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 60.0,
        timeout: float | timedelta | None = DEFAULT_WAIT_TIMEOUT,
        on_no_logs: str = "skip",
        export_lag: float | timedelta = DEFAULT_EXPORT_LAG,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            database=database,
            region_group=region_group,
            time_start=time_start,
            time_end=time_end,
            fauna_conn_id=fauna_conn_id,
            deferrable=deferrable,
            poll_interval=poll_interval,
            timeout=timeout,
            on_no_logs=on_no_logs,
            export_lag=export_lag,
            **kwargs,
        )
        self.wait_for_completion = check_bool("wait_for_completion", wait_for_completion)
        validate_scope_arguments(database, region_group)
        validate_interval_source(self, time_start, time_end)

    def execute(self, context: Context) -> str:
        """Submit (or find again) the export; wait for it if asked to."""
        push_no_link_yet(context)
        hook = self.hook
        spec = self.build_spec(context)
        wait_for_export_lag(self, spec)
        request = submit_reusing(hook, spec, context, self.log, export_lag=self.export_lag)
        context["ti"].xcom_push(key=LOG_REQUEST_XCOM_KEY, value=request_details(request, context))
        context["ti"].xcom_push(
            key=LINK_XCOM_KEY, value=log_request_url(hook.link_template, hook.base_url, request)
        )
        if not self.wait_for_completion:
            return request.request_id
        final = wait_or_defer(
            self,
            context,
            hook,
            request.request_id,
            current=request,
            poll_interval=self.poll_interval,
            timeout=self.timeout,
            submitted=True,
        )
        return self._finish(context, final)

    def execute_after_lag(self, context: Context, event: Any = None) -> str:
        """Resume after the ``export_lag`` wait on the triggerer: submit now."""
        return self.execute(context)

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """Resume after the trigger fired."""
        return self._finish(context, read_trigger_event(event))

    def _finish(self, context: Context, request: LogRequest) -> str:
        context["ti"].xcom_push(key=LOG_REQUEST_XCOM_KEY, value=request_details(request, context))
        settle(request, self.on_no_logs)
        return request.request_id
