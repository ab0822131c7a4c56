"""Interval and token rules of the request operator, and argument checks at DAG parse time."""

from __future__ import annotations

import uuid
from dataclasses import replace
from datetime import timedelta
from types import SimpleNamespace

import pendulum
import pytest

from airflow_provider_fauna.exceptions import FaunaValidationError
from airflow_provider_fauna.log_requests import LogRequest, LogRequestSpec
from airflow_provider_fauna.operators.logs import FaunaLogsRequestOperator
from airflow_provider_fauna.sensors.logs import FaunaLogsSensor
from airflow_provider_fauna.tasks import (
    MAX_GENERATIONS,
    derive_token,
    resolve_interval,
    stale_because,
    submit_reusing,
)

D1 = pendulum.datetime(2026, 11, 1, tz="UTC")
D2 = pendulum.datetime(2026, 11, 2, tz="UTC")
TI = SimpleNamespace(dag_id="d", task_id="t", run_id="scheduled__2026-11-02", map_index=-1)
SPEC = LogRequestSpec.build(database="us-std/ECommerce", time_start=D1, time_end=D2)


def test_token_is_the_documented_uuid_of_the_task_instance_and_request():
    token = derive_token(TI, SPEC)
    name = "d|t|scheduled__2026-11-02|-1|us-std/ECommerce|2026-11-01T00:00:00Z|2026-11-02T00:00:00Z|0"
    assert token == str(
        uuid.uuid5(uuid.uuid5(uuid.NAMESPACE_DNS, "airflow-provider-fauna"), name.replace("|", "\x1f"))
    )
    assert derive_token(SimpleNamespace(**{**vars(TI), "map_index": None}), SPEC) == token, (
        "no map index is -1"
    )
    for ti, spec in [
        (SimpleNamespace(**{**vars(TI), "run_id": "manual__x"}), SPEC),
        (TI, replace(SPEC, database="us-std/Other")),
        (TI, replace(SPEC, time_end=D2.add(days=1))),
    ]:
        assert derive_token(ti, spec) != token
    assert derive_token(TI, SPEC, generation=1) != token


def test_interval_defaults_to_the_data_interval():
    assert resolve_interval({"data_interval_start": D1, "data_interval_end": D2}, None, None) == (D1, D2)


def test_explicit_times_win():
    context = {"data_interval_start": D1, "data_interval_end": D2}
    assert resolve_interval(context, "2026-10-01T00:00:00Z", "") == ("2026-10-01T00:00:00Z", D2)


def test_zero_width_interval_is_refused_with_the_fix():
    with pytest.raises(FaunaValidationError, match="CronDataIntervalTimetable"):
        resolve_interval({"data_interval_start": D2, "data_interval_end": D2}, None, None)


def test_no_data_interval_needs_explicit_times():
    with pytest.raises(FaunaValidationError, match="time_start and time_end"):
        resolve_interval({"data_interval_start": None, "data_interval_end": None}, None, None)


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"database": "us-std/a", "region_group": "us-std"}, "not both"),
        ({}, "database"),
        ({"database": "ECommerce"}, "region group"),
        ({"region_group": "mars"}, "region_group"),
        ({"database": "us-std/a", "on_no_logs": "ignore"}, "on_no_logs"),
        ({"database": "us-std/a", "poll_interval": -1}, "poll_interval"),
        ({"database": "us-std/a", "timeout": -5}, "timeout"),
        ({"database": "us-std/a", "export_lag": True}, "export_lag"),
        ({"database": "us-std/a", "export_lag": -1}, "export_lag"),
        ({"database": "us-std/a", "export_lag": timedelta(seconds=-1)}, "export_lag"),
        ({"database": "us-std/a", "export_lag": "15m"}, "export_lag"),
        ({"database": "us-std/a", "export_lag": None}, "export_lag"),
    ],
)
def test_operator_refuses_bad_arguments_when_the_dag_is_parsed(kwargs, match):
    with pytest.raises(FaunaValidationError, match=match):
        FaunaLogsRequestOperator(task_id="r", **kwargs)


def test_templated_scope_is_checked_at_run_time_not_parse_time():
    op = FaunaLogsRequestOperator(task_id="r", database="{{ params.database }}", timeout=timedelta(minutes=5))
    assert op.timeout == 300.0


def test_both_scopes_templated_are_decided_once_rendered():
    """A DAG may template both, one rendering empty per run: only the rendered pair is judged."""
    op = FaunaLogsRequestOperator(
        task_id="r", database="{{ params.database }}", region_group="{{ params.region_group }}"
    )
    context = {"data_interval_start": D1, "data_interval_end": D2}
    op.database, op.region_group = "", "eu-std"  # as rendered for one run
    assert op.build_spec(context).scope == "eu-std"
    op.database, op.region_group = "us-std/a", "us-std"  # as rendered for another
    with pytest.raises(FaunaValidationError, match="not both"):
        op.build_spec(context)


