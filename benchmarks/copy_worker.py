"""One copy of a log file from the emulator into S3, in a fresh process, measured.

``python -m benchmarks.copy_worker --tool TOOL ...``; prints one result line (see
:mod:`benchmarks.proc`). The tools:

* ``ours``: :class:`FaunaLogsToS3Operator`'s ``execute`` with its defaults and a minimal task
  context (a task instance that only takes ``xcom_push``), on a request that is already
  ``Complete``: what a task does, from reading the request to verifying the stored object.
  The emulator sends an MD5 ``ETag``, so ``verify_gzip="auto"`` proves the bytes by it.
* ``http_to_s3``: the Amazon provider's ``HttpToS3Operator.execute`` on the presigned URL (its
  HTTP connection points at the emulator): the memory baseline, which reads the whole body.
* ``bare``: ``requests.get(url, stream=True)`` into ``boto3``'s ``upload_fileobj``: the speed
  baseline, the least a streaming copy can do through the same servers.
* ``ours_gzip_check``: ``ours`` with ``verify_gzip=True``, to show what the gzip check (a full
  decompression of the file, on one core) costs of the speed when it is asked for.

Imports happen before the measurement, Airflow's provider discovery included (see the README);
creating clients and hooks is part of it, for every tool, since each copy has to pay for them once.
"""

from __future__ import annotations

import argparse
import json
import os
import time
from typing import Any

from benchmarks.proc import PeakMeter, emit, profiled

TOOLS = ("bare", "ours", "http_to_s3", "ours_gzip_check")
#: The HTTP connection ``HttpToS3Operator`` reads the presigned URL through.
HTTP_CONN_ID = "fauna_files"


class _TaskInstance:
    """The little of a task instance ``execute`` touches: ids and ``xcom_push``."""

    dag_id = "benchmark"
    task_id = "copy"
    run_id = "manual__benchmark"
    map_index = -1
    try_number = 1
    start_date = None

    def xcom_push(self, key: str, value: Any) -> None:
        """Discard: nothing reads the copy's XComs here."""


def _context() -> Any:
    """A minimal task context: the task instance is all ``execute`` reads from it here."""
    return {"ti": _TaskInstance()}


def _boto3_client() -> Any:
    import boto3

    connection = json.loads(os.environ["AIRFLOW_CONN_AWS_DEFAULT"])
    return boto3.client(
        "s3",
        endpoint_url=connection["extra"]["endpoint_url"],
        aws_access_key_id=connection["login"],
        aws_secret_access_key=connection["password"],
        region_name="us-east-1",
    )


def main() -> None:
    """Copy once, measure peak RSS above the pre-copy RSS, time and CPU; print the result line."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tool", choices=TOOLS, required=True)
    parser.add_argument("--request-id", required=True)
    parser.add_argument("--url", required=True, help="the request's presigned URL (bare, http_to_s3)")
    parser.add_argument("--bucket", required=True)
    parser.add_argument("--key", required=True)
    parser.add_argument("--profile", help="write a profile of the copy here (its figures are then void)")
    args = parser.parse_args()

    import requests

    # Import what each tool's copy needs before the measurement, as the docstring says: a task
    # has imported its modules when it parses the DAG file, before execute() runs.
    if args.tool == "bare":
        import boto3  # noqa: F401
    else:
        import airflow.providers.amazon.aws.hooks.s3  # noqa: F401 - the operator imports it in execute()
        from airflow.providers.common.compat.lineage.hook import get_hook_lineage_collector

        # S3Hook's lineage (and any Asset URI) makes Airflow import every provider's asset module
        # once per process: imports too, which a task parsing a DAG with asset URIs has done.
        get_hook_lineage_collector()

    copy: Any
    if args.tool == "bare":

        def copy() -> None:
            client = _boto3_client()
            with requests.get(args.url, stream=True, timeout=(10, 60)) as response:
                response.raise_for_status()
                client.upload_fileobj(response.raw, args.bucket, args.key)

    elif args.tool in ("ours", "ours_gzip_check"):
        from airflow_provider_fauna.transfers.fauna_to_s3 import FaunaLogsToS3Operator

        operator = FaunaLogsToS3Operator(
            task_id="copy",
            request_id=args.request_id,
            s3_bucket=args.bucket,
            s3_key=args.key,
            deferrable=False,
            verify_gzip=True if args.tool == "ours_gzip_check" else "auto",
        )

        def copy() -> None:
            operator.execute(_context())

    else:
        from airflow.providers.amazon.aws.transfers.http_to_s3 import HttpToS3Operator

        endpoint = args.url.split("/", 3)[3]  # path and query, relative to the connection's host
        baseline = HttpToS3Operator(
            task_id="copy",
            http_conn_id=HTTP_CONN_ID,
            endpoint=endpoint,
            method="GET",
            s3_bucket=args.bucket,
            s3_key=args.key,
        )

        def copy() -> None:
            baseline.execute(_context())

    meter = PeakMeter()
    meter.start()
    cpu = time.process_time()
    started = time.perf_counter()
    with profiled(args.profile):
        copy()
    seconds = time.perf_counter() - started
    cpu = time.process_time() - cpu
    meter.stop()

    stored = _boto3_client().head_object(Bucket=args.bucket, Key=args.key)["ContentLength"]
    emit(
        {
            "tool": args.tool,
            "bytes": int(stored),
            "seconds": seconds,
            "cpu_seconds": cpu,
            "rss_before": meter.before,
            "peak_rss": meter.peak,
            "peak_above": meter.above,
            "peak_was_reset": meter.peak_was_reset,
        }
    )


if __name__ == "__main__":
    main()
