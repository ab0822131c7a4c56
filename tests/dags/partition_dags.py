"""Test DAGs of asset events and long windows, on both Airflow lines.

- ``assets_s3_default_outlet``: the one-task S3 transfer with no outlet: it announces the object
  through its default alias (both Airflow lines);
- ``assets_s3_unsynced``: the same, run without a DAG processor's sync of the DAG first;
- ``assets_s3_declared_outlet``: the same with an asset the user declares, and
  ``on_no_logs="succeed"`` (both lines);
- ``assets_s3_ref_outlet``: the same with an asset referred to by name (``Asset.ref``), which an
  earlier task of the DAG declares (Airflow 3 only);
- ``long_window_quarterly``: a request per quarter, which the 90-day limit refuses from Q2 on.

The partitioned DAGs a real scheduler runs are in ``partitioned_deployment_dags.py``.
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
DECLARED_ASSET = Asset(uri=f"s3://{S3_BUCKET}/declared/")


#: Not the default key, whose layout is not what these tests are about.
S3_KEY = "events/{scope}/{{ ds }}.ndjson.gz"


def to_s3(**kwargs: Any) -> FaunaLogsToS3Operator:
    defaults = {
        "task_id": "to_s3",
        "database": DATABASE,
        "s3_bucket": S3_BUCKET,
        "s3_key": S3_KEY,
        "retries": 0,
    }
    return FaunaLogsToS3Operator(**{**defaults, **kwargs})


def _daily(dag_id: str) -> DAG:
    return DAG(dag_id, schedule=daily_interval_timetable(), start_date=START, catchup=False)


with _daily("assets_s3_default_outlet"):
    to_s3(deferrable=False, poll_interval=0.5)

# Never synced by the tests: on 2.11 its alias is unknown to the metadata DB.
with _daily("assets_s3_unsynced"):
    to_s3(deferrable=False, poll_interval=0.5)

with _daily("assets_s3_declared_outlet"):
    to_s3(deferrable=False, poll_interval=0.5, on_no_logs="succeed", outlets=[DECLARED_ASSET])

if hasattr(Asset, "ref"):  # Airflow 3
    from airflow.providers.standard.operators.empty import EmptyOperator

    BY_NAME = Asset(name="fauna-logs-by-name", uri=f"s3://{S3_BUCKET}/by-name/")
    with _daily("assets_s3_ref_outlet"):
        EmptyOperator(task_id="declares", outlets=[BY_NAME]) >> to_s3(
            deferrable=False, poll_interval=0.5, outlets=[Asset.ref(name=BY_NAME.name)]
        )


def _quarterly() -> Any:
    try:
        from airflow.sdk import CronDataIntervalTimetable
    except ImportError:  # Airflow 2
        from airflow.timetables.interval import CronDataIntervalTimetable  # type: ignore[no-redef]
    return CronDataIntervalTimetable("0 0 1 */3 *", timezone="UTC")


with DAG("long_window_quarterly", schedule=_quarterly(), start_date=START, catchup=False):
    # export_lag=0: the accepted quarter ends in 2027, and the test must not wait for it to end.
    FaunaLogsRequestOperator(task_id="request_logs", database=DATABASE, retries=1, export_lag=0)