def test_a_literal_scope_beside_a_templated_one_is_still_checked_at_parse_time():
    with pytest.raises(FaunaValidationError, match="region_group"):
        FaunaLogsRequestOperator(task_id="r", database="{{ params.database }}", region_group="mars")


def test_sensor_refuses_unknown_policy():
    with pytest.raises(FaunaValidationError, match="on_no_logs"):
        FaunaLogsSensor(task_id="s", request_id="1", on_no_logs="maybe")


@pytest.mark.parametrize("bad", ["", "  ", "None", "..", ".", "12/34", "1?x=2", None, True, 1.5])
def test_request_ids_that_could_not_be_a_path_segment_are_refused(bad):
    from airflow_provider_fauna.log_requests import validate_request_id

    with pytest.raises(FaunaValidationError, match="request_id"):
        validate_request_id(bad)


def test_request_ids_as_the_api_gives_them_pass():
    from airflow_provider_fauna.log_requests import validate_request_id

    assert validate_request_id(123456) == "123456"
    assert validate_request_id(" 524533559245 ") == "524533559245"


# ---------------------------------------------------------------- literal times, at parse time
S3_ARGS = ("airflow_provider_fauna.transfers.fauna_to_s3:FaunaLogsToS3Operator", {"s3_bucket": "fauna-logs"})
GCS_ARGS = (
    "airflow_provider_fauna.transfers.fauna_to_gcs:FaunaLogsToGCSOperator",
    {"bucket_name": "fauna-logs"},
)
REQUEST_ARGS = ("airflow_provider_fauna.operators.logs:FaunaLogsRequestOperator", {})
AWARE = "2026-11-01T00:00:00Z"


def build(operator: tuple[str, dict], **kwargs):
    import importlib

    path, extra = operator
    module, name = path.split(":")
    return getattr(importlib.import_module(module), name)(task_id="t", database="us-std/a", **extra, **kwargs)


@pytest.mark.parametrize("operator", [REQUEST_ARGS, S3_ARGS, GCS_ARGS], ids=["request", "s3", "gcs"])
@pytest.mark.parametrize(
    ("times", "match"),
    [
        (
            {"time_start": "2026-11-01", "time_end": "2026-11-02T00:00:00Z"},
            r"time_start='2026-11-01' is not a date and time",
        ),
        ({"time_start": AWARE, "time_end": "2026-11-02"}, r"time_end='2026-11-02' is not a date and time"),
        ({"time_start": "2026-11-01T00:00:00"}, r"time_start='2026-11-01T00:00:00' has no timezone"),
        ({"time_end": "next week"}, r"time_end='next week' is not an ISO 8601 time"),
        ({"time_start": pendulum.naive(2026, 11, 1)}, r"time_start=2026-11-01T00:00:00 is naive"),
        (
            {"time_start": AWARE, "time_end": "2027-02-09T00:00:00Z"},
            r"spans 100 days; the Account API allows at most 90",
        ),
        ({"time_start": AWARE, "time_end": "2026-10-01T00:00:00Z"}, r"time_end .* must be after time_start"),
        ({"time_start": D1, "time_end": D1}, r"must be after time_start"),
    ],
)
def test_literal_times_are_refused_when_the_dag_is_parsed(operator, times, match):
    with pytest.raises(FaunaValidationError, match=match):
        build(operator, **times)


@pytest.mark.parametrize("operator", [REQUEST_ARGS, S3_ARGS, GCS_ARGS], ids=["request", "s3", "gcs"])
def test_templated_times_wait_for_the_run_and_a_literal_partner_is_checked_alone(operator):
    build(operator, time_start="{{ data_interval_start }}", time_end="{{ data_interval_end }}")
    build(operator, time_start="{{ ds }}T00:00:00Z", time_end=AWARE)  # the pair is checked once rendered
    with pytest.raises(FaunaValidationError, match="time_end='2026-11-01' is not a date and time"):
        build(operator, time_start="{{ ds }}", time_end="2026-11-01")
    # Every ISO 8601 offset form, and a datetime from another zone.
    op = build(
        operator,
        time_start="2026-11-01T00:00:00+01",
        time_end=pendulum.datetime(2026, 11, 2, tz="Asia/Kolkata"),
    )
    assert op.time_start == "2026-11-01T00:00:00+01"  # kept as given, for the rendered field


