"""Example DAG: request a day of Fauna query logs and wait for the export, with no cloud extras.

``request_logs`` submits the export for the run's data interval; ``wait_for_logs`` waits on the
triggerer and returns the finished request's details, whose presigned URL has its signature cut
off (it is a credential). ``report`` reads those details; a real DAG would hand the request id to
its own download step, which asks the hook for a fresh, signed URL.

Needs only the provider itself and a ``fauna_default`` connection: run the local emulator
(``python -m fauna_emulator --port 8765 --key fnacapi_demo``) and paste the
connection line it prints to try it without a Fauna account.
"""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from typing import Any

from airflow.providers.common.compat.sdk import DAG, task
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_fauna.operators.logs import FaunaLogsRequestOperator
from airflow_provider_fauna.sensors.logs import FaunaLogsSensor

DAG_ID = "example_fauna_request_and_wait"
FAUNA_CONN_ID = "fauna_default"

with DAG(
    dag_id=DAG_ID,
    schedule=CronDataIntervalTimetable("@daily", timezone="UTC"),
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=True,
    max_active_runs=2,
    default_args={"retries": 2, "retry_delay": timedelta(minutes=5)},
    params={"database": "us-std/ECommerce"},
    tags=["example", "fauna"],
) as dag:
    # [START howto_operator_fauna_logs_request_and_wait]
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
        poke_interval=30,
        timeout=2 * 60 * 60,
        on_no_logs="succeed",
    )
    # [END howto_operator_fauna_logs_request_and_wait]

    # [START howto_sensor_fauna_logs_xcom]
    @task
    def report(log_request: dict[str, Any]) -> str:
        """Log what the sensor returned: the request's state and interval, never a signed URL."""
        print(
            f"Fauna log request {log_request['request_id']} for "
            f"{log_request['database'] or log_request['region_group']} "
            f"[{log_request['time_start']}, {log_request['time_end']}) is {log_request['state']}; "
            f"its file URL expires at {log_request.get('presigned_url_expiration_time')}"
        )
        return str(log_request["state"])

    report(wait_for_logs.output)
    # [END howto_sensor_fauna_logs_xcom]
