"""Request and wait, through real DAG runs (``dag.test()``) against the emulator.

Runs are grouped (the first DAG run of a process is slow): each test covers several cases.
"""

from __future__ import annotations

import datetime as dt
from urllib.parse import parse_qs, urlsplit

import pytest
from harness import FAUNA_TEST_KEY, DagRunResult, gaps, hold_until, requests_read, run_backfill, run_dag

pytestmark = [pytest.mark.dagrun, pytest.mark.usefixtures("airflow_db", "fauna_connection")]

NOV = [dt.datetime(2026, 11, d, tzinfo=dt.timezone.utc) for d in range(1, 31)]


def submissions(emulator) -> list:
    return [c for c in emulator.calls if c.method == "POST" and c.path == "/api/v1/logs"]


def signatures(emulator) -> set[str]:
    """Every presigned URL signature the emulator handed out so far."""
    found = set()
    for request in emulator.log_requests:
        url = request.get("presigned_url")
        if url:
            found.update(parse_qs(urlsplit(url).query).get("X-Fauna-Signature", []))
    return found


def assert_no_secret(run: DagRunResult, emulator) -> None:
    """Neither the key nor a URL signature reached a task log or an XCom."""
    secrets = {FAUNA_TEST_KEY, *signatures(emulator)}
    for task in run.tasks.values():
        for secret in secrets:
            assert secret not in task.log, f"a secret leaked into the log of {task.task_id}"
            assert secret not in repr(task.return_value), f"a secret leaked into the XCom of {task.task_id}"


def test_three_days_deferrable_with_a_retried_request_make_one_export_each(emulator):
    emulator.completion_delay = 1.0
    runs = run_backfill("fauna_wait_retried_request", NOV[1], NOV[3])

    for run in runs:
        run.assert_success()
        request = run.task("request_logs")
        assert request.try_number == 2, "the first try was meant to die after making its request"
        details = run.task("wait_for_logs").return_value
        assert details["state"] == "Complete"
        # str(): Airflow 3's server-side xcom_pull reads a digits-only string back as a number.
        assert details["request_id"] == str(request.return_value)
        assert details["time_start"].startswith(run.data_interval_start.strftime("%Y-%m-%dT%H:%M:%S"))
        assert_no_secret(run, emulator)

    # Two tries per day, each POSTing the same derived token: one export per day.
    posts = submissions(emulator)
    assert len(posts) == 6
    assert len({c.json["idempotency_token"] for c in posts}) == 3
    assert len(emulator.log_requests) == 3
    assert [(r["time_start"], r["time_end"]) for r in emulator.log_requests] == [
        ("2026-11-01T00:00:00Z", "2026-11-02T00:00:00Z"),
        ("2026-11-02T00:00:00Z", "2026-11-03T00:00:00Z"),
        ("2026-11-03T00:00:00Z", "2026-11-04T00:00:00Z"),
    ]


@pytest.mark.parametrize("mode", ["poke", "reschedule", "deferrable"])
def test_each_sensor_mode_waits_for_completion(emulator, mode):
    with hold_until(emulator, requests_read(emulator, 2)):  # in progress for two status calls
        run = run_dag(f"fauna_wait_{mode}", NOV[10]).assert_success()

    request_id = str(run.task("request_logs").return_value)
    assert run.task("wait_for_logs").return_value["state"] == "Complete"
    polls = [c for c in emulator.calls if c.path == f"/api/v1/logs/{request_id}"]
    assert len(polls) >= 2, "the sensor never saw the request in progress"
    # One status call per poke_interval (0.5 s) and no more, in every mode: the deferrable
    # sensor's own check counts as the trigger's first poll.
    assert min(gaps(polls)) >= 0.5 - 0.02, f"status calls closer than poke_interval: {gaps(polls)}"
    assert len(submissions(emulator)) == 1
    assert_no_secret(run, emulator)


