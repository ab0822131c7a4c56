"""The provider's runtime never needs the emulator: no import of it, no knowledge of its URLs."""

from __future__ import annotations

import pkgutil
import subprocess
import sys
from pathlib import Path

import airflow_provider_fauna

PACKAGE_DIR = Path(airflow_provider_fauna.__file__).parent


def test_importing_every_provider_module_loads_no_emulator() -> None:
    modules = [m.name for m in pkgutil.walk_packages([str(PACKAGE_DIR)], "airflow_provider_fauna.")]
    assert "airflow_provider_fauna.transfers.fauna_to_s3" in modules  # the walk found the package
    probe = (
        "import importlib, sys\n"
        f"for name in {modules!r}:\n"
        "    importlib.import_module(name)\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] == 'fauna_emulator'))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True, timeout=300
    ).stdout.strip()
    assert loaded == "[]"


def test_no_provider_module_knows_the_emulator_urls() -> None:
    # The emulator's pages live under /_emulator/; only a connection's link_template may name them.
    for source in PACKAGE_DIR.rglob("*.py"):
        text = source.read_text()
        assert "/_emulator" not in text, source
        assert "fauna_emulator" not in text, source
