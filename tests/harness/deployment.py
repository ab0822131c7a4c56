"""A real Airflow 3 deployment on loopback: scheduler, dag-processor, triggerer, api-server.

``dag.test()`` runs triggers inline in the test process, so it never exercises what a deployment
does: the triggerer rebuilding a trigger from :meth:`serialize` after a restart, task processes
that read connections from their own environment, the REST API's extra links. This module runs
each component as its own process group (so a kill also takes the log-server child that the
triggerer and the workers fork), all sharing one SQLite DB and one environment:

* LocalExecutor on SQLite (Airflow 3 only; 2.11 refuses it and needs PostgreSQL);
* the log-server ports (8793/8794 by default) and the api-server's port moved to free ports, so
  several deployments (or a developer's Airflow) can run side by side;
* ``[scheduler] use_job_schedule`` off: the scheduler runs only the runs a test creates
  (backfills, triggered runs), not a catchup DAG's every day since its start date (pass
  ``AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE=True`` in ``env`` to have it schedule);
* ``[core] simple_auth_manager_all_admins``: the REST API hands out an admin JWT at
  ``GET /auth/token`` without credentials, which :meth:`Deployment.api` then sends as a bearer.

Use::

    with Deployment(tmp_path, dag_files=[EXAMPLE], env={"AIRFLOW_CONN_FAUNA_DEFAULT": ...}) as dep:
        dep.start_all()
        dep.wait_for_dag(DAG_ID)
        dep.unpause(DAG_ID)
        dep.cli("backfill", "create", "--dag-id", DAG_ID, "--from-date", ..., "--to-date", ...)
        dep.wait_for_task_state(DAG_ID, "wait_for_logs", "deferred", count=2)
        dep.kill("triggerer"); dep.start("triggerer")
        runs = dep.wait_for_runs(DAG_ID, count=3, timeout=600)
        dep.query("SELECT ...")          # the metadata DB (sqlite3 rows)
        dep.api("GET", "/api/v2/dags")   # the REST API, JWT included

Every wait is bounded and its failure message says what it waited for, what it saw last and
ends with the tail of each component's log. Nothing here imports Airflow.
"""

from __future__ import annotations

import contextlib
import json
import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, TypeVar

from harness.cli import airflow_cli_env, run_airflow_cli
from harness.env import airflow_settings, airflow_version

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable, Mapping, Sequence
    from pathlib import Path

T = TypeVar("T")

#: The components of an Airflow 3 deployment, in the order :meth:`Deployment.start_all` starts them.
COMPONENTS = ("api-server", "dag-processor", "scheduler", "triggerer")
#: SQLite's wait for a lock, in seconds: its default of 5 s lets a CLI call fail with "database
#: is locked" while the scheduler writes, on a loaded machine. Airflow imports this dict by name.
SQLITE_CONNECT_ARGS: dict[str, Any] = {"timeout": 60}
#: Terminal states of a DAG run.
FINISHED_RUN_STATES = frozenset({"success", "failed"})


def free_port() -> int:
    """A TCP port nothing listens on right now (on 127.0.0.1)."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class DeploymentError(AssertionError):
    """A wait ran out or a component died; the message carries the components' log tails."""


@dataclass
class Component:
    """One running component: its process (leader of its own process group) and log file."""

    name: str
    process: subprocess.Popen[bytes]
    log_path: Path
    started: float = field(default_factory=time.monotonic)

    @property
    def alive(self) -> bool:
        """Whether the process has not exited yet."""
        return self.process.poll() is None


