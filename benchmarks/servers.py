"""The servers the benchmarks talk to, each in a process of its own, on loopback.

Why processes, not threads: the benchmarks measure the CPU time and the memory of the
process that copies or polls. A Fauna emulator or an S3 server in that process would add
their own CPU and memory (moto keeps every uploaded byte in memory) to what is measured.

:class:`ServerProcess` starts a command, waits until its health URL answers, and on exit
stops exactly the process it started (SIGTERM, then SIGKILL after a grace period).
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator
    from pathlib import Path

#: The account key the benchmark emulators accept.
BENCH_KEY = "fnacapi_benchmark_key_3c1d9a5e7f2b4a60"
#: The export every benchmark asks for: one day of one database.
DATABASE = "us-std/ECommerce"
TIME_START = "2026-11-20T00:00:00Z"
TIME_END = "2026-11-21T00:00:00Z"
#: How long a server may take to answer its health URL after starting.
START_TIMEOUT = 60.0
#: How long a server may take to stop after SIGTERM before it is killed.
STOP_TIMEOUT = 15.0


def free_port() -> int:
    """A TCP port free on 127.0.0.1 right now (for servers that cannot report the one they bound)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def http(
    method: str, url: str, body: Any = None, headers: dict[str, str] | None = None, timeout: float = 30.0
) -> tuple[int, Any]:
    """One HTTP call with the standard library; returns the status and the decoded JSON (or text)."""
    data = None if body is None else json.dumps(body).encode()
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}))
    if data is not None:
        request.add_header("Content-Type", "application/json")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as err:
        status, raw = err.code, err.read()
    text = raw.decode(errors="replace")
    try:
        return status, json.loads(text) if text.strip() else None
    except ValueError:
        return status, text


def submit_log_request(url: str, key: str) -> dict[str, Any]:
    """Submit the benchmark export (one day of one database) to the emulator at ``url``."""
    body = {"database": DATABASE, "time_start": TIME_START, "time_end": TIME_END}
    status, answer = http("POST", f"{url}/api/v1/logs?type=query", body, {"Authorization": f"Bearer {key}"})
    if status != 200:
        raise RuntimeError(f"submit answered {status}: {answer}")
    return dict(answer)


def connection_from_env(conn_id: str) -> tuple[str, str]:
    """The URL and key of a ``fauna`` connection given as ``AIRFLOW_CONN_<ID>`` (in a worker)."""
    conn = json.loads(os.environ[f"AIRFLOW_CONN_{conn_id.upper()}"])
    return str(conn["host"]).rstrip("/"), str(conn["password"])


class ServerProcess:
    """A server command run as a child process, stopped by its own pid when the block ends."""

    def __init__(
        self, name: str, command: list[str], log_dir: Path | None = None, cpus: set[int] | None = None
    ) -> None:
        self.name = name
        self.command = command
        self._log_dir = log_dir
        self._cpus = cpus
        self.process: subprocess.Popen[bytes] | None = None
        self.log_path: str | None = None

    def start(self) -> None:
        """Start the command, its output going to a log file (read back when it fails)."""
        directory = str(self._log_dir) if self._log_dir else tempfile.gettempdir()
        fd, self.log_path = tempfile.mkstemp(prefix=f"bench-{self.name}-", suffix=".log", dir=directory)
        cpus = self._cpus
        with os.fdopen(fd, "wb") as log:
            self.process = subprocess.Popen(
                self.command,
                stdout=log,
                stderr=subprocess.STDOUT,
                stdin=subprocess.DEVNULL,
                # Pinned before exec, so that every thread the server starts inherits it.
                preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
            )

    def log_text(self) -> str:
        """What the server printed so far."""
        if not self.log_path:
            return ""
        with open(self.log_path, errors="replace") as log:
            return log.read()

    def wait_for(self, pattern: str, timeout: float = START_TIMEOUT) -> re.Match[str]:
        """Wait until the server's output matches ``pattern`` (how the emulator says where it listens)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            match = re.search(pattern, self.log_text())
            if match:
                return match
            time.sleep(0.05)
        raise RuntimeError(f"{self.name} did not print {pattern!r} within {timeout:g} s:\n{self.log_text()}")

    def wait_healthy(self, url: str, timeout: float = START_TIMEOUT) -> None:
        """Wait until ``url`` answers 200."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            self._check_alive()
            try:
                if http("GET", url, timeout=2.0)[0] == 200:
                    return
            except OSError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"{self.name} did not answer {url} within {timeout:g} s:\n{self.log_text()}")

    def _check_alive(self) -> None:
        if self.process is not None and self.process.poll() is not None:
            raise RuntimeError(
                f"{self.name} exited with status {self.process.returncode}:\n{self.log_text()}"
            )

    def stop(self) -> None:
        """SIGTERM the process we started; SIGKILL it if it does not stop in time."""
        process, self.process = self.process, None
        if process is not None and process.poll() is None:
            process.send_signal(signal.SIGTERM)
            try:
                process.wait(STOP_TIMEOUT)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(STOP_TIMEOUT)
        if self.log_path:
            with contextlib.suppress(OSError):
                os.unlink(self.log_path)
            self.log_path = None


