"""A worker dies, Airflow kills a task, the triggerer restarts: the retry or the rebuilt trigger carries on.

Each case is one DAG run (``dag.test()``) against the emulator and moto's S3; the dying is done
by the test DAGs' :class:`FaultyS3Transfer` (see ``tests/dags/reliability_dags.py``):

* ``die_after_wait``: the one-task transfer raises on its first try after its request was made and
  had completed, before copying;
* ``killed_after_part``: the first try is SIGKILLed right after a part went up to S3: from that
  moment the try sends nothing more (no abort, no delete), as a killed process would;
* ``hang_before_complete`` with ``execution_timeout``: Airflow's own timeout interrupts the first
  try while it waits for S3 to complete the upload (every part is up); the completion goes
  through a little later, so the object lands whole and is kept for the retry.

The triggerer restart swaps the inline trigger of ``dag.test()`` for one that is cancelled once it
has polled the request (which is held ``Pending`` until then), then rebuilt the way the triggerer
rebuilds it, from the ``Trigger`` row's encrypted kwargs.
"""

from __future__ import annotations

import asyncio
import importlib
import inspect
import time
from typing import Any

import pytest
from harness import airflow_version, load_dag, run_until_killed
from reliability_support import Bucket, day_key, nov, statuses, submissions, tokens, xcom

from airflow_provider_fauna.triggers.logs import FaunaLogsTrigger

pytestmark = pytest.mark.dagrun


def assert_landed_once(store: Bucket, fauna: Any, run: Any, task_id: str = "to_s3") -> str:
    """The run's export is the only object in the bucket, byte-identical; returns its request id."""
    (request,) = fauna.log_requests
    key = day_key(run.logical_date)
    assert run.task(task_id).return_value == store.uri(key)
    assert store.state().objects == [key]
    assert store.read(key) == fauna.file_bytes(request["request_id"])
    return request["request_id"]


# --------------------------------------------------------------------------------- the worker
def test_worker_dying_after_its_request_reuses_that_request_on_retry(
    fauna: Any, bucket: str, dagruns: Any
) -> None:
    store = Bucket(bucket)

    run = dagruns.one("reliability_one_task", nov(2), die_after_wait=True).assert_success()

    task = run.task("to_s3")
    assert task.try_number == 2
    assert "the worker died after the log request was made" in task.log
    assert_landed_once(store, fauna, run)
    posts = submissions(fauna)
    assert len(posts) == 2 and len(tokens(posts)) == 1, "both tries sent the same token"
    assert statuses(fauna.download_calls()) == [200], "only the retry downloaded"
    assert xcom(run, "to_s3", "bucket_at_start") == {"try": 2, **store.empty()}
    assert not store.state().uploads


def test_worker_killed_after_a_part_went_up_retry_lands_the_whole_file_once(
    fauna: Any, bucket: str, dagruns: Any
) -> None:
    store = Bucket(bucket)

    run = dagruns.one("reliability_one_task", nov(3), s3_fault="killed_after_part").assert_success()

    task = run.task("to_s3")
    assert task.try_number == 2
    assert "the worker was killed after uploading a part" in task.log
    request_id = assert_landed_once(store, fauna, run)
    key = day_key(run.logical_date)
    # What the killed try left for its retry: no object, and its upload (a dead process aborts nothing).
    assert xcom(run, "to_s3", "bucket_at_start") == {"try": 2, **store.empty([key])}
    assert store.metadata(key)["fauna-request-id"] == request_id
    assert len(submissions(fauna)) == 2 and len(fauna.log_requests) == 1
    assert statuses(fauna.download_calls()) == [200, 200], "each try read the file once"


def test_retry_after_a_killed_try_aborts_the_upload_it_left_open(
    fauna: Any, bucket: str, dagruns: Any
) -> None:
    store = Bucket(bucket)

    run = dagruns.one("reliability_one_task", nov(4), s3_fault="killed_after_part").assert_success()

    key = day_key(run.logical_date)
    assert xcom(run, "to_s3", "bucket_at_start") == {"try": 2, **store.empty([key])}
    if store.state().uploads is None:  # s3rver: left to a lifecycle rule
        assert "Could not list the open multipart uploads" in run.task("to_s3").log
    else:
        assert "Aborted 1 of the 1 multipart upload(s) that earlier tries left open" in run.task("to_s3").log
        assert store.state().uploads == []
    assert_landed_once(store, fauna, run)


@pytest.fixture
def task_timeouts_fail_the_try(monkeypatch: pytest.MonkeyPatch) -> None:
    """Let a task's ``AirflowTaskTimeout`` end its try, as the task runner does in production.

    ``dag.test()`` of Airflow 2.11 catches ``Exception`` around each task instance run, and
    ``AirflowTaskTimeout`` is a ``BaseException``: after the try is recorded as failed (up for
    retry) the timeout would escape the whole DAG run. Airflow 3's in-process runner handles it.
    """
    from airflow.providers.common.compat.sdk import AirflowTaskTimeout

    dag_module = inspect.getmodule(type(load_dag("reliability_pipeline_timeout")).test)
    run_task = dag_module._run_task

    def run_task_until_timeout(*args: Any, **kwargs: Any) -> Any:
        try:
            return run_task(*args, **kwargs)
        except AirflowTaskTimeout:
            return None

    monkeypatch.setattr(dag_module, "_run_task", run_task_until_timeout)


