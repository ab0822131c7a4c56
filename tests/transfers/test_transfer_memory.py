"""The transfer's memory does not grow with the file: a 192 MiB copy within a 96 MiB budget.

Buffering the file whole would take 192 MiB, twice the budget. The copy runs in a process of
its own (a fresh interpreter with Airflow, boto3 and google-cloud-storage imported), the store in
another, and the file comes from a plain HTTP server in this process, as a presigned URL would
serve it (with its MD5 as the ``ETag``), so the resident memory sampled is the copy's alone. The
budget is the growth from just before the copy to its peak.
"""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import textwrap
import threading
import time
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
from harness import REPO_ROOT, airflow_cli_env, aws_connection_json, gcp_anonymous_connection_json

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

MiB = 1024 * 1024
SIZE_MIB = 192
BUDGET_MIB = 96

COPY = textwrap.dedent(
    """
    import sys, time
    from airflow_provider_fauna.log_requests import LogRequest

    class TI:
        dag_id, task_id, run_id, map_index, try_number, start_date = "memory", "t", "r", -1, 1, None
        def xcom_push(self, key, value): pass

    if sys.argv[1] == "s3":
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook
        from airflow_provider_fauna.transfers.fauna_to_s3 import FaunaLogsToS3Operator

        S3Hook().create_bucket("fauna-memory")
        operator = FaunaLogsToS3Operator(
            task_id="t", request_id="1", s3_bucket="fauna-memory", s3_key="memory/{request_id}.gz"
        )
    else:
        from airflow_provider_fauna.transfers.fauna_to_gcs import FaunaLogsToGCSOperator

        operator = FaunaLogsToGCSOperator(
            task_id="t", request_id="1", bucket_name="fauna-memory", object_name="memory/{request_id}.gz"
        )
    request = LogRequest(request_id="1", state="Complete", database="us-std/ECommerce", presigned_url=sys.argv[2])
    print("READY", flush=True)
    input()  # the parent has taken the baseline
    started = time.monotonic()
    print("URI", operator.transfer({"ti": TI()}, request), flush=True)
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


@pytest.fixture(scope="module")
def served_file(tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    """A URL serving 192 MiB of random bytes behind a gzip header, with their MD5 as the ETag.

    The header is all the transfer checks of a file whose MD5 proves it (``verify_gzip="auto"``).
    """
    path: Path = tmp_path_factory.mktemp("memory") / "big.bin"
    md5 = hashlib.md5()
    with path.open("wb") as out:
        for number in range(SIZE_MIB):
            block = os.urandom(MiB)
            if number == 0:
                block = b"\x1f\x8b\x08" + block[3:]
            md5.update(block)
            out.write(block)
    etag = f'"{md5.hexdigest()}"'

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            self.send_response(200)
            self.send_header("Content-Length", str(SIZE_MIB * MiB))
            self.send_header("ETag", etag)
            self.end_headers()
            with path.open("rb") as source:
                shutil.copyfileobj(source, self.wfile, MiB)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/big.bin?X-Signature=memory"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(params=["s3", "gcs"])
def store(request: pytest.FixtureRequest) -> Iterator[tuple[str, dict[str, str]]]:
    """The store in a process of its own; yields its kind and the copying process's environment."""
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    bin_dir = os.path.dirname(sys.executable)
    if request.param == "s3":
        command = [os.path.join(bin_dir, "moto_server"), "-p", str(port)]
        health = f"{url}/moto-api/"
        env = {"AIRFLOW_CONN_AWS_DEFAULT": aws_connection_json(url), "AWS_EC2_METADATA_DISABLED": "true"}
    else:
        command = [os.path.join(bin_dir, "gcp-storage-emulator"), "start", "--port", str(port)]
        command += ["--in-memory", "--default-bucket", "fauna-memory", "--quiet"]
        health = f"{url}/storage/v1/b/fauna-memory"
        env = {
            "AIRFLOW_CONN_GOOGLE_CLOUD_DEFAULT": gcp_anonymous_connection_json(),
            "STORAGE_EMULATOR_HOST": url,
        }
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        wait_for(health)
        yield request.param, env
    finally:
        process.terminate()
        process.wait(30)


def test_copying_a_file_twice_the_budget_keeps_memory_flat(
    served_file: str, store: tuple[str, dict[str, str]]
) -> None:
    import psutil

    kind, env = store
    child = subprocess.Popen(
        [sys.executable, "-c", COPY, kind, served_file],
        env=airflow_cli_env({"PYTHONPATH": str(REPO_ROOT), **env}),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=REPO_ROOT,
    )
    assert child.stdout is not None and child.stdin is not None
    process = psutil.Process(child.pid)
    lines = []
    while not lines or lines[-1] != "READY":  # Airflow logs to stdout too
        lines.append(child.stdout.readline().rstrip())
        assert lines[-1] or child.poll() is None, "\n".join(lines)
    baseline = process.memory_info().rss
    samples = [baseline]
    done = threading.Event()

    def sample() -> None:
        while not done.is_set():
            try:
                samples.append(process.memory_info().rss)
            except psutil.Error:
                return
            time.sleep(0.02)

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    child.stdin.write("\n")
    child.stdin.flush()
    lines += [line.rstrip() for line in child.stdout]
    done.set()
    assert child.wait() == 0, "\n".join(lines)
    growth = (max(samples) - baseline) / MiB
    seconds = float(next(x for x in lines if x.startswith("SECONDS")).split()[1])
    print(
        f"\n{kind}: {SIZE_MIB} MiB in {seconds:.1f} s; RSS {baseline / MiB:.0f} MiB, growth {growth:.0f} MiB"
    )
    assert growth < BUDGET_MIB, f"the copy grew the process by {growth:.0f} MiB"
