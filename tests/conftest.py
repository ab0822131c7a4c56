"""Session setup and shared fixtures of the test suite.

The Airflow environment is configured when this module is imported, which pytest does before it
imports any test module: Airflow reads ``AIRFLOW_HOME`` and its settings once, on first import, and
test modules import the provider, which imports Airflow. See :mod:`harness.env` for the settings.

Fixtures (session scope unless noted):

* ``airflow_home``: the session's Airflow home (a temporary directory, removed at the end; set
  ``KEEP_AIRFLOW_TEST_HOME=1`` to keep it).
* ``airflow_db``: the metadata DB, migrated on first use (only tests that need it pay for it).
* ``airflow_cli``: :func:`harness.run_airflow_cli`, the Airflow CLI as a subprocess.
* ``dag_runner``: :func:`harness.run_dag`, with the DB ready.
* ``fauna_emulator``: the session's running Fauna Account API emulator.
* ``emulator`` (function): the same emulator, with calls, faults and outcomes reset around the test.
* ``fauna_connection`` (function): ``fauna_default`` pointing at ``emulator``; yields the conn id.
* ``s3_server`` (function): an S3 server, emptied for the test; ``aws_default`` points at it. It
  is parametrized: every test using it runs on moto's server and on s3rver.
* ``gcs_server`` (function): gcp-storage-emulator, emptied for the test; ``google_cloud_default``
  is anonymous and ``STORAGE_EMULATOR_HOST`` points at it.
"""

from __future__ import annotations

import importlib
import os
import sys
from typing import TYPE_CHECKING, Any

import pytest
from harness import (
    FAUNA_CONN_ID,
    FAUNA_TEST_KEY,
    S3_FLAVOURS,
    conn_env_var,
    ensure_airflow_db,
    fauna_connection_json,
    gcp_anonymous_connection_json,
    gcs_emulator,
    moto_s3_server,
    run_airflow_cli,
    run_dag,
    s3rver_installed,
    s3rver_server,
    use_s3_server,
    wipe_gcs,
)
from harness.ci import fail_missing_dependencies_in_ci, missing_dependency
from harness.env import configure_airflow_env, remove_airflow_home

if TYPE_CHECKING:
    import subprocess
    from collections.abc import Callable, Iterator
    from pathlib import Path

if "airflow" in sys.modules:
    raise RuntimeError(
        "airflow was imported before tests/conftest.py could configure the test environment "
        "(a pytest plugin or sitecustomize imported it); the tests would run against the wrong "
        "AIRFLOW_HOME and database"
    )

AIRFLOW_HOME = configure_airflow_env()

# Property-based tests (hypothesis): a bounded number of examples, so `make test` stays within its
# time budget; no per-example deadline, as the first example pays for imports. HYPOTHESIS_PROFILE=deep
# searches further by hand. Imported here so that a missing hypothesis fails collection in CI too.
from hypothesis import HealthCheck, settings  # noqa: E402

settings.register_profile(
    "ci", max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow], derandomize=True
)
settings.register_profile(
    "deep", max_examples=2000, deadline=None, suppress_health_check=[HealthCheck.too_slow]
)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))
# With CI=true a missing test dependency fails the run instead of skipping (see harness.ci).
fail_missing_dependencies_in_ci()


def pytest_unconfigure(config: pytest.Config) -> None:
    """Remove the session's Airflow home (its SQLite DB and task logs)."""
    remove_airflow_home(AIRFLOW_HOME)


# ------------------------------------------------------------------------------------- Airflow
@pytest.fixture(scope="session")
def airflow_home() -> Path:
    """The session's ``AIRFLOW_HOME``."""
    return AIRFLOW_HOME


@pytest.fixture(scope="session")
def airflow_db() -> None:
    """A migrated metadata DB (``airflow db migrate`` runs once, on first use)."""
    ensure_airflow_db()


@pytest.fixture(scope="session")
def airflow_cli() -> Callable[..., subprocess.CompletedProcess[str]]:
    """Run ``airflow ...`` as a subprocess with the session's settings: ``airflow_cli("dags", "list")``."""
    return run_airflow_cli


