"""Every example DAG runs, through Airflow, against the emulator and the local stores.

The examples are the code users copy; running them here means they cannot rot. They are reached
through the ``tests/dags/examples`` link to ``example_dags/``, so Airflow 3 serializes them
from the test DAG bundle like any other DAG. Each runs for one day with its real parameters;
only the bucket (an Airflow Variable) and the connections point at local servers. The sensor
and wait intervals of the examples are long (60 s), but the trigger's first poll comes after
1 s, and the emulator finishes within that.
"""

from __future__ import annotations

import datetime as dt
import gzip
import os

import boto3
import pytest
from harness import airflow_version, run_dag

pytestmark = [pytest.mark.dagrun, pytest.mark.usefixtures("airflow_db", "fauna_connection")]

DAY = dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)
BUCKET = "example-lake"
KEY = "fauna/query_logs/us-std/ECommerce/date=2026-11-01/20261101T000000Z_20261102T000000Z.ndjson.gz"


@pytest.fixture
def bucket_variable(monkeypatch: pytest.MonkeyPatch) -> str:
    for name in ("FAUNA_LOGS_S3_BUCKET", "FAUNA_LOGS_GCS_BUCKET"):
        monkeypatch.setenv(f"AIRFLOW_VAR_{name}", BUCKET)
    return BUCKET


@pytest.fixture
def s3_bucket(s3_server: str, bucket_variable: str):
    """The bucket on each S3 server in turn (moto's, s3rver), with that server's keys."""
    key = os.environ["AWS_ACCESS_KEY_ID"]
    client = boto3.client(
        "s3",
        endpoint_url=s3_server,
        region_name="us-east-1",
        aws_access_key_id=key,
        aws_secret_access_key=key,
    )
    client.create_bucket(Bucket=bucket_variable)
    return client


def by_request(emulator) -> dict[str, bytes]:
    return {r["request_id"]: emulator.file_bytes(r["request_id"]) for r in emulator.log_requests}


def test_request_and_wait_example(emulator):
    run = run_dag("example_fauna_request_and_wait", DAY).assert_success()
    assert len(emulator.log_requests) == 1
    assert emulator.log_requests[0]["time_start"] == "2026-11-01T00:00:00Z"
    details = run.task("wait_for_logs").return_value
    assert details["state"] == "Complete"
    assert details["request_id"] == emulator.log_requests[0]["request_id"]
    assert str(run.task("request_logs").return_value) == details["request_id"]


def test_s3_example_lands_the_served_bytes(emulator, s3_bucket):
    run_dag("example_fauna_logs_to_s3", DAY).assert_success()

    (request_id,) = by_request(emulator)
    stored = s3_bucket.get_object(Bucket=BUCKET, Key=KEY)["Body"].read()
    assert stored == emulator.file_bytes(request_id)
    assert gzip.decompress(stored).count(b"\n") == 200


def test_one_task_example_exports_a_database_and_a_region_group(emulator, s3_bucket):
    run_dag("example_fauna_logs_one_task", DAY).assert_success()

    keys = sorted(o["Key"] for o in s3_bucket.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == sorted([KEY, "fauna/region-groups/eu-std/dt=2026-11-01/query-logs.ndjson.gz"])
    served = sorted(by_request(emulator).values())
    stored = sorted(s3_bucket.get_object(Bucket=BUCKET, Key=k)["Body"].read() for k in keys)
    assert stored == served


def test_gcs_example_lands_the_served_bytes(emulator, gcs_server, bucket_variable):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(project="test", credentials=AnonymousCredentials())
    client.create_bucket(BUCKET)
    run_dag("example_fauna_logs_to_gcs", DAY).assert_success()

    (request_id,) = by_request(emulator)
    blobs = list(client.list_blobs(BUCKET))
    assert [b.name for b in blobs] == [KEY]
    assert blobs[0].download_as_bytes(raw_download=True) == emulator.file_bytes(request_id)


@pytest.mark.skipif(
    airflow_version() < (3, 2), reason="partitioned runs exist on Airflow 3.2+ only (by design)"
)
def test_partitioned_example_refuses_a_run_without_a_partition_key(emulator):
    """``dags test`` sets no partition key: the export says how to run it instead of guessing a day.

    The scheduler's partitioned runs of this example, and of its consumer, are run by
    ``tests/deployment/test_partitioned_runs.py``.
    """
    run = run_dag("example_fauna_daily_partitions", DAY)

    task = run.task("export_partition")
    assert (task.state, task.try_number) == ("failed", 1), "refused without spending its retries"
    assert "no partition key" in task.log and "airflow backfill create" in task.log
    assert emulator.calls == [], "refused before any API call"
