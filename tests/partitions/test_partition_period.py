"""The period of a partitioned run, read from ``partition_date`` and the DAG's own timetable.

The Airflow 3.2+ cases build the real ``CronPartitionTimetable`` of ``airflow.sdk`` and compare
with the partitions the core timetable makes for a backfill; the cases without a partition key
(Airflow 2.11, unpartitioned runs) run on every line.
"""

from __future__ import annotations

import itertools
from types import SimpleNamespace
from typing import Any

import pendulum
import pytest
from harness import airflow_version

from airflow_provider_fauna.exceptions import FaunaValidationError
from airflow_provider_fauna.log_requests import LogRequest
from airflow_provider_fauna.operators.logs import FaunaLogsRequestOperator
from airflow_provider_fauna.partitions import partition_period, request_details
from airflow_provider_fauna.tasks import resolve_interval

partitions_only = pytest.mark.skipif(
    airflow_version() < (3, 2), reason="partitioned runs exist on Airflow 3.2+ only (by design)"
)

D1 = pendulum.datetime(2026, 11, 1, tz="UTC")
D2 = pendulum.datetime(2026, 11, 2, tz="UTC")


def cron_partitions(cron: str, timezone: str = "UTC", key_format: str = "%Y-%m-%d") -> Any:
    from airflow.sdk import CronPartitionTimetable

    return CronPartitionTimetable(cron, timezone=timezone, run_offset=-1, key_format=key_format)


def partitioned_context(timetable: Any, key: str, date: Any) -> dict[str, Any]:
    """What the task runner puts in a partitioned run's context: no data interval, a key and a date."""
    return {
        "dag": SimpleNamespace(timetable=timetable),
        "data_interval_start": None,
        "data_interval_end": None,
        "partition_key": key,
        "partition_date": date,
    }


# ------------------------------------------------------------------------ every Airflow line
def test_a_run_without_a_partition_key_has_no_partition_period():
    assert partition_period({"data_interval_start": D1, "data_interval_end": D2}) is None
    assert partition_period({"partition_key": None, "partition_date": None}) is None


def test_an_unpartitioned_run_still_needs_its_data_interval():
    assert resolve_interval({"data_interval_start": D1, "data_interval_end": D2}, None, None) == (D1, D2)
    with pytest.raises(FaunaValidationError, match="no data interval"):
        resolve_interval({"data_interval_start": None, "data_interval_end": None}, None, None)


def test_the_xcom_details_name_no_partition_on_an_unpartitioned_run():
    request = LogRequest(request_id="r1", state="Requested", database="us-std/a")
    assert "partition_key" not in request_details(request, {"data_interval_start": D1})


class UntouchableDag:
    """A DAG whose timetable must not be consulted: an ordinary run needs only its interval."""

    @property
    def timetable(self) -> Any:
        raise AssertionError("the timetable of an ordinary run was consulted")


def test_an_ordinary_run_never_consults_the_timetable():
    context = {"dag": UntouchableDag(), "data_interval_start": D1, "data_interval_end": D2}
    assert partition_period(context) is None
    assert resolve_interval(context, None, None) == (D1, D2)


def test_a_timetable_that_does_not_serialize_is_taken_as_unpartitioned():
    """A custom timetable that is not registered cannot be turned into a core one; no crash."""

    try:
        from airflow.sdk.bases.timetable import BaseTimetable as Base
    except ImportError:  # Airflow 2: no authoring timetable to turn into a core one
        Base = object

    class Unregistered(Base):  # type: ignore[misc,valid-type]
        pass

    context = {
        "dag": SimpleNamespace(timetable=Unregistered()),
        "data_interval_start": D2,
        "data_interval_end": D2,
    }
    with pytest.raises(FaunaValidationError, match="zero-width"):
        resolve_interval(context, None, None)


# ------------------------------------------------------------------------ Airflow 3.2+
@partitions_only
@pytest.mark.parametrize(
    ("cron", "timezone", "key", "date", "start", "end"),
    [
        # The schedule: partition 2026-11-01 is the day 2026-11-01.
        ("0 0 * * *", "UTC", "2026-11-01", D1, D1, D2),
        # Local midnight of a zone east of UTC: the day starts the evening before in UTC.
        (
            "0 0 * * *",
            "Asia/Taipei",
            "2026-11-01",
            pendulum.datetime(2026, 10, 31, 16, tz="UTC"),
            pendulum.datetime(2026, 10, 31, 16, tz="UTC"),
            pendulum.datetime(2026, 11, 1, 16, tz="UTC"),
        ),
        # The autumn change in Paris: that local day lasts 25 hours.
        (
            "0 0 * * *",
            "Europe/Paris",
            "2026-10-25",
            pendulum.datetime(2026, 10, 24, 22, tz="UTC"),
            pendulum.datetime(2026, 10, 24, 22, tz="UTC"),
            pendulum.datetime(2026, 10, 25, 23, tz="UTC"),
        ),
        # The eve of Berlin's spring-forward (issue 21): 02:00 CET; the next 02:00 does not exist,
        # so the backfill's partition of 03-29 starts at 03:00 CEST, the same instant.
        (
            "0 2 * * *",
            "Europe/Berlin",
            "2026-03-28",
            pendulum.datetime(2026, 3, 28, 1, tz="UTC"),
            pendulum.datetime(2026, 3, 28, 1, tz="UTC"),
            pendulum.datetime(2026, 3, 29, 1, tz="UTC"),
        ),
        (
            "0 2 * * *",
            "Europe/Berlin",
            "2026-03-29",
            pendulum.datetime(2026, 3, 29, 1, tz="UTC"),
            pendulum.datetime(2026, 3, 29, 1, tz="UTC"),
            pendulum.datetime(2026, 3, 30, 0, tz="UTC"),
        ),
        ("0 * * * *", "UTC", "2026-11-01T05", D1.add(hours=5), D1.add(hours=5), D1.add(hours=6)),
        ("0 0 1 * *", "UTC", "2026-11", D1, D1, pendulum.datetime(2026, 12, 1, tz="UTC")),
    ],
)
def test_the_period_is_the_cron_period_the_partition_date_starts(cron, timezone, key, date, start, end):
    period = partition_period(partitioned_context(cron_partitions(cron, timezone), key, date))
    assert period is not None
    assert (period.key, period.start, period.end) == (key, start, end)


