"""Transfers run by Airflow itself (``dag.test()`` on 3.3 and 2.11), DAGs from ``tests/dags/transfer_dags.py``.

The three-task form (request, deferrable sensor, transfer) and the one-task form (the transfer
requests, defers and copies), for consecutive daily intervals, against the Fauna emulator,
moto's S3 and gcp-storage-emulator. The assertions are on what landed: bytes equal to what the
presigned URL served, keys named after each day, the stored metadata.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from fauna_emulator import FaultConfig
from harness import DagRunResult, airflow_version, keys, run_backfill, run_dag
from transfer_stores import GCSStore, S3Store, Store

pytestmark = pytest.mark.dagrun

UTC = dt.timezone.utc
NOV_2 = dt.datetime(2026, 11, 2, tzinfo=UTC)
NOV_4 = dt.datetime(2026, 11, 4, tzinfo=UTC)


def day_key(scope: str, logical_date: dt.datetime) -> str:
    """The default key of the export run ``logical_date`` makes: the day before it."""
    return keys.day_key(scope, logical_date)


def secrets_seen(fauna: Any) -> set[str]:
    return {c.query.get("X-Fauna-Signature", "") for c in fauna.download_calls()} - {""}


def stored_texts(result: DagRunResult) -> str:
    """Everything a person can read about a run besides its logs: XComs and rendered template fields."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.utils.session import create_session

    try:
        from airflow.models.xcom import XComModel as XComRow
    except ImportError:  # Airflow 2
        from airflow.models.xcom import BaseXCom as XComRow  # type: ignore[no-redef]
    with create_session() as session:
        xcoms = session.query(XComRow).filter_by(dag_id=result.dag_id, run_id=result.run_id).all()
        fields = (
            session.query(RenderedTaskInstanceFields)
            .filter_by(dag_id=result.dag_id, run_id=result.run_id)
            .all()
        )
        return repr([(x.key, x.value) for x in xcoms]) + repr([f.rendered_fields for f in fields])


def assert_no_secret_leaked(result: DagRunResult, fauna: Any) -> None:
    secrets = secrets_seen(fauna)
    assert secrets, "the test must have downloaded something"
    readable = result.log + stored_texts(result)
    for secret in secrets:
        assert secret not in readable
    assert "X-Fauna-Signature=" not in readable


# --------------------------------------------------------------------------------- three tasks
def test_three_task_dag_copies_each_days_export(airflow_db: None, fauna: Any, store: Store) -> None:
    kind = store.kind
    transfer_task = f"to_{kind}"

    results = run_backfill(f"transfer_{kind}_three_tasks", NOV_2, NOV_4)

    keys = []
    for result in results:
        result.assert_success()
        request_id = str(result.task("request_logs").return_value)
        key = day_key("us-std/ECommerce", result.logical_date)
        keys.append(key)
        assert result.task(transfer_task).return_value == store.uri(key)
        stored = store.get(key)
        assert stored is not None
        assert stored.data == fauna.file_bytes(request_id)
        assert stored.content_type == "application/gzip"
        assert not stored.content_encoding
        assert stored.metadata["fauna-request-id"] == request_id
        assert "Stored " + store.uri(key) in result.task(transfer_task).log
        assert_no_secret_leaked(result, fauna)
    assert sorted(store.keys()) == sorted(keys)
    assert len(set(keys)) == 3, "one object per day"
    assert store.open_uploads() == []
    assert not any(c.had_authorization for c in fauna.download_calls())


# --------------------------------------------------------------------------------- one task
def test_one_task_dag_requests_defers_and_copies(airflow_db: None, fauna: Any, store: Store) -> None:
    kind = store.kind

    results = run_backfill(f"transfer_{kind}_one_task", NOV_2, NOV_2 + dt.timedelta(days=1))

    for result in results:
        result.assert_success()
        key = day_key("us-std/ECommerce", result.logical_date)
        assert result.task(f"to_{kind}").return_value == store.uri(key)
        (exported,) = [
            r
            for r in fauna.log_requests
            if r["time_end"].startswith(result.logical_date.strftime("%Y-%m-%dT00:00:00"))
        ]
        assert store.get(key).data == fauna.file_bytes(exported["request_id"])
    assert len(fauna.api_calls("POST", "/api/v1/logs")) == 2, "one request per run"
    assert store.open_uploads() == []


