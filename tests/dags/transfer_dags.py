"""Test DAGs for copying Fauna log files to S3 and GCS, in the three-task and the one-task form.

Every DAG exports one day per run (a daily interval timetable) of the scope in its params, to
the bucket in its params, so a test picks both. Part and chunk sizes are the smallest the stores
allow, so a test file of a few MiB takes the multipart / resumable paths for real.
"""

from __future__ import annotations

import datetime as dt
import os
import signal
import threading
from datetime import timedelta
from typing import Any

from airflow.providers.common.compat.sdk import DAG, Asset
from harness.timetables import daily_interval_timetable

from airflow_provider_fauna.operators.logs import FaunaLogsRequestOperator
from airflow_provider_fauna.sensors.logs import FaunaLogsSensor
from airflow_provider_fauna.transfers.fauna_to_gcs import FaunaLogsToGCSOperator
from airflow_provider_fauna.transfers.fauna_to_s3 import MIN_PART_SIZE, FaunaLogsToS3Operator

START = dt.datetime(2026, 10, 1, tzinfo=dt.timezone.utc)
S3_BUCKET = "fauna-test-logs"
GCS_BUCKET = "fauna-test-logs-gcs"
PARAMS = {"database": "us-std/ECommerce", "s3_bucket": S3_BUCKET, "gcs_bucket": GCS_BUCKET}
GCS_CHUNK = 1024 * 1024
#: The one-task form, waiting on the triggerer; tests see a failure at once (no retries).
STANDALONE = {"database": "{{ params.database }}", "deferrable": True, "poll_interval": 0.5, "retries": 0}


def _dag(dag_id: str, **kwargs: Any) -> DAG:
    return DAG(
        dag_id,
        schedule=daily_interval_timetable(),
        start_date=START,
        catchup=False,
        params=dict(PARAMS),
        **kwargs,
    )


def to_s3(**kwargs: Any) -> FaunaLogsToS3Operator:
    """The S3 transfer as the tests run it: one-task form, deferrable, no retries, unless told otherwise."""
    defaults = {"task_id": "to_s3", "s3_bucket": "{{ params.s3_bucket }}", "part_size": MIN_PART_SIZE}
    operator_class = kwargs.pop("operator_class", FaunaLogsToS3Operator)
    return operator_class(**{**defaults, **STANDALONE, **kwargs})


def to_gcs(**kwargs: Any) -> FaunaLogsToGCSOperator:
    """The GCS transfer, as :func:`to_s3`."""
    defaults = {"task_id": "to_gcs", "bucket_name": "{{ params.gcs_bucket }}", "chunk_size": GCS_CHUNK}
    operator_class = kwargs.pop("operator_class", FaunaLogsToGCSOperator)
    return operator_class(**{**defaults, **STANDALONE, **kwargs})


def _request_and_wait() -> Any:
    request = FaunaLogsRequestOperator(task_id="request_logs", database="{{ params.database }}")
    wait = FaunaLogsSensor(
        task_id="wait_for_logs", request_id=request.output, poke_interval=0.5, timeout=120, deferrable=True
    )
    request >> wait
    return request, wait


# --- request -> deferrable sensor -> transfer ---------------------------------------------------
with _dag("transfer_s3_three_tasks"):
    request, wait = _request_and_wait()
    wait >> to_s3(
        request_id=request.output,
        database=None,
        outlets=[Asset(f"s3://{S3_BUCKET}/fauna/query/us-std/ECommerce/")],
    )

with _dag("transfer_gcs_three_tasks"):
    request, wait = _request_and_wait()
    wait >> to_gcs(
        request_id=request.output,
        database=None,
        outlets=[Asset(f"gs://{GCS_BUCKET}/fauna/query/us-std/ECommerce/")],
    )

# --- one task: request, wait on the triggerer, copy ----------------------------------------------
with _dag("transfer_s3_one_task"):
    to_s3()

with _dag("transfer_gcs_one_task"):
    to_gcs()

# Region group, blocking wait, a custom key with Jinja, placeholders and a Hive layout (strftime specs).
CUSTOM_KEY = (
    "custom/{{ dag.dag_id }}/{region_group}/year={start:%Y}/month={start:%m}/day={start:%d}/"
    "{request_id}/{time_start}.ndjson.gz"
)
with _dag("transfer_s3_region_group_blocking"):
    to_s3(database=None, region_group="us-std", s3_key=CUSTOM_KEY, deferrable=False)

