"""Fixtures of the transfer tests: a Fauna emulator serving multi-MiB files, buckets, a stub task context.

Why an emulator of its own: the session's ``emulator`` serves files of 200 records (a few KiB),
and its file size is fixed when it starts. Transfers must be tested on files bigger than one S3
part (5 MiB at least) and many GCS chunks, so the multipart and resumable paths run for real;
this emulator serves about 12 MiB per file. It also completes requests after a second, so that a
deferrable sensor or transfer really defers.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pytest
from harness import (
    FAUNA_CONN_ID,
    FAUNA_TEST_KEY,
    S3_FLAVOURS,
    conn_env_var,
    fauna_connection_json,
    use_s3_server,
)
from transfer_stores import GCSStore, S3Store, Store

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

#: About 12 MiB of gzip: three S3 parts of 5 MiB, a dozen GCS chunks of 1 MiB.
RECORDS_PER_FILE = 125_000
S3_BUCKET = "fauna-test-logs"
GCS_BUCKET = "fauna-test-logs-gcs"
DATABASE = "us-std/ECommerce"


@pytest.fixture(scope="session")
def big_emulator() -> Iterator[Any]:
    """A Fauna emulator whose log files are larger than one S3 part (session-wide, reset per test)."""
    emulator_module = pytest.importorskip("fauna_emulator")
    server = emulator_module.FaunaEmulator(
        keys={FAUNA_TEST_KEY}, port=0, completion_delay=1.0, records_per_file=RECORDS_PER_FILE
    )
    server.start()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def fauna(big_emulator: Any, monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """``big_emulator`` with no calls, faults, outcomes or requests; ``fauna_default`` points at it."""
    big_emulator.reset()
    big_emulator.reset_state()
    monkeypatch.setenv(
        conn_env_var(FAUNA_CONN_ID),
        fauna_connection_json(big_emulator.url, FAUNA_TEST_KEY, backoff_base=0.05, backoff_max=0.2),
    )
    yield big_emulator
    big_emulator.reset()


def create_s3_bucket() -> str:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    S3Hook().create_bucket(S3_BUCKET)
    return S3_BUCKET


@pytest.fixture
def s3_bucket(s3_server: str) -> str:
    """An empty bucket on each S3 server in turn (``aws_default`` points there)."""
    return create_s3_bucket()


@pytest.fixture(params=[*(f"s3-{flavour}" for flavour in S3_FLAVOURS), "gcs"])
def store(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> Store:
    """A bucket on each store in turn: S3 on moto and on s3rver, then GCS."""
    if request.param == "gcs":
        return GCSStore(request.getfixturevalue("gcs_bucket"))
    use_s3_server(request.param.removeprefix("s3-"), request, monkeypatch)
    return S3Store(create_s3_bucket())


@pytest.fixture
def gcs_bucket(gcs_server: str) -> str:
    """An empty bucket on gcp-storage-emulator (``google_cloud_default`` points there)."""
    from airflow.providers.google.cloud.hooks.gcs import GCSHook

    GCSHook().create_bucket(bucket_name=GCS_BUCKET, project_id="test-project")
    return GCS_BUCKET


@dataclass
class StubTaskInstance:
    """The little of a task instance an operator's ``execute`` touches: ids and ``xcom_push``."""

    dag_id: str = "transfer_component_test"
    task_id: str = "transfer"
    run_id: str = "manual__component"
    map_index: int = -1
    try_number: int = 1
    start_date: dt.datetime | None = None
    xcoms: dict[str, Any] = field(default_factory=dict)

    def xcom_push(self, key: str, value: Any) -> None:
        self.xcoms[key] = value


@pytest.fixture
def task_context() -> dict[str, Any]:
    """A task context for calling an operator's ``execute`` directly, for 2026-11-20 (one day)."""
    return {
        "ti": StubTaskInstance(),
        "data_interval_start": dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc),
        "data_interval_end": dt.datetime(2026, 11, 21, tzinfo=dt.timezone.utc),
    }


@pytest.fixture
def s3_calls(monkeypatch: pytest.MonkeyPatch) -> list[tuple[str, Callable[..., Any]]]:
    """botocore event handlers, ``(event, handler)``, put on every S3 client the copy makes.

    The fault is on the wire: the operator and boto3's managed transfer run as in production.
    """
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    handlers: list[tuple[str, Callable[..., Any]]] = []
    real_get_conn = S3Hook.get_conn

    def get_conn(hook: Any) -> Any:
        client = real_get_conn(hook)
        for number, (event, handler) in enumerate(handlers):
            client.meta.events.register(event, handler, unique_id=f"fauna-test-{number}")
        return client

    monkeypatch.setattr(S3Hook, "get_conn", get_conn)
    return handlers
