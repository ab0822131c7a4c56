"""Benchmarks 1 and 2: the memory and the speed of copying a log file into S3.

One set of copies serves both: for each file size, an emulator process serves a file of that
size (its ``--records``, computed from a measured bytes-per-record), an S3 server (another
process: moto's, then s3rver) receives it, and each copy runs in a fresh process (:mod:`benchmarks.copy_worker`)
that reports its peak RSS above the RSS just before the copy, its time and its CPU.

* **Memory** (``transfer_memory``): ``FaunaLogsToS3Operator`` against ``HttpToS3Operator``,
  which holds the whole body. Targets: ours flat (from 64 MiB up, the largest peak within 10%
  of the smallest) and under 128 MiB; the baseline grows with the file.
* **Speed** (``transfer_speed``): throughput of ``FaunaLogsToS3Operator`` as a ratio of a bare
  ``requests`` stream into ``upload_fileobj`` through the same two servers; the median of the
  repeats, the tools taking turns so that a noisy moment hits them alike. Target: >= 0.95. The
  operator also runs with ``verify_gzip=True``, to show what a forced gzip check costs.

Generated files are cached on disk (``--cache-dir``), so only the first run pays for building
them (about a minute and a half for the 1 GiB file on two cores).
"""

from __future__ import annotations

import itertools
import json
import math
import os
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks.copy_worker import HTTP_CONN_ID, TOOLS
from benchmarks.proc import run_worker, split_cpus, worker_env
from benchmarks.report import GiB, MiB, Result, Target, median, ratio
from benchmarks.servers import emulator_process, s3_process

if TYPE_CHECKING:
    from collections.abc import Callable

    from benchmarks.servers import Emulator, S3Server

BUCKET = "fauna-benchmark"
#: Records of the file whose size gives the bytes per record.
CALIBRATION_RECORDS = 100_000
#: How long the emulator may take to build a file (the first run builds the 1 GiB one).
BUILD_TIMEOUT = 900.0
#: How long one copy may take before the run is declared stuck.
COPY_TIMEOUT = 900.0
MEMORY_FLATNESS = 0.10
#: Flatness is judged on files of this size and up (the full run's 64 MiB, 256 MiB, 1 GiB).
FLAT_FROM_MIB = 64
MEMORY_CEILING = 128 * MiB
SPEED_FLOOR = 0.95


@dataclass(frozen=True)
class Plan:
    """Which files to copy and how often; the baseline operator runs once per size (memory only)."""

    sizes_mib: tuple[int, ...]
    repeats: dict[int, int]
    tools: tuple[str, ...] = TOOLS
    servers: tuple[str, ...] = ("moto", "s3rver")

    @classmethod
    def full(cls) -> Plan:
        """256 MiB and 1 GiB, three alternating runs each, on each S3 server."""
        return cls((256, 1024), {256: 3, 1024: 3})

    @classmethod
    def quick(cls) -> Plan:
        """16 MiB and 64 MiB: about a minute once the files are cached."""
        return cls((16, 64), {16: 2, 64: 2})

    @classmethod
    def smoke(cls) -> Plan:
        """One small file, once, without the forced-gzip-check variant: only proves the machinery works."""
        return cls((6,), {6: 1}, ("bare", "ours", "http_to_s3"))


def default_cache_dir() -> Path:
    """``$FAUNA_BENCH_CACHE``, else ``$XDG_CACHE_HOME/airflow-provider-fauna-benchmarks`` (``~/.cache``)."""
    if os.environ.get("FAUNA_BENCH_CACHE"):
        return Path(os.environ["FAUNA_BENCH_CACHE"])
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return Path(base) / "airflow-provider-fauna-benchmarks"


def bytes_per_record(cache_dir: Path, say: Callable[[str], None]) -> float:
    """Measure the gzip bytes of one record once (kept in the cache next to the files)."""
    from fauna_emulator.logfile import FORMAT_VERSION

    path = cache_dir / "calibration.json"
    try:
        known = json.loads(path.read_text())
        if known["format"] == FORMAT_VERSION and known["records"] == CALIBRATION_RECORDS:
            return float(known["bytes"]) / CALIBRATION_RECORDS
    except (OSError, ValueError, KeyError):
        pass
    say(f"measuring bytes per record with a file of {CALIBRATION_RECORDS} records")
    with emulator_process(records=CALIBRATION_RECORDS, cache_dir=cache_dir) as emulator:
        size = _file_size(emulator, _complete_request(emulator))
    path.write_text(json.dumps({"format": FORMAT_VERSION, "records": CALIBRATION_RECORDS, "bytes": size}))
    return size / CALIBRATION_RECORDS


def _complete_request(emulator: Emulator) -> dict[str, Any]:
    request = emulator.submit()
    return emulator.wait_complete(request["request_id"], BUILD_TIMEOUT)


def _file_size(emulator: Emulator, request: dict[str, Any]) -> int:
    import urllib.request

    with urllib.request.urlopen(urllib.request.Request(request["presigned_url"], method="HEAD")) as answer:
        return int(answer.headers["Content-Length"])


