"""The Airflow environment of a test session, set up before anything imports Airflow.

Airflow reads ``AIRFLOW_HOME`` and its ``AIRFLOW__*`` settings once, when ``airflow`` is first
imported, and configures its ORM, logging and DAG folder from them. So this module must not import
Airflow itself: ``tests/conftest.py`` calls :func:`configure_airflow_env` at import time, before any
test module (or the provider package, whose modules import Airflow) is collected.

Why these settings:

* a fresh ``AIRFLOW_HOME`` and SQLite database per session, so tests never see a developer's
  real Airflow and never see each other across sessions;
* ``DAGS_FOLDER`` = ``tests/dags``: on Airflow 3 ``dag.test()`` serializes the DAG through the
  DAG bundle that owns its file, so test DAGs must live in the configured folder;
* ``UNIT_TEST_MODE`` unset: it swaps in test-only config defaults that hide real behaviour;
* no example DAGs, no default connections (``airflow db migrate`` would otherwise create an
  ``aws_default`` and a ``google_cloud_default`` row that shadow nothing but confuse readers);
* ``TEST_CONNECTION=Enabled`` so ``airflow connections test`` works from the CLI helper;
* the provider's own classes allowed through XCom/trigger deserialization.
"""

from __future__ import annotations

import importlib.metadata
import os
import secrets
import shutil
import tempfile
from pathlib import Path

TESTS_DIR = Path(__file__).resolve().parent.parent
REPO_ROOT = TESTS_DIR.parent
DAGS_FOLDER = TESTS_DIR / "dags"

#: Settings that would make the session depend on the developer's shell; removed before start.
_SCRUBBED = (
    "AIRFLOW__CORE__UNIT_TEST_MODE",
    "AIRFLOW__CORE__SQL_ALCHEMY_CONN",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_CMD",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN_SECRET",
    "AIRFLOW__SECRETS__BACKEND",
    "AIRFLOW__SECRETS__BACKEND_KWARGS",
    "AIRFLOW_CONFIG",
)


def airflow_version() -> tuple[int, int]:
    """Major and minor version of the installed Airflow, read without importing it."""
    major, minor, *_ = importlib.metadata.version("apache-airflow").split(".")
    return int(major), int(minor)


def airflow_settings(home: Path) -> dict[str, str]:
    """The ``AIRFLOW*`` variables of a test session whose ``AIRFLOW_HOME`` is ``home``."""
    major, _ = airflow_version()
    return {
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__DAGS_FOLDER": str(DAGS_FOLDER),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "AIRFLOW__DATABASE__LOAD_DEFAULT_CONNECTIONS": "False",
        # Airflow 2 refuses anything but the SequentialExecutor on SQLite; Airflow 3 removed it.
        "AIRFLOW__CORE__EXECUTOR": "LocalExecutor" if major >= 3 else "SequentialExecutor",
        "AIRFLOW__CORE__TEST_CONNECTION": "Enabled",
        "AIRFLOW__CORE__ALLOWED_DESERIALIZATION_CLASSES": "airflow.* airflow_provider_fauna.*",
        "AIRFLOW__CORE__FERNET_KEY": _fernet_key(),
        "AIRFLOW__API_AUTH__JWT_SECRET": secrets.token_urlsafe(32),
        "AIRFLOW__LOGGING__COLORED_CONSOLE_LOG": "False",
        "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(home / "logs"),
        "NO_COLOR": "1",
    }


def _fernet_key() -> str:
    """A throwaway Fernet key (32 random bytes, urlsafe base64), so connections can be stored."""
    import base64

    return base64.urlsafe_b64encode(secrets.token_bytes(32)).decode()


def configure_airflow_env(home: Path | None = None) -> Path:
    """Point this process (and every subprocess it starts) at a fresh Airflow home.

    :param home: the directory to use; a new temporary one when ``None``.
    :return: the Airflow home.
    """
    if home is None:
        home = Path(tempfile.mkdtemp(prefix="airflow-test-home-"))
    home.mkdir(parents=True, exist_ok=True)
    for name in _SCRUBBED:
        os.environ.pop(name, None)
    os.environ.update(airflow_settings(home))
    return home


def remove_airflow_home(home: Path) -> None:
    """Delete a session's Airflow home, unless ``KEEP_AIRFLOW_TEST_HOME`` asks to keep it."""
    if os.environ.get("KEEP_AIRFLOW_TEST_HOME"):
        return
    shutil.rmtree(home, ignore_errors=True)
