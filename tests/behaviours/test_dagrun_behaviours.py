"""Behaviours that a mutation audit found untested, each through real DAG runs, each failing in seconds.

* The idempotency token depends on the request (scope, interval), the map index and the
  generation, not only on the run id: runs of one logical date share a run id here.
* A request still ``Pending`` at the sensor's first check that later ends ``Failed``: the
  trigger's event decides the outcome.
* A presigned URL that user code logs is masked by the provider's own ``mask_secret``: Airflow
  masks connection passwords by itself, never a URL.

``make mutants`` (scripts/mutants.py) breaks each behaviour and checks these tests notice.
"""

from __future__ import annotations

import datetime as dt
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
from harness import airflow_version, hold_until, load_dag, requests_read, run_dag

pytestmark = [pytest.mark.dagrun, pytest.mark.usefixtures("airflow_db", "fauna_connection")]

UTC = dt.timezone.utc
TOKEN_DAG = "fauna_token_same_run_id"
TOKEN_PARAMS = {
    "database": "us-std/ECommerce",
    "time_start": "2026-11-01T00:00:00Z",
    "time_end": "2026-11-02T00:00:00Z",
}


def submissions(emulator: Any) -> list[Any]:
    return [c for c in emulator.calls if c.method == "POST" and c.path == "/api/v1/logs"]


def status_calls(emulator: Any, request_id: str) -> list[Any]:
    return [c for c in emulator.calls if c.path == f"/api/v1/logs/{request_id}"]


@pytest.mark.timeout(240)
def test_the_token_tells_requests_apart_within_one_run_id(emulator: Any) -> None:
    day = dt.datetime(2026, 11, 5, tzinfo=UTC)

    def run(**conf: str) -> tuple[str, dict[str, str]]:
        # The full conf every time: on Airflow 2.11 a run's conf sticks to the parsed DAG.
        result = run_dag(TOKEN_DAG, day, conf={**TOKEN_PARAMS, **conf}, run_after=day).assert_success()
        ids = {
            "request_logs": str(result.task("request_logs").return_value),
            "request_twice[0]": str(result.task("request_twice", 0).return_value),
            "request_twice[1]": str(result.task("request_twice", 1).return_value),
        }
        return result.run_id, ids

    run_id, first = run()
    assert first["request_twice[0]"] != first["request_twice[1]"], "map indexes share a token"

    again_run_id, again = run()
    assert again_run_id == run_id, "the test needs runs that share their run id"
    assert again == first, "the same task instance and request must find its export again"

    later_run_id, later = run(time_start="2026-11-02T00:00:00Z", time_end="2026-11-03T00:00:00Z")
    other_run_id, other = run(database="us-std/Other")
    assert later_run_id == other_run_id == run_id
    by_id = {r["request_id"]: r for r in emulator.log_requests}
    interval = by_id[later["request_logs"]]
    assert (interval["time_start"], interval["time_end"]) == ("2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z")
    assert by_id[other["request_logs"]]["database"] == "us-std/Other"
    assert len({first["request_logs"], later["request_logs"], other["request_logs"]}) == 3

    # Generation: the same run id, scope and interval, after the export ended Failed.
    emulator.set_outcome("us-std/Generations", "Failed", count=1)
    _, failed = run(database="us-std/Generations")
    assert {r["request_id"]: r for r in emulator.log_requests}[failed["request_logs"]]["state"] == "Failed"
    _, fresh = run(database="us-std/Generations")
    assert fresh["request_logs"] != failed["request_logs"], "a Failed export was reused"
    assert {r["request_id"]: r for r in emulator.log_requests}[fresh["request_logs"]]["state"] == "Complete"

    # 3 requests per run; 6 runs; one export per distinct (task instance, request, generation).
    assert len(submissions(emulator)) == 3 * 6 + 1  # + the generation-1 submission of the last run
    assert len(emulator.log_requests) == 3 + 1 + 1 + 2


@pytest.mark.timeout(120)
def test_a_request_pending_at_the_first_check_that_ends_failed_fails_the_sensor(emulator: Any) -> None:
    emulator.set_outcome("us-std/LateFailure", "Failed")
    # In progress for the sensor's own check and the trigger's first poll; then it fails.
    with hold_until(emulator, requests_read(emulator, 2)):
        run = run_dag(
            "fauna_wait_deferrable",
            dt.datetime(2026, 11, 20, tzinfo=UTC),
            conf={"database": "us-std/LateFailure"},
        )

    sensor = run.task("wait_for_logs")
    assert (sensor.state, sensor.try_number) == ("failed", 1), run.summary()
    request_id = str(run.task("request_logs").return_value)
    assert f"Fauna log request {request_id} for us-std/LateFailure" in sensor.log
    assert "ended Failed" in sensor.log
    assert len(submissions(emulator)) == 1
    # Two reads saw it in progress (the sensor deferred, the trigger polled on); a third saw Failed.
    assert len(status_calls(emulator, request_id)) >= 3


@pytest.mark.timeout(180)
def test_a_presigned_url_logged_by_user_code_is_masked_by_the_provider(emulator: Any, s3_server: str) -> None:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    S3Hook(aws_conn_id="aws_default").create_bucket(bucket_name="fauna-url-logging")
    if airflow_version() < (3, 0):  # the transfer's asset alias must exist, as the DAG processor makes it
        load_dag("fauna_url_logged_by_user_code").sync_to_db()
    run = run_dag("fauna_url_logged_by_user_code", dt.datetime(2026, 11, 21, tzinfo=UTC)).assert_success()

    task = run.task("copy_logs")
    signatures = {
        signature
        for request in emulator.log_requests
        for signature in parse_qs(urlsplit(request.get("presigned_url", "")).query).get(
            "X-Fauna-Signature", []
        )
    }
    assert signatures, "the export handed out no presigned URL"
    assert any(s in task.log for s in signatures), (
        "the user code did not log the URL: the test proves nothing"
    )
    assert "user code logs the URL" in task.masked_log
    for signature in signatures:
        assert signature not in task.masked_log, "a presigned URL reached the task log unmasked"
