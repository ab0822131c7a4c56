"""Example DAG (Airflow 3.2+): export one database's query logs per daily partition, to S3.

The DAG is scheduled with ``CronPartitionTimetable``: each run is one partition, keyed by its
day (``partition_key="2026-11-01"``), and has no data interval. The transfer exports the cron
period the partition starts, ``[2026-11-01T00:00Z, 2026-11-02T00:00Z)``, and when the file has
landed it emits an event on the asset ``fauna_query_logs_ecommerce`` carrying that partition key
(and the object's URI, request id, interval and size in its extra), so a DAG scheduled on that
asset with ``PartitionedAssetTimetable`` runs once per exported day: see
``example_fauna_partitioned_consumer.py``.

Past days: ``airflow backfill create --dag-id example_fauna_daily_partitions --from-date
2026-11-01 --to-date 2026-11-03`` makes one run per partition. ``airflow dags test`` sets no
partition key, so the transfer refuses such a run (before any API call) and says so.

Needs the ``amazon`` extra, a ``fauna_default`` connection and an ``aws_default`` connection. The
bucket is the Airflow Variable ``fauna_logs_s3_bucket`` if it is set, else the ``s3_bucket``
param's default.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

from airflow.sdk import DAG, Asset, CronPartitionTimetable

from airflow_provider_fauna.transfers.fauna_to_s3 import FaunaLogsToS3Operator

DAG_ID = "example_fauna_daily_partitions"
FAUNA_CONN_ID = "fauna_default"
AWS_CONN_ID = "aws_default"
BUCKET = "{{ var.value.get('fauna_logs_s3_bucket', params.s3_bucket) }}"

# [START howto_fauna_partitioned_export]
#: One asset for every day's file: downstream DAGs schedule on it, per partition.
QUERY_LOGS = Asset(
    name="fauna_query_logs_ecommerce", uri="s3://fauna-query-logs/fauna/query_logs/us-std/ECommerce"
)

with DAG(
    dag_id=DAG_ID,
    # A run at midnight exports the day before it (run_offset=-1), keyed by that day.
    schedule=CronPartitionTimetable("0 0 * * *", timezone="UTC", run_offset=-1, key_format="%Y-%m-%d"),
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=False,
    max_active_runs=2,
    # retries >= 1: on Airflow 3.3.2 a trigger that fires at once can put the task up for retry.
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    params={"database": "us-std/ECommerce", "s3_bucket": "fauna-query-logs"},
    tags=["example", "fauna", "partitions"],
) as dag:
    FaunaLogsToS3Operator(
        task_id="export_partition",
        database="{{ params.database }}",
        # The default key is a date= partition named by the exported day, as the partition
        # key is: fauna/query_logs/us-std/ECommerce/date=2026-11-01/...
        s3_bucket=BUCKET,
        aws_conn_id=AWS_CONN_ID,
        fauna_conn_id=FAUNA_CONN_ID,
        deferrable=True,
        poll_interval=60,
        timeout=6 * 60 * 60,
        outlets=[QUERY_LOGS],
    )
# [END howto_fauna_partitioned_export]
