"""Tables, targets and result files shared by every benchmark.

Why one shape for every result: ``python -m benchmarks`` prints them one after the other, the
smoke test checks their keys, and the docs page quotes them; a :class:`Result` carries the
table a person reads, the targets with their verdicts, and the raw numbers for the JSON file.
"""

from __future__ import annotations

import datetime as dt
import importlib.metadata
import json
import math
import os
import platform
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

RESULTS_DIR = Path(__file__).resolve().parent / "results"
KiB = 1024
MiB = 1024 * KiB
GiB = 1024 * MiB

#: Distributions whose versions explain the numbers (missing ones are reported as such).
_VERSIONS = (
    "apache-airflow",
    "apache-airflow-providers-amazon",
    "apache-airflow-providers-http",
    "airflow-provider-fauna",
    "aiohttp",
    "requests",
    "boto3",
    "moto",
)


@dataclass
class Target:
    """One promise of the provider, and whether this run kept it."""

    name: str
    met: bool
    detail: str


@dataclass
class Result:
    """What one benchmark measured: a table for people, targets, and the numbers for the JSON file."""

    name: str
    title: str
    headers: list[str]
    rows: list[list[Any]]
    targets: list[Target] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    data: dict[str, Any] = field(default_factory=dict)

    @property
    def all_met(self) -> bool:
        """Whether every target of this benchmark was met."""
        return all(t.met for t in self.targets)

    def to_json(self, mode: str) -> dict[str, Any]:
        """The content of ``results/<name>.json``: the numbers, the verdicts, the machine."""
        return {
            "name": self.name,
            "title": self.title,
            "mode": mode,
            "finished_at": dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds"),
            "machine": machine(),
            "table": {"headers": self.headers, "rows": self.rows},
            "targets": [asdict(t) for t in self.targets],
            "all_targets_met": self.all_met,
            "notes": self.notes,
            **self.data,
        }


def machine() -> dict[str, Any]:
    """The machine and software the numbers come from (the docs page quotes it)."""
    versions: dict[str, str | None] = {}
    for name in _VERSIONS:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            versions[name] = None
    return {
        "nproc": len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count(),
        "memory_gib": round(_meminfo_kib("MemTotal") / KiB / KiB, 1),
        "cpu": _cpu_model(),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "versions": versions,
    }


def _meminfo_kib(key: str) -> int:
    try:
        with open("/proc/meminfo") as info:
            for line in info:
                if line.startswith(key + ":"):
                    return int(line.split()[1])
    except OSError:
        pass
    return 0


def _cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as info:
            for line in info:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown"


def _plain(value: Any) -> Any:
    """JSON-ready: NaN (a figure not measured in this run) becomes ``null``, keys become strings."""
    if isinstance(value, float) and math.isnan(value):
        return None
    if isinstance(value, dict):
        return {str(k): _plain(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_plain(v) for v in value]
    return value


def write_result(result: Result, mode: str, results_dir: Path = RESULTS_DIR) -> Path:
    """Write ``<results_dir>/<name>.json`` and return its path."""
    results_dir.mkdir(parents=True, exist_ok=True)
    path = results_dir / f"{result.name}.json"
    path.write_text(json.dumps(_plain(result.to_json(mode)), indent=2, default=str, allow_nan=False) + "\n")
    return path


def _cell(value: Any) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "-"
    if isinstance(value, float):
        return f"{value:.2f}"
    return str(value)


def render(result: Result) -> str:
    """The result as a plain-text table, its notes and its targets (what the CLI prints)."""
    cells = [[_cell(v) for v in row] for row in result.rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(result.headers)
    ]
    line = "  ".join("-" * w for w in widths)
    out = [result.title, "=" * len(result.title), ""]
    out.append("  ".join(h.ljust(w) for h, w in zip(result.headers, widths, strict=True)))
    out.append(line)
    for row in cells:
        out.append(
            "  ".join(
                c.rjust(w) if i else c.ljust(w) for i, (c, w) in enumerate(zip(row, widths, strict=True))
            )
        )
    out.append("")
    for note in result.notes:
        out.append(f"note: {note}")
    for target in result.targets:
        out.append(f"[{'met' if target.met else 'MISSED'}] {target.name}: {target.detail}")
    return "\n".join(out) + "\n"


def render_rst(result: Result) -> str:
    """The table as reStructuredText (``list-table``), for ``docs/performance.rst``."""
    out = [f".. list-table:: {result.title}", "   :header-rows: 1", ""]
    for row in [result.headers, *[[_cell(v) for v in r] for r in result.rows]]:
        for j, cell in enumerate(row):
            out.append(f"   {'* -' if j == 0 else '  -'} {cell}")
    out.append("")
    for target in result.targets:
        out.append(f"* **{'met' if target.met else 'missed'}**: {target.name}: {target.detail}")
    return "\n".join(out) + "\n"


def ratio(numerator: float, denominator: float) -> float | None:
    """``numerator / denominator``, or ``None`` when either is missing (NaN) or the baseline is zero."""
    if math.isnan(numerator) or math.isnan(denominator) or not denominator:
        return None
    return numerator / denominator


def median(values: list[float]) -> float:
    """The median (the middle run of a noisy machine, not its luckiest)."""
    ordered = sorted(values)
    mid = len(ordered) // 2
    return ordered[mid] if len(ordered) % 2 else (ordered[mid - 1] + ordered[mid]) / 2


def rst_from_results(results_dir: Path = RESULTS_DIR) -> str:
    """The last run's results as reStructuredText: the machine, then each table with its targets.

    ``python -m benchmarks.report`` prints it, for ``docs/performance.rst``.
    """
    out: list[str] = []
    loaded = []
    for name in ("transfer_memory", "transfer_speed", "triggerer_scale", "api_economy"):
        path = results_dir / f"{name}.json"
        if path.exists():
            loaded.append(json.loads(path.read_text()))
    if not loaded:
        return f"no results in {results_dir}\n"
    first = loaded[0]["machine"]
    versions = first["versions"]
    out += [
        f"Machine: {first['nproc']} CPUs ({first['cpu']}), {first['memory_gib']} GiB, Python {first['python']}, "
        f"Airflow {versions.get('apache-airflow')}, amazon provider {versions.get('apache-airflow-providers-amazon')}, "
        f"aiohttp {versions.get('aiohttp')}, boto3 {versions.get('boto3')}, moto {versions.get('moto')}; "
        f"run ({loaded[0]['mode']}) finished {max(d['finished_at'] for d in loaded)}.",
        "",
    ]
    for data in loaded:
        result = Result(
            name=data["name"],
            title=data["title"],
            headers=data["table"]["headers"],
            rows=data["table"]["rows"],
            targets=[Target(**t) for t in data["targets"]],
        )
        out.append(render_rst(result))
    return "\n".join(out)


if __name__ == "__main__":
    import sys

    sys.stdout.write(rst_from_results(Path(sys.argv[1]) if len(sys.argv) > 1 else RESULTS_DIR))