@partitions_only
def test_the_period_is_the_step_between_the_partitions_a_backfill_makes():
    """The scheduler's own partitions of a month, across a DST change, tile it without gap."""
    from airflow.serialization.encoders import coerce_to_core_timetable

    sdk = cron_partitions("30 2 * * *", "Europe/Paris", "%Y-%m-%dT%H:%M")
    core = coerce_to_core_timetable(sdk)
    dates = [
        info.partition_date
        for info in core.iter_partition_dagrun_infos(
            earliest=pendulum.datetime(2026, 10, 10, tz="Europe/Paris"),
            latest=pendulum.datetime(2026, 11, 10, tz="Europe/Paris"),
        )
    ]
    for this, following in itertools.pairwise(dates):
        period = partition_period(partitioned_context(sdk, "k", this))
        assert period is not None
        assert (period.start, period.end) == (this, following)


@partitions_only
def test_a_partitioned_run_resolves_to_its_period_and_explicit_times_still_win():
    context = partitioned_context(cron_partitions("0 0 * * *"), "2026-11-01", D1)
    assert resolve_interval(context, None, None) == (D1, D2)
    assert resolve_interval(context, "2026-10-01T00:00:00Z", "2026-10-02T00:00:00Z") == (
        "2026-10-01T00:00:00Z",
        "2026-10-02T00:00:00Z",
    )
    assert resolve_interval(context, "2026-10-31T00:00:00Z", None) == ("2026-10-31T00:00:00Z", D2)


@partitions_only
def test_explicit_times_need_no_known_period():
    """With both times given, a schedule whose period is unknown does not matter."""
    context = partitioned_context(None, "whatever", None)
    operator = FaunaLogsRequestOperator(
        task_id="r", database="us-std/a", time_start="2026-10-01T00:00:00Z", time_end="2026-10-02T00:00:00Z"
    )
    spec = operator.build_spec(context)
    assert spec.time_start == pendulum.datetime(2026, 10, 1, tz="UTC")


@partitions_only
def test_a_quarterly_partition_is_refused_with_the_fix():
    """A quarter is 90 to 92 days: the Account API's limit is 90."""
    context = partitioned_context(
        cron_partitions("0 0 1 */3 *", key_format="%Y-%m"), "2026-07", pendulum.datetime(2026, 7, 1, tz="UTC")
    )
    with pytest.raises(FaunaValidationError, match=r"92 days.*at most 90.*'0 0 1 \* \*'.*time_start"):
        partition_period(context)


@partitions_only
@pytest.mark.parametrize(
    ("timetable", "key", "date", "match"),
    [
        # A key whose format drops the hour: the date is not one of the hourly ticks.
        ("hourly", "2026-11-01", D1.add(minutes=30), "is not a tick of"),
        ("daily", "2026-11-01", None, "no partition_date"),
        ("none", "2026-11-01", D1, "timetable is not in the task's context"),
        ("asset", "2026-11-01", D1, "does not say which period"),
    ],
)
def test_a_partitioned_run_whose_period_is_unknown_is_refused(timetable, key, date, match):
    from airflow.sdk import Asset, PartitionedAssetTimetable

    timetables = {
        "hourly": cron_partitions("0 * * * *"),
        "daily": cron_partitions("0 0 * * *"),
        "none": None,
        "asset": PartitionedAssetTimetable(assets=Asset("s3://b/k")),
    }
    context = partitioned_context(timetables[timetable], key, date)
    with pytest.raises(FaunaValidationError, match=match) as raised:
        resolve_interval(context, None, None)
    assert "time_start and time_end" in str(raised.value)


@partitions_only
def test_a_run_of_a_partitioned_dag_without_a_key_is_refused_with_the_fix():
    """What ``airflow dags test`` gives a partitioned DAG: no key, and a zero-width data interval."""
    context = {**partitioned_context(cron_partitions("0 0 * * *"), None, None), "data_interval_start": D2}
    context["data_interval_end"] = D2
    with pytest.raises(
        FaunaValidationError, match=r"no partition key.*backfill create.*time_start and time_end"
    ):
        resolve_interval(context, None, None)


@partitions_only
def test_the_xcom_details_carry_the_partition_key():
    request = LogRequest(request_id="r1", state="Requested", database="us-std/a")
    details = request_details(request, partitioned_context(cron_partitions("0 0 * * *"), "2026-11-01", D1))
    assert details["partition_key"] == "2026-11-01"
    assert details["request_id"] == "r1"


@partitions_only
def test_a_timetable_whose_step_does_not_advance_is_refused_not_walked_for_ever():
    from airflow.serialization.encoders import coerce_to_core_timetable

    core = coerce_to_core_timetable(cron_partitions("0 0 * * *"))
    core._get_next = lambda current: current  # a broken custom timetable
    context = partitioned_context(None, "2026-11-01", D1)
    context["dag"] = SimpleNamespace(timetable=core)
    with pytest.raises(FaunaValidationError, match=r"does not advance.*time_start and time_end"):
        partition_period(context)
