"""Timetables for test DAGs, importable on Airflow 2.11 and 3.

Why: ``schedule="@daily"`` gives a zero-width data interval on Airflow 3 (a cron *trigger*
timetable), while the provider works on the data interval. A ``CronDataIntervalTimetable`` gives
``[D - 1 day, D)`` for logical date ``D`` on both lines, but lives in ``airflow.sdk`` on Airflow 3
and in ``airflow.timetables.interval`` on Airflow 2.
"""

from __future__ import annotations

import datetime as dt
from typing import Any


def daily_interval_timetable() -> Any:
    """A daily ``CronDataIntervalTimetable`` in UTC: logical date ``D`` covers ``[D - 1 day, D)``."""
    timetable_class: Any
    try:
        from airflow.sdk import CronDataIntervalTimetable

        timetable_class = CronDataIntervalTimetable
    except ImportError:  # Airflow 2
        from airflow.timetables.interval import CronDataIntervalTimetable as Airflow2Timetable

        timetable_class = Airflow2Timetable
    return timetable_class("@daily", timezone="UTC")


#: The start date of test DAGs: before every logical date the tests use.
TEST_DAG_START = dt.datetime(2026, 1, 1, tzinfo=dt.timezone.utc)


def daily_dag_args(**overrides: Any) -> dict[str, Any]:
    """Keyword arguments of a test DAG on the daily interval timetable: ``DAG(dag_id, **daily_dag_args())``.

    No catchup (``dag.test()`` picks the logical date), a fixed start date before every date the
    tests use; ``overrides`` are added or replace these.
    """
    return {
        "schedule": daily_interval_timetable(),
        "start_date": TEST_DAG_START,
        "catchup": False,
        **overrides,
    }
