"""The command line: starts, prints what to paste, answers, and stops cleanly on a signal."""

from __future__ import annotations

import json
import os
import queue
import shutil
import signal
import socket
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

import pytest
import requests

if TYPE_CHECKING:
    from collections.abc import Iterator

STARTUP_TIMEOUT = 20


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class Running:
    """A CLI emulator process with its stdout lines collected on a thread (no blocking reads)."""

    def __init__(self, args: list[str], env: dict[str, str] | None = None) -> None:
        self.process = subprocess.Popen(
            args,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
            env={**os.environ, **(env or {})},
        )
        self.lines: queue.Queue[str] = queue.Queue()
        assert self.process.stdout is not None
        stdout = self.process.stdout
        threading.Thread(target=lambda: [self.lines.put(line) for line in stdout], daemon=True).start()

    def line(self) -> str:
        return self.lines.get(timeout=STARTUP_TIMEOUT).rstrip("\n")

    def stop(self, signum: int) -> tuple[int, str]:
        self.process.send_signal(signum)
        code = self.process.wait(timeout=STARTUP_TIMEOUT)
        rest = []
        while not self.lines.empty():
            rest.append(self.lines.get())
        return code, "".join(rest)


@pytest.fixture
def processes() -> Iterator[list[Running]]:
    started: list[Running] = []
    yield started
    for running in started:
        if running.process.poll() is None:
            running.process.kill()
            running.process.wait()


def _module_command(*args: str) -> list[str]:
    return [sys.executable, "-m", "fauna_emulator", *args]


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_cli_serves_on_the_given_port_and_stops_on_a_signal(processes: list[Running], signum: int) -> None:
    port = _free_port()
    running = Running(
        _module_command("--port", str(port), "--key", "fnacapi_demo", "--completion-delay", "0")
    )
    processes.append(running)
    url = f"http://127.0.0.1:{port}"
    assert running.line() == f"Fauna emulator listening on {url}"
    conn_line = running.line()
    # Pasted into a shell, the line must reach the programs it starts (airflow), not only the shell.
    seen_by_a_child = subprocess.run(
        ["bash", "-c", f"{conn_line}\nprintenv AIRFLOW_CONN_FAUNA_DEFAULT"],
        capture_output=True,
        text=True,
        check=True,
        timeout=30,
    ).stdout
    connection = json.loads(seen_by_a_child)
    assert connection == {
        "conn_type": "fauna",
        "host": url,
        "password": "fnacapi_demo",
        # The provider's extra link then opens this emulator's page of the request.
        "extra": {"link_template": "{api_url}/_emulator/requests/{request_id}"},
    }

    headers = {"Authorization": "Bearer fnacapi_demo"}
    body = {
        "region_group": "us-std",
        "time_start": "2099-01-01T00:00:00Z",
        "time_end": "2099-01-02T00:00:00Z",
    }
    submitted = requests.post(f"{url}/api/v1/logs?type=query", json=body, headers=headers, timeout=10)
    assert submitted.status_code == 200
    status = requests.get(
        f"{url}/api/v1/logs/{submitted.json()['request_id']}?type=query", headers=headers, timeout=10
    )
    assert status.json()["state"] == "Complete"
    assert requests.get(status.json()["presigned_url"], timeout=10).status_code == 200
    assert len(requests.get(f"{url}/_emulator/calls", timeout=10).json()) == 3

    code, rest = running.stop(signum)
    assert code == 0
    assert "Fauna emulator stopped" in rest


def test_cli_takes_keys_from_the_environment_and_faults_from_flags(processes: list[Running]) -> None:
    running = Running(
        _module_command("--port", "0", "--fault-429", "1", "--retry-after", "4", "--quiet"),
        env={"FAUNA_EMULATOR_KEYS": "fnacapi_a, fnacapi_b"},
    )
    processes.append(running)
    url = running.line().rsplit(" ", 1)[1]
    running.line()
    for key in ("fnacapi_a", "fnacapi_b"):
        answer = requests.get(
            f"{url}/api/v1/oauth/apps", headers={"Authorization": f"Bearer {key}"}, timeout=10
        )
        assert answer.status_code == 429
        assert answer.headers["Retry-After"] == "4"
    assert running.stop(signal.SIGTERM)[0] == 0


def test_cli_without_keys_exits_2() -> None:
    env = {k: v for k, v in os.environ.items() if k != "FAUNA_EMULATOR_KEYS"}
    done = subprocess.run(_module_command("--port", "0"), capture_output=True, text=True, env=env, timeout=30)
    assert done.returncode == 2
    assert "account key" in done.stderr


def test_cli_with_a_bad_fault_ratio_exits_2() -> None:
    done = subprocess.run(
        _module_command("--key", "k", "--fault-429", "3"), capture_output=True, text=True, timeout=30
    )
    assert done.returncode == 2
    assert "between 0 and 1" in done.stderr


SCRIPT = shutil.which("fauna-emulator", path=os.path.dirname(sys.executable)) or shutil.which(
    "fauna-emulator"
)


@pytest.mark.skipif(SCRIPT is None, reason="the console script is not installed")
def test_console_script_is_wired(processes: list[Running]) -> None:
    assert SCRIPT is not None
    running = Running([SCRIPT, "--port", "0", "--key", "k", "--quiet"])
    processes.append(running)
    url = running.line().rsplit(" ", 1)[1]
    assert requests.get(f"{url}/_emulator/health", timeout=10).json()["status"] == "ok"
    assert running.stop(signal.SIGTERM)[0] == 0