def run_copies(
    plan: Plan, cache_dir: Path, say: Callable[[str], None]
) -> tuple[list[dict[str, Any]], dict[int, int]]:
    """Every copy of the plan; returns the worker results and the actual size of each file."""
    cache_dir.mkdir(parents=True, exist_ok=True)
    per_record = bytes_per_record(cache_dir, say)
    runs: list[dict[str, Any]] = []
    sizes: dict[int, int] = {}
    # The servers stand in for remote services: on CPUs of their own, their work does not
    # take the copying worker's CPU (as S3 and Fauna do not in a deployment).
    cpus = split_cpus() or (None, None)
    for server in plan.servers:
        with (
            tempfile.TemporaryDirectory(prefix="bench-airflow-home-") as home,
            s3_process(server, cpus[1]) as s3,
        ):
            runs += _copies_to(plan, s3, Path(home), cache_dir, per_record, sizes, say, cpus)
    return runs, sizes


def _copies_to(
    plan: Plan,
    s3: S3Server,
    home: Path,
    cache_dir: Path,
    per_record: float,
    sizes: dict[int, int],
    say: Callable[[str], None],
    cpus: tuple[set[int] | None, set[int] | None],
) -> list[dict[str, Any]]:
    """Every copy of the plan into one S3 server.

    :param cpus: the worker's CPUs and the servers' (``None``: not pinned).
    """
    runs: list[dict[str, Any]] = []
    for size_mib in plan.sizes_mib:
        records = max(1, round(size_mib * MiB / per_record))
        with emulator_process(records=records, cache_dir=cache_dir, cpus=cpus[1]) as emulator:
            started = time.monotonic()
            request = _complete_request(emulator)
            sizes[size_mib] = _file_size(emulator, request)
            say(
                f"{s3.name}, {size_mib} MiB: file of {records} records, {sizes[size_mib] / MiB:.1f} MiB, "
                f"ready in {time.monotonic() - started:.1f} s"
            )
            host, port = emulator.url.split("//", 1)[1].rsplit(":", 1)
            env = worker_env(
                home,
                {
                    "fauna_default": emulator.connection_json(),
                    "aws_default": s3.connection_json(),
                    HTTP_CONN_ID: json.dumps(
                        {"conn_type": "http", "host": host, "port": int(port), "schema": "http"}
                    ),
                },
            )
            for repeat in range(plan.repeats[size_mib]):
                # Take turns: a different tool goes first each time round.
                order = [t for t in plan.tools if repeat == 0 or t != "http_to_s3"]
                order = order[repeat % len(order) :] + order[: repeat % len(order)]
                for tool in order:
                    s3.fresh_bucket(BUCKET)
                    args = [
                        "--tool",
                        tool,
                        "--request-id",
                        request["request_id"],
                        "--url",
                        request["presigned_url"],
                        "--bucket",
                        BUCKET,
                        "--key",
                        f"copy-{uuid.uuid4().hex}.ndjson.gz",
                    ]
                    run = run_worker("copy_worker", args, env, COPY_TIMEOUT, cpus[0])
                    if run["bytes"] != sizes[size_mib]:
                        raise RuntimeError(f"{tool} stored {run['bytes']} bytes of {sizes[size_mib]}")
                    run.update(size_mib=size_mib, repeat=repeat, server=s3.name)
                    runs.append(run)
                    say(
                        f"  {tool:<10} {run['bytes'] / MiB / run['seconds']:7.1f} MiB/s, "
                        f"peak {run['peak_above'] / MiB:7.1f} MiB above {run['rss_before'] / MiB:.0f} MiB"
                    )
    s3.fresh_bucket(BUCKET)
    return runs


def _of(runs: list[dict[str, Any]], server: str, size: int, tool: str) -> list[dict[str, Any]]:
    return [r for r in runs if (r["server"], r["size_mib"], r["tool"]) == (server, size, tool)]


def _cases(plan: Plan) -> list[tuple[str, int]]:
    return [(server, size) for server in plan.servers for size in plan.sizes_mib]


