"""Test DAGs of asset events, long windows and (Airflow 3.2+) partitioned runs.

- ``assets_s3_default_outlet``: the one-task S3 transfer with no outlet: it announces the object
  through its default alias (both Airflow lines);
- ``assets_s3_declared_outlet``: the same with an asset the user declares, and
  ``on_no_logs="succeed"`` (both lines);
- ``long_window_quarterly``: a request per quarter, which the 90-day limit refuses from Q2 on;
- ``partitioned_export`` (3.2+): a daily ``CronPartitionTimetable`` exporting one day per
  partition to S3, announcing ``PARTITIONED_ASSET``;
- ``partitioned_consumer`` (3.2+): scheduled on that asset with ``PartitionedAssetTimetable``;
  its task returns the partition key it ran for and the extra of the event that triggered it.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.providers.common.compat.sdk import DAG, Asset
from harness.timetables import daily_interval_timetable

from airflow_provider_fauna.operators.logs import FaunaLogsRequestOperator
from airflow_provider_fauna.transfers.fauna_to_s3 import FaunaLogsToS3Operator

START = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
S3_BUCKET = "fauna-partition-logs"
DATABASE = "us-std/ECommerce"
#: The one asset every day of the partitioned export is announced on.
PARTITIONED_ASSET = Asset(uri=f"s3://{S3_BUCKET}/fauna/query/us-std/ECommerce/")
DECLARED_ASSET = Asset(uri=f"s3://{S3_BUCKET}/declared/")


def to_s3(**kwargs: Any) -> FaunaLogsToS3Operator:
    return FaunaLogsToS3Operator(
        **{"task_id": "to_s3", "database": DATABASE, "s3_bucket": S3_BUCKET, "retries": 0, **kwargs}
    )


def _daily(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=daily_interval_timetable(), start_date=START, catchup=False)


with _daily("assets_s3_default_outlet"):
    to_s3(deferrable=False, poll_interval=0.5)

with _daily("assets_s3_declared_outlet"):
    to_s3(deferrable=False, poll_interval=0.5, on_no_logs="succeed", outlets=[DECLARED_ASSET])


def _quarterly() -> Any:
    try:
        from airflow.sdk import CronDataIntervalTimetable
    except ImportError:  # Airflow 2
        from airflow.timetables.interval import CronDataIntervalTimetable  # type: ignore[no-redef]
    return CronDataIntervalTimetable("0 0 1 */3 *", timezone="UTC")


with DAG("long_window_quarterly", schedule=_quarterly(), start_date=START, catchup=False):
    FaunaLogsRequestOperator(task_id="request_logs", database=DATABASE, retries=1)


try:
    from airflow.sdk import CronPartitionTimetable, PartitionedAssetTimetable, task
except ImportError:  # partitions are Airflow 3.2+
    CronPartitionTimetable = None

if CronPartitionTimetable is not None:
    with DAG(
        "partitioned_export",
        schedule=CronPartitionTimetable("0 0 * * *", timezone="UTC", run_offset=-1, key_format="%Y-%m-%d"),
        start_date=START,
        catchup=False,
    ):
        # retries=1: Airflow 3.3.2 may put a task whose trigger fires at once up for retry.
        to_s3(deferrable=True, poll_interval=0.5, retries=1, outlets=[PARTITIONED_ASSET])

    with DAG(
        "partitioned_consumer",
        schedule=PartitionedAssetTimetable(assets=PARTITIONED_ASSET),
        start_date=START,
        catchup=False,
    ):

        @task
        def consume(**context: Any) -> dict[str, Any]:
            """Say which partition this run is for and what the triggering event said."""
            events = [
                {"partition_key": event.partition_key, "extra": dict(event.extra)}
                for events in context["triggering_asset_events"].values()
                for event in events
            ]
            return {"partition_key": context["partition_key"], "events": events}

        consume()
