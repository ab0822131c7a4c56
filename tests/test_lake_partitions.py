"""The default key is a Hive-style ``date=`` partition that a lake engine reads as a column.

Three daily runs of the S3 example DAG land three objects through Airflow (request, deferred
wait, streaming copy); DuckDB then reads them with ``hive_partitioning=true``, as the
transfers page shows. DuckDB cannot reach S3 here (its httpfs extension would be downloaded),
so the objects are copied out of the bucket under their keys first; the layout is the same.
"""

from __future__ import annotations

import datetime as dt
import gzip
import json
from pathlib import Path

import boto3
import duckdb
import pytest
from harness import run_dags
from harness.keys import day_key
from harness.stores import use_s3_server

pytestmark = [pytest.mark.dagrun, pytest.mark.usefixtures("airflow_db", "fauna_connection")]

BUCKET = "lake"
DATABASE = "us-std/ECommerce"
RUNS = [dt.datetime(2026, 11, day, tzinfo=dt.timezone.utc) for day in (2, 3, 4)]  # export Nov 1-3
DAYS = [dt.date(2026, 11, day) for day in (1, 2, 3)]


def records(data: bytes) -> list[dict]:
    return [json.loads(line) for line in gzip.decompress(data).splitlines()]


def test_duckdb_reads_exactly_the_days_a_three_day_run_landed(emulator, request, monkeypatch, tmp_path):
    # One S3 server is enough: what is tested is the layout a lake engine reads, not the store.
    s3_server = use_s3_server("moto", request, monkeypatch)
    monkeypatch.setenv("AIRFLOW_VAR_FAUNA_LOGS_S3_BUCKET", BUCKET)
    s3 = boto3.client("s3", endpoint_url=s3_server, region_name="us-east-1")
    s3.create_bucket(Bucket=BUCKET)

    for run in run_dags("example_fauna_logs_to_s3", RUNS):
        run.assert_success()

    keys = sorted(o["Key"] for o in s3.list_objects_v2(Bucket=BUCKET)["Contents"])
    assert keys == [day_key(DATABASE, run) for run in RUNS]
    served: dict[dt.date, list[dict]] = {}
    for key in keys:
        (tmp_path / key).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / key).write_bytes(s3.get_object(Bucket=BUCKET, Key=key)["Body"].read())
        day = dt.date.fromisoformat(key.split("date=")[1].split("/")[0])
        served[day] = records((tmp_path / key).read_bytes())
    assert sorted(served) == DAYS

    table = Path(tmp_path, "fauna/query_logs/us-std/ECommerce/*/*.ndjson.gz").as_posix()
    lake = duckdb.connect()
    read = f"read_json('{table}', format = 'newline_delimited', hive_partitioning = true)"

    # The partition column is a real date, and every record sits in the day of its own timestamp.
    rows = lake.sql(f"SELECT date, CAST(ts AS VARCHAR), txn_ts FROM {read} ORDER BY txn_ts").fetchall()
    assert {date for date, _, _ in rows} == set(DAYS)
    assert all(ts.startswith(date.isoformat()) for date, ts, _ in rows)
    assert sorted(txn for _, _, txn in rows) == sorted(r["txn_ts"] for day in DAYS for r in served[day])

    # A filter on the partition returns that day's records and nothing else.
    nov_2 = lake.sql(f"SELECT txn_ts FROM {read} WHERE date = DATE '2026-11-02'").fetchall()
    assert sorted(t for (t,) in nov_2) == sorted(r["txn_ts"] for r in served[dt.date(2026, 11, 2)])
    assert len(nov_2) > 0
