"""Partitioned runs through a real Airflow 3.2+ scheduler: three exported days, three downstream runs.

``airflow dags test`` gives a partitioned DAG no partition key; only the scheduler does (here
through ``airflow backfill create``). Scheduler, dag-processor, triggerer and api-server run as
separate processes (:mod:`harness.deployment`), LocalExecutor on SQLite, with the Fauna emulator
and moto's S3 in this process on loopback. The DAGs are ``tests/dags/partitioned_deployment_dags.py``.

Asserted: one export per partition, for exactly its day; each object under a key naming its
partition, byte-identical to the file served; one asset event per partition carrying its key and
the object in its extra; and the ``PartitionedAssetTimetable`` DAG run once per partition with
that key, seeing that event.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any

import pytest
from harness import FAUNA_TEST_KEY, TESTS_DIR, aws_connection_json, fauna_connection_json, moto_s3_server
from harness.env import airflow_version

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [
    pytest.mark.dagrun,
    pytest.mark.skipif(
        airflow_version() < (3, 2), reason="partitioned runs exist on Airflow 3.2+ only (by design)"
    ),
]

DAG_FILE = TESTS_DIR / "dags" / "partitioned_deployment_dags.py"
EXPORT, CONSUMER = "partitioned_export", "partitioned_consumer"
BUCKET = "fauna-partitioned-logs"
KEYS = ["2026-11-01", "2026-11-02", "2026-11-03"]


@pytest.fixture
def fauna() -> Iterator[Any]:
    from fauna_emulator import FaunaEmulator

    # A few seconds: long enough that the transfer defers, short enough for a quick test.
    with FaunaEmulator(keys={FAUNA_TEST_KEY}, host="127.0.0.1", port=0, completion_delay=3.0) as server:
        yield server


@pytest.fixture
def s3() -> Iterator[Any]:
    import boto3

    with moto_s3_server() as url:
        client = boto3.client(
            "s3",
            endpoint_url=url,
            aws_access_key_id="testing",
            aws_secret_access_key="testing",
            region_name="us-east-1",
        )
        client.create_bucket(Bucket=BUCKET)
        yield client


@pytest.mark.timeout(900)
def test_three_partitions_export_three_days_and_run_the_consumer_once_each(
    tmp_path: Path, fauna: Any, s3: Any
) -> None:
    from harness.deployment import Deployment

    env = {
        "AIRFLOW_CONN_FAUNA_DEFAULT": fauna_connection_json(fauna.url, FAUNA_TEST_KEY),
        "AIRFLOW_CONN_AWS_DEFAULT": aws_connection_json(s3.meta.endpoint_url),
        "AWS_EC2_METADATA_DISABLED": "true",
        # The consumer's runs are made by the scheduler's own scheduling loop.
        "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "True",
    }
    with Deployment(tmp_path, dag_files=[DAG_FILE], env=env) as deployment:
        deployment.start_all()
        deployment.wait_for_dag(EXPORT)
        deployment.wait_for_dag(CONSUMER)
        deployment.unpause(EXPORT)
        deployment.unpause(CONSUMER)
        deployment.cli(
            "backfill", "create", "--dag-id", EXPORT,
            "--from-date", KEYS[0], "--to-date", KEYS[-1], "--max-active-runs", "3",
        )  # fmt: skip
        exports = deployment.wait_for_runs(EXPORT, count=3, timeout=480)
        consumers = deployment.wait_for_runs(CONSUMER, count=3, timeout=240)
        diagnostics = deployment.diagnostics

        # The export: one run per partition, each exporting exactly its day.
        assert [r["state"] for r in exports] == ["success"] * 3, diagnostics()
        runs = deployment.query(
            "SELECT run_id, partition_key, data_interval_start FROM dag_run WHERE dag_id = ? ORDER BY partition_key",
            (EXPORT,),
        )
        assert [r["partition_key"] for r in runs] == KEYS
        assert all(r["data_interval_start"] is None for r in runs), "partitioned runs have no data interval"
        requests = sorted(fauna.log_requests, key=lambda r: r["time_start"])
        assert [(r["time_start"], r["time_end"]) for r in requests] == [
            ("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"),
            ("2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z"),
            ("2026-11-03T00:00:00Z", "2026-11-04T00:00:00Z"),
        ]
        details = {
            row["run_id"]: json.loads(row["value"])
            for row in deployment.query(
                "SELECT run_id, value FROM xcom WHERE dag_id = ? AND key = 'log_request'", (EXPORT,)
            )
        }
        assert sorted(d["partition_key"] for d in details.values()) == KEYS, details

        # One object per partition, under a key naming it, holding the file its request served.
        objects = {key: f"fauna/us-std/ECommerce/dt={key}/query-logs.ndjson.gz" for key in KEYS}
        stored = {o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])}
        assert stored == set(objects.values())
        for key, request in zip(KEYS, requests, strict=True):
            body = s3.get_object(Bucket=BUCKET, Key=objects[key])["Body"].read()
            assert body == fauna.file_bytes(request["request_id"])

        # One asset event per partition, with its key and the object in its extra.
        events = deployment.query(
            "SELECT e.partition_key, e.extra FROM asset_event e JOIN asset a ON a.id = e.asset_id "
            "WHERE a.name = 'fauna_partitioned_export' ORDER BY e.partition_key"
        )
        assert [e["partition_key"] for e in events] == KEYS
        extras = [json.loads(e["extra"]) for e in events]
        assert [x["uri"] for x in extras] == [f"s3://{BUCKET}/{objects[key]}" for key in KEYS]
        assert [x["request_id"] for x in extras] == [r["request_id"] for r in requests]
        assert all(x["bytes"] > 0 for x in extras)

        # The consumer: one run per partition, with that key, seeing that partition's event.
        assert [r["state"] for r in consumers] == ["success"] * 3, diagnostics()
        seen = sorted(
            (json.loads(row["value"]) for row in deployment.query(
                "SELECT value FROM xcom WHERE dag_id = ? AND key = 'return_value'", (CONSUMER,)
            )),
            key=lambda v: v["partition_key"],
        )  # fmt: skip
        assert [v["partition_key"] for v in seen] == KEYS, seen
        for key, value in zip(KEYS, seen, strict=True):
            assert [e["partition_key"] for e in value["events"]] == [key], value
            assert value["events"][0]["extra"]["uri"] == f"s3://{BUCKET}/{objects[key]}"
        assert len(deployment.dag_runs(CONSUMER)) == 3, "no other consumer run"
