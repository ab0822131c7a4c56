"""Asset (dataset) events of the transfers, run by Airflow itself on 3.3 and 2.11 alike.

The events are read back from the metadata DB, where a downstream DAG's scheduling reads them.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from harness import airflow_version, load_dag, run_dag, use_s3_server

pytestmark = pytest.mark.dagrun

NOV_2 = dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc)
BUCKET = "fauna-partition-logs"
#: The key ``assets_s3_*`` DAGs store the run of 2026-11-02 (the day 2026-11-01) under.
DAY_KEY = "events/us-std/ECommerce/2026-11-02.ndjson.gz"


@pytest.fixture
def bucket(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """An empty bucket on moto: the events, not the S3 wire, are what these tests are about."""
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    use_s3_server("moto", request, monkeypatch)

    S3Hook().create_bucket(BUCKET)
    return BUCKET


def run_synced(dag_id: str, logical_date: dt.datetime) -> Any:
    """Run ``dag_id`` once the metadata DB knows its assets and aliases, as after the DAG processor.

    Airflow 3's ``dag.test()`` writes them itself; on 2.11 ``sync_to_db`` is what the DAG
    processor would have done.
    """
    if airflow_version() < (3, 0):
        load_dag(dag_id).sync_to_db()
    return run_dag(dag_id, logical_date).assert_success()


def events_of(uri: str, dag_id: str) -> list[dict[str, Any]]:
    """The asset (Airflow 3) or dataset (2.11) events of ``uri`` that ``dag_id``'s runs emitted."""
    from airflow.utils.session import create_session

    try:
        from airflow.models.asset import AssetEvent as Event
        from airflow.models.asset import AssetModel as Model
    except ImportError:  # Airflow 2
        from airflow.models.dataset import DatasetEvent as Event  # type: ignore[no-redef]
        from airflow.models.dataset import DatasetModel as Model
    link = "asset_id" if hasattr(Event, "asset_id") else "dataset_id"
    with create_session() as session:
        rows = (
            session.query(Event)
            .join(Model, getattr(Event, link) == Model.id)
            # Airflow stores an s3:// URI without its trailing slash.
            .filter(Model.uri.in_({uri, uri.rstrip("/")}), Event.source_dag_id == dag_id)
            .all()
        )
        return [
            {"extra": dict(row.extra or {}), "partition_key": getattr(row, "partition_key", None)}
            for row in rows
        ]


def stored(bucket: str, key: str) -> bytes:
    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    return S3Hook().get_key(key, bucket).get()["Body"].read()


def test_the_default_outlet_announces_the_object_it_wrote(
    airflow_db: None, fauna_connection: str, emulator: Any, bucket: str
) -> None:
    result = run_synced("assets_s3_default_outlet", NOV_2)

    uri = f"s3://{bucket}/{DAY_KEY}"
    assert result.task("to_s3").return_value == uri
    events = events_of(uri, "assets_s3_default_outlet")
    assert len(events) == 1, events
    extra = events[0]["extra"]
    request_id = extra["request_id"]
    assert extra == {
        "uri": uri,
        "request_id": request_id,
        "scope": "us-std/ECommerce",
        "time_start": "2026-11-01T00:00:00Z",
        "time_end": "2026-11-02T00:00:00Z",
        "bytes": len(stored(bucket, DAY_KEY)),
        "md5": extra["md5"],
    }
    assert request_id and extra["bytes"] > 0
    assert events[0]["partition_key"] is None, "an unpartitioned run's event has no partition key"
    assert "presigned" not in repr(events).lower() and "X-Fauna-Signature" not in repr(events)


def test_a_declared_asset_carries_the_object_in_its_extra_and_no_logs_says_so(
    airflow_db: None, fauna_connection: str, emulator: Any, bucket: str
) -> None:
    declared = f"s3://{bucket}/declared/"
    run_synced("assets_s3_declared_outlet", NOV_2)

    events = events_of(declared, "assets_s3_declared_outlet")
    assert [e["extra"]["uri"] for e in events] == [f"s3://{bucket}/{DAY_KEY}"]
    assert events[0]["extra"]["bytes"] == len(stored(bucket, DAY_KEY))
    assert events_of(f"s3://{bucket}/{DAY_KEY}", "assets_s3_declared_outlet") == [], (
        "with an asset declared, no per-object alias event"
    )

    emulator.set_outcome("us-std/ECommerce", "DoesNotExist")
    nov_3 = NOV_2 + dt.timedelta(days=1)
    run_synced("assets_s3_declared_outlet", nov_3)
    events = events_of(declared, "assets_s3_declared_outlet")
    assert len(events) == 2
    no_logs = [e["extra"] for e in events if e["extra"]["uri"] is None]
    assert (
        len(no_logs) == 1
        and no_logs[0]["bytes"] is None
        and no_logs[0]["time_start"] == "2026-11-02T00:00:00Z"
    )


@pytest.mark.skipif(airflow_version() < (3, 0), reason="Asset.ref is Airflow 3's")
def test_an_asset_referred_to_by_name_carries_the_object_in_its_extra(
    airflow_db: None, fauna_connection: str, emulator: Any, bucket: str
) -> None:
    run_synced("assets_s3_ref_outlet", NOV_2)

    ours = [e for e in events_of(f"s3://{bucket}/by-name/", "assets_s3_ref_outlet") if e["extra"]]
    assert [e["extra"]["uri"] for e in ours] == [f"s3://{bucket}/{DAY_KEY}"]
    assert ours[0]["extra"]["bytes"] == len(stored(bucket, DAY_KEY))
    assert events_of(f"s3://{bucket}/{DAY_KEY}", "assets_s3_ref_outlet") == [], (
        "with a reference declared, no per-object alias event"
    )


def test_a_dag_no_dag_processor_parsed_still_copies(
    airflow_db: None, fauna_connection: str, emulator: Any, bucket: str
) -> None:
    """``airflow dags test`` of a new DAG on 2.11: its alias is not in the DB, so no event, no failure."""
    result = run_dag("assets_s3_unsynced", NOV_2).assert_success()

    uri = f"s3://{bucket}/{DAY_KEY}"
    assert result.task("to_s3").return_value == uri
    assert len(stored(bucket, DAY_KEY)) > 0
    events = events_of(uri, "assets_s3_unsynced")
    if airflow_version() < (3, 0):
        assert events == []
        assert "is not in the metadata DB" in result.task("to_s3").log
    else:  # Airflow 3's dag.test() writes the DAG, its aliases included, before it runs
        assert [e["extra"]["uri"] for e in events] == [uri]