@pytest.mark.parametrize(("state", "mode"), [("Failed", "deferrable"), ("TimedOut", "poke")])
def test_failed_exports_fail_the_sensor_at_once_naming_request_interval_and_fix(emulator, state, mode):
    emulator.set_outcome("us-std/Broken", state)
    run = run_dag(f"fauna_wait_{mode}", NOV[11], conf={"database": "us-std/Broken"})

    assert run.state == "failed"
    sensor = run.task("wait_for_logs")
    assert sensor.state == "failed"
    assert sensor.try_number == 1, "its retry would only wait on the same failed request"
    request_id = str(run.task("request_logs").return_value)
    assert f"Fauna log request {request_id} for us-std/Broken" in sensor.log
    assert "2026-11-11T00:00:00Z" in sensor.log
    assert f"ended {state}" in sensor.log
    assert "Clear the task that submitted it (upstream: 'request_logs')" in sensor.log


@pytest.mark.parametrize(
    ("policy", "sensor_state"), [("skip", "skipped"), ("succeed", "success"), ("fail", "failed")]
)
def test_days_without_logs_follow_on_no_logs(emulator, policy, sensor_state):
    emulator.set_outcome("us-std/Quiet", "DoesNotExist")
    run = run_dag(f"fauna_no_logs_{policy}", NOV[12], conf={"database": "us-std/Quiet"})

    assert run.task("request_logs").state == "success"
    assert run.task("wait_for_logs").state == sensor_state
    assert "no logs for this interval" in run.task("wait_for_logs").log


@pytest.mark.timeout(120)
def test_deferred_sensor_times_out_after_a_last_check(emulator):
    # Ends 12 s after the 3 s timeout: a wait that ignored its deadline succeeds then, and this
    # test fails in seconds instead of hanging until pytest-timeout.
    emulator.completion_delay = 15
    run = run_dag("fauna_wait_timeout", NOV[13])

    sensor = run.task("wait_for_logs")
    assert sensor.state == "failed", run.summary()
    assert "did not finish before the deadline" in sensor.log
    request_id = str(run.task("request_logs").return_value)
    polls = [c for c in emulator.calls if c.path == f"/api/v1/logs/{request_id}"]
    assert len(polls) >= 2  # the sensor's own check and the trigger's last one, at least
    assert polls[-1].time - polls[0].time >= 2.5, "the wait ended before the sensor's 3 s timeout"


def test_one_task_request_and_wait(emulator):
    emulator.completion_delay = 1.0
    run = run_dag("fauna_request_and_wait_in_one_task", NOV[14]).assert_success()

    request = run.task("request_logs")
    assert request.try_number == 1
    request_id = emulator.log_requests[0]["request_id"]
    assert str(request.return_value) == request_id
    assert emulator.log_requests[0]["state"] == "Complete"
    # The trigger's first status call comes FIRST_POLL_AFTER_SUBMIT (1 s) after the submission,
    # capped at poll_interval (0.5 s here), then one per interval: never two closer together.
    calls = [*submissions(emulator), *(c for c in emulator.calls if c.path == f"/api/v1/logs/{request_id}")]
    assert min(gaps(calls)) >= 0.5 - 0.02, f"status calls closer than poll_interval: {gaps(calls)}"
    assert_no_secret(run, emulator)


def test_a_failed_export_is_retried_with_a_fresh_request(emulator):
    # The DAG's default database, no conf: on Airflow 2.11 a run's conf sticks to the parsed DAG
    # and would leak into later tests that run this DAG.
    emulator.set_outcome("us-std/ECommerce", "Failed", count=1)
    run = run_dag("fauna_request_and_wait_in_one_task", NOV[15])

    run.assert_success()
    task = run.task("request_logs")
    assert task.try_number == 2
    first, second = emulator.log_requests
    assert (first["state"], second["state"]) == ("Failed", "Complete")
    assert str(task.return_value) == second["request_id"]
    assert f"Fauna log request {first['request_id']} for us-std/ECommerce" in task.log
    assert "ended Failed" in task.log
    tokens = [c.json["idempotency_token"] for c in submissions(emulator)]
    assert len(set(tokens)) == 2, "the retry should step to a new token after the failed request"