class Deployment:
    """Airflow 3 components as separate processes around one SQLite metadata DB.

    :param workdir: an empty directory for ``AIRFLOW_HOME``, the DAG folder and component logs.
    :param dag_files: DAG files copied into the deployment's DAG folder (only these are parsed).
    :param env: extra variables for every component and CLI call (``AIRFLOW_CONN_*``,
        ``AIRFLOW_VAR_*``, ``AIRFLOW__*`` overrides).
    """

    def __init__(
        self, workdir: Path, dag_files: Iterable[Path] = (), env: Mapping[str, str] | None = None
    ) -> None:
        if airflow_version()[0] < 3:
            raise RuntimeError("Deployment runs Airflow 3 components; Airflow 2.11 needs PostgreSQL")
        self.home = workdir / "airflow"
        self.dags_folder = workdir / "dags"
        self.log_dir = workdir / "component-logs"
        for folder in (self.home, self.dags_folder, self.log_dir):
            folder.mkdir(parents=True, exist_ok=True)
        for dag_file in dag_files:
            (self.dags_folder / dag_file.name).write_bytes(dag_file.read_bytes())
        self.db_path = self.home / "airflow.db"
        self.api_port = free_port()
        self.api_url = f"http://127.0.0.1:{self.api_port}"
        self.env = self._environment(env or {})
        self.components: dict[str, Component] = {}
        self._token: str | None = None

    # ------------------------------------------------------------------ environment
    def _environment(self, extra: Mapping[str, str]) -> dict[str, str]:
        # Drop the test session's own Airflow settings and connections: only what is set here
        # reaches the deployment.
        base = {
            k: v
            for k, v in airflow_cli_env().items()
            if not k.startswith(("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_"))
        }
        settings = airflow_settings(self.home)
        settings.update(
            {
                "AIRFLOW__CORE__DAGS_FOLDER": str(self.dags_folder),
                "AIRFLOW__CORE__EXECUTOR": "LocalExecutor",
                "AIRFLOW__CORE__PARALLELISM": "4",
                "AIRFLOW__DATABASE__SQL_ALCHEMY_CONNECT_ARGS": "harness.deployment.SQLITE_CONNECT_ARGS",
                "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"{self.api_url}/execution/",
                "AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_ALL_ADMINS": "True",
                "AIRFLOW__API__BASE_URL": self.api_url,
                "AIRFLOW__API__PORT": str(self.api_port),
                "AIRFLOW__API__HOST": "127.0.0.1",
                # Off 8793/8794: those would collide with any other Airflow on the machine.
                "AIRFLOW__LOGGING__WORKER_LOG_SERVER_PORT": str(free_port()),
                "AIRFLOW__LOGGING__TRIGGER_LOG_SERVER_PORT": str(free_port()),
                # Parse the DAG folder often, so a test does not wait minutes for its DAG.
                "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
                "AIRFLOW__DAG_PROCESSOR__MIN_FILE_PROCESS_INTERVAL": "10",
                # A killed triggerer's triggers move to the next one once its heartbeat is this old.
                "AIRFLOW__TRIGGERER__TRIGGERER_HEALTH_CHECK_THRESHOLD": "15",
                "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
                # Only the runs a test asks for (backfills, triggered runs): a catchup DAG would
                # otherwise schedule every day since its start_date once unpaused.
                "AIRFLOW__SCHEDULER__USE_JOB_SCHEDULE": "False",
            }
        )
        return {**base, **settings, **extra}

    # ------------------------------------------------------------------ CLI and components
    def cli(self, *args: str, timeout: float = 300.0, check: bool = True) -> subprocess.CompletedProcess[str]:
        """Run ``airflow ARGS...`` against the deployment; raise with its output if it fails."""
        return run_airflow_cli(*args, timeout=timeout, check=check, whole_env=self.env)

    def migrate(self) -> None:
        """Create the metadata DB (``airflow db migrate``)."""
        self.cli("db", "migrate", timeout=600)

    def start(self, name: str, *args: str) -> Component:
        """Start component ``name`` (``airflow NAME ARGS...``) in its own process group."""
        if name in self.components and self.components[name].alive:
            raise RuntimeError(f"{name} is already running")
        argv = [sys.executable, "-m", "airflow", name, *args]
        if name == "api-server":
            argv += ["--host", "127.0.0.1", "--port", str(self.api_port), "--workers", "1"]
        log_path = self.log_dir / f"{name}.log"
        with open(log_path, "ab") as log:
            log.write(f"\n===== {time.strftime('%H:%M:%S')} starting {' '.join(argv)}\n".encode())
            log.flush()
            process = subprocess.Popen(
                argv,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
                start_new_session=True,  # its own process group: kill() takes its children too
            )
        component = Component(name, process, log_path)
        self.components[name] = component
        return component

    def start_all(self, timeout: float = 180.0) -> None:
        """Migrate the DB, start every component, and wait until the REST API answers."""
        self.migrate()
        for name in COMPONENTS:
            self.start(name)
        self.wait_for(lambda: self._api_up() or None, timeout, "the api-server to answer /api/v2/version")

    def unpause(self, dag_id: str) -> None:
        """Unpause ``dag_id``: the scheduler starts no run of a paused DAG, backfills included."""
        self.cli("dags", "unpause", dag_id)

    def _signal_group(self, component: Component, sig: signal.Signals) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(component.process.pid, sig)

    def kill(self, name: str, timeout: float = 30.0) -> None:
        """SIGKILL component ``name`` and its whole process group (log server included)."""
        component = self.components[name]
        self._signal_group(component, signal.SIGKILL)
        component.process.wait(timeout)

    def stop(self, name: str, timeout: float = 30.0) -> None:
        """SIGTERM component ``name``'s process group; SIGKILL it if it is not gone in ``timeout`` s."""
        component = self.components[name]
        self._signal_group(component, signal.SIGTERM)
        try:
            component.process.wait(timeout)
        except subprocess.TimeoutExpired:
            self._signal_group(component, signal.SIGKILL)
            component.process.wait(timeout)
        # Children that outlived the leader (a task runner, the log server) go too.
        self._signal_group(component, signal.SIGKILL)

    def restart(self, name: str, *, kill: bool = True) -> Component:
        """Kill (or stop) component ``name`` and start it again with the same settings."""
        (self.kill if kill else self.stop)(name)
        return self.start(name)

    def close(self) -> None:
        """Stop every component (the api-server last: workers report to it)."""
        for name in sorted(self.components, key=lambda n: n == "api-server"):
            self.stop(name, timeout=20)

    def __enter__(self) -> Deployment:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # ------------------------------------------------------------------ diagnostics and waits
    def log_tail(self, name: str, lines: int = 40) -> str:
        """The last ``lines`` lines of component ``name``'s log."""
        path = self.log_dir / f"{name}.log"
        if not path.exists():
            return "(no log)"
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])

    def diagnostics(self, lines: int = 30) -> str:
        """The state of every component and the tail of its log, for failure messages."""
        parts = []
        for name, component in self.components.items():
            status = "running" if component.alive else f"exited {component.process.returncode}"
            parts.append(f"--- {name} ({status}), last {lines} lines ---\n{self.log_tail(name, lines)}")
        return "\n".join(parts)

    def check_alive(self) -> None:
        """Raise if a component that was started has died on its own."""
        dead = [c for c in self.components.values() if not c.alive and c.process.returncode not in (-9, -15)]
        if dead:
            raise DeploymentError(
                f"{', '.join(c.name for c in dead)} exited unexpectedly\n{self.diagnostics()}"
            )

    def wait_for(self, probe: Callable[[], T | None], timeout: float, what: str, interval: float = 1.0) -> T:
        """Call ``probe`` until it returns something other than ``None``/``False``; return it.

        :param what: what is awaited, for the failure message ("3 runs of X to finish").
        :raises DeploymentError: after ``timeout`` seconds or when a component died, with the
            last value seen and every component's log tail.
        """
        deadline = time.monotonic() + timeout
        last: Any = None
        while True:
            self.check_alive()
            try:
                value = probe()
            except (sqlite3.OperationalError, OSError) as err:  # DB locked, API restarting
                value, last = None, err
            if value is not None and value is not False:
                return value
            if time.monotonic() >= deadline:
                raise DeploymentError(
                    f"timed out after {timeout:g} s waiting for {what}; last seen: {last!r}\n"
                    f"{self.diagnostics()}"
                )
            if value is not None:
                last = value
            time.sleep(interval)

    # ------------------------------------------------------------------ metadata DB
    def query(self, sql: str, params: Sequence[Any] | Mapping[str, Any] = ()) -> list[sqlite3.Row]:
        """Run a read-only query on the metadata DB; rows support ``row["column"]``."""
        connection = sqlite3.connect(f"file:{self.db_path}?mode=ro", uri=True, timeout=30)
        try:
            connection.row_factory = sqlite3.Row
            return connection.execute(sql, params).fetchall()
        finally:
            connection.close()

    def dag_runs(self, dag_id: str) -> list[sqlite3.Row]:
        """Every run of ``dag_id`` (``run_id``, ``state``, ``logical_date``, ``run_type``...), oldest first."""
        return self.query("SELECT * FROM dag_run WHERE dag_id = ? ORDER BY logical_date, id", (dag_id,))

    def task_instances(self, dag_id: str, task_id: str | None = None) -> list[sqlite3.Row]:
        """Every task instance of ``dag_id`` (optionally of one task)."""
        sql = "SELECT * FROM task_instance WHERE dag_id = ?"
        params: list[Any] = [dag_id]
        if task_id is not None:
            sql += " AND task_id = ?"
            params.append(task_id)
        return self.query(sql + " ORDER BY run_id, task_id, map_index", params)

    def wait_for_dag(self, dag_id: str, timeout: float = 180.0) -> None:
        """Wait until the dag-processor has serialized ``dag_id``."""
        self.wait_for(
            lambda: bool(self.query("SELECT 1 FROM serialized_dag WHERE dag_id = ?", (dag_id,))),
            timeout,
            f"the dag-processor to serialize {dag_id}",
        )

    def wait_for_runs(
        self, dag_id: str, count: int, timeout: float = 600.0, states: Iterable[str] = FINISHED_RUN_STATES
    ) -> list[sqlite3.Row]:
        """Wait until ``count`` runs of ``dag_id`` are in ``states`` (by default finished); return all runs."""
        wanted = frozenset(states)

        def probe() -> list[sqlite3.Row] | None:
            runs = self.dag_runs(dag_id)
            return runs if sum(r["state"] in wanted for r in runs) >= count else None

        return self.wait_for(probe, timeout, f"{count} runs of {dag_id} in {sorted(wanted)}", interval=2.0)

    def wait_for_task_state(
        self, dag_id: str, task_id: str, state: str, count: int = 1, timeout: float = 300.0
    ) -> list[sqlite3.Row]:
        """Wait until ``count`` instances of ``task_id`` are in ``state`` at once; return them."""

        def probe() -> list[sqlite3.Row] | None:
            rows = [r for r in self.task_instances(dag_id, task_id) if r["state"] == state]
            return rows if len(rows) >= count else None

        return self.wait_for(probe, timeout, f"{count} instances of {dag_id}.{task_id} in {state!r}")

    # ------------------------------------------------------------------ REST API
    def _api_up(self) -> bool:
        try:
            with urllib.request.urlopen(f"{self.api_url}/api/v2/version", timeout=5) as response:
                return bool(response.status == 200)
        except (urllib.error.URLError, OSError):
            return False

    def token(self) -> str:
        """An admin JWT from the simple auth manager (all-admins mode issues one without credentials)."""
        if self._token is None:
            with urllib.request.urlopen(f"{self.api_url}/auth/token", timeout=30) as response:
                self._token = str(json.load(response)["access_token"])
        return self._token

    def api(self, method: str, path: str, body: Any = None, timeout: float = 30.0) -> Any:
        """Call the REST API (``path`` like ``/api/v2/dags``) with a bearer JWT; return the JSON answer.

        :raises DeploymentError: on an HTTP error, with the status and the answer's body.
        """
        data = None if body is None else json.dumps(body).encode()
        request = urllib.request.Request(
            f"{self.api_url}{path}",
            data=data,
            method=method,
            headers={"Authorization": f"Bearer {self.token()}", "Content-Type": "application/json"},
        )
        try:
            with urllib.request.urlopen(request, timeout=timeout) as response:
                return json.load(response)
        except urllib.error.HTTPError as err:
            raise DeploymentError(f"{method} {path} answered {err.code}: {err.read()[:2000]!r}") from err


