"""Fixtures of the reliability suite: the emulator with fast retries, a bucket, DAG runs that leave evidence.

* ``fauna`` (function): the session's emulator (reset around the test), completing requests after
  0.3 s so that sensors really defer; ``fauna_default`` points at it with small backoffs
  (``backoff_base`` 0.05 s, ``backoff_max`` 1 s, so a ``Retry-After: 1`` is honoured in full) and
  ``max_retries`` 8. While it is active every presigned URL the provider reads is captured, and
  when the test ends its evidence is searched for leaks (see :mod:`leak_evidence`).
* ``bucket`` (function): an empty bucket on moto's S3 server, then on s3rver; ``aws_default``
  points there.
* ``dagruns`` (function): ``run_dag``/``run_backfill`` that also file each run as evidence.
* ``evidence`` (function) and ``session_evidence`` (session): what was collected.

The test marked ``session_sweep`` is moved to the end of the session, whatever ran before it.
"""

from __future__ import annotations

import copy
from typing import TYPE_CHECKING, Any, ClassVar

import pytest
from harness import (
    FAUNA_CONN_ID,
    FAUNA_TEST_KEY,
    aws_connection_json,
    conn_env_var,
    fauna_connection_json,
    load_dag,
    run_backfill,
    run_dag,
)
from leak_evidence import Evidence

from airflow_provider_fauna.log_requests import LogRequest

if TYPE_CHECKING:
    import datetime as dt
    from collections.abc import Iterator

    from harness import DagRunResult

BUCKET = "fauna-reliability"
#: Seconds from submission to ``Complete``: long enough that a sensor defers, short enough to be cheap.
COMPLETION_DELAY = 0.3
FAST_RETRIES = {"backoff_base": 0.05, "backoff_max": 1.0, "max_retries": 8}


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "session_sweep: runs last, over everything the session left behind")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    last = [item for item in items if item.get_closest_marker("session_sweep")]
    items[:] = [item for item in items if item not in last] + last


@pytest.fixture(scope="session")
def session_evidence() -> Evidence:
    """Everything every reliability test collected, for the sweep at the end of the session."""
    return Evidence()


@pytest.fixture
def evidence(session_evidence: Evidence) -> Iterator[Evidence]:
    collected = Evidence()
    yield collected
    session_evidence.merge(collected)


@pytest.fixture
def fauna(
    emulator: Any, evidence: Evidence, monkeypatch: pytest.MonkeyPatch, airflow_db: None
) -> Iterator[Any]:
    """The emulator, a fast-retrying ``fauna_default`` to it, and the leak check of the test."""
    monkeypatch.setenv(
        conn_env_var(FAUNA_CONN_ID), fauna_connection_json(emulator.url, FAUNA_TEST_KEY, **FAST_RETRIES)
    )
    emulator.completion_delay = COMPLETION_DELAY
    read_answer = LogRequest.from_api

    def capturing(cls: type[LogRequest], payload: Any) -> LogRequest:
        evidence.add_url(payload.get("presigned_url"), "read by the provider")
        return read_answer(payload)

    monkeypatch.setattr(LogRequest, "from_api", classmethod(capturing))
    yield emulator
    for request in emulator.log_requests:
        evidence.add_url(request.get("presigned_url"), "kept by the emulator")
    evidence.add_calls(emulator.calls, "the emulator")
    assert not evidence.unaccounted_downloads(emulator.download_calls()), "a URL escaped the capture"
    assert not any(c.had_authorization for c in emulator.download_calls()), (
        "a download carried an Authorization header"
    )
    leaks = evidence.leaks()
    assert not leaks, "secrets leaked:\n" + "\n".join(leaks)


@pytest.fixture
def bucket(s3_server: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty bucket on each S3 server in turn (moto's, s3rver).

    The connection's ``transfer_config_args`` make even these small files go up as multipart
    uploads (of one part), so the faults of the multipart calls strike.
    """
    import os

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    transfer = {"s3": {"transfer_config_args": {"multipart_threshold": 1}}}
    key = os.environ["AWS_ACCESS_KEY_ID"]  # the server's, set by s3_server
    monkeypatch.setenv(
        conn_env_var("aws_default"), aws_connection_json(s3_server, key=key, service_config=transfer)
    )
    S3Hook().create_bucket(BUCKET)
    return BUCKET


class DagRuns:
    """``run_dag`` and ``run_backfill`` that file every run as evidence, right after it ran.

    Every run gets the DAG's full params as its conf: the declared defaults, read before the
    DAG's first run in this process, then the overrides. Under ``dag.test()`` a run's conf stays
    in the parsed DAG (in the task's params on Airflow 3, in the DAG's too on 2.11), so a later
    run given less conf would inherit the previous run's values.
    """

    declared: ClassVar[dict[str, dict[str, Any]]] = {}

    def __init__(self, evidence: Evidence) -> None:
        self.evidence = evidence

    @classmethod
    def conf(cls, dag_id: str, overrides: dict[str, Any]) -> dict[str, Any]:
        if dag_id not in cls.declared:
            cls.declared[dag_id] = copy.deepcopy(dict(load_dag(dag_id).params))
        return {**copy.deepcopy(cls.declared[dag_id]), **overrides}

    def one(self, dag_id: str, day: dt.datetime, **conf: Any) -> DagRunResult:
        result = run_dag(dag_id, day, conf=self.conf(dag_id, conf))
        self.evidence.add_run(result)
        return result

    def backfill(self, dag_id: str, first: dt.datetime, last: dt.datetime, **conf: Any) -> list[DagRunResult]:
        results = run_backfill(dag_id, first, last, conf=self.conf(dag_id, conf))
        for result in results:
            self.evidence.add_run(result)
        return results


@pytest.fixture
def dagruns(fauna: Any, evidence: Evidence) -> DagRuns:
    return DagRuns(evidence)
