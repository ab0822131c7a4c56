"""Example DAG: export one database's Fauna query logs to Amazon S3, one day per run.

Three tasks, so each step shows on its own in the UI and waiting costs no worker slot:

1. ``request_logs`` submits the export for the run's data interval ``[start, end)``;
2. ``wait_for_logs`` waits for it on the triggerer (deferrable);
3. ``upload_logs_to_s3`` streams the file from its presigned URL into S3.

Needs the ``amazon`` extra (``pip install "airflow-provider-fauna[amazon]"``), a ``fauna_default``
connection and an ``aws_default`` connection. The bucket is the Airflow Variable
``fauna_logs_s3_bucket`` if it is set, else the ``s3_bucket`` param's default, so a demo or a test
can point the DAG at a local bucket without editing it.
"""

from __future__ import annotations

import os
from datetime import datetime, timedelta, timezone

from airflow.providers.common.compat.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_fauna.operators.logs import FaunaLogsRequestOperator
from airflow_provider_fauna.sensors.logs import FaunaLogsSensor
from airflow_provider_fauna.transfers.fauna_to_s3 import FaunaLogsToS3Operator

DAG_ID = "example_fauna_logs_to_s3"
FAUNA_CONN_ID = "fauna_default"
AWS_CONN_ID = "aws_default"
# Seconds between two status calls while waiting. An export takes minutes, so once a minute is
# plenty; `make demo`, whose emulator finishes in seconds, sets the variable to 1.
POLL_SECONDS = int(os.environ.get("FAUNA_LOGS_POLL_SECONDS", "60"))

# [START howto_fauna_daily_dag]
with DAG(
    dag_id=DAG_ID,
    # An interval timetable: each run covers one whole UTC day, [midnight, next midnight).
    # schedule="@daily" would give zero-width intervals on Airflow 3, which the operators refuse.
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    # Backfill every day since start_date, but only two days at a time: be polite to the API.
    catchup=True,
    max_active_runs=2,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    params={"database": "us-std/ECommerce", "s3_bucket": "fauna-query-logs"},
    tags=["example", "fauna"],
) as dag:
    # [END howto_fauna_daily_dag]

    # [START howto_operator_fauna_logs_request]
    request_logs = FaunaLogsRequestOperator(
        task_id="request_logs",
        database="{{ params.database }}",
        fauna_conn_id=FAUNA_CONN_ID,
    )
    # [END howto_operator_fauna_logs_request]

    # [START howto_sensor_fauna_logs_deferrable]
    wait_for_logs = FaunaLogsSensor(
        task_id="wait_for_logs",
        request_id=request_logs.output,
        fauna_conn_id=FAUNA_CONN_ID,
        deferrable=True,
        poke_interval=POLL_SECONDS,
        timeout=6 * 60 * 60,
        on_no_logs="skip",
    )
    # [END howto_sensor_fauna_logs_deferrable]

    # [START howto_transfer_fauna_logs_to_s3]
    upload_logs = FaunaLogsToS3Operator(
        task_id="upload_logs_to_s3",
        request_id=request_logs.output,
        s3_bucket="{{ var.value.get('fauna_logs_s3_bucket', params.s3_bucket) }}",
        aws_conn_id=AWS_CONN_ID,
        fauna_conn_id=FAUNA_CONN_ID,
    )
    # [END howto_transfer_fauna_logs_to_s3]

    wait_for_logs >> upload_logs
