"""With ``CI=true`` a missing test dependency fails the run; locally it skips.

Runs pytest in a subprocess on a throwaway test directory whose conftest installs the same hook
as ``tests/conftest.py`` (:func:`harness.ci.fail_missing_dependencies_in_ci`).
"""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from typing import TYPE_CHECKING

import pytest
from harness.env import TESTS_DIR

if TYPE_CHECKING:
    from pathlib import Path

CONFTEST = """
from harness.ci import fail_missing_dependencies_in_ci, missing_dependency
fail_missing_dependencies_in_ci()
"""
TESTS = {
    # at module level, as tests/transfers/test_transfer_rules.py does
    "test_module_level.py": """
        import pytest
        pytest.importorskip("no_such_module_for_ci_test", reason="not installed")
        def test_never_runs(): pass
    """,
    # in a fixture, as the moto and GCS fixtures of tests/conftest.py do
    "test_in_fixture.py": """
        import pytest
        @pytest.fixture
        def server():
            pytest.importorskip("no_such_module_for_ci_test")
        def test_uses_server(server): pass
    """,
    "test_explicit.py": """
        from harness.ci import missing_dependency
        def test_explicit(): missing_dependency("the thing is not installed")
    """,
    # a deliberate condition written next to the test is not a missing dependency
    "test_deliberate.py": """
        import pytest
        @pytest.mark.skipif(True, reason="deliberate")
        def test_deliberate(): pass
    """,
}


def run_pytest(folder: Path, ci: str | None) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PYTEST_")}
    env["PYTHONPATH"] = str(TESTS_DIR)
    env.pop("CI", None)
    if ci is not None:
        env["CI"] = ci
    return subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-rs",
            "-p",
            "no:cacheprovider",
            "--rootdir",
            str(folder),
            str(folder),
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        cwd=folder,
    )


@pytest.fixture
def suite(tmp_path: Path) -> Path:
    (tmp_path / "conftest.py").write_text(CONFTEST)
    for name, body in TESTS.items():
        (tmp_path / name).write_text(textwrap.dedent(body))
    return tmp_path


def test_locally_a_missing_dependency_skips(suite: Path) -> None:
    done = run_pytest(suite, ci=None)
    assert done.returncode == 0, done.stdout + done.stderr
    assert "4 skipped" in done.stdout, done.stdout


def test_in_ci_a_missing_dependency_fails(suite: Path) -> None:
    done = run_pytest(suite, ci="true")
    output = done.stdout + done.stderr
    assert done.returncode != 0, output
    # the module-level one is a collection error, which stops the session before any test runs
    assert "CI=true and a test dependency is missing: no_such_module_for_ci_test" in output, output
    assert "1 error" in done.stdout, done.stdout


def test_in_ci_fixture_and_explicit_skips_fail_and_deliberate_ones_skip(suite: Path) -> None:
    (suite / "test_module_level.py").unlink()
    done = run_pytest(suite, ci="true")
    assert done.returncode == 1, done.stdout + done.stderr
    assert "1 failed, 1 skipped, 1 error" in done.stdout, done.stdout
    assert "the thing is not installed" in done.stdout
    assert "SKIPPED [1] test_deliberate.py:3: deliberate" in done.stdout, done.stdout
