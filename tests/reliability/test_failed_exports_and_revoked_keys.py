"""An export that ends ``Failed``/``TimedOut``, and an account key revoked in the middle of a run.

A failed export must fail the try with a message naming the request, its scope and its interval,
and the retry of the task that *submits* must start a fresh request: the emulator pins the failed
state on the next request of the scope only (``set_outcome(..., count=1)``), so the fresh one
completes.

A revoked key (401) must end the task at once, without spending its retries, and without the
hook retrying the 401: one 401 per attempt, and nothing sent after it. The key is revoked at the
emulator right before the call that is to meet it, by wrapping that hook method for the test
(the wrapper only revokes; the provider's code runs unchanged).
"""

from __future__ import annotations

import json
import os
from typing import TYPE_CHECKING, Any

import pytest
from fauna_emulator import FaultConfig
from fauna_emulator.calls import fingerprint
from harness import FAUNA_CONN_ID, FAUNA_TEST_KEY, conn_env_var
from reliability_support import DATABASE, Bucket, day_key, nov, statuses, submissions, xcom

from airflow_provider_fauna.hooks.fauna import FaunaAccountHook

if TYPE_CHECKING:
    from leak_evidence import Evidence

pytestmark = pytest.mark.dagrun

SUBMITTERS = {
    "request-and-wait": ("fauna_request_and_wait_in_one_task", "request_logs"),
    "one-task-s3": ("reliability_one_task", "to_s3"),
}


# --------------------------------------------------------------------------------- failed exports
@pytest.mark.parametrize("state", ["Failed", "TimedOut"])
@pytest.mark.parametrize("form", list(SUBMITTERS))
def test_a_failed_export_fails_the_try_naming_it_and_the_retry_exports_afresh(
    fauna: Any, bucket: str, dagruns: Any, form: str, state: str
) -> None:
    dag_id, task_id = SUBMITTERS[form]
    fauna.set_outcome(DATABASE, state, count=1)

    run = dagruns.one(dag_id, nov(8)).assert_success()

    task = run.task(task_id)
    assert task.try_number == 2
    failed, fresh = fauna.log_requests
    assert (failed["state"], fresh["state"]) == (state, "Complete")
    assert failed["request_id"] != fresh["request_id"]
    interval = "[2026-11-07T00:00:00Z, 2026-11-08T00:00:00Z)"
    assert f"Fauna log request {failed['request_id']} for {DATABASE} {interval} ended {state}" in task.log
    # Try 1 submits generation 0; try 2 finds generation 0 failed and submits generation 1.
    first, again, afresh = (p.json["idempotency_token"] for p in submissions(fauna))
    assert first == again != afresh
    if task_id == "to_s3":
        store = Bucket(bucket)
        key = day_key(run.logical_date)
        assert store.state().objects == [key] and not store.state().uploads
        assert store.read(key) == fauna.file_bytes(fresh["request_id"])
        assert xcom(run, task_id, "bucket_at_start") == {"try": 2, **store.empty()}
    else:
        assert str(task.return_value) == fresh["request_id"]


# --------------------------------------------------------------------------------- revoked key
def revoke_before(monkeypatch: pytest.MonkeyPatch, fauna: Any, method: str) -> list[str]:
    """Revoke the key at the emulator right before the first call of ``FaunaAccountHook.<method>``."""
    original = getattr(FaunaAccountHook, method)
    revoked: list[str] = []

    def revoke() -> None:
        if not revoked:
            fauna.revoke_key(FAUNA_TEST_KEY)
            revoked.append(method)

    if method.startswith("a"):

        async def wrapper(self: FaunaAccountHook, *args: Any, **kwargs: Any) -> Any:
            revoke()
            return await original(self, *args, **kwargs)

    else:

        def wrapper(self: FaunaAccountHook, *args: Any, **kwargs: Any) -> Any:
            revoke()
            return original(self, *args, **kwargs)

    monkeypatch.setattr(FaunaAccountHook, method, wrapper)
    return revoked


def assert_one_401_then_silence(fauna: Any, path: str) -> None:
    calls = fauna.calls
    refused = [c for c in calls if c.status == 401]
    assert len(refused) == 1, [(c.method, c.path, c.status) for c in calls]
    assert refused[0].path == path
    assert calls[-1] is refused[0], "nothing is sent after the 401"


def test_key_revoked_before_the_run_fails_the_request_task_at_once(
    fauna: Any, bucket: str, dagruns: Any
) -> None:
    fauna.revoke_key(FAUNA_TEST_KEY)

    run = dagruns.one("reliability_pipeline", nov(9))

    request = run.task("request_logs")
    assert (run.state, request.state, request.try_number) == ("failed", "failed", 1), run.summary()
    assert "401" in request.log and "password field" in request.log
    # The error fails the task by its own type (an AirflowFailException), not through a wrapper.
    assert "FaunaAuthError" in request.log
    assert {run.task(t).state for t in ("wait_for_logs", "to_s3")} == {"upstream_failed"}
    assert_one_401_then_silence(fauna, "/api/v1/logs")


