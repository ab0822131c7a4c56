"""The vendor's own Node.js example (tests/vendor_node/app.js) runs its workflow against the emulator.

The developers' guide promises the emulator stays faithful to the vendor's pages; this runs the
pages' example unchanged but for the base URL and a bounded poll. The example logs an error and
still exits 0, so success is read from its output and from the emulator's recorded calls.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
from pathlib import Path
from typing import TYPE_CHECKING, Any

import requests
from emu_client import KEY
from harness import hold_until, requests_read
from harness.ci import missing_dependency

if TYPE_CHECKING:
    from collections.abc import Callable

    from fauna_emulator import FaunaEmulator

EXAMPLE_DIR = Path(__file__).resolve().parents[1] / "vendor_node"
TERMINAL = {"Complete", "DoesNotExist", "Failed", "TimedOut"}


def _redact(text: str) -> str:
    """Hide presigned URLs' signatures, so a failing test prints the output safely."""
    return re.sub(r"(Signature=)[^\"&\s]+", r"\1<redacted>", text)


def _run_example(base_url: str) -> tuple[subprocess.CompletedProcess[str], list[dict[str, Any]]]:
    """Run app.js against ``base_url``; the process and its winston JSON log lines."""
    node = shutil.which("node") or ""
    if not node or not (EXAMPLE_DIR / "node_modules" / ".package-lock.json").exists():
        missing_dependency(
            "node or the vendor example's packages are missing: run `npm ci --prefix tests/vendor_node` "
            "(`make test` does)"
        )
    env = {
        **os.environ,
        "FAUNA_BASE_URL": base_url,
        "ACCOUNT_KEY_SECRET": KEY,
        "FAUNA_POLL_MS": "50",
        "FAUNA_MAX_RUNTIME_MS": "30000",
    }
    done = subprocess.run(
        [node, "app.js"], cwd=EXAMPLE_DIR, env=env, capture_output=True, text=True, timeout=60, check=False
    )
    lines = [json.loads(line) for line in done.stdout.splitlines() if line.startswith("{")]
    return done, lines


def test_vendor_node_example_completes_against_emulator(
    start_emulator: Callable[..., FaunaEmulator],
) -> None:
    emu = start_emulator(host="127.0.0.1", port=0)
    # In progress at the first poll, so the example polls through the states as against the service.
    with hold_until(emu, requests_read(emu)):
        done, lines = _run_example(emu.url)
    shown = _redact(f"exit {done.returncode}\nstdout:\n{done.stdout}\nstderr:\n{done.stderr}")
    assert done.returncode == 0, shown
    assert not [line for line in lines if line.get("level") == "error"], shown

    states = [line["message"] for line in lines if str(line.get("message", "")).startswith("State: ")]
    assert states[-1] == "State: Complete", shown
    assert len(states) >= 2, f"the example never saw an in-progress state\n{shown}"
    final = [line["message"] for line in lines if isinstance(line.get("message"), dict)][-1]
    assert final["state"] == "Complete", shown
    assert lines[-1]["message"].startswith("Thanks for trying out Fauna Logs!"), shown

    # The emulator saw the how-to's calls: one region-group request, then status polls with
    # the how-to's regionGroup parameter, answered 200 with the bearer key.
    calls = emu.api_calls()
    assert [c.method for c in calls] == ["POST"] + ["GET"] * len(states), shown
    assert calls[0].path == "/api/v1/logs" and calls[0].json["region_group"] == "us-std"
    request_id = final["request_id"]
    assert {c.path for c in calls[1:]} == {f"/api/v1/logs/{request_id}"}
    assert all(c.query == {"type": "query", "regionGroup": "us-std"} for c in calls[1:])
    assert all(c.status == 200 and c.had_authorization for c in calls)

    # The presigned URL it printed is the emulator's own and downloads the log file.
    assert final["presigned_url_expiration_time"], shown
    url = final["presigned_url"]
    assert url.startswith(f"{emu.url}/"), _redact(url)
    assert requests.get(url, timeout=10).content == emu.file_bytes(request_id)