def test_region_group_export_with_a_blocking_wait_and_a_custom_templated_key(
    airflow_db: None, fauna: Any, store: Store
) -> None:
    """``s3_key`` / ``object_name`` rendered by Jinja, then filled from the request (strftime specs
    too, a Hive layout): the object lands there."""
    dag_id = f"transfer_{store.kind}_region_group_blocking"

    result = run_dag(dag_id, NOV_2).assert_success()

    (exported,) = fauna.log_requests
    assert exported["region_group"] == "us-std" and not exported.get("database")
    key = (
        f"custom/{dag_id}/us-std/year=2026/month=11/day=01/{exported['request_id']}/"
        "2026-11-01T00:00:00+00:00.ndjson.gz"
    )
    assert result.task(f"to_{store.kind}").return_value == store.uri(key)
    assert store.keys() == [key]
    assert store.get(key).data == fauna.file_bytes(exported["request_id"])


# --------------------------------------------------------------------------------- replace
def test_rerun_is_refused_before_downloading_unless_replace(
    airflow_db: None, fauna: Any, store: Store
) -> None:
    kind = store.kind
    key = day_key("us-std/ECommerce", NOV_2)
    run_dag(f"transfer_{kind}_one_task", NOV_2).assert_success()
    first = store.get(key).data
    downloads_before = len(fauna.download_calls())

    requests_before = len(fauna.log_requests)
    again = run_dag(f"transfer_{kind}_one_task", NOV_2)

    # The same run id (Airflow 2.11's dag.test) or a new one (Airflow 3's): the key is known
    # before the submission, and the object there holds this very export (scope and interval in
    # its metadata), so the task succeeds without submitting or copying anything.
    log = again.task(f"to_{kind}").log
    assert again.state == "success"
    assert "stored by an earlier try: nothing to copy" in log
    assert len(fauna.log_requests) == requests_before, "nothing exported"
    assert len(fauna.download_calls()) == downloads_before, "nothing downloaded"
    assert store.get(key).data == first

    run_dag(f"transfer_{kind}_one_task_replace", NOV_2).assert_success()
    assert store.get(key).data == first, "replace=True lands the same bytes again"
    assert len(fauna.download_calls()) == downloads_before + 1
    assert store.open_uploads() == []


# --------------------------------------------------------------------------------- faults
def test_corrupt_download_fails_the_try_and_the_retry_lands_the_file(
    airflow_db: None, fauna: Any, s3_bucket: str
) -> None:
    store = S3Store(s3_bucket)
    fauna.faults = FaultConfig(download_corrupt=True, download_fault_count=1)

    result = run_dag("transfer_s3_retried", NOV_2).assert_success()

    task = result.task("to_s3")
    assert task.try_number == 2
    assert "Nothing was stored" in task.log
    (exported,) = fauna.log_requests
    assert store.get(day_key("us-std/ECommerce", NOV_2)).data == fauna.file_bytes(exported["request_id"])
    assert store.open_uploads() == []
    assert_no_secret_leaked(result, fauna)


def test_url_expiring_mid_copy_in_a_dag_run_leaks_no_signature(
    airflow_db: None, fauna: Any, gcs_bucket: str
) -> None:
    store = GCSStore(gcs_bucket)
    fauna.faults = FaultConfig(download_expire_mid_stream=True)

    result = run_dag("transfer_gcs_three_tasks", NOV_2).assert_success()

    request_id = str(result.task("request_logs").return_value)
    assert store.get(day_key("us-std/ECommerce", NOV_2)).data == fauna.file_bytes(request_id)
    assert [c.status for c in fauna.download_calls()] == [200, 403, 206]
    assert "asking for a new one" in result.task("to_gcs").log
    assert_no_secret_leaked(result, fauna)


# --------------------------------------------------------------------------------- no logs
@pytest.mark.parametrize(
    ("policy", "task_state"), [("skip", "skipped"), ("succeed", "success"), ("fail", "failed")]
)
def test_no_logs_follows_on_no_logs_and_writes_nothing(
    airflow_db: None, fauna: Any, s3_bucket: str, policy: str, task_state: str
) -> None:
    store = S3Store(s3_bucket)
    fauna.set_outcome("us-std/ECommerce", "DoesNotExist")

    result = run_dag(f"transfer_s3_no_logs_{policy}", NOV_2)

    task = result.task("to_s3")
    assert task.state == task_state
    assert task.return_value is None
    if policy == "succeed":
        assert "nothing was written to s3://" in task.log
    assert store.keys() == []
    assert fauna.download_calls() == []


