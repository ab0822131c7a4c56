"""The benchmarks run, at their smallest, and write their result files (no figure is judged).

Why a test: ``python -m benchmarks`` is run by hand, rarely, and a benchmark that broke since
(a renamed operator argument, a changed emulator endpoint) would only be found then. This runs
all four in ``--size smoke`` (small files, twenty triggers, a 2-second request, all at once) in
well under a minute, and checks that each wrote its JSON with the keys the docs page and the
tables rely on. Timings are not asserted: the machines running the suite are too noisy.

Deselect with ``-m "not benchmarks"`` (or ``--deselect tests/test_benchmarks_smoke.py``).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.benchmarks

#: ``benchmarks`` is a top-level directory of the checkout, not part of the installed package.
REPO_ROOT = Path(__file__).resolve().parent.parent

#: Keys every result file has (see benchmarks.report.Result.to_json).
COMMON_KEYS = {
    "name",
    "title",
    "mode",
    "finished_at",
    "machine",
    "table",
    "targets",
    "all_targets_met",
    "notes",
}
#: The figures each benchmark adds.
FIGURES = {
    "transfer_memory": {"sizes_bytes", "peaks_mib", "runs"},
    "transfer_speed": {"speeds_mib_s", "ratios"},
    "triggerer_scale": {
        "plan",
        "cpu_ratio_vs_bare_shared",
        "cpu_ratio_vs_bare_own",
        "memory_per_trigger_bytes",
        "rounds",
    },
    "api_economy": {"poll_interval", "cases"},
}


def test_every_benchmark_runs_and_writes_its_results(tmp_path: Path) -> None:
    pytest.importorskip("moto")
    pytest.importorskip("airflow.providers.amazon.aws.transfers.http_to_s3")
    if str(REPO_ROOT) not in sys.path:
        sys.path.insert(0, str(REPO_ROOT))
    from benchmarks.__main__ import main

    results = tmp_path / "results"
    status = main(["--size", "smoke", "--results-dir", str(results), "--cache-dir", str(tmp_path / "cache")])

    assert status == 0, "a benchmark failed to run (see the captured log)"
    for name, figures in FIGURES.items():
        data = json.loads((results / f"{name}.json").read_text())
        assert COMMON_KEYS | figures <= set(data), (
            f"{name}.json lacks {sorted(COMMON_KEYS | figures - set(data))}"
        )
        assert data["name"] == name
        assert data["mode"] == "smoke"
        assert data["table"]["rows"], f"{name} produced an empty table"
        assert data["targets"], f"{name} states no targets"
        assert {"nproc", "memory_gib", "python", "versions"} <= set(data["machine"])
