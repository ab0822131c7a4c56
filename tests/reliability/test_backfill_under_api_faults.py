"""A 30-day daily backfill of the full pipeline while a fifth of the Account API calls fail.

request -> deferrable sensor -> FaunaLogsToS3Operator (DAG ``reliability_pipeline``), for the
logical dates 2026-11-01 to 2026-11-30, through ``dag.test()`` against the emulator and moto's S3.
The emulator answers about 7% of API calls with 429, 7% with 500/502/503/504 and drops 6% of the
connections after doing the work (the case where a retried POST without a token would export
twice). ``Retry-After`` is 0 for the first 15 days and 1 for the last 15.

Every task has two retries, and none may need them: the hook's own retries must absorb it all.
"""

from __future__ import annotations

import time
from collections import Counter
from typing import Any

import pytest
from fauna_emulator import FaultConfig
from reliability_support import Bucket, day_key, nov, submissions, tokens

pytestmark = pytest.mark.dagrun

DAYS = 30
RATIOS = {"rate_limit_ratio": 0.07, "server_error_ratio": 0.07, "drop_ratio": 0.06}


def retried_after(calls: list[Any], index: int) -> Any | None:
    """The next call with the same method and path as ``calls[index]``: its retry."""
    first = calls[index]
    return next((c for c in calls[index + 1 :] if (c.method, c.path) == (first.method, first.path)), None)


def test_thirty_days_land_once_each_while_a_fifth_of_api_calls_fail(
    fauna: Any, bucket: str, dagruns: Any
) -> None:
    store = Bucket(bucket)
    fauna.faults = FaultConfig(**RATIOS, retry_after=0, seed=7)
    runs = dagruns.backfill("reliability_pipeline", nov(1), nov(15))
    switched_at = time.time()
    fauna.faults = FaultConfig(**RATIOS, retry_after=1, seed=8)
    runs += dagruns.backfill("reliability_pipeline", nov(16), nov(30))

    # Every run succeeded at the first try of every task.
    assert len(runs) == DAYS
    for run in runs:
        run.assert_success()
        assert {t.task_id: t.try_number for t in run.tasks.values()} == {
            "request_logs": 1,
            "wait_for_logs": 1,
            "to_s3": 1,
        }, run.summary()

    # All 30 objects landed, each byte-identical to what its request's presigned URL serves.
    expected_keys = [day_key(run.logical_date) for run in runs]
    state = store.state()
    assert state.objects == sorted(expected_keys)
    assert not state.uploads
    for run, key in zip(runs, expected_keys, strict=True):
        request_id = str(run.task("request_logs").return_value)
        assert run.task("to_s3").return_value == store.uri(key)
        assert store.read(key) == fauna.file_bytes(request_id)
        assert store.metadata(key)["fauna-request-id"] == request_id

    # Exactly one export per day: POSTs repeat a token, never a day.
    exports = fauna.log_requests
    assert len(exports) == DAYS
    assert sorted(r["time_start"][:10] for r in exports) == [
        "2026-10-31",
        *(f"2026-11-{d:02d}" for d in range(1, 30)),
    ]
    posts = submissions(fauna)
    assert len(tokens(posts)) == DAYS
    assert len(posts) >= DAYS

    # The faults really happened, in about the ratio asked for, and each one was retried.
    calls = fauna.api_calls()
    kinds = Counter((c.fault or "").replace("slow+", "") for c in calls)
    faulted = kinds["rate_limit"] + kinds["server_error"] + kinds["drop"]
    assert kinds["rate_limit"] and kinds["server_error"] and kinds["drop"], kinds
    assert 0.1 <= faulted / len(calls) <= 0.3, (faulted, len(calls))
    for index, call in enumerate(calls):
        if call.fault:
            assert retried_after(calls, index) is not None, f"{call.method} {call.path} was not retried"

    # Retry-After: 1 was honoured: the retry of a 429 came a second later (backoff_max is 1 s).
    late_429s = [i for i, c in enumerate(calls) if c.status == 429 and c.time > switched_at]
    assert late_429s
    for index in late_429s:
        retry = retried_after(calls, index)
        assert retry is not None and retry.time - calls[index].time >= 0.95

    # One download per day, never with a key; every API call carried one.
    downloads = fauna.download_calls()
    assert len(downloads) == DAYS
    assert [c.status for c in downloads] == [200] * DAYS
    assert all(c.had_authorization for c in calls)

    print(
        f"\n{DAYS} days: {len(calls)} API calls ({kinds['rate_limit']} x 429, {kinds['server_error']} x 5xx, "
        f"{kinds['drop']} dropped; {len(posts)} POSTs for {DAYS} exports), {len(downloads)} downloads, "
        f"{sum(r.seconds for r in runs):.1f} s of DAG runs"
    )
