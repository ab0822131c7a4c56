"""Local object stores for transfer tests: moto's S3 server, s3rver and gcp-storage-emulator.

Both run in threads of the test process on 127.0.0.1 and a free port, and both must be stopped:
gcp-storage-emulator's server thread is not a daemon and would keep the process alive. Each
context manager yields the endpoint URL and stops its server on exit, even after a failure.
"""

from __future__ import annotations

import contextlib
import re
import shutil
import subprocess
import tempfile
import urllib.request
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

if TYPE_CHECKING:
    from collections.abc import Iterator

#: The S3 servers every S3 test runs on.
S3_FLAVOURS = ("moto", "s3rver")


@contextlib.contextmanager
def moto_s3_server(host: str = "127.0.0.1") -> Iterator[str]:
    """Run moto's S3 (multipart uploads included) on a free port; yields ``http://host:port``."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=host, port=0, verbose=False)
    server.start()
    try:
        bound_host, port = server.get_host_and_port()
        yield f"http://{bound_host}:{port}"
    finally:
        server.stop()


#: s3rver (npm, pinned in tests/s3rver/package-lock.json; ``make test`` installs it) and its fixed keys.
S3RVER_BIN = Path(__file__).resolve().parents[1] / "s3rver" / "node_modules" / ".bin" / "s3rver"
S3RVER_KEY = "S3RVER"


@contextlib.contextmanager
def s3rver_server(host: str = "127.0.0.1") -> Iterator[str]:
    """Run s3rver (a Node S3 server) on a free port with its data in a temporary directory."""
    data = tempfile.mkdtemp(prefix="s3rver-")
    command = [shutil.which("node") or "node", str(S3RVER_BIN), "-s", "-d", data, "-a", host, "-p", "0"]
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    try:
        assert process.stdout is not None
        for line in process.stdout:  # "S3rver listening on 127.0.0.1:37319"; -s: nothing more
            if match := re.search(r"listening on \S+:(\d+)", line):
                break
        else:
            raise RuntimeError(f"s3rver exited with {process.wait()} before listening")
        yield f"http://{host}:{match.group(1)}"
    finally:
        process.terminate()
        process.wait(10)
        shutil.rmtree(data, ignore_errors=True)


def s3rver_installed() -> bool:
    return S3RVER_BIN.exists() and shutil.which("node") is not None


@contextlib.contextmanager
def gcs_emulator(host: str = "127.0.0.1", start_timeout: float = 30.0) -> Iterator[str]:
    """Run gcp-storage-emulator in memory on a free port; yields ``http://host:port``.

    Clients reach it through ``STORAGE_EMULATOR_HOST`` (set that to the yielded URL).
    """
    from gcp_storage_emulator.server import create_server

    server = create_server(host, 0, in_memory=True)
    api = server._api  # the emulator has no public way to learn the bound port or to start safely
    api.daemon = True  # never keep the interpreter alive, even if a test forgets to stop it
    api.start()
    try:
        # Server.start() would wait forever if the bind failed; wait with a limit instead.
        if not api.is_running.wait(start_timeout):
            raise RuntimeError(f"gcp-storage-emulator did not start within {start_timeout} s")
        port = api._httpd.server_address[1]
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def reset_moto(url: str, timeout: float = 10.0) -> None:
    """Forget every bucket and object of the moto server at ``url`` (between tests)."""
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()


def use_s3_server(flavour: str, request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """Empty the session's ``flavour`` S3 server, point ``aws_default`` (and plain boto3) at it; its URL."""
    from harness.connections import aws_connection_json, conn_env_var

    pytest.importorskip(
        "airflow.providers.amazon.aws.hooks.s3", reason="the amazon provider is not installed"
    )
    if flavour == "moto":
        url, key = request.getfixturevalue("_moto_url"), "testing"
        reset_moto(url)
    else:
        url, key = request.getfixturevalue("_s3rver_url"), S3RVER_KEY
        wipe_s3(url, key)
    monkeypatch.setenv(conn_env_var("aws_default"), aws_connection_json(url, key=key))
    # The keys for any boto client built outside the connection, and no slow lookup of
    # an EC2 metadata endpoint that does not exist here.
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", key)
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", key)
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    return url


def wipe_s3(url: str, key: str) -> None:
    """Delete every object and bucket of the S3 server at ``url`` (s3rver has no reset call)."""
    import boto3

    client = boto3.client(
        "s3", endpoint_url=url, region_name="us-east-1", aws_access_key_id=key, aws_secret_access_key=key
    )
    for bucket in client.list_buckets().get("Buckets", []):
        for page in client.get_paginator("list_objects_v2").paginate(Bucket=bucket["Name"]):
            for item in page.get("Contents", []):
                client.delete_object(Bucket=bucket["Name"], Key=item["Key"])
        client.delete_bucket(Bucket=bucket["Name"])


def wipe_gcs(url: str, timeout: float = 10.0) -> None:
    """Forget every bucket and object of the gcp-storage-emulator at ``url`` (between tests)."""
    with urllib.request.urlopen(f"{url}/wipe", timeout=timeout) as response:
        response.read()
