"""What the operators, the sensor and the transfers share: argument checks, submission, the wait."""

from __future__ import annotations

import dataclasses
import time
import uuid
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pendulum

from airflow_provider_fauna.arguments import check_bool, check_seconds, check_templated, check_time_argument
from airflow_provider_fauna.exceptions import FaunaValidationError
from airflow_provider_fauna.hooks.fauna import FaunaAccountHook
from airflow_provider_fauna.log_requests import (
    LogRequest,
    LogRequestSpec,
    LogRequestState,
    format_api_time,
    parse_time,
    validate_database,
    validate_interval,
    validate_region_group,
    validate_scope,
)
from airflow_provider_fauna.outcomes import describe, validate_on_no_logs
from airflow_provider_fauna.partitions import core_timetable, partition_period
from airflow_provider_fauna.triggers.logs import FaunaLogsTrigger
from airflow_provider_fauna.utils.templates import is_templated
from airflow_provider_fauna.waiting import TaskLogger, check_known_state, poll_until_terminal, wait_deadline

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import Context


#: How many earlier requests of one task instance are stepped over (see :func:`stale_because`).
MAX_GENERATIONS = 50
#: How long after an interval's end its logs are taken to be exportable. Fauna's pages do not
#: say how soon logs can be exported; 15 minutes is this provider's choice (``export_lag``).
DEFAULT_EXPORT_LAG = timedelta(minutes=15)
#: The XCom key holding the request's details (the return value is the request id).
LOG_REQUEST_XCOM_KEY = "log_request"
#: The first status call after a submission: short exports are done in a few seconds.
FIRST_POLL_AFTER_SUBMIT = 1.0
#: How long a task that submits an export waits for it by default: exports take minutes, a stuck
#: one must not hold the task for ever (``None`` waits until ``execution_timeout``).
DEFAULT_WAIT_TIMEOUT = timedelta(hours=6)
UNTIL_EXECUTION_TIMEOUT = "wait until the task's execution_timeout"
#: Fixed namespace of this provider's idempotency tokens (uuid5 of the distribution name).
TOKEN_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "airflow-provider-fauna")


def validate_scope_arguments(database: str | None, region_group: str | None) -> None:
    """Refuse an impossible scope when the DAG is parsed, as far as it is known then.

    A templated argument is only known once rendered; ``LogRequestSpec.build`` checks it then.
    """
    if not (is_templated(database) or is_templated(region_group)):
        validate_scope(database, region_group)
    elif database and not is_templated(database):
        validate_database(database)
    elif region_group and not is_templated(region_group):
        validate_region_group(region_group)


#: What every zero-width interval refusal ends with: the fix.
ZERO_WIDTH_FIX = (
    "Give the DAG an interval timetable, for example "
    "schedule=CronDataIntervalTimetable('@daily', timezone='UTC') or "
    "CronTriggerTimetable('@daily', timezone='UTC', interval=timedelta(days=1)), "
    "or pass time_start and time_end explicitly."
)


def _is_literal_time(value: Any) -> bool:
    """Whether a time argument is known when the DAG is parsed (a datetime, or a string without Jinja)."""
    return isinstance(value, datetime) or (isinstance(value, str) and bool(value) and not is_templated(value))


def validate_time_arguments(time_start: Any, time_end: Any) -> None:
    """Refuse literal times the export could never take, when the DAG is parsed.

    Each literal time must be aware and ISO 8601; a literal pair must also be in order and span at
    most 90 days. A templated time (or a missing one, taken from the run) is checked once rendered.
    """
    if _is_literal_time(time_start) and _is_literal_time(time_end):
        validate_interval(time_start, time_end)
    elif _is_literal_time(time_start):
        parse_time(time_start, "time_start")
    elif _is_literal_time(time_end):
        parse_time(time_end, "time_end")


def validate_interval_source(task: Any, time_start: Any, time_end: Any) -> None:
    """Refuse, when the DAG is parsed, a task that takes the run's interval from a timetable whose intervals are empty.

    A cron or delta *trigger* timetable without ``interval`` (``schedule="@daily"`` on Airflow 3),
    ``"@once"`` and an ``EventsTimetable`` give every run, scheduled or manual, ``start == end``;
    partitioned ones have periods instead.

    :param task: the operator, attached to its DAG (or not: then nothing is known yet).
    """
    if time_start not in (None, "") or time_end not in (None, ""):
        return
    timetable = core_timetable({"dag": task.dag}) if task.has_dag() else None
    if timetable is None or getattr(timetable, "partitioned", False):
        return
    try:
        from airflow.timetables.events import EventsTimetable
        from airflow.timetables.simple import OnceTimetable
        from airflow.timetables.trigger import CronTriggerTimetable, DeltaTriggerTimetable
    except ImportError:  # a worker without airflow-core: the run-time check remains
        return

    # Those whose every run, scheduled or manual, is an instant ("@once", events, triggers).
    triggers: tuple[type, ...] = (CronTriggerTimetable, DeltaTriggerTimetable, OnceTimetable, EventsTimetable)
    try:
        from airflow.timetables.trigger import MultipleCronTriggerTimetable

        triggers += (MultipleCronTriggerTimetable,)
    except ImportError:  # Airflow 2.11 has no MultipleCronTriggerTimetable
        pass
    if not any(isinstance(timetable, trigger) for trigger in triggers):  # any(): mypy keeps it Any
        return
    # The timetable's own answer for a manual run: a trigger timetable gives every run this width.
    now = pendulum.now("UTC")
    interval = timetable.infer_manual_data_interval(run_after=now)
    if interval.start == interval.end:
        summary = getattr(timetable, "summary", type(timetable).__name__)
        raise FaunaValidationError(
            f"Task {task.task_id!r} exports the run's data interval, but its DAG's schedule {summary!r} "
            f"({type(timetable).__name__}) gives zero-width intervals (start == end), which would export "
            "nothing (on Airflow 3 a cron string such as schedule='@daily' means CronTriggerTimetable). "
            + ZERO_WIDTH_FIX
        )