with _dag("transfer_gcs_region_group_blocking"):
    to_gcs(database=None, region_group="us-std", object_name=CUSTOM_KEY, deferrable=False)

# Overwriting: the same key as the one-task DAGs, with replace=True.
with _dag("transfer_s3_one_task_replace"):
    to_s3(replace=True)

with _dag("transfer_gcs_one_task_replace"):
    to_gcs(replace=True)

# A key naming each export (the Hive layout the key errors suggest), redone with replace=True.
REQUEST_ID_KEY = "year={start:%Y}/month={start:%m}/day={start:%d}/{request_id}.ndjson.gz"
with _dag("transfer_s3_request_id_key_replace"):
    to_s3(replace=True, s3_key=REQUEST_ID_KEY)

# A corrupt first download fails the first try; the retry copies the file.
with _dag("transfer_s3_retried"):
    to_s3(retries=1, retry_delay=timedelta(0))

# No logs for the interval.
for policy in ("skip", "succeed", "fail"):
    with _dag(f"transfer_s3_no_logs_{policy}"):
        to_s3(on_no_logs=policy)

# No logs, and on_no_logs left at its default (which must skip): both stores.
with _dag("transfer_no_logs_default"):
    to_s3()
    to_gcs()

# The after-request form without a sensor between: the transfer itself waits on a request it did
# not submit, so a failed export must fail it without spending its retry.
with _dag("transfer_s3_after_request"):
    request = FaunaLogsRequestOperator(task_id="request_logs", database="{{ params.database }}")
    request >> to_s3(request_id=request.output, database=None, retries=1, retry_delay=timedelta(0))

with _dag("transfer_gcs_retried"):
    to_gcs(retries=1, retry_delay=timedelta(0))


# --- killed mid-copy: SIGTERM to the task's process, as Airflow sends on a kill or a timeout ------
#: Bytes read before the kill: past the first 5 MiB part, before the end of the ~12 MiB file.
KILL_AFTER_BYTES = 6 * 1024 * 1024


class KilledMidCopy:
    """Send SIGTERM to this process once ``KILL_AFTER_BYTES`` of the file were read.

    Airflow's handler then calls ``on_kill`` (and, on 2.11, raises in the main thread). The copy
    itself runs unchanged: the signal comes from the download's byte count only.
    """

    _killed: threading.Event | None = None

    def on_kill(self) -> None:
        super().on_kill()  # type: ignore[misc]
        if self._killed is not None:
            self._killed.set()

    def copy(self, download: Any, destination: Any, metadata: dict[str, str]) -> None:
        take, sent = download._take, []
        self._killed = killed = threading.Event()

        def take_then_kill(chunk: bytes) -> None:
            take(chunk)
            if not sent and download.progress.done >= KILL_AFTER_BYTES:
                sent.append(True)
                os.kill(os.getpid(), signal.SIGTERM)
                # The handler runs on the main thread (S3 reads on another): read on only after it.
                killed.wait(30)

        download._take = take_then_kill
        super().copy(download, destination, metadata)  # type: ignore[misc]


class KilledS3Transfer(KilledMidCopy, FaunaLogsToS3Operator):
    pass


class KilledGCSTransfer(KilledMidCopy, FaunaLogsToGCSOperator):
    pass


with _dag("transfer_s3_killed"):
    to_s3(operator_class=KilledS3Transfer)

with _dag("transfer_gcs_killed"):
    to_gcs(operator_class=KilledGCSTransfer)

# An interval from the run's conf (a test makes it end now), a lag to wait on the triggerer.
TRANSFER_LAG = 15
with DAG(
    "transfer_s3_export_lag",
    schedule=daily_interval_timetable(),
    start_date=START,
    catchup=False,
    params={**PARAMS, "time_start": "2026-11-01T00:00:00Z", "time_end": "2026-11-02T00:00:00Z"},
):
    to_s3(time_start="{{ params.time_start }}", time_end="{{ params.time_end }}", export_lag=TRANSFER_LAG)