# ---------------------------------------------------------------- the DAG file, as Airflow parses it
def import_errors(folder, body: str, schedule: str, imports: str = "") -> list[str]:
    """Parse a DAG file with ``DagBag``, as the DAG processor would: the last line of each import error."""
    import textwrap

    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    source = f"""
        import datetime as dt

        from airflow.providers.common.compat.sdk import DAG

        from airflow_provider_fauna.operators.logs import FaunaLogsRequestOperator
        from airflow_provider_fauna.transfers.fauna_to_s3 import FaunaLogsToS3Operator
        {imports}

        with DAG("parse_case", schedule={schedule}, start_date=dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)):
            {body}
        """
    (folder / "parse_case.py").write_text(textwrap.dedent(source))
    bag = DagBag(dag_folder=str(folder))
    return [err.strip().splitlines()[-1] for err in bag.import_errors.values()]


def airflow_3() -> bool:
    from harness import airflow_version

    return airflow_version() >= (3, 0)


REQUEST_TASK = 'FaunaLogsRequestOperator(task_id="r", database="us-std/a")'
S3_TASK = 'FaunaLogsToS3Operator(task_id="c", database="us-std/a", s3_bucket="fauna-logs")'


@pytest.mark.parametrize("task", [REQUEST_TASK, S3_TASK], ids=["request", "s3"])
def test_a_zero_width_schedule_is_refused_when_the_dag_file_is_parsed(tmp_path, task):
    errors = import_errors(tmp_path, task, '"@daily"')
    if not airflow_3():  # "@daily" is CronDataIntervalTimetable on Airflow 2: one day per run
        assert errors == []
        return
    (error,) = errors
    assert "'0 0 * * *' (CronTriggerTimetable) gives zero-width intervals" in error
    assert "schedule=CronDataIntervalTimetable('@daily', timezone='UTC')" in error
    assert "or pass time_start and time_end explicitly" in error


@pytest.mark.parametrize("task", [REQUEST_TASK, S3_TASK], ids=["request", "s3"])
@pytest.mark.parametrize(
    ("schedule", "imports", "kind"),
    [
        ('"@once"', "", "OnceTimetable"),
        (
            "EventsTimetable([dt.datetime(2026, 3, 1, tzinfo=dt.timezone.utc)])",
            "from airflow.timetables.events import EventsTimetable",
            "EventsTimetable",
        ),
    ],
    ids=["once", "events"],
)
def test_a_schedule_of_instants_is_refused_when_the_dag_file_is_parsed(
    tmp_path, task, schedule, imports, kind
):
    """ "@once" and event timetables give every run start == end, on Airflow 3 and 2.11 alike."""
    (error,) = import_errors(tmp_path, task, schedule, imports)
    assert f"({kind}) gives zero-width intervals" in error
    assert "or pass time_start and time_end explicitly" in error


@pytest.mark.parametrize(
    ("schedule", "body"),
    [
        # Explicit times need no interval from the schedule.
        (
            '"@daily"',
            'FaunaLogsRequestOperator(task_id="r", database="us-std/a", time_start="{{ ds }}T00:00:00Z", time_end="{{ ds }}T12:00:00Z")',
        ),
        # A trigger timetable with an interval, and an interval timetable.
        (
            'CronTriggerTimetable("@daily", timezone="UTC", interval=dt.timedelta(days=1))',
            REQUEST_TASK,
        ),
        ('CronDataIntervalTimetable("@daily", timezone="UTC")', S3_TASK),
        ("None", REQUEST_TASK),  # manual runs: refused when they run, with the fix
        # A transfer given request_id copies that export: the schedule's interval is not used.
        (
            '"@daily"',
            'FaunaLogsToS3Operator(task_id="c", request_id="{{ ti.xcom_pull(task_ids=\'r\') }}", s3_bucket="fauna-logs")',
        ),
    ],
    ids=[
        "daily-with-times",
        "trigger-with-interval",
        "data-interval",
        "no-schedule",
        "daily-copy-by-request-id",
    ],
)
def test_schedules_that_give_an_interval_parse(tmp_path, schedule, body):
    imports = (
        "from airflow.sdk import CronDataIntervalTimetable, CronTriggerTimetable"
        if airflow_3()
        else "from airflow.timetables.interval import CronDataIntervalTimetable; "
        "from airflow.timetables.trigger import CronTriggerTimetable"
    )
    assert import_errors(tmp_path, body, schedule, imports) == []


def test_a_partitioned_schedule_parses(tmp_path):
    from harness import airflow_version

    if airflow_version() < (3, 2):
        pytest.skip("partitioned runs exist on Airflow 3.2+ only (by design)")
    schedule = 'CronPartitionTimetable("0 0 * * *", timezone="UTC", run_offset=-1, key_format="%Y-%m-%d")'
    imports = "from airflow.sdk import CronPartitionTimetable"
    assert import_errors(tmp_path, REQUEST_TASK, schedule, imports) == []


