"""Measured work runs in fresh subprocesses: how they are started, and how they measure memory.

Why a fresh process per measurement: a process's peak memory never comes down, and imports,
caches and allocator arenas of an earlier copy would blur the next one. Each worker prints one
JSON line, marked with :data:`RESULT_MARK`, with what it measured; :func:`run_worker` returns it
(log lines around it do not matter).

Memory is read from ``/proc/self/status``: ``VmRSS`` just before the measured work, and the
peak ``VmHWM`` after it, the peak having been reset first by writing ``5`` to
``/proc/self/clear_refs`` (Linux 4.0+). Where that reset is refused, the process's lifetime
peak (``ru_maxrss``) stands in, which can only overstate the figure.
"""

from __future__ import annotations

import contextlib
import gc
import importlib.util
import json
import os
import re
import resource
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from collections.abc import Iterator

REPO_ROOT = Path(__file__).resolve().parent.parent
#: The prefix of a worker's result line on stdout.
RESULT_MARK = "BENCHMARK-RESULT "
#: Settings that would make a worker depend on the developer's shell; removed from its environment.
_SCRUBBED_PREFIXES = ("AIRFLOW__", "AIRFLOW_CONN_", "AIRFLOW_VAR_")
_SCRUBBED = (
    "AIRFLOW_HOME",
    "AIRFLOW_CONFIG",
    "AWS_PROFILE",
    "AWS_CONFIG_FILE",
    "AWS_SHARED_CREDENTIALS_FILE",
)


def _status_kib(field: str) -> int:
    with open("/proc/self/status") as status:
        match = re.search(rf"^{field}:\s+(\d+) kB", status.read(), re.MULTILINE)
    if match is None:
        raise RuntimeError(f"/proc/self/status has no {field}")
    return int(match.group(1))


def rss_bytes() -> int:
    """The resident set size now."""
    return _status_kib("VmRSS") * 1024


class PeakMeter:
    """The peak RSS of a stretch of work, above the RSS just before it began."""

    def __init__(self) -> None:
        self.before = 0
        self.peak = 0
        self.peak_was_reset = False

    def start(self) -> None:
        """Collect garbage, note the RSS, and reset the kernel's peak so it starts from here."""
        gc.collect()
        self.before = rss_bytes()
        try:
            with open("/proc/self/clear_refs", "w") as clear:
                clear.write("5")
            self.peak_was_reset = True
        except OSError:
            self.peak_was_reset = False

    def stop(self) -> None:
        """Read the peak since :meth:`start`."""
        if self.peak_was_reset:
            self.peak = _status_kib("VmHWM") * 1024
        else:
            self.peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024

    @property
    def above(self) -> int:
        """Peak minus the RSS before: what the work itself needed."""
        return max(0, self.peak - self.before)


@contextlib.contextmanager
def profiled(path: str | None) -> Iterator[None]:
    """Profile the block into ``path`` (pyinstrument's text view if installed, else cProfile's), or not at all.

    Profiling slows the work down and inflates its CPU time: a profiled run's figures are not
    results, only a map of where the time goes.
    """
    if not path:
        yield
        return
    if importlib.util.find_spec("pyinstrument") is not None:
        from pyinstrument import Profiler

        profiler = Profiler(interval=0.0005, async_mode="disabled")
        profiler.start()
        try:
            yield
        finally:
            profiler.stop()
            Path(path).write_text(profiler.output_text(unicode=False, color=False, show_all=True))
        return
    import cProfile
    import pstats

    cprofile = cProfile.Profile()
    cprofile.enable()
    try:
        yield
    finally:
        cprofile.disable()
        with open(path, "w") as out:
            pstats.Stats(cprofile, stream=out).sort_stats("cumulative").print_stats(60)


def split_cpus() -> tuple[set[int], set[int]] | None:
    """Two disjoint sets of CPUs, for the measured worker and for the server it talks to.

    Why: on a two-core machine a busy server process and the measured one would take turns on
    the same core, and the measured event loop would look stalled while it merely waited for
    the CPU. ``None`` when there is only one CPU (then nothing is pinned).
    """
    if not hasattr(os, "sched_getaffinity"):
        return None
    available = sorted(os.sched_getaffinity(0))
    if len(available) < 2:
        return None
    half = len(available) // 2
    return set(available[:half]), set(available[half:])


def worker_env(airflow_home: Path, connections: dict[str, str]) -> dict[str, str]:
    """A worker's environment: ours minus Airflow and AWS settings, plus a throwaway home and connections.

    :param connections: conn id to its JSON, e.g. ``{"fauna_default": ...}``; each becomes
        ``AIRFLOW_CONN_<ID>``, the only place the workers' connections come from.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(_SCRUBBED_PREFIXES) and k not in _SCRUBBED}
    env.update(
        {
            "AIRFLOW_HOME": str(airflow_home),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
            "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
            "AWS_EC2_METADATA_DISABLED": "true",
            "NO_COLOR": "1",
            "PYTHONPATH": os.pathsep.join(p for p in (str(REPO_ROOT), os.environ.get("PYTHONPATH")) if p),
        }
    )
    for conn_id, conn_json in connections.items():
        env[f"AIRFLOW_CONN_{conn_id.upper()}"] = conn_json
    return env


def run_worker(
    module: str, args: list[str], env: dict[str, str], timeout: float, cpus: set[int] | None = None
) -> dict[str, Any]:
    """Run ``python -m benchmarks.<module> ARGS`` and return the JSON of its result line.

    Its log output is kept in a temporary file and shown only when it fails.

    :param cpus: run the worker on these CPUs only (see :func:`split_cpus`).
    """
    with tempfile.TemporaryFile("w+") as errors:
        try:
            done = subprocess.run(
                [sys.executable, "-m", f"benchmarks.{module}", *args],
                env=env,
                cwd=REPO_ROOT,
                stdout=subprocess.PIPE,
                stderr=errors,
                text=True,
                timeout=timeout,
                check=False,
                preexec_fn=(lambda: os.sched_setaffinity(0, cpus)) if cpus else None,
            )
        except subprocess.TimeoutExpired:
            errors.seek(0)
            raise RuntimeError(
                f"benchmarks.{module} {' '.join(args)} ran over {timeout:g} s:\n{errors.read()[-4000:]}"
            ) from None
        errors.seek(0)
        log = errors.read()
    lines = [line[len(RESULT_MARK) :] for line in done.stdout.splitlines() if line.startswith(RESULT_MARK)]
    if done.returncode != 0 or not lines:
        raise RuntimeError(
            f"benchmarks.{module} {' '.join(args)} failed with status {done.returncode}:\n"
            f"{done.stdout[-2000:]}\n{log[-4000:]}"
        )
    return dict(json.loads(lines[-1]))


def emit(result: dict[str, Any]) -> None:
    """A worker's answer: one marked JSON line on stdout, flushed."""
    sys.stdout.write(RESULT_MARK + json.dumps(result) + "\n")
    sys.stdout.flush()
