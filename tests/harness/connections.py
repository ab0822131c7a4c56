"""Airflow connections for tests, given as ``AIRFLOW_CONN_*`` environment variables.

Why environment variables: Airflow 2.11 and 3 both read them first, in the test process, in the
in-process task runner of ``dag.test()`` and in CLI subprocesses alike, and they need no database
row to create or clean up. The JSON form is used because it carries ``extra`` without URL-encoding.
"""

from __future__ import annotations

import contextlib
import json
import os
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

#: The Account API key the Fauna emulator accepts in tests: long and unique, so a search of task
#: logs for it cannot match anything by chance.
FAUNA_TEST_KEY = "fnacapi_harness_test_key_5f1c9e2a7b4d4e0f8a3c6b1d9e7f2a40"

#: The Fauna connection id the provider uses by default.
FAUNA_CONN_ID = "fauna_default"


def conn_env_var(conn_id: str) -> str:
    """The environment variable Airflow reads connection ``conn_id`` from."""
    return f"AIRFLOW_CONN_{conn_id.upper()}"


def connection_json(conn_type: str, **fields: Any) -> str:
    """A connection in Airflow's JSON form; ``None`` fields are left out."""
    return json.dumps({"conn_type": conn_type, **{k: v for k, v in fields.items() if v is not None}})


def fauna_connection_json(host: str, key: str = FAUNA_TEST_KEY, **extra: Any) -> str:
    """A ``fauna`` connection to ``host`` (the Account API URL) with account key ``key``."""
    return connection_json("fauna", host=host, password=key, extra=extra or None)


def aws_connection_json(
    endpoint_url: str, region: str = "us-east-1", key: str = "testing", **extra: object
) -> str:
    """An ``aws`` connection usable by ``S3Hook`` against a local S3 at ``endpoint_url``."""
    return connection_json(
        "aws",
        login=key,
        password=key,
        extra={"region_name": region, "endpoint_url": endpoint_url, **extra},
    )


def gcp_anonymous_connection_json(project: str = "test-project") -> str:
    """A ``google_cloud_platform`` connection with anonymous credentials (for a GCS emulator)."""
    return connection_json("google_cloud_platform", extra={"is_anonymous": True, "project": project})


@contextlib.contextmanager
def env_vars(**values: str | None) -> Iterator[None]:
    """Set (or, with ``None``, remove) environment variables for the block, then restore them.

    Session-scoped fixtures cannot use pytest's function-scoped ``monkeypatch``; this does the same
    for any scope.
    """
    saved = {name: os.environ.get(name) for name in values}
    try:
        for name, value in values.items():
            if value is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = value
        yield
    finally:
        for name, old in saved.items():
            if old is None:
                os.environ.pop(name, None)
            else:
                os.environ[name] = old


@contextlib.contextmanager
def env_connection(conn_id: str, conn_json: str) -> Iterator[str]:
    """Define connection ``conn_id`` for the block; yields the connection id."""
    with env_vars(**{conn_env_var(conn_id): conn_json}):
        yield conn_id