@pytest.mark.parametrize(
    ("times", "error"),
    [
        (
            'time_start="2026-11-01", time_end="2026-11-02T00:00:00Z"',
            "FaunaValidationError: time_start='2026-11-01' is not a date and time: write it like '2026-11-01T00:00:00Z'.",
        ),
        (
            'time_start="2026-11-01T00:00:00Z", time_end="2027-02-09T00:00:00Z"',
            "FaunaValidationError: time_start (2026-11-01T00:00:00Z) to time_end (2027-02-09T00:00:00Z) spans 100 days; "
            "the Account API allows at most 90: split it into shorter runs (a daily schedule exports one day per run).",
        ),
    ],
    ids=["date-only", "100-days"],
)
def test_literal_times_are_refused_when_the_dag_file_is_parsed(tmp_path, times, error):
    body = f'FaunaLogsToS3Operator(task_id="c", database="us-std/a", s3_bucket="fauna-logs", {times})'
    (message,) = import_errors(tmp_path, body, "None")
    assert message.replace("airflow_provider_fauna.exceptions.", "") == error


def test_export_lag_takes_seconds_or_a_timedelta_and_defaults_to_15_minutes():
    assert FaunaLogsRequestOperator(task_id="r", database="us-std/a").export_lag == 900.0
    assert FaunaLogsRequestOperator(task_id="r", database="us-std/a", export_lag=0).export_lag == 0.0
    lag = timedelta(minutes=2)
    assert FaunaLogsRequestOperator(task_id="r", database="us-std/a", export_lag=lag).export_lag == 120.0


def answer(state: str, updated_at: str | None = None) -> LogRequest:
    return LogRequest(request_id="1", state=state, database="us-std/ECommerce", updated_at=updated_at)


@pytest.mark.parametrize(
    ("state", "updated_at", "lag", "fresh", "stale"),
    [
        ("Pending", None, 0, False, False),
        ("Requested", None, 0, True, False),  # a crash retry finds it, even with replace=True
        ("Complete", "2026-11-02T00:20:00Z", 900, False, False),
        ("Complete", "2026-11-02T00:14:59Z", 900, False, True),  # before time_end + lag
        ("Complete", "2026-11-01T23:59:59Z", 0, False, True),
        ("Complete", "2026-11-02T00:00:00Z", 0, False, False),
        ("Complete", None, 900, False, False),  # no updated_at: kept
        ("Complete", "yesterday", 900, False, False),  # unreadable: kept
        ("Complete", "2026-11-03T00:00:00Z", 0, True, True),  # replace=True: redo it
        ("DoesNotExist", "2026-11-03T00:00:00Z", 0, False, True),
        ("Failed", None, 0, False, True),
        ("TimedOut", None, 0, False, True),
    ],
)
def test_which_earlier_requests_are_stepped_over(state, updated_at, lag, fresh, stale):
    why = stale_because(answer(state, updated_at), SPEC, export_lag=lag, fresh=fresh)
    assert (why is not None) == stale, why


class StubHook:
    """Answers each submission with the next of ``answers`` (a new token gets a new request)."""

    def __init__(self, *answers: LogRequest) -> None:
        self.answers, self.tokens = list(answers), []

    def submit(self, spec: LogRequestSpec) -> LogRequest:
        self.tokens.append(spec.idempotency_token)
        return self.answers.pop(0) if self.answers else answer("Pending")


class Log:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg, *args, **kwargs):
        self.lines.append(msg % args)

    def warning(self, msg, *args, **kwargs):
        self.lines.append(msg % args)


def test_submit_steps_over_an_empty_and_an_early_export_and_reuses_a_pending_one():
    early = answer("Complete", "2026-11-02T00:05:00Z")
    hook, log = StubHook(answer("DoesNotExist"), early), Log()
    request = submit_reusing(hook, SPEC, {"ti": TI}, log, export_lag=900)
    assert request.state == "Pending"
    assert hook.tokens == [derive_token(TI, SPEC, g) for g in range(3)]
    assert "ended DoesNotExist earlier; submitting a fresh request" in log.lines[0]
    assert "before the interval's end plus export_lag (2026-11-02T00:15:00Z)" in log.lines[1]


def test_after_max_generations_the_task_gives_up_naming_the_fix():
    hook = StubHook(*[answer("DoesNotExist")] * MAX_GENERATIONS)
    with pytest.raises(FaunaValidationError, match="24 hours") as err:
        submit_reusing(hook, SPEC, {"ti": TI}, Log())
    assert f"{MAX_GENERATIONS} requests for us-std/ECommerce" in str(err.value)
    assert len(hook.tokens) == MAX_GENERATIONS
