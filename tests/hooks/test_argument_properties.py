"""Properties of arguments: any wrong-typed value of a public argument is a clear refusal or is accepted.

Each task is built without a DAG run; then what it checks before its first API call runs (the
rendered scope and interval, the request id, the destination, the hook). A refusal is a
FaunaValidationError naming the field, never a raw TypeError, AttributeError or ValueError, and
no API call is made. Airflow's own arguments (``retries``, the sensor's ``timeout``...) are Airflow's.
"""

from __future__ import annotations

import inspect
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

import pytest
from airflow.providers.common.compat.sdk import BaseOperator, BaseSensorOperator
from hypothesis import given
from hypothesis import strategies as st

from airflow_provider_fauna.exceptions import FaunaValidationError
from airflow_provider_fauna.hooks.fauna import FaunaAccountHook
from airflow_provider_fauna.log_requests import validate_request_id
from airflow_provider_fauna.operators.logs import FaunaLogsRequestOperator
from airflow_provider_fauna.sensors.logs import FaunaLogsSensor
from airflow_provider_fauna.transfers.fauna_to_gcs import FaunaLogsToGCSOperator
from airflow_provider_fauna.transfers.fauna_to_s3 import FaunaLogsToS3Operator

if TYPE_CHECKING:
    from collections.abc import Iterator

START = datetime(2026, 11, 1, tzinfo=timezone.utc)
CONTEXT = {"data_interval_start": START, "data_interval_end": START + timedelta(days=1)}
#: The arguments each task needs besides the one under test.
TASKS: dict[str, tuple[type[BaseOperator], dict[str, Any]]] = {
    "request": (FaunaLogsRequestOperator, {"database": "us-std/Shop"}),
    "sensor": (FaunaLogsSensor, {"request_id": "1"}),
    "s3": (FaunaLogsToS3Operator, {"request_id": "1", "s3_bucket": "lake"}),
    "gcs": (FaunaLogsToGCSOperator, {"request_id": "1", "bucket_name": "lake"}),
}
SCOPE_FIELDS = ("database", "region_group", "time_start", "time_end")


def public_arguments(cls: type[BaseOperator]) -> list[str]:
    """The provider's own keyword arguments of ``cls`` and its provider bases (not Airflow's)."""
    names: list[str] = []
    for klass in cls.__mro__:
        if klass in (BaseOperator, BaseSensorOperator) or not klass.__module__.startswith(
            "airflow_provider_fauna"
        ):
            continue
        for name, param in inspect.signature(klass.__init__).parameters.items():
            if param.kind is param.KEYWORD_ONLY and name not in names:
                names.append(name)
    return names


CASES = [(task, field) for task, (cls, _) in TASKS.items() for field in public_arguments(cls)]
wrong_values = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(min_value=-(2**64), max_value=2**64),
    st.floats(),
    st.text(max_size=12),
    st.sampled_from(["false", "True", "0", "", "{{ ds }}", "us-std", "us-std/Shop", "skip", "auto"]),
    st.lists(st.integers() | st.text(max_size=3), max_size=2),
    st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
    st.datetimes(),
    st.timedeltas(),
)


@pytest.fixture(scope="module", autouse=True)
def no_api_call() -> Iterator[None]:
    """Fail on any attempt to read the Fauna connection, the first step of every API call."""

    def refuse(*args: Any, **kwargs: Any) -> Any:
        raise AssertionError("an API call was attempted")

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(FaunaAccountHook, "get_connection", classmethod(refuse))
        yield


def build_and_check(task: str, field: str, value: Any) -> None:
    """Make the task with ``field=value``, then run what it checks before its first API call."""
    cls, needed = TASKS[task]
    arguments = dict(needed)
    if field in SCOPE_FIELDS and task != "sensor":  # the standalone form
        arguments.pop("request_id", None)
        arguments.setdefault("database", "us-std/Shop")
        if field == "region_group":
            arguments.pop("database")
    arguments[field] = value
    operator: Any = cls(task_id="t", **arguments)
    assert isinstance(operator.hook, FaunaAccountHook)
    if task == "sensor" or getattr(operator, "request_id", None) not in (None, ""):
        validate_request_id(operator.request_id)
    else:
        operator.build_spec(CONTEXT)
    if task in ("s3", "gcs"):
        operator.check_destination()


@pytest.mark.parametrize(("task", "field"), CASES)
@given(value=wrong_values)
def test_any_value_of_a_public_argument_is_refused_by_name_or_accepted(task, field, value) -> None:
    try:
        build_and_check(task, field, value)
    except FaunaValidationError as err:
        refusal = str(err)
    else:
        return
    assert field in refusal, f"{field}={value!r} refused without naming it: {refusal}"


@pytest.mark.parametrize(
    ("task", "field", "value"),
    [
        ("request", "region_group", ["us-std"]),
        ("request", "database", 123),
        ("request", "wait_for_completion", "false"),
        ("request", "deferrable", "yes"),
        ("request", "poll_interval", True),
        ("request", "time_start", 1_700_000_000),
        ("sensor", "request_id", ["1"]),
        ("sensor", "fauna_conn_id", 7),
        ("s3", "replace", "no"),
        ("s3", "encrypt", 1),
        ("s3", "s3_bucket", 42),
        ("s3", "s3_key", ["a"]),
        ("gcs", "impersonation_chain", [1, 2]),
    ],
)
def test_a_wrong_type_is_refused_naming_the_field_and_the_type(task, field, value) -> None:
    with pytest.raises(FaunaValidationError) as info:
        build_and_check(task, field, value)
    assert f"{field}=" in str(info.value) and type(value).__name__ in str(info.value)


def test_every_public_argument_is_covered() -> None:
    covered = {field for _, field in CASES}
    assert {"wait_for_completion", "poll_interval", "timeout", "on_no_logs", "request_id"} <= covered
    assert {"replace", "max_resumes", "verify_gzip", "content_type", "part_size", "chunk_size"} <= covered


def test_hook_methods_refuse_wrong_types_by_name() -> None:
    hook = FaunaAccountHook(fauna_conn_id="fauna_default")
    for call, field in [
        (lambda: list(hook.list_log_requests(page_size=True)), "page_size"),
        (lambda: list(hook.list_log_requests(states="Complete")), "states"),
        (lambda: list(hook.list_oauth_apps(page_size=2.0)), "page_size"),
        (lambda: hook.create_log_file_url("1", version="2"), "version"),
        (
            lambda: hook.request_logs(
                time_start=START, time_end=START + timedelta(1), region_group=["us-std"]
            ),
            "region_group",
        ),
        (
            lambda: hook.request_logs(time_start=START, time_end=START + timedelta(1), database=123),
            "database",
        ),
        (lambda: FaunaAccountHook(fauna_conn_id=5), "fauna_conn_id"),
    ]:
        with pytest.raises(FaunaValidationError, match=field):
            call()


def test_the_default_deadline_of_a_wait_is_six_hours() -> None:
    for cls, needed in (TASKS["request"], TASKS["s3"]):
        assert cls(task_id="t", **needed).timeout == 6 * 3600
    explicit = FaunaLogsRequestOperator(task_id="t", database="us-std/Shop", timeout=None)
    assert explicit.timeout is None
