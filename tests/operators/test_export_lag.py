"""``export_lag``: an interval ending now is exported only once its end plus the lag has passed.

Through Airflow (``dag.test()``, DAG ``fauna_export_lag``): a deferrable task waits on Airflow's
``DateTimeTrigger`` (seen by wrapping the trigger's ``run``, which still runs as it is), one that
is not waits in place; neither submits before ``time_end + export_lag``. A past interval waits
for nothing.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any

import pytest
from harness import record_datetime_triggers, run_dag

pytestmark = [pytest.mark.dagrun, pytest.mark.usefixtures("airflow_db", "fauna_connection")]

UTC = dt.timezone.utc
DAG_ID = "fauna_export_lag"
EXPORT_LAG = 3  # as in tests/dags/behaviour_dags.py; the task waiting in place has twice that


@pytest.fixture
def trigger_moments(monkeypatch: pytest.MonkeyPatch) -> list[dt.datetime]:
    """The moments of the ``DateTimeTrigger`` runs (the trigger runs unchanged)."""
    return record_datetime_triggers(monkeypatch)


def iso(moment: dt.datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def submitted_at(emulator: Any) -> dict[str, float]:
    return {c.json["database"]: c.time for c in emulator.api_calls("POST", "/api/v1/logs")}


@pytest.mark.timeout(240)
def test_an_interval_ending_now_is_submitted_after_its_end_plus_the_lag_and_a_past_one_at_once(
    emulator: Any, trigger_moments: list[dt.datetime]
) -> None:
    # A past interval first (which also pays for the first dag.test() of the process).
    past = {"time_start": "2026-11-01T00:00:00Z", "time_end": "2026-11-02T00:00:00Z"}
    started = time.time()
    result = run_dag(DAG_ID, dt.datetime(2026, 11, 2, tzinfo=UTC), conf=past).assert_success()
    assert trigger_moments == [] and "may not be exportable" not in result.log
    assert len(submitted_at(emulator)) == 2
    assert min(submitted_at(emulator).values()) - started < 60, "a past interval does not wait"
    emulator.reset()

    end = dt.datetime.fromtimestamp(math.ceil(time.time()) + 2, UTC)
    conf = {"time_start": iso(end - dt.timedelta(hours=1)), "time_end": iso(end)}
    result = run_dag(DAG_ID, dt.datetime(2026, 11, 3, tzinfo=UTC), conf=conf).assert_success()

    ready = end.timestamp() + EXPORT_LAG
    posts = submitted_at(emulator)
    assert set(posts) == {"us-std/deferred", "us-std/in_place"}
    assert ready <= posts["us-std/deferred"] < ready + 60, posts["us-std/deferred"] - ready
    in_place_ready = end.timestamp() + 2 * EXPORT_LAG
    assert in_place_ready <= posts["us-std/in_place"] < in_place_ready + 60
    # Only the deferrable task deferred, on a DateTimeTrigger for time_end + export_lag.
    assert [m.timestamp() for m in trigger_moments] == [ready]
    assert "on the triggerer" in result.task("deferred").log
    assert "in the worker" in result.task("in_place").log
    for task_id in ("deferred", "in_place"):
        assert result.task(task_id).return_value, f"{task_id} returned no request id"
