"""Re-runs of the one-task transfer, through Airflow (``dag.test()``) against the emulator and the stores.

* A cleared task whose export ended ``DoesNotExist`` asks again, and the fresh export's file lands.
* A ``replace=True`` re-run of the same task instance exports afresh and overwrites; with a key
  naming the request id it copies the same export again (a fresh one would land beside it).
* A re-run after the API forgot the token (24 h) looks at the destination before submitting:
  the object of this very export is kept, with no submission; another one is refused, before
  any Fauna call.
* An interval ending now: the transfer defers until its end plus ``export_lag``, resumes into
  the submission and copies.

Runs that share a run id stand for a cleared task instance: Airflow 3's ``dag.test()`` names
the run after ``run_after``, Airflow 2.11's after the logical date.
"""

from __future__ import annotations

import datetime as dt
import math
import time
from typing import Any

import pytest
from harness import keys, record_datetime_triggers, run_dag
from transfer_stores import S3Store, Store

pytestmark = pytest.mark.dagrun

UTC = dt.timezone.utc
NOV_2 = dt.datetime(2026, 11, 2, tzinfo=UTC)
NOV_3 = dt.datetime(2026, 11, 3, tzinfo=UTC)
DATABASE = "us-std/ECommerce"


def submissions(fauna: Any) -> list[Any]:
    return fauna.api_calls("POST", "/api/v1/logs")


def test_a_cleared_task_asks_again_after_no_logs_and_the_file_lands(
    airflow_db: None, fauna: Any, s3_bucket: str
) -> None:
    store = S3Store(s3_bucket)
    key = keys.day_key(DATABASE, NOV_2)
    fauna.set_outcome(DATABASE, "DoesNotExist", count=1)

    first = run_dag("transfer_s3_one_task", NOV_2, run_after=NOV_2)
    assert first.task("to_s3").state == "skipped", first.summary()
    assert store.keys() == []

    again = run_dag("transfer_s3_one_task", NOV_2, run_after=NOV_2).assert_success()

    assert again.run_id == first.run_id, "the test needs a cleared task instance: the same run id"
    empty, fresh = fauna.log_requests
    assert (empty["state"], fresh["state"]) == ("DoesNotExist", "Complete")
    # Run 1 submits generation 0; run 2 finds it DoesNotExist and submits generation 1.
    first_token, again_token, fresh_token = (c.json["idempotency_token"] for c in submissions(fauna))
    assert first_token == again_token != fresh_token
    assert f"{empty['request_id']} for {DATABASE}" in again.task("to_s3").log
    assert "ended DoesNotExist earlier; submitting a fresh request" in again.task("to_s3").log
    assert again.task("to_s3").return_value == store.uri(key)
    stored = store.get(key)
    assert stored.data == fauna.file_bytes(fresh["request_id"])
    assert stored.metadata["fauna-request-id"] == fresh["request_id"]


def test_a_replace_rerun_exports_afresh_and_overwrites(airflow_db: None, fauna: Any, s3_bucket: str) -> None:
    store = S3Store(s3_bucket)
    key = keys.day_key(DATABASE, NOV_2)

    first = run_dag("transfer_s3_one_task_replace", NOV_2, run_after=NOV_2).assert_success()
    again = run_dag("transfer_s3_one_task_replace", NOV_2, run_after=NOV_2).assert_success()

    assert again.run_id == first.run_id
    old, new = fauna.log_requests
    assert old["request_id"] != new["request_id"] and new["state"] == "Complete"
    assert "replace=True asks for a fresh export" in again.task("to_s3").log
    stored = store.get(key)
    assert stored.metadata["fauna-request-id"] == new["request_id"], "the fresh export overwrote the old"
    assert stored.data == fauna.file_bytes(new["request_id"])
    assert store.keys() == [key] and store.open_uploads() == []


def test_a_replace_rerun_with_a_key_naming_the_request_recopies_it_rather_than_land_a_second_file(
    airflow_db: None, fauna: Any, s3_bucket: str
) -> None:
    store = S3Store(s3_bucket)

    first = run_dag("transfer_s3_request_id_key_replace", NOV_2, run_after=NOV_2).assert_success()
    again = run_dag("transfer_s3_request_id_key_replace", NOV_2, run_after=NOV_2).assert_success()

    assert again.run_id == first.run_id
    # A fresh export would have a new id, so a new key beside the old file: the day twice.
    (only,) = fauna.log_requests
    key = f"year=2026/month=11/day=01/{only['request_id']}.ndjson.gz"
    assert store.keys() == [key]
    assert store.get(key).data == fauna.file_bytes(only["request_id"])
    assert again.task("to_s3").return_value == store.uri(key)


def test_a_rerun_after_24_hours_looks_at_the_destination_before_submitting(
    airflow_db: None, fauna: Any, store: Store
) -> None:
    kind = store.kind
    key = keys.day_key(DATABASE, NOV_2)
    run_dag(f"transfer_{kind}_one_task", NOV_2).assert_success()
    landed = store.get(key)
    fauna.reset()  # the API forgets requests and tokens: as a re-run more than 24 hours later

    again = run_dag(f"transfer_{kind}_one_task", NOV_2).assert_success()

    task = again.task(f"to_{kind}")
    assert task.return_value == store.uri(key)
    assert "stored by an earlier try: nothing to copy, nothing exported" in task.log
    assert submissions(fauna) == [] and fauna.log_requests == []
    assert store.get(key) == landed

    # Another object at the key (no export's metadata): refused before any Fauna call.
    other = keys.day_key(DATABASE, NOV_3)
    store.put(other, b"written by someone else")
    refused = run_dag(f"transfer_{kind}_one_task", NOV_3)

    task = refused.task(f"to_{kind}")
    assert task.state == "failed", refused.summary()
    assert f"{store.uri(other)} already exists and replace=False" in task.log
    assert fauna.api_calls() == [], "no Fauna call at all"
    assert store.get(other).data == b"written by someone else"


TRANSFER_LAG = 15  # as in tests/dags/transfer_dags.py: more than the first dag.test() of a process takes


def test_an_interval_ending_now_defers_for_the_lag_then_exports_and_copies(
    airflow_db: None, fauna: Any, s3_bucket: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    store = S3Store(s3_bucket)
    moments = record_datetime_triggers(monkeypatch)
    end = dt.datetime.fromtimestamp(math.ceil(time.time()) + 1, UTC)
    start = end - dt.timedelta(hours=1)
    conf = {
        "time_start": start.strftime("%Y-%m-%dT%H:%M:%SZ"),
        "time_end": end.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }

    result = run_dag("transfer_s3_export_lag", NOV_2, conf=conf).assert_success()

    ready = end.timestamp() + TRANSFER_LAG
    assert [m.timestamp() for m in moments] == [ready], "deferred on DateTimeTrigger until end + lag"
    (post,) = submissions(fauna)
    assert ready <= post.time < ready + 60
    (exported,) = fauna.log_requests
    key = keys.default_key(DATABASE, start, end)
    assert result.task("to_s3").return_value == store.uri(key)
    assert store.get(key).data == fauna.file_bytes(exported["request_id"])
