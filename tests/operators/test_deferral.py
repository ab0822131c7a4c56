"""What a deferring task hands its trigger: the time of the first poll, whatever its own check got."""

from __future__ import annotations

import time

import pendulum
import pytest
from airflow.providers.common.compat.sdk import TaskDeferred
from fauna_emulator import FaultConfig

from airflow_provider_fauna.hooks.fauna import FaunaAccountHook
from airflow_provider_fauna.sensors.logs import FaunaLogsSensor


def submit(conn_id: str) -> str:
    return (
        FaunaAccountHook(fauna_conn_id=conn_id)
        .request_logs(
            database="us-std/ECommerce",
            time_start=pendulum.datetime(2026, 11, 1, tz="UTC"),
            time_end=pendulum.datetime(2026, 11, 2, tz="UTC"),
        )
        .request_id
    )


@pytest.mark.parametrize("rate_limited", [False, True], ids=["answered", "rate-limited"])
def test_the_sensors_own_check_counts_as_the_first_poll(fauna_connection, emulator, rate_limited):
    """Even a check the API refused (429 through every retry) was a call: the trigger waits an interval."""
    emulator.completion_delay = 600
    request_id = submit(fauna_connection)
    if rate_limited:
        emulator.faults = FaultConfig(rate_limit_ratio=1.0, retry_after=0)
    sensor = FaunaLogsSensor(
        task_id="wait",
        request_id=request_id,
        fauna_conn_id=fauna_connection,
        poke_interval=45,
        deferrable=True,
    )

    with pytest.raises(TaskDeferred) as deferred:
        sensor.execute({})  # type: ignore[arg-type]
    checked_at = time.time()

    status = [c for c in emulator.calls if c.path == f"/api/v1/logs/{request_id}"]
    assert status, "the sensor did not check before deferring"
    assert all(c.fault for c in status) == rate_limited
    first_poll_at = deferred.value.trigger.first_poll_at
    assert checked_at + 45 - 5 <= first_poll_at <= checked_at + 45
