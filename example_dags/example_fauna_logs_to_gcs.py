"""Example DAG: export one database's Fauna query logs to Google Cloud Storage, one day per run.

The same three tasks as ``example_fauna_logs_to_s3``: request the export for the run's data
interval, wait for it on the triggerer, then stream the file into GCS.

Needs the ``google`` extra (``pip install "airflow-provider-fauna[google]"``), a ``fauna_default``
connection and a ``google_cloud_default`` connection. The bucket is the Airflow Variable
``fauna_logs_gcs_bucket`` if it is set, else the ``gcs_bucket`` param's default.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.providers.common.compat.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_fauna.operators.logs import FaunaLogsRequestOperator
from airflow_provider_fauna.sensors.logs import FaunaLogsSensor
from airflow_provider_fauna.transfers.fauna_to_gcs import FaunaLogsToGCSOperator

DAG_ID = "example_fauna_logs_to_gcs"
FAUNA_CONN_ID = "fauna_default"
GCP_CONN_ID = "google_cloud_default"

with DAG(
    dag_id=DAG_ID,
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=True,
    max_active_runs=2,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    params={"database": "us-std/ECommerce", "gcs_bucket": "fauna-query-logs"},
    tags=["example", "fauna"],
) as dag:
    request_logs = FaunaLogsRequestOperator(
        task_id="request_logs",
        database="{{ params.database }}",
        fauna_conn_id=FAUNA_CONN_ID,
    )

    wait_for_logs = FaunaLogsSensor(
        task_id="wait_for_logs",
        request_id=request_logs.output,
        fauna_conn_id=FAUNA_CONN_ID,
        deferrable=True,
        poke_interval=60,
        timeout=6 * 60 * 60,
    )

    # [START howto_transfer_fauna_logs_to_gcs]
    upload_logs = FaunaLogsToGCSOperator(
        task_id="upload_logs_to_gcs",
        request_id=request_logs.output,
        bucket_name="{{ var.value.get('fauna_logs_gcs_bucket', params.gcs_bucket) }}",
        gcp_conn_id=GCP_CONN_ID,
        fauna_conn_id=FAUNA_CONN_ID,
    )
    # [END howto_transfer_fauna_logs_to_gcs]

    wait_for_logs >> upload_logs
