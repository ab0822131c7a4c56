"""Test DAGs for requesting logs and waiting for them, in every sensor mode and policy.

Each DAG exports one day (an interval timetable) of the database named by the ``database``
param, so a test steers the outcome through the emulator's per-scope outcomes.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from airflow.providers.common.compat.sdk import DAG
from airflow.timetables.interval import CronDataIntervalTimetable

from airflow_provider_fauna.operators.logs import FaunaLogsRequestOperator
from airflow_provider_fauna.sensors.logs import FaunaLogsSensor

DAILY = CronDataIntervalTimetable("@daily", timezone="UTC")
START = datetime(2026, 10, 1)
PARAMS = {"database": "us-std/ECommerce"}


class WorkerDiesAfterRequest(FaunaLogsRequestOperator):
    """Makes its log request, then fails its first try as if the worker had died."""

    def execute(self, context: Any) -> str:
        request_id = super().execute(context)
        if context["ti"].try_number == 1:
            raise RuntimeError("worker died after the request was made")
        return request_id


def _dag(dag_id: str, **kwargs: Any) -> DAG:
    return DAG(dag_id, schedule=DAILY, start_date=START, catchup=False, params=dict(PARAMS), **kwargs)


def _request_and_wait(
    dag_id: str, request_class: type = FaunaLogsRequestOperator, request_retries: int = 0, **sensor: Any
) -> None:
    """A DAG of two tasks: request the logs, then wait for them with ``sensor``'s arguments."""
    with _dag(dag_id):
        request = request_class(
            task_id="request_logs",
            database="{{ params.database }}",
            retries=request_retries,
            retry_delay=timedelta(0),
        )
        FaunaLogsSensor(task_id="wait_for_logs", request_id=request.output, poke_interval=0.5, **sensor)


for mode in ("deferrable", "poke", "reschedule"):
    _request_and_wait(
        f"fauna_wait_{mode}",
        timeout=60,
        mode="reschedule" if mode == "reschedule" else "poke",
        deferrable=mode == "deferrable",
        retries=1,  # a failed export must not spend it (the retry would wait on the same one)
        retry_delay=timedelta(0),
    )
for policy in ("skip", "succeed", "fail"):
    _request_and_wait(f"fauna_no_logs_{policy}", on_no_logs=policy, deferrable=True)
_request_and_wait("fauna_wait_retried_request", WorkerDiesAfterRequest, 2, deferrable=True)
_request_and_wait("fauna_wait_timeout", timeout=3, deferrable=True)

with _dag("fauna_request_and_wait_in_one_task"):
    FaunaLogsRequestOperator(
        task_id="request_logs",
        database="{{ params.database }}",
        wait_for_completion=True,
        deferrable=True,
        poll_interval=0.5,
        retries=1,
        retry_delay=timedelta(0),
    )
