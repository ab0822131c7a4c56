"""Bad input is refused before any network call, with a message that names the field.

Three routes, one table each, every row asserting that the emulator saw no call at all:

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
MUCH_LATER = "2027-03-01T00:00:00Z"

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
    "request-over-90-days": pytest.param(
        RunCase("request", {"time_start": AWARE, "time_end": MUCH_LATER}, "time_end"),
    ),
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
    "s3-empty-key": RunCase("s3", {"key": ""}, "s3_key"),
    "s3-key-unknown-placeholder": RunCase("s3", {"key": "logs/{day}.gz"}, "s3_key"),
    "s3-naive-start": RunCase("s3", {"time_start": NAIVE, "time_end": "2026-11-02T00:00:00Z"}, "time_start"),
    "s3-over-90-days": pytest.param(
        RunCase("s3", {"time_start": AWARE, "time_end": MUCH_LATER}, "time_end"),
    ),
    "s3-connection-without-key": RunCase("s3", {"conn_id": "fauna_no_key"}, "password"),
    "gcs-empty-bucket": RunCase("gcs", {"gcs_bucket": ""}, "bucket_name"),
    "gcs-reserved-bucket": RunCase("gcs", {"gcs_bucket": "goog-logs"}, "bucket_name", dagrun=True, tries=1),
    "gcs-object-with-newline": RunCase("gcs", {"object_name": "a\nb"}, "object_name"),
    "gcs-object-unknown-placeholder": RunCase("gcs", {"object_name": "{nope}.gz"}, "object_name"),
    "gcs-unknown-region-group": RunCase(
        "gcs", {"database": "mars/ECommerce"}, "database", dagrun=True, tries=1
    ),
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
@pytest.mark.parametrize("case", list(RUN.values()), ids=list(RUN))
def test_refused_when_the_task_runs(fauna: Any, dagruns: Any, evidence: Any, case: RunCase) -> None:
    params = {**dag_module().BAD_INPUT_PARAMS, **case.params}

    error = execute_rendered(case.kind, params)

    evidence.add_text(f"the exception of a bad {case.kind} input", str(error))
    assert case.field in str(error), str(error)
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
    "over-90-days": pytest.param(
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
    "connection-retries-not-a-number": ("fauna_bad_retries", lambda h: h.get_log_request("1"), "extra"),
}


def refused_by_the_hook(conn_id: str, call: Any, field_name: str, evidence: Any) -> None:
    with pytest.raises(Exception) as raised:  # noqa: PT011 - the row names what the message must say
        call(FaunaAccountHook(fauna_conn_id=conn_id))
    evidence.add_text("the exception of a bad hook call", str(raised.value))
    assert field_name in str(raised.value), str(raised.value)


@pytest.mark.parametrize(("kwargs", "field_name"), list(REQUEST_LOGS.values()), ids=list(REQUEST_LOGS))
def test_the_hook_refuses_a_bad_export_before_sending(
    fauna: Any, evidence: Any, kwargs: dict[str, Any], field_name: str
) -> None:
    refused_by_the_hook("fauna_default", lambda h: h.request_logs(**kwargs), field_name, evidence)
    assert fauna.calls == []


@pytest.mark.usefixtures("unusable_connections")
@pytest.mark.parametrize(("conn_id", "call", "field_name"), list(HOOK_CALLS.values()), ids=list(HOOK_CALLS))
def test_the_hook_refuses_a_bad_call_or_connection_before_sending(
    fauna: Any, evidence: Any, conn_id: str, call: Any, field_name: str
) -> None:
    refused_by_the_hook(conn_id, call, field_name, evidence)
    assert fauna.calls == []


def test_the_tables_cover_every_operator_and_the_hook() -> None:
    run_cases = [c.values[0] if hasattr(c, "values") else c for c in RUN.values()]
    assert {case.operator for case in PARSE.values()} == {REQUEST, SENSOR, S3, GCS}
    assert {case.kind for case in run_cases} == {"request", "sensor", "s3", "gcs"}
    assert len(PARSE) + len(RUN) + len(REQUEST_LOGS) + len(HOOK_CALLS) >= 20