class Emulator:
    """A Fauna emulator process and the few calls the benchmarks make to it (over HTTP)."""

    def __init__(self, server: ServerProcess, url: str) -> None:
        self.server = server
        self.url = url
        self.key = BENCH_KEY

    @property
    def auth(self) -> dict[str, str]:
        """The ``Authorization`` header of the benchmark key."""
        return {"Authorization": f"Bearer {self.key}"}

    def connection_json(self) -> str:
        """``AIRFLOW_CONN_FAUNA_DEFAULT`` for this emulator."""
        return json.dumps({"conn_type": "fauna", "host": self.url, "password": self.key})

    def submit(self) -> dict[str, Any]:
        """Submit the benchmark export (one day of one database); returns the Pending request."""
        return submit_log_request(self.url, self.key)

    def status(self, request_id: str) -> dict[str, Any]:
        """The request as the API returns it now."""
        status, answer = http("GET", f"{self.url}/api/v1/logs/{request_id}?type=query", None, self.auth)
        if status != 200:
            raise RuntimeError(f"status answered {status}: {answer}")
        return dict(answer)

    def wait_complete(self, request_id: str, timeout: float) -> dict[str, Any]:
        """Poll (twice a second) until the request is Complete; its file may take minutes to build."""
        deadline = time.monotonic() + timeout
        while True:
            request = self.status(request_id)
            if request["state"] == "Complete":
                return request
            if request["state"] in ("Failed", "TimedOut", "DoesNotExist"):
                raise RuntimeError(f"log request {request_id} ended {request['state']}")
            if time.monotonic() > deadline:
                raise RuntimeError(f"log request {request_id} still {request['state']} after {timeout:g} s")
            time.sleep(0.5)

    def calls(self, method: str | None = None, path_prefix: str = "") -> list[dict[str, Any]]:
        """The calls the emulator recorded (``GET /_emulator/calls``)."""
        query = urllib.parse.urlencode(
            {k: v for k, v in (("method", method), ("path_prefix", path_prefix)) if v}
        )
        status, answer = http("GET", f"{self.url}/_emulator/calls?{query}", timeout=60.0)
        if status != 200:
            raise RuntimeError(f"/_emulator/calls answered {status}")
        return list(answer)

    def reset(self, state: bool = False) -> None:
        """Forget the recorded calls (and with ``state``, the log requests)."""
        http("POST", f"{self.url}/_emulator/reset", {"state": state})


