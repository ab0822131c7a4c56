"""Test helpers shared by the whole suite: Airflow environment, DAG runs, log capture, local stores.

Import from here (``from harness import run_dag, FAUNA_TEST_KEY``); ``tests/`` is on ``sys.path``
(pytest's ``pythonpath`` setting, and ``PYTHONPATH`` for CLI subprocesses).

A DAG-level test, for example::

    from harness import run_backfill, run_dag

    @pytest.mark.dagrun
    def test_export(airflow_db, fauna_connection, s3_server):
        result = run_dag("my_test_dag", datetime(2026, 11, 2, tzinfo=timezone.utc)).assert_success()
        assert result.task("export").return_value == ...
        assert FAUNA_TEST_KEY not in result.log  # raw task logs of every task instance

The DAG lives in ``tests/dags`` (the session's ``DAGS_FOLDER``); ``daily_dag_args()`` gives it the
daily data-interval timetable. See :mod:`harness.dagrun` and :mod:`harness.logcapture`.

No module of this package imports Airflow at import time: ``tests/conftest.py`` imports it before
the session's ``AIRFLOW_HOME`` and settings are in place, and Airflow reads them on first import.
"""

from __future__ import annotations

from harness.calls import gaps, hold_until, requests_read
from harness.cli import airflow_cli_env, ensure_airflow_db, run_airflow_cli
from harness.connections import (
    FAUNA_CONN_ID,
    FAUNA_TEST_KEY,
    aws_connection_json,
    conn_env_var,
    connection_json,
    env_connection,
    env_vars,
    fauna_connection_json,
    gcp_anonymous_connection_json,
)
from harness.dagrun import DagRunResult, TaskResult, load_dag, run_backfill, run_dag, run_dags
from harness.env import DAGS_FOLDER, REPO_ROOT, TESTS_DIR, airflow_version
from harness.logcapture import TaskLogCapture, mask
from harness.stores import (
    S3_FLAVOURS,
    S3RVER_KEY,
    gcs_emulator,
    moto_s3_server,
    reset_moto,
    s3rver_installed,
    s3rver_server,
    use_s3_server,
    wipe_gcs,
    wipe_s3,
)
from harness.timetables import TEST_DAG_START, daily_dag_args, daily_interval_timetable
from harness.triggers import record_datetime_triggers, run_until_killed

__all__ = [
    "DAGS_FOLDER",
    "FAUNA_CONN_ID",
    "FAUNA_TEST_KEY",
    "REPO_ROOT",
    "S3RVER_KEY",
    "S3_FLAVOURS",
    "TESTS_DIR",
    "TEST_DAG_START",
    "DagRunResult",
    "TaskLogCapture",
    "TaskResult",
    "airflow_cli_env",
    "airflow_version",
    "aws_connection_json",
    "conn_env_var",
    "connection_json",
    "daily_dag_args",
    "daily_interval_timetable",
    "ensure_airflow_db",
    "env_connection",
    "env_vars",
    "fauna_connection_json",
    "gaps",
    "gcp_anonymous_connection_json",
    "gcs_emulator",
    "hold_until",
    "load_dag",
    "mask",
    "moto_s3_server",
    "record_datetime_triggers",
    "requests_read",
    "reset_moto",
    "run_airflow_cli",
    "run_backfill",
    "run_dag",
    "run_dags",
    "run_until_killed",
    "s3rver_installed",
    "s3rver_server",
    "use_s3_server",
    "wipe_gcs",
    "wipe_s3",
]
