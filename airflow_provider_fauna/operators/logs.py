"""Request a Fauna query-log export for the DAG run's data interval."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowFailException,
    BaseOperator,
    conf,
)

from airflow_provider_fauna.exceptions import FaunaValidationError
from airflow_provider_fauna.hooks.fauna import FaunaAccountHook
from airflow_provider_fauna.idempotency import derive_token
from airflow_provider_fauna.links import (
    LINK_XCOM_KEY,
    FaunaLogRequestLink,
    log_request_url,
    push_no_link_yet,
)
from airflow_provider_fauna.log_requests import (
    LogRequest,
    LogRequestSpec,
    format_api_time,
    validate_database,
    validate_region_group,
    validate_scope,
)
from airflow_provider_fauna.outcomes import describe, settle, validate_on_no_logs
from airflow_provider_fauna.partitions import partition_period, request_details
from airflow_provider_fauna.utils.templates import is_templated
from airflow_provider_fauna.waiting import (
    FAIL_FAST_ERRORS,
    TaskLogger,
    read_trigger_event,
    wait_or_defer,
)

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.common.compat.sdk import Context

#: How many earlier ``Failed``/``TimedOut`` requests of one task instance are stepped over.
MAX_GENERATIONS = 50
#: The XCom key holding the request's details (the return value is the request id).
LOG_REQUEST_XCOM_KEY = "log_request"

ZERO_WIDTH_FIX = (
    "This happens with schedule='@daily' on Airflow 3, whose CronTriggerTimetable gives "
    "start == end. Give the DAG an interval timetable, for example "
    "schedule=CronDataIntervalTimetable('@daily', timezone='UTC') or "
    "CronTriggerTimetable('@daily', timezone='UTC', interval=timedelta(days=1)), "
    "or pass time_start and time_end explicitly."
)


def resolve_interval(
    context: Context, time_start: datetime | str | None, time_end: datetime | str | None
) -> tuple[datetime | str, datetime | str]:
    """The interval to export: explicit times, else the run's data interval or partition's period.

    A zero-width data interval is refused rather than turned into an empty export: the
    schedule has to say how long a period one run covers.
    """
    start = time_start if time_start not in (None, "") else context.get("data_interval_start")
    end = time_end if time_end not in (None, "") else context.get("data_interval_end")
    if not (time_start and time_end) and (period := partition_period(context)) is not None:
        start, end = time_start or period.start, time_end or period.end
    if start is None or end is None:
        raise FaunaValidationError(
            "This run has no data interval (a manual run of a DAG with schedule=None?): "
            "pass time_start and time_end, or give the DAG an interval schedule."
        )
    if isinstance(start, datetime) and isinstance(end, datetime) and start == end:
        raise FaunaValidationError(
            f"The run's data interval is zero-width ({start.isoformat()} to {end.isoformat()}), "
            f"which would export nothing. {ZERO_WIDTH_FIX}"
        )
    return start, end


class FaunaLogsRequestOperator(BaseOperator):
    """Submit a query-log export of a database or a region group for the run's data interval.

    The export covers ``[time_start, time_end)``, by default the DAG run's data interval.
    The request is idempotent across retries: its token is derived from the task instance
    and the request, so a retried or cleared task (within the API's 24 hours) reuses the
    request it already made, unless that one ended ``Failed`` or ``TimedOut``.

    Returns the request id (XCom ``return_value``) and pushes the request's details under
    the XCom key ``log_request``.

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
    :param timeout: how long to wait for completion, in seconds (``None``: until
        ``execution_timeout``, if any).
    :param on_no_logs: ``"skip"`` (default), ``"succeed"`` or ``"fail"`` when the request ends
        ``DoesNotExist`` (only with ``wait_for_completion``).
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
        timeout: float | timedelta | None = None,
        on_no_logs: str = "skip",
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.database = database
        self.region_group = region_group
        self.time_start = time_start
        self.time_end = time_end
        self.fauna_conn_id = fauna_conn_id
        self.wait_for_completion = wait_for_completion
        self.deferrable = deferrable
        self.poll_interval = check_poll_interval(poll_interval)
        self.timeout = check_timeout(timeout)
        self.on_no_logs = validate_on_no_logs(on_no_logs)
        check_scope_arguments(database, region_group)

    @property
    def hook(self) -> FaunaAccountHook:
        """A hook on the operator's connection."""
        return FaunaAccountHook(fauna_conn_id=self.fauna_conn_id)

    def build_spec(self, context: Context) -> LogRequestSpec:
        """Validate the rendered arguments into a :class:`LogRequestSpec` (no network call)."""
        return spec_for_run(
            context,
            database=self.database,
            region_group=self.region_group,
            time_start=self.time_start,
            time_end=self.time_end,
        )

    def execute(self, context: Context) -> str:
        """Submit (or find again) the export; wait for it if asked to."""
        push_no_link_yet(context)
        hook = self.hook
        try:
            # Bad input and a rejected key stay bad on every retry: fail without spending them.
            spec = self.build_spec(context)
            request = submit_reusing(hook, spec, context, self.log)
        except FAIL_FAST_ERRORS as err:
            raise AirflowFailException(str(err)) from err
        context["ti"].xcom_push(key=LOG_REQUEST_XCOM_KEY, value=request_details(request, context))
        context["ti"].xcom_push(key=LINK_XCOM_KEY, value=log_request_url(hook.base_url, request))
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

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str:
        """Resume after the trigger fired."""
        return self._finish(context, read_trigger_event(event))

    def _finish(self, context: Context, request: LogRequest) -> str:
        context["ti"].xcom_push(key=LOG_REQUEST_XCOM_KEY, value=request_details(request, context))
        settle(request, self.on_no_logs)
        return request.request_id


def spec_for_run(
    context: Context,
    *,
    database: str | None,
    region_group: str | None,
    time_start: datetime | str | None,
    time_end: datetime | str | None,
) -> LogRequestSpec:
    """The validated export a run asks for: its scope, over the explicit times or its data interval.

    Shared by every operator that submits, so that all refuse the same input the same way,
    before any network call.
    """
    start, end = resolve_interval(context, time_start, time_end)
    return LogRequestSpec.build(database=database, region_group=region_group, time_start=start, time_end=end)


def submit_reusing(
    hook: FaunaAccountHook, spec: LogRequestSpec, context: Context, log: TaskLogger
) -> LogRequest:
    """Submit ``spec`` under a token derived from the task instance, stepping over failed requests.

    Generation 0's token finds the request an earlier try made (within 24 hours); if that one
    ended ``Failed`` or ``TimedOut``, the next generation's token starts a fresh export.
    """
    ti = context["ti"]
    for generation in range(MAX_GENERATIONS):
        token = derive_token(
            dag_id=ti.dag_id,
            task_id=ti.task_id,
            run_id=ti.run_id,
            map_index=getattr(ti, "map_index", -1) if getattr(ti, "map_index", -1) is not None else -1,
            scope=spec.scope,
            time_start=format_api_time(spec.time_start),
            time_end=format_api_time(spec.time_end),
            generation=generation,
        )
        request = hook.submit(LogRequestSpec(**{**spec.__dict__, "idempotency_token": token}))
        if not request.is_failed:
            return request
        log.warning("%s ended %s earlier; submitting a fresh request.", describe(request), request.state)
    raise FaunaValidationError(
        f"{MAX_GENERATIONS} requests for {spec.scope} in a row ended Failed or TimedOut; giving up. "
        "Check the Fauna status page before retrying."
    )


def check_scope_arguments(database: str | None, region_group: str | None) -> None:
    """Refuse an impossible scope when the DAG is parsed, as far as it is known then.

    With either argument templated, which one will be given is only known once rendered
    (``LogRequestSpec.build`` checks that in ``execute``); a literal one is still checked.
    """
    if not (is_templated(database) or is_templated(region_group)):
        validate_scope(database, region_group)
        return
    if database and not is_templated(database):
        validate_database(database)
    if region_group and not is_templated(region_group):
        validate_region_group(region_group)


def check_poll_interval(poll_interval: float) -> float:
    """A poll interval must be a positive number of seconds."""
    if isinstance(poll_interval, bool) or not isinstance(poll_interval, int | float) or poll_interval <= 0:
        raise FaunaValidationError(
            f"poll_interval={poll_interval!r} must be a positive number of seconds, for example 60."
        )
    return float(poll_interval)


def check_timeout(timeout: float | timedelta | None) -> float | None:
    """A wait timeout is ``None`` or a non-negative duration, kept in seconds."""
    if timeout is None:
        return None
    seconds = timeout.total_seconds() if isinstance(timeout, timedelta) else timeout
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise FaunaValidationError(
            f"timeout={timeout!r} must be a non-negative number of seconds or a timedelta."
        )
    return float(seconds)
