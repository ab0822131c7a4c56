"""``make demo`` runs the real path for three days and tells it as it happens, with no warnings."""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from harness import REPO_ROOT, airflow_version

pytestmark = [
    pytest.mark.dagrun,
    pytest.mark.skipif(airflow_version() < (3, 0), reason="make demo runs in the Airflow 3 venv only"),
]


def test_demo_lands_three_days_and_narrates_each_step() -> None:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "FAUNA_LOGS"))}
    env["FAUNA_DEMO_COMPLETION_DELAY"] = "8"  # each sensor checks well before its export completes
    done = subprocess.run(
        [sys.executable, str(REPO_ROOT / "scripts" / "demo.py")],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 0, out

    # Each day: submitted, deferred to the trigger, fired, copied, landed under its date= folder.
    for day in ("2026-11-01", "2026-11-02", "2026-11-03"):
        assert re.search(rf"copied \d+ bytes \(md5 \w+\) to s3://fauna-demo-logs/\S+/date={day}/", out), out
    assert out.count("deferred: the wait moves to the trigger") == 3, out
    assert out.count("trigger fired") == 3, out
    assert out.count("upload_logs_to_s3: running") == 3, out
    assert "holds 200 query log records" in out
    # Nothing a user would worry about: no warning, no traceback, no graphviz nag.
    assert not re.search(r"warning|traceback|graphviz", out, re.IGNORECASE), out
