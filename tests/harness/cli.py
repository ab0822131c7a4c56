"""Run the Airflow CLI as a subprocess of the test session, against the session's Airflow home.

Why a subprocess: the CLI is what users run (``airflow dags test``, ``airflow providers get``,
``airflow connections test``), and it discovers providers, parses DAG files and configures logging
from scratch; doing that in the pytest process would hide whatever a fresh process does
differently. The child inherits the session's environment (``AIRFLOW_HOME``, the SQLite DB, the
connections fixtures put in ``AIRFLOW_CONN_*``) plus ``tests/`` on ``PYTHONPATH`` so that test DAGs
can import :mod:`harness`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from typing import TYPE_CHECKING

from harness.env import TESTS_DIR

if TYPE_CHECKING:
    from collections.abc import Mapping

#: Variables pytest sets that would make Airflow behave as if it were under test.
_PYTEST_VARIABLES = ("PYTEST_CURRENT_TEST", "PYTEST_VERSION", "PYTEST_XDIST_WORKER")


def airflow_cli_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of an Airflow CLI subprocess: this process's, plus ``extra``."""
    env = {k: v for k, v in os.environ.items() if k not in _PYTEST_VARIABLES}
    env["PYTHONPATH"] = os.pathsep.join(p for p in (str(TESTS_DIR), env.get("PYTHONPATH", "")) if p)
    env.update(extra or {})
    return env


def run_airflow_cli(
    *args: str,
    timeout: float = 300.0,
    check: bool = False,
    env: Mapping[str, str] | None = None,
    whole_env: Mapping[str, str] | None = None,
) -> subprocess.CompletedProcess[str]:
    """Run ``airflow ARGS...`` with this session's settings and return its result.

    :param args: the command line after ``airflow``, e.g. ``("providers", "get", "airflow-provider-fauna")``.
    :param timeout: seconds before the command is killed (``subprocess.TimeoutExpired``).
    :param check: raise ``AssertionError`` with the command's output when it exits non-zero.
    :param env: variables to add to (or override in) the inherited environment.
    :param whole_env: the command's entire environment instead (a deployment's own), ``env`` ignored.
    """
    result = subprocess.run(
        [sys.executable, "-m", "airflow", *args],
        env=dict(whole_env) if whole_env is not None else airflow_cli_env(env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )
    if check and result.returncode != 0:
        raise AssertionError(
            f"`airflow {' '.join(args)}` exited {result.returncode}\n"
            f"--- stdout ---\n{result.stdout[-8000:]}\n--- stderr ---\n{result.stderr[-8000:]}"
        )
    return result


_db_lock = threading.Lock()
_db_ready = False


def ensure_airflow_db() -> None:
    """Run ``airflow db migrate`` once per process, the first time a test needs the database.

    Lazy on purpose: it costs several seconds, and most unit tests never touch the metadata DB.
    """
    global _db_ready
    with _db_lock:
        if _db_ready:
            return
        run_airflow_cli("db", "migrate", timeout=600, check=True)
        _db_ready = True
