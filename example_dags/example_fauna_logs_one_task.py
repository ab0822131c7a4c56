"""Example DAG: request, wait and copy in one task, for a database and for a whole region group.

The transfer operators take ``database`` or ``region_group`` instead of ``request_id``: then one
task submits the export for the run's data interval, waits for it (on the triggerer, with
``deferrable=True``) and streams the file into the bucket. A retry of that task finds the request
it already made, or submits a fresh one if that request ended ``Failed`` or ``TimedOut``, which
makes this form the easiest to leave unattended.

Needs the ``amazon`` extra, a ``fauna_default`` connection and an ``aws_default`` connection. The
bucket is the Airflow Variable ``fauna_logs_s3_bucket`` if it is set, else the ``s3_bucket``
param's default.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.providers.common.compat.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_fauna.transfers.fauna_to_s3 import FaunaLogsToS3Operator

DAG_ID = "example_fauna_logs_one_task"
FAUNA_CONN_ID = "fauna_default"
AWS_CONN_ID = "aws_default"
BUCKET = "{{ var.value.get('fauna_logs_s3_bucket', params.s3_bucket) }}"

with DAG(
    dag_id=DAG_ID,
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=True,
    max_active_runs=2,
    default_args={"retries": 3, "retry_delay": timedelta(minutes=10)},
    params={"database": "us-std/ECommerce", "region_group": "eu-std", "s3_bucket": "fauna-query-logs"},
    tags=["example", "fauna"],
) as dag:
    # [START howto_transfer_fauna_logs_one_task]
    export_database = FaunaLogsToS3Operator(
        task_id="export_database_logs",
        database="{{ params.database }}",
        s3_bucket=BUCKET,
        aws_conn_id=AWS_CONN_ID,
        fauna_conn_id=FAUNA_CONN_ID,
        deferrable=True,
        poll_interval=60,
        timeout=6 * 60 * 60,
    )
    # [END howto_transfer_fauna_logs_one_task]

    # [START howto_transfer_fauna_logs_region_group]
    export_region_group = FaunaLogsToS3Operator(
        task_id="export_region_group_logs",
        region_group="{{ params.region_group }}",
        s3_bucket=BUCKET,
        # Jinja renders first (the date the interval starts), then the provider fills
        # {region_group} from the request: a Hive-style layout that Athena can partition on.
        s3_key="fauna/region-groups/{region_group}/dt={{ data_interval_start | ds }}/query-logs.ndjson.gz",
        aws_conn_id=AWS_CONN_ID,
        fauna_conn_id=FAUNA_CONN_ID,
        deferrable=True,
        on_no_logs="succeed",
    )
    # [END howto_transfer_fauna_logs_region_group]