class StateRecorder:
    """Record every state each task instance of a DAG is seen in, polling the DB in a thread.

    Short-lived states (``deferred``, ``up_for_retry``) leave no trace once a task succeeds, so
    a test that must prove a sensor deferred watches for it while the runs go on.
    ``seen[(run_id, task_id, map_index)]`` is the list of distinct states in the order seen.
    """

    def __init__(self, deployment: Deployment, dag_id: str, interval: float = 0.5) -> None:
        self.deployment = deployment
        self.dag_id = dag_id
        self.interval = interval
        self.seen: dict[tuple[str, str, int], list[str]] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name=f"state-recorder-{dag_id}", daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            try:
                rows = self.deployment.query(
                    "SELECT run_id, task_id, map_index, state FROM task_instance WHERE dag_id = ?",
                    (self.dag_id,),
                )
            except sqlite3.OperationalError:  # locked or not migrated yet
                rows = []
            for row in rows:
                states = self.seen.setdefault((row["run_id"], row["task_id"], row["map_index"]), [])
                if row["state"] is not None and (not states or states[-1] != row["state"]):
                    states.append(row["state"])
            self._stop.wait(self.interval)

    def states(self, task_id: str) -> dict[str, list[str]]:
        """``{run_id: [states seen]}`` of one task."""
        return {run: states for (run, task, _), states in self.seen.items() if task == task_id}

    def __enter__(self) -> StateRecorder:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join(10)