def test_no_logs_with_the_default_on_no_logs_skips_both_transfers_and_writes_nothing(
    airflow_db: None, fauna: Any, s3_bucket: str, gcs_bucket: str
) -> None:
    """Every other test passes ``on_no_logs``: this one holds its default, ``"skip"``."""
    s3, gcs = S3Store(s3_bucket), GCSStore(gcs_bucket)
    fauna.set_outcome("us-std/ECommerce", "DoesNotExist")

    result = run_dag("transfer_no_logs_default", NOV_2)

    for task_id in ("to_s3", "to_gcs"):
        task = result.task(task_id)
        assert task.state == "skipped", task.log
        assert task.return_value is None
    assert s3.keys() == [] and gcs.keys() == []
    assert fauna.download_calls() == []


# --------------------------------------------------------------------------------- killed
def test_a_task_killed_mid_copy_leaves_no_object_and_no_open_upload(
    airflow_db: None, fauna: Any, store: Store
) -> None:
    """SIGTERM to the task's process while the file streams: ``on_kill`` abandons the upload.

    Airflow 3 calls ``on_kill`` and lets the task run on (until the supervisor's SIGKILL), so
    without it the copy would finish; S3's multipart upload is aborted by s3transfer itself when
    the reader raises, GCS's session is cancelled. Airflow 2.11 also raises in the main thread,
    which ``dag.test()`` lets escape the run.
    """
    dag_id = f"transfer_{store.kind}_killed"
    if airflow_version() >= (3, 0):
        task = run_dag(dag_id, NOV_2).task(f"to_{store.kind}")
        assert task.state == "failed"
        assert "killed" in task.log
    else:
        from airflow.exceptions import AirflowTaskTerminated

        with pytest.raises(AirflowTaskTerminated):
            run_dag(dag_id, NOV_2)
    assert len(fauna.download_calls()) == 1, "the copy had begun"
    assert store.keys() == []
    assert store.open_uploads() == []  # s3rver cannot list them: there, no object is what is seen


# --------------------------------------------------------------------------------- failed export
def test_a_failed_export_fails_the_after_request_transfer_without_spending_its_retry(
    airflow_db: None, fauna: Any, s3_bucket: str
) -> None:
    store = S3Store(s3_bucket)
    fauna.set_outcome("us-std/ECommerce", "Failed")

    result = run_dag("transfer_s3_after_request", NOV_2)

    task = result.task("to_s3")
    assert (task.state, task.try_number) == ("failed", 1), "a retry would wait on the same request"
    assert "ended Failed. Retrying this task cannot help" in task.log
    assert "upstream: 'request_logs'" in task.log
    assert store.keys() == [] and fauna.download_calls() == []
    assert len([c for c in fauna.api_calls() if c.method == "POST"]) == 1, "no second export"


# --------------------------------------------------------------------------------- no such bucket
def test_a_bucket_that_does_not_exist_fails_the_task_before_anything_is_exported(
    airflow_db: None, fauna: Any, store: Store
) -> None:
    # The store runs, with its own bucket; the DAG is given another.
    kind, field = store.kind, {"s3": "s3_bucket", "gcs": "bucket_name"}[store.kind]
    result = run_dag(f"transfer_{kind}_retried", NOV_2, conf={f"{kind}_bucket": "no-such-bucket-here"})

    task = result.task(f"to_{kind}")
    assert (task.state, task.try_number) == ("failed", 1), "every retry would meet the same missing bucket"
    assert f"{field}='no-such-bucket-here' does not exist" in task.log
    assert fauna.api_calls() == [], "nothing was exported, nor asked about"


def test_at_debug_the_gcs_upload_session_reaches_no_task_log(
    airflow_db: None, fauna: Any, gcs_bucket: str
) -> None:
    """The resumable session's URI (its ``upload_id``) lets anyone finish the upload with other bytes;
    urllib3 logs each chunk's PUT to it at DEBUG, and the masked task log must not hold it."""
    import logging
    import re

    loggers = [logging.getLogger(name) for name in ("airflow", "airflow.task", "urllib3", "google")]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        run = run_dag("transfer_gcs_one_task", NOV_2).assert_success()
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)

    task = run.task("to_gcs")
    sessions = set(re.findall(r"upload_id=([^&\s\"]+)", task.log))
    assert sessions, "the DEBUG lines of the chunks' PUTs are there, raw: the masker is what must hide them"
    assert not any(session in task.masked_log for session in sessions)
    assert GCSStore(gcs_bucket).keys() == [keys.day_key("us-std/ECommerce", NOV_2)]