@pytest.mark.usefixtures("task_timeouts_fail_the_try")
def test_task_killed_by_its_execution_timeout_mid_upload_keeps_a_whole_object_for_the_retry(
    fauna: Any, bucket: str, dagruns: Any
) -> None:
    store = Bucket(bucket)

    run = dagruns.one(
        "reliability_pipeline_timeout", nov(5), s3_fault="hang_before_complete"
    ).assert_success()

    task = run.task("to_s3")
    assert task.try_number == 2
    assert "Timeout" in task.log
    key = day_key(run.logical_date)
    assert_landed_once(store, fauna, run)
    assert xcom(run, "to_s3", "bucket_at_start") == {"try": 2, **store.empty(), "objects": [key]}
    assert "stored by an earlier try: nothing to copy" in task.log
    assert statuses(fauna.download_calls()) == [200], "the retry downloaded nothing"
    assert not store.state().uploads
    assert len(submissions(fauna)) == 1 and len(fauna.log_requests) == 1
    if airflow_version() >= (3, 0):  # 2.11 records an alias's events only for a DAG it parsed
        (extra,) = asset_event_extras(run, store.uri(key))
        assert extra["uri"] == store.uri(key)
        assert extra["bytes"] == len(store.read(key)), "the retry's event gives the stored size"


def asset_event_extras(run: Any, uri: str) -> list[dict[str, Any]]:
    """The extras of the asset events ``run`` emitted for the object at ``uri`` (Airflow 3)."""
    from airflow.models.asset import AssetEvent, AssetModel
    from airflow.utils.session import create_session

    with create_session() as session:
        rows = (
            session.query(AssetEvent)
            .join(AssetModel, AssetEvent.asset_id == AssetModel.id)
            .filter(AssetModel.uri == uri, AssetEvent.source_run_id == run.run_id)
            .all()
        )
        return [dict(row.extra or {}) for row in rows]


# --------------------------------------------------------------------------------- the triggerer
def rebuild_like_the_triggerer(trigger: FaunaLogsTrigger) -> Any:
    """A new trigger from the ``Trigger`` row the scheduler would store: encrypted, decrypted, decoded."""
    from airflow.models.trigger import Trigger

    row = Trigger.from_object(trigger)
    kwargs = Trigger._decrypt_kwargs(row.encrypted_kwargs)
    try:
        from airflow.serialization.decoders import smart_decode_trigger_kwargs
    except ImportError:  # Airflow 2: the triggerer passes the decrypted kwargs as they are
        pass
    else:
        kwargs = {name: smart_decode_trigger_kwargs(value) for name, value in kwargs.items()}
    module, _, name = row.classpath.rpartition(".")
    return getattr(importlib.import_module(module), name)(**kwargs)


def test_triggerer_restart_mid_wait_resumes_on_the_same_request(
    fauna: Any, bucket: str, dagruns: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = Bucket(bucket)
    fauna.completion_delay = 3600.0  # Pending until the first triggerer is gone
    dag_module = inspect.getmodule(type(load_dag("reliability_pipeline")).test)
    inline_trigger = dag_module._run_inline_trigger
    restarts: list[dict[str, Any]] = []

    def status_reads() -> int:
        return sum(c.path.startswith("/api/v1/logs/") for c in fauna.api_calls("GET"))

    def restarting_triggerer(trigger: Any, *args: Any) -> Any:
        if not isinstance(trigger, FaunaLogsTrigger) or restarts:
            return inline_trigger(trigger, *args)
        before = status_reads()  # the sensor's own check, made before it deferred
        early = asyncio.run(run_until_killed(trigger, lambda: status_reads() > before))
        killed_at = time.time()
        trigger_reads = status_reads() - before
        fauna.completion_delay = 0.0  # the export completes while no triggerer runs
        rebuilt = rebuild_like_the_triggerer(trigger)
        restarts.append(
            {
                "early": early,
                "at": killed_at,
                "trigger_reads": trigger_reads,
                "before": trigger.serialize(),
                "after": rebuilt.serialize(),
            }
        )
        return inline_trigger(rebuilt, *args)

    monkeypatch.setattr(dag_module, "_run_inline_trigger", restarting_triggerer)

    run = dagruns.one("reliability_pipeline", nov(6)).assert_success()

    (restart,) = restarts
    assert restart["early"] is None, "the trigger fired before the triggerer died: nothing was restarted"
    assert restart["after"] == restart["before"], "rebuilt with the same request, deadline and interval"
    assert all(task.try_number == 1 for task in run.tasks.values())
    request_id = assert_landed_once(store, fauna, run)
    assert restart["before"][1]["request_id"] == request_id
    polls = [c for c in fauna.api_calls("GET") if c.path.startswith("/api/v1/logs/")]
    assert {c.path for c in polls} == {f"/api/v1/logs/{request_id}"}
    assert restart["trigger_reads"] >= 1, "the first trigger polled before it was killed"
    assert any(c.time > restart["at"] for c in polls), "the rebuilt trigger polled again"
    assert len(submissions(fauna)) == 1
