"""Memory of a large copy: the transfer's memory must not grow with the file (opt-in, slow).

Run with ``FAUNA_TRANSFER_BENCH=1`` (and ``FAUNA_TRANSFER_BENCH_MIB``, default 1024). The Fauna
emulator and the object store each run in a process of their own, and so does the transfer, so
the resident memory sampled is the transfer's alone: it is measured from just before the copy
starts (Airflow, boto3 and google-cloud-storage already imported) to its end.
"""

from __future__ import annotations

import os
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from typing import TYPE_CHECKING

import pytest
from harness import (
    FAUNA_TEST_KEY,
    REPO_ROOT,
    airflow_cli_env,
    aws_connection_json,
    fauna_connection_json,
    gcp_anonymous_connection_json,
)

if TYPE_CHECKING:
    from collections.abc import Iterator

pytestmark = pytest.mark.skipif(
    not os.environ.get("FAUNA_TRANSFER_BENCH"), reason="set FAUNA_TRANSFER_BENCH=1 to measure a large copy"
)

MiB = 1024 * 1024
SIZE_MIB = int(os.environ.get("FAUNA_TRANSFER_BENCH_MIB", "1024"))
#: Compressed bytes per record of the emulator's files (measured: about 99).
BYTES_PER_RECORD = 99
#: What the copy may add to the process's resident memory, whatever the file's size.
BUDGET_MIB = 200

TRANSFER = textwrap.dedent(
    """
    import json, sys, time
    from airflow_provider_fauna.hooks.fauna import FaunaAccountHook
    from airflow_provider_fauna.waiting import poll_until_terminal

    class Log:
        def info(self, *a, **k): pass
        def warning(self, *a, **k): pass

    class TI:
        dag_id, task_id, run_id, map_index, try_number, start_date = "bench", "t", "r", -1, 1, None
        def xcom_push(self, key, value):
            if key == "fauna_transfer":
                print("SUMMARY", json.dumps(value), flush=True)

    if sys.argv[1] == "s3":
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook
        from airflow_provider_fauna.transfers.fauna_to_s3 import FaunaLogsToS3Operator

        S3Hook().create_bucket("fauna-bench")
        make = lambda rid: FaunaLogsToS3Operator(task_id="t", request_id=rid, s3_bucket="fauna-bench")
    else:
        from airflow_provider_fauna.transfers.fauna_to_gcs import FaunaLogsToGCSOperator

        make = lambda rid: FaunaLogsToGCSOperator(task_id="t", request_id=rid, bucket_name="fauna-bench")
    hook = FaunaAccountHook()
    request = hook.request_logs(
        database="us-std/ECommerce", time_start="2026-11-20T00:00:00Z", time_end="2026-11-21T00:00:00Z"
    )
    request = poll_until_terminal(hook, request.request_id, poll_interval=1, deadline=time.time() + 1800, log=Log())
    operator = make(request.request_id)
    print("READY", flush=True)
    started = time.monotonic()
    print("URI", operator.execute({"ti": TI()}), flush=True)
    print("SECONDS", time.monotonic() - started, flush=True)
    """
)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for(url: str, timeout: float = 60.0) -> None:
    deadline = time.time() + timeout
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2):
                return
        except Exception:
            if time.time() > deadline:
                raise
            time.sleep(0.2)


@pytest.fixture(params=["s3", "gcs"])
def servers(request: pytest.FixtureRequest) -> Iterator[tuple[str, dict[str, str]]]:
    """The emulator and the store, each in a process of its own; yields the store and the child's env."""
    fauna_port, store_port = free_port(), free_port()
    records = SIZE_MIB * MiB // BYTES_PER_RECORD
    bin_dir = os.path.dirname(sys.executable)
    emulator = [sys.executable, "-m", "fauna_emulator", "--port", str(fauna_port)]
    emulator += ["--key", FAUNA_TEST_KEY, "--records", str(records), "--completion-delay", "0", "--quiet"]
    store_url = f"http://127.0.0.1:{store_port}"
    if request.param == "s3":
        store = [os.path.join(bin_dir, "moto_server"), "-p", str(store_port)]
        health = f"{store_url}/moto-api/"
        env = {
            "AIRFLOW_CONN_AWS_DEFAULT": aws_connection_json(store_url),
            "AWS_EC2_METADATA_DISABLED": "true",
        }
    else:
        store = [os.path.join(bin_dir, "gcp-storage-emulator"), "start", "--port", str(store_port)]
        store += ["--in-memory", "--default-bucket", "fauna-bench", "--quiet"]
        health = f"{store_url}/storage/v1/b/fauna-bench"
        env = {
            "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT": gcp_anonymous_connection_json(),
            "STORAGE_EMULATOR_HOST": store_url,
        }
    processes = [
        subprocess.Popen(emulator, cwd=REPO_ROOT),
        subprocess.Popen(store, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL),
    ]
    try:
        fauna_url = f"http://127.0.0.1:{fauna_port}"
        wait_for(f"{fauna_url}/_emulator/health")
        wait_for(health)
        yield request.param, {**env, "AIRFLOW_CONN_FAUNA_DEFAULT": fauna_connection_json(fauna_url)}
    finally:
        for process in processes:
            process.terminate()
            process.wait(30)


def test_copying_a_large_file_keeps_memory_flat(servers: tuple[str, dict[str, str]]) -> None:
    import psutil

    kind, store_env = servers
    env = airflow_cli_env({"PYTHONPATH": str(REPO_ROOT), **store_env})
    child = subprocess.Popen(
        [sys.executable, "-c", TRANSFER, kind], env=env, stdout=subprocess.PIPE, text=True, cwd=REPO_ROOT
    )
    process = psutil.Process(child.pid)
    samples: list[int] = []
    copying = threading.Event()
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            if copying.is_set():
                try:
                    samples.append(process.memory_info().rss)
                except psutil.Error:
                    return
            time.sleep(0.05)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    lines = []
    baseline = 0
    assert child.stdout is not None
    for line in child.stdout:
        lines.append(line.rstrip())
        if line.startswith("READY"):
            baseline = process.memory_info().rss
            copying.set()
    done.set()
    assert child.wait() == 0, "\n".join(lines)
    peak = max(samples)
    seconds = float(next(x for x in lines if x.startswith("SECONDS")).split()[1])
    growth = (peak - baseline) / MiB
    print(
        f"\n{kind}: {SIZE_MIB} MiB copied in {seconds:.1f} s ({SIZE_MIB / seconds:.1f} MiB/s); "
        f"RSS before the copy {baseline / MiB:.0f} MiB, peak {peak / MiB:.0f} MiB, growth {growth:.0f} MiB"
    )
    assert growth < BUDGET_MIB
