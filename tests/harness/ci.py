"""No silent skips in CI: with ``CI=true`` a missing test dependency fails the run.

Locally a missing optional tool (moto, the GCS emulator, a cloud provider) skips the tests that
need it, so a developer can run the rest. In CI the same skip would turn a broken install into
a green run, so there it is a failure:

* ``pytest.importorskip`` (in a test module, a fixture or a conftest) fails instead of skipping;
* :func:`missing_dependency` is the explicit form, for dependencies found some other way.

Skips that are deliberate conditions written next to the test (``skipif`` on an Airflow version,
an opt-in benchmark) are not dependencies and still skip; ``pytest -ra`` lists them.
"""

from __future__ import annotations

import os
from typing import Any, NoReturn

import pytest

_original_importorskip = pytest.importorskip


def in_ci() -> bool:
    """Whether ``CI`` is set to a true value (``true``, ``1``, ``yes``), as CI services do."""
    return os.environ.get("CI", "").strip().lower() in ("1", "true", "yes")


def missing_dependency(reason: str) -> NoReturn:
    """Skip the test because a dependency is missing, or fail it in CI."""
    if in_ci():
        pytest.fail(f"CI=true and a test dependency is missing: {reason}", pytrace=False)
    pytest.skip(reason)


def _importorfail(
    modname: str, minversion: str | None = None, reason: str | None = None, **kwargs: Any
) -> Any:
    """``pytest.importorskip`` that fails instead of skipping."""
    try:
        return _original_importorskip(modname, minversion, reason, **kwargs)
    except pytest.skip.Exception as skip:
        why = skip.msg
    missing_dependency(f"{modname}: {why}")


def fail_missing_dependencies_in_ci() -> None:
    """In CI, make ``pytest.importorskip`` fail (call before test modules are imported)."""
    if in_ci():
        pytest.importorskip = _importorfail
