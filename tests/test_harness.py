"""Tests of the test harness itself, on whichever Airflow line runs them (3.x or 2.11).

If these fail, no DAG-level test of the provider can be trusted: they prove that ``dag.test()``
runs our test DAGs with the data interval we expect, that deferrable operators and reschedule-mode
sensors work inline, that XCom and task logs are captured, and that the local object stores work
through Airflow's own S3 and GCS hooks (multipart and resumable uploads included).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import os
from pathlib import Path
from unittest import mock

import pytest
from harness import (
    DAGS_FOLDER,
    FAUNA_TEST_KEY,
    TaskLogCapture,
    airflow_version,
    fauna_connection_json,
    mask,
    run_airflow_cli,
    run_backfill,
    run_dag,
)

UTC = dt.timezone.utc
NOV_2 = dt.datetime(2026, 11, 2, tzinfo=UTC)


# --------------------------------------------------------------------------------- environment
def test_session_environment_points_at_a_private_airflow_home(airflow_home: Path) -> None:
    from airflow.configuration import conf

    assert os.environ["AIRFLOW_HOME"] == str(airflow_home)
    assert "airflow-test-home-" in airflow_home.name
    assert Path(conf.get("core", "dags_folder")) == DAGS_FOLDER
    assert conf.get("database", "sql_alchemy_conn") == f"sqlite:///{airflow_home / 'airflow.db'}"
    assert not conf.getboolean("core", "load_examples")
    assert not conf.getboolean("core", "unit_test_mode")
    assert "AIRFLOW__CORE__UNIT_TEST_MODE" not in os.environ


def test_fauna_connection_json_carries_key_and_extra() -> None:
    from airflow.models.connection import Connection

    conn = Connection.from_json(fauna_connection_json("http://127.0.0.1:1", timeout=5), conn_id="x")
    assert (conn.conn_type, conn.host, conn.password) == ("fauna", "http://127.0.0.1:1", FAUNA_TEST_KEY)
    assert conn.extra_dejson == {"timeout": 5}


# --------------------------------------------------------------------------------- log capture
def test_log_capture_separates_tasks_and_sources() -> None:
    import logging

    capture = TaskLogCapture()
    with capture.installed():
        with capture.task("a"):
            logging.getLogger("lib.a").warning("from %s", "a")
            print("printed in a")
        logging.getLogger("lib.outside").warning("outside any task")
        with capture.task("b", 3):
            logging.getLogger("lib.b").info("from b")
            logging.getLogger("fauna_emulator.server").warning("emulator noise")
    assert capture.text("a") == "WARNING lib.a: from a\nprinted in a\n"
    # INFO records are captured when the logger lets them through (Airflow sets INFO on root).
    assert "emulator noise" not in capture.text("b", 3)
    assert "outside any task" not in capture.text("a") + capture.text("b", 3)
    assert capture.keys() == [("a", -1), ("b", 3)]


def test_mask_uses_airflows_secrets_masker() -> None:
    from airflow.providers.common.compat.sdk import mask_secret

    mask_secret("harness-mask-probe-0f3c")
    masked = mask("before harness-mask-probe-0f3c after\nsecond line")
    # Only this secret is checked: the masker is process-wide, and secrets other tests registered
    # (connection passwords of any length) are masked too.
    assert "harness-mask-probe-0f3c" not in masked
    assert "***" in masked
    assert masked.count("\n") == 1


# --------------------------------------------------------------------------------- DAG runs
@pytest.mark.dagrun
def test_smoke_dag_runs_with_daily_interval_deferral_xcom_and_logs(airflow_db: None) -> None:
    result = run_dag("harness_smoke", NOV_2).assert_success()

    interval = result.task("data_interval")
    assert interval.state == "success"
    assert interval.try_number == 1
    assert interval.return_value == ["2026-11-01T00:00:00+00:00", "2026-11-02T00:00:00+00:00"]
    assert (result.data_interval_start, result.data_interval_end) == (NOV_2 - dt.timedelta(days=1), NOV_2)
    assert result.logical_date == NOV_2
    assert "smoke-marker: computing the interval" in interval.log

    deferred = result.task("defer_once")
    assert deferred.state == "success"
    assert deferred.return_value == "resumed"
    # Both halves of the deferred task, around the inline trigger, land in one log.
    for marker in (
        "smoke-marker: deferring",
        "smoke-marker: resumed after the trigger fired",
        "WARNING smoke.thirdparty: smoke-marker: stdlib logger line",
        "smoke-marker: printed line",
    ):
        assert marker in deferred.log, f"{marker!r} missing from:\n{deferred.log}"
    # Each task's log holds only that task's lines.
    assert "smoke-marker: deferring" not in interval.log
    assert "=== defer_once ===" in result.log


@pytest.mark.dagrun
def test_backfill_runs_consecutive_days_and_reruns_replace_earlier_runs(airflow_db: None) -> None:
    results = run_backfill("harness_smoke", NOV_2, NOV_2 + dt.timedelta(days=2))

    assert [r.state for r in results] == ["success"] * 3
    assert [r.task("data_interval").return_value[0] for r in results] == [
        "2026-11-01T00:00:00+00:00",
        "2026-11-02T00:00:00+00:00",
        "2026-11-03T00:00:00+00:00",
    ]
    # After the first run of the process, runs are quick.
    assert max(r.seconds for r in results[1:]) < 30, [r.seconds for r in results]

    again = run_dag("harness_smoke", NOV_2, conf={"note": "rerun"}).assert_success()
    assert again.task("defer_once").try_number == 1


@pytest.mark.dagrun
def test_reschedule_sensor_is_poked_until_it_succeeds(airflow_db: None) -> None:
    result = run_dag("harness_reschedule", NOV_2).assert_success()

    sensor = result.task("third_poke")
    assert sensor.state == "success"
    assert sensor.try_number == 1  # a reschedule is not a retry
    for poke in (1, 2, 3):
        assert f"smoke-marker: poke {poke}" in sensor.log


@pytest.mark.dagrun
def test_failures_and_retries_are_reported_with_tracebacks(airflow_db: None) -> None:
    result = run_dag("harness_failures", NOV_2)

    assert result.state == "failed"
    flaky = result.task("flaky")
    assert (flaky.state, flaky.try_number, flaky.return_value) == ("success", 2, 2)
    assert "smoke-marker: first try fails" in flaky.log  # the failed first try is in the same log
    broken = result.task("broken")
    assert (broken.state, broken.try_number) == ("failed", 1)
    assert "ValueError: smoke-marker: broken on purpose" in broken.log
    assert "Traceback (most recent call last)" in broken.log
    with pytest.raises(AssertionError, match="broken on purpose"):
        result.assert_success()


@pytest.mark.dagrun
def test_unknown_dag_is_reported_with_the_dags_found(airflow_db: None) -> None:
    with pytest.raises(LookupError, match="harness_smoke"):
        run_dag("no_such_dag", NOV_2)


@pytest.mark.dagrun
def test_airflow_dags_test_cli_runs_the_smoke_dag(airflow_db: None) -> None:
    result = run_airflow_cli("dags", "test", "harness_smoke", "2026-11-02", check=True, timeout=600)
    output = result.stdout + result.stderr
    assert "smoke-marker: resumed after the trigger fired" in output
    assert "2026-11-01T00:00:00+00:00" in output


def test_airflow_version_is_a_supported_line() -> None:
    assert airflow_version() >= (2, 11)


# --------------------------------------------------------------------------------- object stores
def test_s3_server_through_s3hook_including_multipart(s3_server: str, tmp_path: Path) -> None:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    hook = S3Hook()  # aws_default, from the fixture
    hook.create_bucket("harness-bucket")
    hook.load_string("hello", key="small.txt", bucket_name="harness-bucket")
    assert hook.read_key("small.txt", "harness-bucket") == "hello"

    # boto3 switches to a multipart upload above 8 MiB; moto must assemble the parts.
    big = tmp_path / "big.bin"
    payload = os.urandom(1024) * (9 * 1024)
    big.write_bytes(payload)
    hook.load_file(str(big), key="big.bin", bucket_name="harness-bucket")
    head = hook.head_object("big.bin", "harness-bucket")
    assert head is not None
    assert head["ContentLength"] == len(payload)
    etag = head["ETag"].strip('"')
    # moto: AWS's two-part ETag; s3rver: the plain MD5 of the whole object.
    assert etag.endswith("-2") or etag == hashlib.md5(payload).hexdigest(), "expected a two-part upload"
    downloaded = hook.download_file("big.bin", "harness-bucket", local_path=str(tmp_path))
    assert Path(downloaded).read_bytes() == payload


def test_s3_server_is_empty_for_each_test(s3_server: str) -> None:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    assert not S3Hook().check_for_bucket("harness-bucket")


def test_gcs_server_through_gcshook_including_resumable(gcs_server: str, tmp_path: Path) -> None:
    from airflow.providers.google.cloud.hooks.gcs import GCSHook
    from google.cloud.storage.blob import Blob

    hook = GCSHook()  # google_cloud_default, anonymous, from the fixture
    hook.create_bucket(bucket_name="harness-bucket", project_id="test-project")
    hook.upload(bucket_name="harness-bucket", object_name="small.txt", data="hello")
    assert hook.download(bucket_name="harness-bucket", object_name="small.txt") == b"hello"

    # Above 8 MiB the client switches to a resumable upload, sent here in three chunks.
    chunk = 4 * 1024 * 1024
    payload = os.urandom(1024) * (9 * 1024)
    big = tmp_path / "big.bin"
    big.write_bytes(payload)
    with mock.patch.object(
        Blob, "_do_resumable_upload", autospec=True, side_effect=Blob._do_resumable_upload
    ) as spy:
        hook.upload(bucket_name="harness-bucket", object_name="big.bin", filename=str(big), chunk_size=chunk)
    assert spy.call_count == 1, "expected a resumable upload"
    assert hook.download(bucket_name="harness-bucket", object_name="big.bin") == payload
    assert hook.get_size(bucket_name="harness-bucket", object_name="big.bin") == len(payload)


def test_gcs_server_is_empty_for_each_test(gcs_server: str) -> None:
    from airflow.providers.google.cloud.hooks.gcs import GCSHook

    assert not GCSHook().exists(bucket_name="harness-bucket", object_name="small.txt")
