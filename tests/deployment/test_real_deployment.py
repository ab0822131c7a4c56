"""The example S3 DAG in a real Airflow 3 deployment, with the triggerer killed mid-wait.

Scheduler, dag-processor, triggerer and api-server run as separate processes
(:mod:`harness.deployment`), LocalExecutor on SQLite; the Fauna emulator and moto's S3 run in
this process on loopback. The example DAG file is copied unchanged and backfilled for three days.
While its sensors are deferred, the triggerer is killed (its whole process group, log server
included) and started again: the new one must rebuild the triggers from their serialized form.

Asserted: one export request per day, three objects byte-identical to the emulator's files,
every sensor seen ``deferred``, and the request operator's extra link served by the REST API.
"""

from __future__ import annotations

import datetime as dt
import json
import time
from typing import TYPE_CHECKING, Any

import pytest
from harness import FAUNA_TEST_KEY, REPO_ROOT, aws_connection_json, fauna_connection_json, moto_s3_server
from harness.deployment import Deployment, StateRecorder
from harness.env import airflow_version

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

pytestmark = [
    pytest.mark.dagrun,
    pytest.mark.skipif(
        airflow_version() < (3, 0),
        reason="Airflow 2.11's LocalExecutor needs PostgreSQL (see docs/deployment.rst); Airflow 3 runs it",
    ),
]

EXAMPLE = REPO_ROOT / "example_dags" / "example_fauna_logs_to_s3.py"
DAG_ID = "example_fauna_logs_to_s3"
BUCKET = "deployment-test-logs"
#: Three data intervals: 2026-11-01, -02, -03 (a run's logical date is its interval's start).
DAYS = [dt.datetime(2026, 11, day, tzinfo=dt.timezone.utc) for day in (1, 2, 3)]
#: Long enough that every sensor finds its request still Pending and defers (the request task
#: and the sensor's first check take a few seconds each on a loaded machine), shorter than the
#: example's poke_interval (60 s), so the trigger's first poll finds it Complete.
COMPLETION_DELAY = 40.0


@pytest.fixture
def fauna() -> Iterator[Any]:
    from fauna_emulator import FaunaEmulator

    with FaunaEmulator(
        keys={FAUNA_TEST_KEY}, host="127.0.0.1", port=0, completion_delay=COMPLETION_DELAY
    ) as server:
        yield server


@pytest.fixture
def s3_url() -> Iterator[str]:
    with moto_s3_server() as url:
        yield url


def s3_client(url: str) -> Any:
    import boto3

    return boto3.client(
        "s3",
        endpoint_url=url,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
        region_name="us-east-1",
    )


@pytest.mark.timeout(900)
def test_example_dag_survives_a_triggerer_restart(tmp_path: Path, fauna: Any, s3_url: str) -> None:
    emulator = fauna
    s3 = s3_client(s3_url)
    s3.create_bucket(Bucket=BUCKET)
    env = {
        "AIRFLOW_CONN_FAUNA_DEFAULT": fauna_connection_json(emulator.url, FAUNA_TEST_KEY),
        "AIRFLOW_CONN_AWS_DEFAULT": aws_connection_json(s3_url),
        "AIRFLOW_VAR_FAUNA_LOGS_S3_BUCKET": BUCKET,
        "AWS_EC2_METADATA_DISABLED": "true",
    }
    with Deployment(tmp_path, dag_files=[EXAMPLE], env=env) as deployment:
        deployment.start_all()
        deployment.wait_for_dag(DAG_ID)
        deployment.unpause(DAG_ID)
        with StateRecorder(deployment, DAG_ID) as recorder:
            deployment.cli(
                "backfill", "create", "--dag-id", DAG_ID,
                "--from-date", DAYS[0].isoformat(), "--to-date", DAYS[-1].isoformat(),
                "--max-active-runs", "3",
            )  # fmt: skip
            # All three sensors wait on the triggerer at once: kill it with its log server.
            deployment.wait_for_task_state(DAG_ID, "wait_for_logs", "deferred", count=3, timeout=300)
            deployment.kill("triggerer")
            time.sleep(2)
            deployment.start("triggerer")
            runs = deployment.wait_for_runs(DAG_ID, count=3, timeout=480)

        states = {r["run_id"]: r["state"] for r in runs}
        assert list(states.values()) == ["success"] * 3, (states, deployment.diagnostics())

        # One export request per day, for exactly that day.
        posts = emulator.api_calls("POST")
        requests = emulator.log_requests
        assert len(posts) == 3, [(c.path, c.json) for c in posts]
        assert sorted(r["time_start"] for r in requests) == [
            d.strftime("%Y-%m-%dT%H:%M:%SZ") for d in DAYS
        ], requests

        # Three objects, each byte-identical to the file its request served.
        listed = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        stored = {o["Key"]: s3.get_object(Bucket=BUCKET, Key=o["Key"])["Body"].read() for o in listed}
        assert len(stored) == 3, sorted(stored)
        served = [emulator.file_bytes(r["request_id"]) for r in requests]
        assert sorted(stored.values()) == sorted(served)

        # Every sensor went through deferred (seen while the runs went on).
        sensor_states = recorder.states("wait_for_logs")
        assert len(sensor_states) == 3, sensor_states
        for run_id, seen in sensor_states.items():
            assert "deferred" in seen and seen[-1] == "success", (run_id, seen)

        # The request operator's extra link, through the REST API with a JWT: one per run, each
        # naming that run's request (the default link template opens the Fauna dashboard).
        linked = set()
        for run_id in states:
            links = deployment.api(
                "GET", f"/api/v2/dags/{DAG_ID}/dagRuns/{run_id}/taskInstances/request_logs/links"
            )
            url = links["extra_links"]["Fauna log request"]
            found = [r["request_id"] for r in requests if f"log_request={r['request_id']}" in url]
            assert len(found) == 1, links
            linked.add(found[0])
        assert linked == {r["request_id"] for r in requests}

        # docs/deployment.rst: clear one day of the three-task form by its logical date, as full
        # timestamps, and the plain task id. Airflow 3.3.2 cleared nothing (and said nothing) for
        # an anchored '^request_logs$': recorded here, not relied on.
        def clear(run: Any, task_regex: str) -> dict[str, str]:
            day = run["logical_date"].replace(" ", "T").split(".")[0] + "+00:00"
            deployment.cli("tasks", "clear", DAG_ID, "-t", task_regex, "-d", "-s", day, "-e", day, "-y")
            # A cleared task is either waiting to run again or has already run again (try 2).
            return {
                r["task_id"]: "cleared" if r["state"] != "success" or r["try_number"] > 1 else "kept"
                for r in deployment.task_instances(DAG_ID)
                if r["run_id"] == run["run_id"]
            }

        anchored = clear(runs[2], "^request_logs$")
        plain = clear(runs[1], "request_logs")
        assert plain == dict.fromkeys(("request_logs", "upload_logs_to_s3", "wait_for_logs"), "cleared"), (
            plain
        )
        untouched = [(r["state"], r["try_number"]) for r in deployment.task_instances(DAG_ID, "request_logs")]
        assert untouched[0] == ("success", 1), untouched  # the first day was not cleared
        print(
            json.dumps({"runs": states, "sensor_states": sensor_states, "anchored": anchored, "plain": plain})
        )