def memory_result(plan: Plan, runs: list[dict[str, Any]], sizes: dict[int, int]) -> Result:
    """``transfer_memory``: the worst peak of each tool at each size and server, and the targets."""
    rows: list[list[Any]] = []
    peaks: dict[str, dict[str, float]] = {tool: {} for tool in plan.tools}
    for server, size in _cases(plan):
        case = f"{server} {size}"
        for tool in plan.tools:
            peaks[tool][case] = max(r["peak_above"] for r in _of(runs, server, size, tool)) / MiB
        rows.append(
            [
                f"{server}, {sizes[size] / MiB:.0f} MiB",
                peaks["ours"][case],
                peaks["http_to_s3"][case],
                peaks["bare"][case],
                ratio(peaks["ours"][case], peaks["http_to_s3"][case]),
            ]
        )
    ours = list(peaks["ours"].values())
    targets = [
        Target(
            "ours under 128 MiB",
            max(ours) < MEMORY_CEILING / MiB,
            f"worst peak {max(ours):.1f} MiB above the pre-copy RSS",
        ),
    ]
    for server in plan.servers:
        # Flat from 64 MiB up: a smaller file is a part or two, too few to fill the pipeline of parts.
        steady = [peaks["ours"][f"{server} {s}"] for s in plan.sizes_mib if s >= FLAT_FROM_MIB]
        base = [peaks["http_to_s3"][f"{server} {s}"] for s in plan.sizes_mib]
        if len(steady) > 1:
            spread = (max(steady) - min(steady)) / min(steady)
            targets.insert(
                0,
                Target(
                    f"ours flat ({server})",
                    spread <= MEMORY_FLATNESS,
                    f"from {FLAT_FROM_MIB} MiB up, the largest peak {max(steady):.1f} MiB is {spread:.0%} "
                    f"above the smallest {min(steady):.1f} MiB (at most {MEMORY_FLATNESS:.0%})",
                ),
            )
        if len(base) > 1:
            targets.append(
                Target(
                    f"baseline grows with the file ({server})",
                    all(b > a for a, b in itertools.pairwise(base)),
                    "HttpToS3Operator peaks " + " < ".join(f"{b:.0f}" for b in base) + " MiB",
                )
            )
    return Result(
        name="transfer_memory",
        title="Transfer memory: peak RSS above the pre-copy RSS, MiB (worst of the runs)",
        headers=["S3 server, file", "FaunaLogsToS3", "HttpToS3 (baseline)", "bare stream", "ours / baseline"],
        rows=rows,
        targets=targets,
        notes=[
            "each copy in a fresh process; emulator and S3 server (moto, s3rver) in processes of their own",
            "FaunaLogsToS3Operator.execute() called directly with a minimal context (no DAG run)",
        ],
        data={"sizes_bytes": {str(k): v for k, v in sizes.items()}, "peaks_mib": peaks, "runs": runs},
    )


def speed_result(plan: Plan, runs: list[dict[str, Any]], sizes: dict[int, int]) -> Result:
    """``transfer_speed``: median throughput of each tool, as a ratio of the bare stream, and CPU per GiB."""
    rows: list[list[Any]] = []
    ratios: dict[str, float | None] = {}
    speeds: dict[str, dict[str, float]] = {tool: {} for tool in TOOLS}
    cpu: dict[str, dict[str, float]] = {tool: {} for tool in TOOLS}
    for server, size in _cases(plan):
        case = f"{server} {size}"
        for tool in TOOLS:
            done = _of(runs, server, size, tool)  # none for a tool the plan leaves out: NaN, shown as "-"
            speeds[tool][case] = median([r["bytes"] / MiB / r["seconds"] for r in done]) if done else math.nan
            cpu[tool][case] = (
                median([r["cpu_seconds"] / (r["bytes"] / GiB) for r in done]) if done else math.nan
            )
        ratios[case] = ratio(speeds["ours"][case], speeds["bare"][case])
        rows.append(
            [
                f"{server}, {sizes[size] / MiB:.0f} MiB",
                len(_of(runs, server, size, "ours")),
                speeds["bare"][case],
                speeds["ours"][case],
                ratios[case],
                ratio(speeds["ours_gzip_check"][case], speeds["bare"][case]),
                ratio(speeds["http_to_s3"][case], speeds["bare"][case]),
                " / ".join(f"{cpu[t][case]:.1f}" for t in ("bare", "ours", "ours_gzip_check")),
            ]
        )
    worst = min((r for r in ratios.values() if r is not None), default=0.0)
    return Result(
        name="transfer_speed",
        title="Transfer speed: MiB/s (median of the runs) and ratio to a bare streaming copy",
        headers=[
            "S3 server, file",
            "runs",
            "bare MiB/s",
            "ours MiB/s",
            "ours / bare",
            "ours, gzip check forced / bare",
            "HttpToS3 / bare",
            "CPU s per GiB: bare / ours / gzip check forced",
        ],
        rows=rows,
        targets=[
            Target(
                f"ours >= {SPEED_FLOOR} x bare",
                worst >= SPEED_FLOOR,
                f"worst ratio {worst:.2f} ("
                + ", ".join(f"{c} MiB {r:.2f}" for c, r in ratios.items() if r is not None)
                + ")",
            )
        ],
        notes=[
            "bare = requests.get(url, stream=True) into boto3 upload_fileobj(resp.raw), client made in the timed part",
            "ours = FaunaLogsToS3Operator.execute() with its defaults: besides copying (S3Hook.load_file_obj), it "
            "reads the request, checks the key is free, aborts uploads left open on it, verifies the size and the "
            "MD5 against the ETag (verify_gzip='auto'), and checks the stored object's size, metadata and ETag",
            "'gzip check forced' = the same with verify_gzip=True (decompresses the whole file); "
            "HttpToS3Operator ran once per size (memory baseline)",
            "the emulator and the S3 server run on half the CPUs, the copy on the other half: "
            "once the copy's CPUs are busy, CPU spent verifying is speed lost",
        ],
        data={
            "speeds_mib_s": speeds,
            "cpu_seconds_per_gib": cpu,
            "ratios": ratios,
            "ratios_gzip_check_forced": {
                c: ratio(speeds["ours_gzip_check"][c], speeds["bare"][c]) for c in speeds["ours"]
            },
        },
    )