@pytest.fixture(scope="session")
def dag_runner(airflow_db: None) -> Callable[..., Any]:
    """:func:`harness.run_dag`, for tests that prefer a fixture to an import."""
    return run_dag


# ------------------------------------------------------------------------------------- Fauna
def _emulator_module() -> Any:
    """The provider's emulator package, or a skip while it does not exist yet."""
    try:
        return importlib.import_module("fauna_emulator")
    except ImportError as err:
        if err.name in ("fauna_emulator", "fauna_emulator.server"):
            missing_dependency(f"the Fauna emulator is not available: {err}")
        raise


@pytest.fixture(scope="session")
def fauna_emulator() -> Iterator[Any]:
    """A running ``FaunaEmulator`` that accepts :data:`harness.FAUNA_TEST_KEY`, for the whole session."""
    module = _emulator_module()
    if not hasattr(module, "FaunaEmulator"):
        missing_dependency("fauna_emulator has no FaunaEmulator yet")
    server = module.FaunaEmulator(keys={FAUNA_TEST_KEY}, host="127.0.0.1", port=0, completion_delay=0.0)
    server.start()
    try:
        yield server
    finally:
        server.stop()


def _reset_emulator(server: Any) -> None:
    """Forget recorded calls, injected faults and forced outcomes."""
    if hasattr(server, "reset"):
        server.reset()
        return
    server.reset_calls()
    server.faults = _emulator_module().FaultConfig()
    for name in ("reset_outcomes", "clear_outcomes"):
        if hasattr(server, name):
            getattr(server, name)()
            break


@pytest.fixture
def emulator(fauna_emulator: Any) -> Iterator[Any]:
    """The session's emulator, reset before and after the test so tests cannot see each other."""
    _reset_emulator(fauna_emulator)
    yield fauna_emulator
    _reset_emulator(fauna_emulator)


@pytest.fixture
def fauna_connection(emulator: Any, monkeypatch: pytest.MonkeyPatch) -> str:
    """Connection ``fauna_default`` (an ``AIRFLOW_CONN_*`` variable) to the emulator; yields its id."""
    monkeypatch.setenv(conn_env_var(FAUNA_CONN_ID), fauna_connection_json(emulator.url, FAUNA_TEST_KEY))
    return FAUNA_CONN_ID


# ------------------------------------------------------------------------------------- object stores
@pytest.fixture(scope="session")
def _moto_url() -> Iterator[str]:
    pytest.importorskip("moto.server", reason="moto[server] is not installed")
    with moto_s3_server() as url:
        yield url


@pytest.fixture(scope="session")
def _s3rver_url() -> Iterator[str]:
    if not s3rver_installed():
        missing_dependency("s3rver is not installed: run `npm ci --prefix tests/s3rver` (`make test` does)")
    with s3rver_server() as url:
        yield url


@pytest.fixture(params=S3_FLAVOURS)
def s3_server(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> str:
    """An S3 endpoint URL, empty; ``aws_default`` points at it. Every test using it runs twice:
    on moto's server and on s3rver (see :func:`harness.use_s3_server`)."""
    return use_s3_server(request.param, request, monkeypatch)


@pytest.fixture(scope="session")
def _gcs_url() -> Iterator[str]:
    pytest.importorskip("gcp_storage_emulator.server", reason="gcp-storage-emulator is not installed")
    with gcs_emulator() as url:
        yield url


@pytest.fixture
def gcs_server(_gcs_url: str, monkeypatch: pytest.MonkeyPatch) -> str:
    """gcp-storage-emulator's URL, empty; ``google_cloud_default`` is anonymous and
    ``STORAGE_EMULATOR_HOST`` sends GCS clients there."""
    pytest.importorskip(
        "airflow.providers.google.cloud.hooks.gcs", reason="the google provider is not installed"
    )
    wipe_gcs(_gcs_url)
    monkeypatch.setenv("STORAGE_EMULATOR_HOST", _gcs_url)
    monkeypatch.setenv(conn_env_var("google_cloud_default"), gcp_anonymous_connection_json())
    return _gcs_url
