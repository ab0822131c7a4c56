"""Intervals longer than the Account API's 90 days are refused before any call, naming the fix.

A quarter is 90 days only for January to March of a year that is not a leap year, so a quarterly
schedule works once and fails from the next quarter on: the test runs both sides of the limit.
The partitioned form (a quarterly ``CronPartitionTimetable``) is in ``test_partition_period.py``.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from harness import run_dag

pytestmark = pytest.mark.dagrun

UTC = dt.timezone.utc


def test_a_quarterly_schedule_is_refused_past_90_days_and_accepted_at_90(
    airflow_db: None, fauna_connection: str, emulator: Any
) -> None:
    # Logical date 2026-10-01 covers 2026-07-01 to 2026-10-01: 92 days.
    refused = run_dag("long_window_quarterly", dt.datetime(2026, 10, 1, tzinfo=UTC))

    task = refused.task("request_logs")
    assert (task.state, task.try_number) == ("failed", 1), "refused without spending its retry"
    assert "spans 92 days; the Account API allows at most 90" in task.log
    assert "split it into shorter runs" in task.log
    assert emulator.api_calls() == [], "refused before any API call"

    # Logical date 2027-04-01 covers 2027-01-01 to 2027-04-01: exactly 90 days, which is allowed.
    accepted = run_dag("long_window_quarterly", dt.datetime(2027, 4, 1, tzinfo=UTC)).assert_success()
    assert accepted.task("request_logs").return_value
    [submitted] = emulator.api_calls("POST", "/api/v1/logs")
    assert (submitted.json["time_start"], submitted.json["time_end"]) == (
        "2027-01-01T00:00:00Z",
        "2027-04-01T00:00:00Z",
    )