def resolve_interval(
    context: Context, time_start: datetime | str | None, time_end: datetime | str | None
) -> tuple[datetime | str, datetime | str]:
    """Return the interval to export: the explicit times, else the run's data interval or partition's period."""
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
            "which would export nothing. This happens with schedule='@daily' on Airflow 3, whose "
            "CronTriggerTimetable gives start == end. " + ZERO_WIDTH_FIX
        )
    return start, end


class SubmitsExport:
    """Take and check the arguments a task that submits an export shares (the request operator, the transfers).

    Each operator keeps them in its own signature, for ``default_args`` and the docs, and passes
    them on; what they mean is in :class:`FaunaLogsRequestOperator`'s docstring.
    """

    def __init__(
        self,
        *,
        database: str | None,
        region_group: str | None,
        time_start: datetime | str | None,
        time_end: datetime | str | None,
        fauna_conn_id: str,
        deferrable: bool,
        poll_interval: float,
        timeout: float | timedelta | None,
        on_no_logs: str,
        export_lag: float | timedelta,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.database = check_templated("database", database)
        self.region_group = check_templated("region_group", region_group)
        self.time_start = check_time_argument("time_start", time_start)
        self.time_end = check_time_argument("time_end", time_end)
        self.fauna_conn_id = check_templated("fauna_conn_id", fauna_conn_id)
        self.deferrable = check_bool("deferrable", deferrable)
        self.poll_interval = check_seconds("poll_interval", poll_interval, positive=True)
        # None, given on purpose, waits until execution_timeout (for ever without one).
        self.timeout = (
            None if timeout is None else check_seconds("timeout", timeout, none=UNTIL_EXECUTION_TIMEOUT)
        )
        self.on_no_logs = validate_on_no_logs(on_no_logs)
        self.export_lag = check_seconds("export_lag", export_lag)
        validate_time_arguments(time_start, time_end)

    @property
    def hook(self) -> FaunaAccountHook:
        """Return a hook on the task's Fauna connection."""
        return FaunaAccountHook(fauna_conn_id=self.fauna_conn_id)

    def build_spec(self, context: Context) -> LogRequestSpec:
        """Validate the rendered arguments into the export to submit (no network call)."""
        start, end = resolve_interval(context, self.time_start, self.time_end)
        return LogRequestSpec.build(
            database=self.database, region_group=self.region_group, time_start=start, time_end=end
        )


def derive_token(ti: Any, spec: LogRequestSpec, generation: int = 0) -> str:
    """Derive an idempotency token: the same UUID for the same task instance, request and generation.

    The API resolves a token to the same request for 24 hours, so a retried or cleared task finds
    the export it started; the next ``generation`` steps past one that ended ``Failed`` or ``TimedOut``.

    :param ti: the task instance: its DAG, task, run and map index.
    :param spec: the export: its scope and interval.
    :param generation: how many failed requests of this task instance to step past.
    """
    map_index = -1 if ti.map_index is None else ti.map_index
    start = format_api_time(spec.time_start)
    end = format_api_time(spec.time_end)
    name = "\x1f".join(
        (ti.dag_id, ti.task_id, ti.run_id, str(map_index), spec.scope, start, end, str(generation))
    )
    return str(uuid.uuid5(TOKEN_NAMESPACE, name))


def stale_because(
    request: LogRequest,
    spec: LogRequestSpec,
    *,
    export_lag: float = 0.0,
    fresh: bool = False,
    keep_complete: bool = False,
) -> str | None:
    """Say why an earlier request must not be reused, or ``None`` if it may.

    A request still in progress is always reused (a retry after a crash finds it). A terminal
    one is stepped over when ``fresh`` (``replace=True``: redo it), when it ended ``Failed``,
    ``TimedOut`` or ``DoesNotExist`` (a new try asks again), or when it completed before the
    interval's end plus ``export_lag`` (it may miss logs). An unreadable ``updated_at`` keeps it.

    :param export_lag: seconds after the interval's end from which its logs count as exportable.
    :param fresh: step over every terminal request.
    :param keep_complete: reuse a ``Complete`` request whatever ``fresh`` and ``export_lag`` say
        (a transfer whose key names the request id: a fresh export would land beside the old one).
    """
    if not request.is_terminal or (keep_complete and request.state == LogRequestState.COMPLETE):
        return None
    if fresh:
        return f"ended {request.state} earlier, and replace=True asks for a fresh export"
    if request.state != LogRequestState.COMPLETE:
        return f"ended {request.state} earlier"
    try:
        made = parse_time(request.updated_at, "updated_at") if request.updated_at else None
    except FaunaValidationError:
        made = None
    ready_at = spec.time_end + timedelta(seconds=export_lag)
    if made is not None and made < ready_at:
        return (
            f"completed at {format_api_time(made)}, before the interval's end plus export_lag "
            f"({format_api_time(ready_at)}), so it may miss logs"
        )
    return None


def submit_reusing(
    hook: FaunaAccountHook,
    spec: LogRequestSpec,
    context: Context,
    log: TaskLogger,
    *,
    export_lag: float = 0.0,
    fresh: bool = False,
    keep_complete: bool = False,
) -> LogRequest:
    """Submit ``spec`` under a token derived from the task instance, stepping over stale requests.

    Generation 0, 1, ... is submitted until the API answers with a request that
    :func:`stale_because` lets the task reuse, or with a new one.

    :param context: the task's context, whose task instance the token is derived from.
    :param log: where a stepped-over request is reported.
    :param export_lag: the task's ``export_lag``, in seconds.
    :param fresh: step over every finished request (``replace=True``).
    :param keep_complete: reuse a ``Complete`` request (see :func:`stale_because`).
    """
    for generation in range(MAX_GENERATIONS):
        token = derive_token(context["ti"], spec, generation)
        request = hook.submit(dataclasses.replace(spec, idempotency_token=token))
        why = stale_because(request, spec, export_lag=export_lag, fresh=fresh, keep_complete=keep_complete)
        if why is None:
            return request
        log.warning("%s %s; submitting a fresh request.", describe(request), why)
    raise FaunaValidationError(
        f"{MAX_GENERATIONS} requests for {spec.scope} [{format_api_time(spec.time_start)}, "
        f"{format_api_time(spec.time_end)}) were made by this task instance within 24 hours, and each "
        "ended Failed, TimedOut or DoesNotExist, completed too early, or was redone for replace=True; "
        "giving up. Check the Fauna status page; run it again once the API has forgotten these tokens "
        "(24 hours after each was first sent), or in a new DAG run, whose tokens start afresh."
    )


def wait_for_export_lag(task: Any, spec: LogRequestSpec) -> None:
    """Return once the interval's end plus ``task.export_lag`` has passed (at once for a past interval, or a lag of 0).

    With ``task.deferrable`` the task defers on Airflow's ``DateTimeTrigger``, holding no worker
    slot, and resumes in its ``execute_after_lag``, which runs ``execute`` again; else it sleeps
    in the worker.

    :param task: the submitting task: its ``export_lag``, ``deferrable``, ``log`` and ``defer``.
    :param spec: the export, whose ``time_end`` the lag counts from.
    """
    if not task.export_lag:  # 0 disables the wait, even for an interval that has not ended
        return
    ready_at = spec.time_end + timedelta(seconds=task.export_lag)
    remaining = ready_at.timestamp() - time.time()
    if remaining <= 0:
        return
    task.log.info(
        "The logs of [%s, %s) may not be exportable before %s (export_lag=%ss): waiting %.0f s %s.",
        format_api_time(spec.time_start),
        format_api_time(spec.time_end),
        format_api_time(ready_at),
        task.export_lag,
        remaining,
        "on the triggerer" if task.deferrable else "in the worker",
    )
    if task.deferrable:
        try:
            from airflow.providers.standard.triggers.temporal import DateTimeTrigger
        except ImportError:  # Airflow 2 without the standard provider
            from airflow.triggers.temporal import DateTimeTrigger  # type: ignore[no-redef]

        task.defer(trigger=DateTimeTrigger(moment=ready_at), method_name="execute_after_lag")
    time.sleep(remaining)


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
    """Return the terminal request: ``current`` if it already is, else wait for it.

    With ``task.deferrable`` the task defers to :class:`FaunaLogsTrigger` (resuming in its
    ``execute_complete``), else it polls in place. The task's own status call counts as the first
    poll; after a submission the next comes :data:`FIRST_POLL_AFTER_SUBMIT` later.

    :param task: the waiting task: its ``deferrable``, ``execution_timeout`` and ``log``.
    :param current: the status the task has just read (``None``: the API had a bad moment).
    :param poll_interval: seconds between two status calls.
    :param timeout: seconds to wait at most; the task's ``execution_timeout`` counts too.
    :param submitted: ``current`` is the answer to the submission.
    """
    if current is not None and check_known_state(current).is_terminal:
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
    return poll_until_terminal(
        hook,
        request_id,
        poll_interval=poll_interval,
        deadline=deadline,
        log=task.log,
        first_poll_at=first_poll_at,
    )