def test_key_revoked_while_the_trigger_waits_fails_the_sensor_at_once(
    fauna: Any, bucket: str, dagruns: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fauna.completion_delay = 30.0  # the sensor defers; the trigger meets the revoked key
    revoked = revoke_before(monkeypatch, fauna, "aget_log_request")

    run = dagruns.one("reliability_pipeline", nov(10))

    assert revoked
    sensor = run.task("wait_for_logs")
    assert (run.state, sensor.state, sensor.try_number) == ("failed", "failed", 1), run.summary()
    assert run.task("request_logs").state == "success" and run.task("to_s3").state == "upstream_failed"
    assert "401" in sensor.log
    request_id = str(run.task("request_logs").return_value)
    assert statuses(fauna.api_calls()) == [200, 200, 401], "submit, the sensor's check, the trigger's poll"
    assert_one_401_then_silence(fauna, f"/api/v1/logs/{request_id}")


ROTATED_KEY = "fnacapi_rotated_key_0b7d3f9e2c4a4d6e8f1a3c5e7b9d0f21"


def rotate_key(monkeypatch: pytest.MonkeyPatch, fauna: Any, evidence: Evidence) -> None:
    """Do what an admin does: a new key at Fauna, then in the connection, then the old key revoked."""
    evidence.secrets[ROTATED_KEY] = "the rotated account key"
    fauna.add_key(ROTATED_KEY)
    variable = conn_env_var(FAUNA_CONN_ID)
    monkeypatch.setenv(variable, json.dumps({**json.loads(os.environ[variable]), "password": ROTATED_KEY}))
    fauna.revoke_key(FAUNA_TEST_KEY)


def test_key_rotated_while_the_trigger_waits_is_read_again_and_the_wait_goes_on(
    fauna: Any, bucket: str, dagruns: Any, evidence: Evidence, monkeypatch: pytest.MonkeyPatch
) -> None:
    fauna.completion_delay = 3600.0  # Pending until the key has been rotated
    original = FaunaAccountHook.aget_log_request
    polls: list[str] = []

    async def rotating(self: FaunaAccountHook, request_id: str, **kwargs: Any) -> Any:
        polls.append(request_id)
        if len(polls) == 2:  # the trigger polled once with the old key; now the admin rotates it
            rotate_key(monkeypatch, fauna, evidence)
            fauna.completion_delay = 0.0
        return await original(self, request_id, **kwargs)

    monkeypatch.setattr(FaunaAccountHook, "aget_log_request", rotating)

    run = dagruns.one("reliability_pipeline", nov(12)).assert_success()

    sensor = run.task("wait_for_logs")
    assert sensor.try_number == 1
    assert "was rejected but has changed since: sending again with the new key" in sensor.log
    reads = [c for c in fauna.api_calls("GET") if c.path == f"/api/v1/logs/{polls[0]}"]
    old, new = fingerprint(FAUNA_TEST_KEY), fingerprint(ROTATED_KEY)
    # The sensor's check and the trigger's first poll, the poll the revoked key met, then the new key.
    assert [(c.status, c.key_fingerprint) for c in reads[:4]] == [
        (200, old),
        (200, old),
        (401, old),
        (200, new),
    ]
    assert Bucket(bucket).read(day_key(run.logical_date)) == fauna.file_bytes(polls[0])


def test_key_revoked_mid_download_fails_the_transfer_at_once_and_stores_nothing(
    fauna: Any, bucket: str, dagruns: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Bucket(bucket)
    fauna.faults = FaultConfig(download_expire_mid_stream=True)  # the copy needs a new URL midway
    revoked = revoke_before(monkeypatch, fauna, "create_log_file_url")

    run = dagruns.one("reliability_one_task", nov(11))

    assert revoked
    assert store.state().objects == [] and not store.state().uploads
    assert statuses(fauna.download_calls()) == [200, 403]
    task = run.task("to_s3")
    assert (run.state, task.state) == ("failed", "failed")
    (request,) = fauna.log_requests
    assert_one_401_then_silence(fauna, f"/api/v1/logs/{request['request_id']}/url")
    assert task.try_number == 1, "a rejected key fails the transfer without spending its retries"


def test_key_rotated_mid_download_is_read_again_and_the_copy_lands(
    fauna: Any, bucket: str, dagruns: Any, evidence: Evidence, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Bucket(bucket)
    fauna.faults = FaultConfig(download_expire_mid_stream=True)  # the copy needs a new URL midway
    original = FaunaAccountHook.create_log_file_url

    def rotating(self: FaunaAccountHook, *args: Any, **kwargs: Any) -> Any:
        rotate_key(monkeypatch, fauna, evidence)
        return original(self, *args, **kwargs)

    monkeypatch.setattr(FaunaAccountHook, "create_log_file_url", rotating)

    run = dagruns.one("reliability_one_task", nov(13)).assert_success()

    assert run.task("to_s3").try_number == 1
    (request,) = fauna.log_requests
    renewals = [c for c in fauna.api_calls("POST") if c.path.endswith("/url")]
    old, new = fingerprint(FAUNA_TEST_KEY), fingerprint(ROTATED_KEY)
    assert [(c.status, c.key_fingerprint) for c in renewals] == [(401, old), (200, new)]
    assert store.state().objects == [day_key(run.logical_date)] and not store.state().uploads
    assert store.read(day_key(run.logical_date)) == fauna.file_bytes(request["request_id"])
