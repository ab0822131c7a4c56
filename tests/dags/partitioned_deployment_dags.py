"""Partitioned DAGs (Airflow 3.2+) that a real scheduler runs: ``tests/deployment/test_partitioned_runs.py``.

- ``partitioned_export``: a daily ``CronPartitionTimetable`` exporting the day of each partition
  to S3 and announcing it on ``EXPORTED``; its ``end_date`` lies before today, so the scheduler
  makes no run of its own and only the test's backfill runs;
- ``partitioned_consumer``: scheduled on ``EXPORTED`` with ``PartitionedAssetTimetable``; its task
  returns the partition key it ran for and the extras of the events that triggered it.

On Airflow 2.11 and 3.0 to 3.1 this file defines no DAG.
"""

from __future__ import annotations

import datetime as dt
from datetime import timedelta
from typing import Any

try:
    from airflow.sdk import DAG, Asset, CronPartitionTimetable, PartitionedAssetTimetable, task
except ImportError:  # partitions are Airflow 3.2+
    CronPartitionTimetable = None

from airflow_provider_fauna.transfers.fauna_to_s3 import FaunaLogsToS3Operator

BUCKET = "fauna-partitioned-logs"
KEY = "fauna/{scope}/dt={{ partition_key }}/query-logs.ndjson.gz"

if CronPartitionTimetable is not None:
    EXPORTED = Asset(name="fauna_partitioned_export", uri=f"s3://{BUCKET}/fauna/us-std/ECommerce")

    with DAG(
        "partitioned_export",
        schedule=CronPartitionTimetable("0 0 * * *", timezone="UTC", run_offset=-1, key_format="%Y-%m-%d"),
        start_date=dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc),
        end_date=dt.datetime(2026, 11, 10, tzinfo=dt.timezone.utc),
        catchup=False,
        max_active_runs=3,
    ):
        # retries=1: Airflow 3.3.2 may put a task whose trigger fires at once up for retry.
        FaunaLogsToS3Operator(
            task_id="export",
            database="us-std/ECommerce",
            s3_bucket=BUCKET,
            s3_key=KEY,
            deferrable=True,
            poll_interval=2,
            retries=1,
            retry_delay=timedelta(seconds=2),
            outlets=[EXPORTED],
        )

    with DAG(
        "partitioned_consumer",
        schedule=PartitionedAssetTimetable(assets=EXPORTED),
        start_date=dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc),
        catchup=False,
    ):

        @task
        def consume(**context: Any) -> dict[str, Any]:
            """Say which partition this run is for, and what the events that triggered it said."""
            events = [
                {"partition_key": event.partition_key, "extra": dict(event.extra)}
                for events in context["triggering_asset_events"].values()
                for event in events
            ]
            return {"partition_key": context["partition_key"], "events": events}

        consume()
