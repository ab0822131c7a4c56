"""Bad input is refused before any network call, with a message that names the field.

Three routes, one table each, every row asserting the exact exception and message it must raise
(the ``*_MESSAGES`` tables) and that the emulator saw no call at all:

* **parse time**: a DAG file with the bad argument is parsed by Airflow's ``DagBag``; the import
  error names the field (constructor checks of all four operators);
* **run time**: the value is templated and only known once rendered. Every row renders the task
  of ``reliability_bad_<kind>`` (``tests/dags/reliability_dags.py``) with real Jinja and calls
  its ``execute``; rows marked ``dagrun`` also go through a real DAG run, whose task log must name
  the field;
* **the hook**: direct calls of :class:`FaunaAccountHook`, and connections it cannot use.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import textwrap
from dataclasses import dataclass
from types import SimpleNamespace
from typing import Any

import pytest
from harness import FAUNA_TEST_KEY, conn_env_var, connection_json
from reliability_support import dag_module, nov

from airflow_provider_fauna.hooks.fauna import FaunaAccountHook

UTC = dt.timezone.utc
D1 = dt.datetime(2026, 11, 1, tzinfo=UTC)
D2 = dt.datetime(2026, 11, 2, tzinfo=UTC)


def refusal(reason: str) -> Any:
    """A row whose message does not name its field yet: a strict xfail with the reason."""
    return pytest.mark.xfail(strict=True, reason=reason)


# ------------------------------------------------------------------------------------ parse time
@dataclass(frozen=True)
class ParseCase:
    operator: str  # module:class
    kwargs: dict[str, Any]
    field: str


REQUEST = "airflow_provider_fauna.operators.logs:FaunaLogsRequestOperator"
SENSOR = "airflow_provider_fauna.sensors.logs:FaunaLogsSensor"
S3 = "airflow_provider_fauna.transfers.fauna_to_s3:FaunaLogsToS3Operator"
GCS = "airflow_provider_fauna.transfers.fauna_to_gcs:FaunaLogsToGCSOperator"
DB = {"database": "us-std/ECommerce"}
TO_S3 = {"request_id": "123", "s3_bucket": "fauna-logs"}
TO_GCS = {"request_id": "123", "bucket_name": "fauna-logs"}

PARSE = {
    "request-both-scopes": ParseCase(REQUEST, {**DB, "region_group": "us-std"}, "region_group"),
    "request-no-scope": ParseCase(REQUEST, {}, "database"),
    "request-unknown-region-group": ParseCase(REQUEST, {"region_group": "mars"}, "region_group"),
    "request-database-without-region-group": ParseCase(REQUEST, {"database": "ECommerce"}, "database"),
    "request-unknown-on-no-logs": ParseCase(REQUEST, {**DB, "on_no_logs": "ignore"}, "on_no_logs"),
    "request-negative-poll-interval": ParseCase(REQUEST, {**DB, "poll_interval": -1}, "poll_interval"),
    "request-negative-timeout": ParseCase(REQUEST, {**DB, "timeout": -5}, "timeout"),
    "sensor-unknown-on-no-logs": ParseCase(SENSOR, {"request_id": "1", "on_no_logs": "maybe"}, "on_no_logs"),
    "sensor-negative-poke-interval": ParseCase(
        SENSOR, {"request_id": "1", "poke_interval": -1}, "poke_interval"
    ),
    "sensor-negative-timeout": ParseCase(SENSOR, {"request_id": "1", "timeout": -1}, "timeout"),
    "s3-empty-bucket": ParseCase(S3, {**TO_S3, "s3_bucket": ""}, "s3_bucket"),
    "s3-invalid-bucket": ParseCase(S3, {**TO_S3, "s3_bucket": "Not_A_Bucket"}, "s3_bucket"),
    "s3-empty-key": ParseCase(S3, {**TO_S3, "s3_key": ""}, "s3_key"),
    "s3-key-unknown-placeholder": ParseCase(S3, {**TO_S3, "s3_key": "logs/{day}.gz"}, "s3_key"),
    "s3-unknown-on-no-logs": ParseCase(S3, {**TO_S3, "on_no_logs": "never"}, "on_no_logs"),
    "s3-negative-timeout": ParseCase(S3, {**TO_S3, "timeout": -1}, "timeout"),
    "s3-request-and-scope": ParseCase(S3, {**TO_S3, **DB}, "request_id"),
    "gcs-empty-bucket": ParseCase(GCS, {**TO_GCS, "bucket_name": ""}, "bucket_name"),
    "gcs-reserved-bucket": ParseCase(GCS, {**TO_GCS, "bucket_name": "goog-logs"}, "bucket_name"),
    "gcs-object-with-newline": ParseCase(GCS, {**TO_GCS, "object_name": "a\nb"}, "object_name"),
    "gcs-negative-poll-interval": ParseCase(GCS, {**TO_GCS, "poll_interval": -1}, "poll_interval"),
    "gcs-database-is-only-a-region": ParseCase(
        GCS, {"bucket_name": "fauna-logs", "database": "eu-std"}, "database"
    ),
}

#: Per row, the exact last line of the import error: the exception and its message. ``*`` stands
#: for the exception of a check Airflow makes itself (its type differs between 2.11 and 3).
PARSE_MESSAGES: dict[str, str] = {
    "request-both-scopes": "FaunaValidationError: Give either database or region_group, not both (got database='us-std/ECommerce', region_group='us-std'): a database path already names its region group.",
    "request-no-scope": "FaunaValidationError: Give database (for example 'us-std/ECommerce') or region_group (one of classic, eu-std, us-std) to say whose logs to export.",
    "request-unknown-region-group": "FaunaValidationError: region_group='mars' is not a Fauna region group: use one of classic, eu-std, us-std.",
    "request-database-without-region-group": "FaunaValidationError: database='ECommerce' must begin with its region group (classic, eu-std, us-std), for example 'us-std/ECommerce'.",
    "request-unknown-on-no-logs": "FaunaValidationError: on_no_logs='ignore' is not a policy: use 'skip' (default), 'succeed' or 'fail'.",
    "request-negative-poll-interval": "FaunaValidationError: poll_interval=-1 (int) must be a positive number of seconds or a timedelta, for example 60.",
    "request-negative-timeout": "FaunaValidationError: timeout=-5 (int) must be a non-negative number of seconds or a timedelta, or None (wait until the task's execution_timeout), for example 60.",
    "sensor-unknown-on-no-logs": "FaunaValidationError: on_no_logs='maybe' is not a policy: use 'skip' (default), 'succeed' or 'fail'.",
    "sensor-negative-poke-interval": "*: Operator arg `poke_interval` must be timedelta object or a non-negative number",
    "sensor-negative-timeout": "*: Operator arg `timeout` must be timedelta object or a non-negative number",
    "s3-empty-bucket": "FaunaValidationError: s3_bucket is empty: give the name of the bucket to write to.",
    "s3-invalid-bucket": "FaunaValidationError: s3_bucket='Not_A_Bucket' is not a valid S3 bucket name: 3 to 63 lowercase letters, digits, '.' and '-', beginning and ending with a letter or digit.",
    "s3-empty-key": "FaunaValidationError: s3_key is empty: give the object's name, or leave it out for the default 'fauna/query_logs/{region_group}/{database_name}/date={date}/{start}_{end}.ndjson.gz'.",
    "s3-key-unknown-placeholder": "FaunaValidationError: s3_key='logs/{day}.gz' uses unknown placeholder(s) day: the key may use {database}, {database_name}, {date}, {end}, {region_group}, {request_id}, {scope}, {start}, {time_end}, {time_start}.",
    "s3-unknown-on-no-logs": "FaunaValidationError: on_no_logs='never' is not a policy: use 'skip' (default), 'succeed' or 'fail'.",
    "s3-negative-timeout": "FaunaValidationError: timeout=-1 (int) must be a non-negative number of seconds or a timedelta, or None (wait until the task's execution_timeout), for example 60.",
    "s3-request-and-scope": "FaunaValidationError: Give either request_id (to copy an export made by FaunaLogsRequestOperator) or database/region_group (to request and copy in this task), not both (got request_id='123', database='us-std/ECommerce', region_group=None).",
    "gcs-empty-bucket": "FaunaValidationError: bucket_name is empty: give the name of the bucket to write to.",
    "gcs-reserved-bucket": "FaunaValidationError: bucket_name='goog-logs' is not a valid GCS bucket name: 3 to 63 lowercase letters, digits, '-', '_' and '.', beginning and ending with a letter or digit, not beginning with 'goog'.",
    "gcs-object-with-newline": "FaunaValidationError: object_name='a\\nb' is not a valid GCS object name (no newlines, not '.' or '..').",
    "gcs-negative-poll-interval": "FaunaValidationError: poll_interval=-1 (int) must be a positive number of seconds or a timedelta, for example 60.",
    "gcs-database-is-only-a-region": "FaunaValidationError: database='eu-std' names no database after the region group: write it like 'eu-std/ECommerce' (or pass region_group='eu-std' to export the whole group).",
}


def parse_dag_file(folder: Any, case: ParseCase) -> dict[str, str]:
    """Parse a one-task DAG file with ``DagBag``, as the DAG processor would; its import errors."""
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
    module, name = case.operator.split(":")
    source = f"""
        from __future__ import annotations

        from airflow.providers.common.compat.sdk import DAG
        from harness.timetables import daily_dag_args

        from {module} import {name}

        with DAG("reliability_parse_case", **daily_dag_args()):
            {name}(task_id="task", **{case.kwargs!r})
        """
    (folder / "reliability_parse_case.py").write_text(textwrap.dedent(source))
    bag = DagBag(dag_folder=str(folder))
    return dict(bag.import_errors)


@pytest.mark.parametrize("name", list(PARSE))
def test_refused_when_the_dag_file_is_parsed(fauna: Any, tmp_path: Any, name: str) -> None:
    case = PARSE[name]

    errors = parse_dag_file(tmp_path, case)

    (message,) = errors.values()
    assert case.field in message, message
    last_line = message.strip().splitlines()[-1].replace("airflow_provider_fauna.exceptions.", "")
    expected = PARSE_MESSAGES[name]
    if expected.startswith("*: "):
        last_line = "*: " + last_line.split(": ", 1)[1]
    assert last_line == expected
    assert fauna.calls == []


# ------------------------------------------------------------------------------------ run time
@dataclass(frozen=True)
class RunCase:
    kind: str  # request, sensor, s3, gcs: the task of DAG reliability_bad_<kind>
    params: dict[str, Any]
    field: str
    dagrun: bool = False  # also through a real DAG run
    tries: int | None = None  # with dagrun: the tries the task takes (it has retries=2), when it is 1


NAIVE = "2026-11-01T00:00:00"
AWARE = "2026-11-01T00:00:00Z"
EARLIER = "2026-10-01T00:00:00Z"
MUCH_LATER = "2027-01-31T00:00:00Z"

RUN = {
    "request-naive-start": RunCase(
        "request",
        {"time_start": NAIVE, "time_end": "2026-11-02T00:00:00Z"},
        "time_start",
        dagrun=True,
        tries=1,
    ),
    "request-naive-end": RunCase(
        "request", {"time_start": AWARE, "time_end": "2026-11-02T00:00:00"}, "time_end"
    ),
    "request-not-a-time": RunCase("request", {"time_start": "yesterday", "time_end": AWARE}, "time_start"),
    "request-end-before-start": RunCase(
        "request", {"time_start": AWARE, "time_end": EARLIER}, "time_end", dagrun=True, tries=1
    ),
    "request-empty-interval": RunCase("request", {"time_start": AWARE, "time_end": AWARE}, "time_end"),
    "request-over-90-days": RunCase("request", {"time_start": AWARE, "time_end": MUCH_LATER}, "time_end"),
    "request-no-scope": RunCase("request", {"database": ""}, "database"),
    "request-unknown-region-group": RunCase(
        "request", {"database": "mars/ECommerce"}, "database", dagrun=True, tries=1
    ),
    "request-database-without-region-group": RunCase("request", {"database": "ECommerce"}, "database"),
    "request-region-group-without-database": RunCase("request", {"database": "us-std/"}, "database"),
    "request-unknown-connection": RunCase(
        "request", {"conn_id": "no_such_connection"}, "no_such_connection", dagrun=True
    ),
    "request-connection-without-key": RunCase("request", {"conn_id": "fauna_no_key"}, "password"),
    "sensor-empty-request-id": RunCase("sensor", {"request_id": ""}, "request_id", dagrun=True, tries=1),
    "sensor-none-request-id": RunCase("sensor", {"request_id": "None"}, "request_id"),
    "sensor-malformed-request-id": RunCase("sensor", {"request_id": "12/../34"}, "request_id"),
    "sensor-dot-only-request-id": RunCase("sensor", {"request_id": ".."}, "request_id"),
    "sensor-unknown-connection": RunCase("sensor", {"conn_id": "no_such_connection"}, "no_such_connection"),
    "s3-empty-bucket": RunCase("s3", {"bucket": ""}, "s3_bucket", dagrun=True, tries=1),
    "s3-invalid-bucket": RunCase("s3", {"bucket": "Not_A_Bucket"}, "s3_bucket"),
    "s3-bucket-url": RunCase("s3", {"bucket": "s3://fauna-logs"}, "s3_bucket"),
    "s3-bucket-url-with-prefix": RunCase("s3", {"bucket": "s3://fauna-logs/raw/fauna"}, "s3_bucket"),
    "s3-key-url": RunCase("s3", {"key": "s3://fauna-logs/logs/{date}.ndjson.gz"}, "s3_key"),
    "s3-empty-key": RunCase("s3", {"key": ""}, "s3_key"),
    "s3-key-unknown-placeholder": RunCase("s3", {"key": "logs/{day}.gz"}, "s3_key"),
    "s3-naive-start": RunCase("s3", {"time_start": NAIVE, "time_end": "2026-11-02T00:00:00Z"}, "time_start"),
    "s3-over-90-days": RunCase("s3", {"time_start": AWARE, "time_end": MUCH_LATER}, "time_end"),
    "s3-connection-without-key": RunCase("s3", {"conn_id": "fauna_no_key"}, "password"),
    "gcs-empty-bucket": RunCase("gcs", {"gcs_bucket": ""}, "bucket_name"),
    "gcs-reserved-bucket": RunCase("gcs", {"gcs_bucket": "goog-logs"}, "bucket_name", dagrun=True, tries=1),
    "gcs-object-with-newline": RunCase("gcs", {"object_name": "a\nb"}, "object_name"),
    "gcs-object-unknown-placeholder": RunCase("gcs", {"object_name": "{nope}.gz"}, "object_name"),
    "gcs-unknown-region-group": RunCase(
        "gcs", {"database": "mars/ECommerce"}, "database", dagrun=True, tries=1
    ),
}

#: Per row, the exact exception the task raises: ``Type: message``.
RUN_MESSAGES: dict[str, str] = {
    "request-naive-start": "FaunaValidationError: time_start='2026-11-01T00:00:00' has no timezone: add one, for example '2026-11-01T00:00:00Z' for UTC.",
    "request-naive-end": "FaunaValidationError: time_end='2026-11-02T00:00:00' has no timezone: add one, for example '2026-11-02T00:00:00Z' for UTC.",
    "request-not-a-time": "FaunaValidationError: time_start='yesterday' is not an ISO 8601 time: write it like '2026-11-01T00:00:00Z'.",
    "request-end-before-start": "FaunaValidationError: time_end (2026-10-01T00:00:00Z) must be after time_start (2026-11-01T00:00:00Z): the interval is [time_start, time_end) and may not be empty.",
    "request-empty-interval": "FaunaValidationError: time_end (2026-11-01T00:00:00Z) must be after time_start (2026-11-01T00:00:00Z): the interval is [time_start, time_end) and may not be empty.",
    "request-over-90-days": "FaunaValidationError: time_start (2026-11-01T00:00:00Z) to time_end (2027-01-31T00:00:00Z) spans 91 days; the Account API allows at most 90: split it into shorter runs (a daily schedule exports one day per run).",
    "request-no-scope": "FaunaValidationError: Give database (for example 'us-std/ECommerce') or region_group (one of classic, eu-std, us-std) to say whose logs to export.",
    "request-unknown-region-group": "FaunaValidationError: database='mars/ECommerce' must begin with its region group (classic, eu-std, us-std), for example 'us-std/mars/ECommerce'.",
    "request-database-without-region-group": "FaunaValidationError: database='ECommerce' must begin with its region group (classic, eu-std, us-std), for example 'us-std/ECommerce'.",
    "request-region-group-without-database": "FaunaValidationError: database='us-std/' names no database after the region group: write it like 'us-std/ECommerce' (or pass region_group='us-std' to export the whole group).",
    "request-unknown-connection": "AirflowNotFoundException: The conn_id `no_such_connection` isn't defined",
    "request-connection-without-key": "FaunaValidationError: Connection 'fauna_no_key' has no account key: put the account key secret (it starts with 'fnacapi') in the connection's password field.",
    "sensor-empty-request-id": "FaunaValidationError: request_id is empty: pass the id returned by FaunaLogsRequestOperator (for example request_task.output).",
    "sensor-none-request-id": "FaunaValidationError: request_id is empty: pass the id returned by FaunaLogsRequestOperator (for example request_task.output).",
    "sensor-malformed-request-id": "FaunaValidationError: request_id='12/../34' is malformed: ids hold only letters, digits, '.', '_' and '-'.",
    "sensor-dot-only-request-id": "FaunaValidationError: request_id='..' is malformed: ids hold only letters, digits, '.', '_' and '-'.",
    "sensor-unknown-connection": "AirflowNotFoundException: The conn_id `no_such_connection` isn't defined",
    "s3-empty-bucket": "FaunaValidationError: s3_bucket is empty: give the name of the bucket to write to.",
    "s3-invalid-bucket": "FaunaValidationError: s3_bucket='Not_A_Bucket' is not a valid S3 bucket name: 3 to 63 lowercase letters, digits, '.' and '-', beginning and ending with a letter or digit.",
    "s3-bucket-url": "FaunaValidationError: s3_bucket='s3://fauna-logs' is a URL: give the bare bucket name ('fauna-logs').",
    "s3-bucket-url-with-prefix": "FaunaValidationError: s3_bucket='s3://fauna-logs/raw/fauna' is a URL: give the bare bucket name ('fauna-logs'), and put 'raw/fauna' at the start of s3_key.",
    "s3-key-url": "FaunaValidationError: s3_key='s3://fauna-logs/logs/{date}.ndjson.gz' is a URL: give the object's key alone, without 's3://bucket/' (the bucket goes in s3_bucket).",
    "s3-empty-key": "FaunaValidationError: s3_key is empty: give the object's name, or leave it out for the default 'fauna/query_logs/{region_group}/{database_name}/date={date}/{start}_{end}.ndjson.gz'.",
    "s3-key-unknown-placeholder": "FaunaValidationError: s3_key='logs/{day}.gz' uses unknown placeholder(s) day: the key may use {database}, {database_name}, {date}, {end}, {region_group}, {request_id}, {scope}, {start}, {time_end}, {time_start}.",
    "s3-naive-start": "FaunaValidationError: time_start='2026-11-01T00:00:00' has no timezone: add one, for example '2026-11-01T00:00:00Z' for UTC.",
    "s3-over-90-days": "FaunaValidationError: time_start (2026-11-01T00:00:00Z) to time_end (2027-01-31T00:00:00Z) spans 91 days; the Account API allows at most 90: split it into shorter runs (a daily schedule exports one day per run).",
    "s3-connection-without-key": "FaunaValidationError: Connection 'fauna_no_key' has no account key: put the account key secret (it starts with 'fnacapi') in the connection's password field.",
    "gcs-empty-bucket": "FaunaValidationError: bucket_name is empty: give the name of the bucket to write to.",
    "gcs-reserved-bucket": "FaunaValidationError: bucket_name='goog-logs' is not a valid GCS bucket name: 3 to 63 lowercase letters, digits, '-', '_' and '.', beginning and ending with a letter or digit, not beginning with 'goog'.",
    "gcs-object-with-newline": "FaunaValidationError: object_name='a\\nb' is not a valid GCS object name (no newlines, not '.' or '..').",
    "gcs-object-unknown-placeholder": "FaunaValidationError: object_name='{nope}.gz' uses unknown placeholder(s) nope: the key may use {database}, {database_name}, {date}, {end}, {region_group}, {request_id}, {scope}, {start}, {time_end}, {time_start}.",
    "gcs-unknown-region-group": "FaunaValidationError: database='mars/ECommerce' must begin with its region group (classic, eu-std, us-std), for example 'us-std/mars/ECommerce'.",
}


@pytest.fixture
def unusable_connections(monkeypatch: pytest.MonkeyPatch, fauna: Any) -> None:
    """Connections the hook must refuse: no key, a host that is not http(s), extras that are not numbers."""
    for conn_id, conn in {
        "fauna_no_key": connection_json("fauna", host=fauna.url),
        "fauna_ftp_host": connection_json("fauna", host="ftp://127.0.0.1", password=FAUNA_TEST_KEY),
        "fauna_bad_timeout": connection_json(
            "fauna", host=fauna.url, password=FAUNA_TEST_KEY, extra={"timeout": -1}
        ),
        "fauna_bad_retries": connection_json(
            "fauna", host=fauna.url, password=FAUNA_TEST_KEY, extra={"max_retries": "lots"}
        ),
    }.items():
        monkeypatch.setenv(conn_env_var(conn_id), conn)


def execute_rendered(kind: str, params: dict[str, Any]) -> BaseException:
    """Render the bad-input task with real Jinja and run its ``execute``; what it raised."""
    task = dag_module().bad_input_task(kind)
    pushed: dict[str, Any] = {}
    context: dict[str, Any] = {
        "params": params,
        # Bad input is refused before the task instance is used but for its ids and the empty
        # extra link pushed first thing; nothing else may be pushed.
        "ti": SimpleNamespace(
            dag_id="reliability_bad_input",
            task_id="task",
            run_id="manual__bad",
            map_index=-1,
            xcom_push=lambda key, value: pushed.__setitem__(key, value),
        ),
        "data_interval_start": D1,
        "data_interval_end": D2,
    }
    task.render_template_fields(context)
    with pytest.raises(Exception) as raised:  # noqa: PT011 - each row names what the message must say
        task.execute(context)
    assert set(pushed) <= {"log_request_link"} and not any(pushed.values()), pushed
    return raised.value


@pytest.mark.usefixtures("unusable_connections")
@pytest.mark.parametrize("name", list(RUN))
def test_refused_when_the_task_runs(fauna: Any, dagruns: Any, evidence: Any, name: str) -> None:
    case = RUN[name]
    params = {**dag_module().BAD_INPUT_PARAMS, **case.params}

    error = execute_rendered(case.kind, params)

    evidence.add_text(f"the exception of a bad {case.kind} input", str(error))
    assert case.field in str(error), str(error)
    assert f"{type(error).__name__}: {error}" == RUN_MESSAGES[name]
    assert fauna.calls == []
    if not case.dagrun:
        return
    run = dagruns.one(f"reliability_bad_{case.kind}", nov(10), **case.params)
    task = run.task("task")
    assert run.state == "failed" and task.state == "failed", run.summary()
    assert case.field in task.log
    assert "XCom not found" not in task.log, "the extra link of a task that never submitted reads empty"
    assert fauna.calls == [], "refused before any network call, in every try"
    if case.tries is not None:
        assert task.try_number == case.tries, "bad input fails the task without spending its retries"


# ------------------------------------------------------------------------------------ the hook
A_DAY = {"time_start": D1, "time_end": D2}
#: Arguments of ``FaunaAccountHook.request_logs`` and the field the refusal must name.
REQUEST_LOGS: dict[str, Any] = {
    "naive-start": (
        {"database": "us-std/a", "time_start": dt.datetime(2026, 11, 1), "time_end": D2},
        "time_start",
    ),
    "naive-end-string": ({"database": "us-std/a", "time_start": D1, "time_end": NAIVE}, "time_end"),
    "end-before-start": ({"database": "us-std/a", "time_start": D2, "time_end": D1}, "time_end"),
    "over-90-days": (
        {"database": "us-std/a", "time_start": D1, "time_end": D1 + dt.timedelta(days=91)},
        "time_end",
    ),
    "both-scopes": ({"database": "us-std/a", "region_group": "us-std", **A_DAY}, "region_group"),
    "no-scope": (A_DAY, "database"),
    "unknown-region-group": ({"region_group": "ap-std", **A_DAY}, "region_group"),
    "database-without-region-group": ({"database": "ECommerce", **A_DAY}, "database"),
    "database-bad-segment": ({"database": "us-std/a b", **A_DAY}, "database"),
    "token-not-a-uuid": (
        {"database": "us-std/a", "idempotency_token": "day-1", **A_DAY},
        "idempotency_token",
    ),
}
#: Other hook calls (the connection id, then the call) and the field the refusal must name.
HOOK_CALLS: dict[str, Any] = {
    "empty-request-id": ("fauna_default", lambda h: h.get_log_request(""), "request_id"),
    "malformed-request-id": ("fauna_default", lambda h: h.get_log_request("../../oauth/apps"), "request_id"),
    "malformed-request-id-new-url": ("fauna_default", lambda h: h.create_log_file_url("a b"), "request_id"),
    "malformed-request-id-async": (
        "fauna_default",
        lambda h: asyncio.run(h.aget_log_request("")),
        "request_id",
    ),
    "unknown-states": ("fauna_default", lambda h: list(h.list_log_requests(states=["Done"])), "states"),
    "page-size-zero": ("fauna_default", lambda h: list(h.list_log_requests(page_size=0)), "page_size"),
    "malformed-app-id": ("fauna_default", lambda h: h.delete_oauth_app("app id!"), "app_id"),
    "unknown-connection": ("no_such_connection", lambda h: h.get_log_request("1"), "no_such_connection"),
    "connection-without-key": ("fauna_no_key", lambda h: h.get_log_request("1"), "password"),
    "connection-host-not-http": ("fauna_ftp_host", lambda h: h.get_log_request("1"), "host"),
    "connection-negative-timeout": ("fauna_bad_timeout", lambda h: h.get_log_request("1"), "timeout"),
    "connection-retries-not-a-number": ("fauna_bad_retries", lambda h: h.get_log_request("1"), "max_retries"),
}

#: Per row of both hook tables, the exact exception: ``Type: message``.
HOOK_MESSAGES: dict[str, str] = {
    "naive-start": "FaunaValidationError: time_start=2026-11-01T00:00:00 is naive: pass a timezone-aware datetime, for example pendulum.datetime(2026, 11, 1, tz='UTC').",
    "naive-end-string": "FaunaValidationError: time_end='2026-11-01T00:00:00' has no timezone: add one, for example '2026-11-01T00:00:00Z' for UTC.",
    "end-before-start": "FaunaValidationError: time_end (2026-11-01T00:00:00Z) must be after time_start (2026-11-02T00:00:00Z): the interval is [time_start, time_end) and may not be empty.",
    "over-90-days": "FaunaValidationError: time_start (2026-11-01T00:00:00Z) to time_end (2027-01-31T00:00:00Z) spans 91 days; the Account API allows at most 90: split it into shorter runs (a daily schedule exports one day per run).",
    "both-scopes": "FaunaValidationError: Give either database or region_group, not both (got database='us-std/a', region_group='us-std'): a database path already names its region group.",
    "no-scope": "FaunaValidationError: Give database (for example 'us-std/ECommerce') or region_group (one of classic, eu-std, us-std) to say whose logs to export.",
    "unknown-region-group": "FaunaValidationError: region_group='ap-std' is not a Fauna region group: use one of classic, eu-std, us-std.",
    "database-without-region-group": "FaunaValidationError: database='ECommerce' must begin with its region group (classic, eu-std, us-std), for example 'us-std/ECommerce'.",
    "database-bad-segment": "FaunaValidationError: database='us-std/a b' has an invalid path segment 'a b': database names hold letters, digits, '_' and '-'.",
    "token-not-a-uuid": "FaunaValidationError: idempotency_token='day-1' is not a UUID: pass str(uuid.uuid4()) or leave it out.",
    "empty-request-id": "FaunaValidationError: request_id is empty: pass the id returned by FaunaLogsRequestOperator (for example request_task.output).",
    "malformed-request-id": "FaunaValidationError: request_id='../../oauth/apps' is malformed: ids hold only letters, digits, '.', '_' and '-'.",
    "malformed-request-id-new-url": "FaunaValidationError: request_id='a b' is malformed: ids hold only letters, digits, '.', '_' and '-'.",
    "malformed-request-id-async": "FaunaValidationError: request_id is empty: pass the id returned by FaunaLogsRequestOperator (for example request_task.output).",
    "unknown-states": "FaunaValidationError: states=['Done'] must be a non-empty list of log request states (Requested, Pending, CreatingNewUrl, Complete, DoesNotExist, Failed, TimedOut).",
    "page-size-zero": "FaunaValidationError: page_size=0 (int) must be an integer in [1, 100] (results per page).",
    "malformed-app-id": "FaunaValidationError: app_id='app id!' is not an OAuth app id: take it from list_oauth_apps().",
    "unknown-connection": "AirflowNotFoundException: The conn_id `no_such_connection` isn't defined",
    "connection-without-key": "FaunaValidationError: Connection 'fauna_no_key' has no account key: put the account key secret (it starts with 'fnacapi') in the connection's password field.",
    "connection-host-not-http": "FaunaValidationError: Connection 'fauna_ftp_host' has host 'ftp://127.0.0.1', which is not an http(s) URL: use https://account.fauna.com (or the emulator's http://127.0.0.1:PORT).",
    "connection-negative-timeout": 'FaunaValidationError: Connection \'fauna_bad_timeout\' has an invalid extra: timeout=-1 must be a positive number of seconds. Extras take numbers, for example {"timeout": 30, "max_retries": 4}.',
    "connection-retries-not-a-number": "FaunaValidationError: Connection 'fauna_bad_retries' has an invalid extra: max_retries='lots' must be a whole number, 0 or more. Extras take numbers, for example {\"timeout\": 30, \"max_retries\": 4}.",
}


def refused_by_the_hook(name: str, conn_id: str, call: Any, field_name: str, evidence: Any) -> None:
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the row names what the message must say
        call(FaunaAccountHook(fauna_conn_id=conn_id))
    evidence.add_text("the exception of a bad hook call", str(raised.value))
    assert field_name in str(raised.value), str(raised.value)
    assert f"{type(raised.value).__name__}: {raised.value}" == HOOK_MESSAGES[name]


@pytest.mark.parametrize("name", list(REQUEST_LOGS))
def test_the_hook_refuses_a_bad_export_before_sending(fauna: Any, evidence: Any, name: str) -> None:
    kwargs, field_name = REQUEST_LOGS[name]
    refused_by_the_hook(name, "fauna_default", lambda h: h.request_logs(**kwargs), field_name, evidence)
    assert fauna.calls == []


@pytest.mark.usefixtures("unusable_connections")
@pytest.mark.parametrize("name", list(HOOK_CALLS))
def test_the_hook_refuses_a_bad_call_or_connection_before_sending(
    fauna: Any, evidence: Any, name: str
) -> None:
    conn_id, call, field_name = HOOK_CALLS[name]
    refused_by_the_hook(name, conn_id, call, field_name, evidence)
    assert fauna.calls == []


def test_every_row_has_its_exact_message_and_the_tables_cover_every_operator_and_the_hook() -> None:
    assert set(PARSE_MESSAGES) == set(PARSE)
    assert set(RUN_MESSAGES) == set(RUN)
    assert set(HOOK_MESSAGES) == set(REQUEST_LOGS) | set(HOOK_CALLS)
    assert (len(PARSE), len(RUN), len(REQUEST_LOGS), len(HOOK_CALLS)) == (22, 32, 10, 12)
    assert {case.operator for case in PARSE.values()} == {REQUEST, SENSOR, S3, GCS}
    assert {case.kind for case in RUN.values()} == {"request", "sensor", "s3", "gcs"}