@contextlib.contextmanager
def emulator_process(
    *,
    records: int = 200,
    completion_delay: float = 0.0,
    cache_dir: Path | None = None,
    cpus: set[int] | None = None,
) -> Iterator[Emulator]:
    """Run ``python -m fauna_emulator`` on a free port until the block ends.

    :param cpus: pin the emulator to these CPUs (away from the measured worker's).
    """
    command = [
        sys.executable,
        "-m",
        "fauna_emulator",
        "--port",
        "0",
        "--key",
        BENCH_KEY,
        "--records",
        str(records),
        "--completion-delay",
        str(completion_delay),
        "--quiet",
    ]
    if cache_dir is not None:
        command += ["--cache-dir", str(cache_dir)]
    server = ServerProcess("fauna-emulator", command, cpus=cpus)
    server.start()
    try:
        url = server.wait_for(r"listening on (http://\S+)").group(1)
        server.wait_healthy(f"{url}/_emulator/health")
        yield Emulator(server, url)
    finally:
        server.stop()


class S3Server:
    """An S3 server process (moto's or s3rver), with the reset that frees what earlier copies stored."""

    def __init__(self, server: ServerProcess, url: str, name: str = "moto", key: str = "benchmark") -> None:
        self.server = server
        self.url = url
        self.name = name
        self.key = key

    def connection_json(self) -> str:
        """``AIRFLOW_CONN_AWS_DEFAULT`` for this server."""
        return json.dumps(
            {
                "conn_type": "aws",
                "login": self.key,
                "password": self.key,
                "extra": {"region_name": "us-east-1", "endpoint_url": self.url},
            }
        )

    def fresh_bucket(self, bucket: str) -> None:
        """Drop every object (moto: every bucket, and the memory it holds), then have ``bucket``."""
        if self.name == "moto":
            http("POST", f"{self.url}/moto-api/reset")
            status, answer = http("PUT", f"{self.url}/{bucket}")
            if status != 200:
                raise RuntimeError(f"creating bucket {bucket} answered {status}: {answer}")
            return
        import boto3

        client = boto3.client(
            "s3",
            endpoint_url=self.url,
            region_name="us-east-1",
            aws_access_key_id=self.key,
            aws_secret_access_key=self.key,
        )
        if bucket not in [b["Name"] for b in client.list_buckets().get("Buckets", [])]:
            client.create_bucket(Bucket=bucket)
        for item in client.list_objects_v2(Bucket=bucket).get("Contents", []):
            client.delete_object(Bucket=bucket, Key=item["Key"])


#: s3rver as ``make bench`` installs it (``npm ci --prefix tests/s3rver``).
S3RVER_BIN = os.path.join(
    os.path.dirname(os.path.dirname(os.path.abspath(__file__))),
    "tests",
    "s3rver",
    "node_modules",
    ".bin",
    "s3rver",
)


@contextlib.contextmanager
def s3_process(name: str, cpus: set[int] | None = None) -> Iterator[S3Server]:
    """Run the S3 server ``name`` (``moto`` or ``s3rver``) until the block ends.

    :param cpus: pin the server to these CPUs (away from the measured worker's).
    """
    if name == "moto":
        with moto_process(cpus) as moto:
            yield moto
        return
    port = free_port()
    with tempfile.TemporaryDirectory(prefix="bench-s3rver-") as data:
        command = ["node", S3RVER_BIN, "-s", "-d", data, "-a", "127.0.0.1", "-p", str(port)]
        server = ServerProcess("s3rver", command, cpus=cpus)
        server.start()
        try:
            server.wait_for(r"listening on")
            yield S3Server(server, f"http://127.0.0.1:{port}", "s3rver", "S3RVER")
        finally:
            server.stop()


@contextlib.contextmanager
def moto_process(cpus: set[int] | None = None) -> Iterator[S3Server]:
    """Run moto's server (S3 and the rest) on a free loopback port until the block ends."""
    port = free_port()
    command = [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(port)]
    server = ServerProcess("moto", command, cpus=cpus)
    server.start()
    url = f"http://127.0.0.1:{port}"
    try:
        server.wait_healthy(f"{url}/moto-api/")
        yield S3Server(server, url)
    finally:
        server.stop()
