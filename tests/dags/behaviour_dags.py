"""Test DAGs for behaviours that must break a test when they break (tests/test_behaviours.py).

* ``fauna_token_same_run_id``: every run of a logical date shares one run id, so what makes two
  idempotency tokens differ there can only be the request (scope, interval), the map index or
  the generation. Scope and interval come from the run's conf; ``request_twice`` is mapped over
  two identical connection ids, so only its map index differs.
* ``fauna_export_lag``: two request tasks with a small ``export_lag`` on an interval from the
  run's conf (a test makes it end a few seconds from now): one deferrable, then one waiting in
  place with twice the lag (so it still has to wait after the first).
* ``fauna_url_logged_by_user_code``: a transfer subclass that logs the presigned URL, as user
  code may. Airflow itself would not mask it; the provider's own ``mask_secret`` must.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from airflow.providers.common.compat.sdk import DAG
from harness.timetables import daily_interval_timetable

from airflow_provider_fauna.operators.logs import FaunaLogsRequestOperator
from airflow_provider_fauna.transfers.fauna_to_s3 import FaunaLogsToS3Operator

START = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
TOKEN_PARAMS = {
    "database": "us-std/ECommerce",
    "time_start": "2026-11-01T00:00:00Z",
    "time_end": "2026-11-02T00:00:00Z",
}
URL_BUCKET = "fauna-url-logging"


class LogsThePresignedUrl(FaunaLogsToS3Operator):
    """Copies as usual, then logs the request's presigned URL and its query string."""

    def transfer(self, context: Any, request: Any) -> str | None:
        uri = super().transfer(context, request)
        url = request.presigned_url or ""
        self.log.info("user code logs the URL %s", url)
        self.log.info("and its query string %s", url.partition("?")[2])
        return uri


def _dag(dag_id: str, params: dict[str, Any]) -> DAG:
    return DAG(dag_id, schedule=daily_interval_timetable(), start_date=START, catchup=False, params=params)


with _dag("fauna_token_same_run_id", dict(TOKEN_PARAMS)):
    FaunaLogsRequestOperator(
        task_id="request_logs",
        database="{{ params.database }}",
        time_start="{{ params.time_start }}",
        time_end="{{ params.time_end }}",
    )
    FaunaLogsRequestOperator.partial(
        task_id="request_twice",
        database="us-std/Mapped",
        time_start="2026-11-01T00:00:00Z",
        time_end="2026-11-02T00:00:00Z",
    ).expand(fauna_conn_id=["fauna_default", "fauna_default"])

with _dag("fauna_url_logged_by_user_code", {"database": "us-std/ECommerce"}):
    LogsThePresignedUrl(
        task_id="copy_logs", database="{{ params.database }}", s3_bucket=URL_BUCKET, retries=0
    )

LAG_PARAMS = {"time_start": "2026-11-01T00:00:00Z", "time_end": "2026-11-02T00:00:00Z"}
#: Seconds after the interval's end before the export is submitted.
EXPORT_LAG = 3

with _dag("fauna_export_lag", dict(LAG_PARAMS)):
    deferred, in_place = (
        FaunaLogsRequestOperator(
            task_id=task_id,
            database=f"us-std/{task_id}",
            time_start="{{ params.time_start }}",
            time_end="{{ params.time_end }}",
            export_lag=lag,
            deferrable=deferrable,
        )
        for task_id, lag, deferrable in (("deferred", EXPORT_LAG, True), ("in_place", 2 * EXPORT_LAG, False))
    )
    deferred >> in_place
