"""``python -m benchmarks``: run the benchmarks, print their tables, write ``benchmarks/results/*.json``.

Usage::

    python -m benchmarks                 # all four, about 9 minutes once the files are cached
    python -m benchmarks --quick         # smaller sizes and fleets, about 2 minutes
    python -m benchmarks --only triggerer_scale --only api_economy
    python -m benchmarks --strict        # exit 1 if a target is missed

``api_economy`` waits in real time (up to five minutes for its longest request) while making a
few calls a second at most, so it starts first and runs alongside the others; its table comes
last. ``--size smoke`` (seconds; for the smoke test) runs everything at once: its figures
mean nothing, it only proves that every benchmark runs and writes its file. The exit status is 0 when every benchmark ran (and, with ``--strict``, met its targets),
1 when a target was missed under ``--strict``, 2 when a benchmark failed to run.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any

from benchmarks import api_economy, transfer, triggerer
from benchmarks.report import RESULTS_DIR, Result, render, write_result

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence

NAMES = ("transfer_memory", "transfer_speed", "triggerer_scale", "api_economy")
SIZES = ("full", "quick", "smoke")


def _say(text: str) -> None:
    sys.stderr.write(f"[{time.strftime('%H:%M:%S')}] {text}\n")
    sys.stderr.flush()


def run_transfer(size: str, cache_dir: Path, say: Callable[[str], None]) -> list[Result]:
    """``transfer_memory`` and ``transfer_speed``, from one set of copies."""
    plan = getattr(transfer.Plan, size)()
    runs, sizes = transfer.run_copies(plan, cache_dir, say)
    return [transfer.memory_result(plan, runs, sizes), transfer.speed_result(plan, runs, sizes)]


def run_triggerer(size: str, say: Callable[[str], None]) -> list[Result]:
    """``triggerer_scale``."""
    plan = getattr(triggerer.Plan, size)()
    return [triggerer.result(plan, triggerer.run_fleets(plan, say))]


def run_api_economy(size: str, say: Callable[[str], None]) -> list[Result]:
    """``api_economy``."""
    plan = getattr(api_economy.Plan, size)()
    return [api_economy.result(plan, api_economy.run_cases(plan, say))]


class _Background(threading.Thread):
    """A benchmark run on a thread while the others run; its results (or error) kept for later."""

    def __init__(self, work: Callable[[], list[Result]]) -> None:
        super().__init__(name="benchmark-background", daemon=True)
        self._work = work
        self.results: list[Result] = []
        self.error: BaseException | None = None

    def run(self) -> None:
        try:
            self.results = self._work()
        except BaseException as err:  # reported by the main thread
            self.error = err


def main(argv: Sequence[str] | None = None) -> int:
    """Run the chosen benchmarks; see the module docstring for the exit status."""
    parser = argparse.ArgumentParser(prog="python -m benchmarks", description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--quick", action="store_const", const="quick", dest="size", help="same as --size quick"
    )
    parser.add_argument("--size", choices=SIZES, help="full (default), quick, or smoke (seconds; for tests)")
    parser.set_defaults(size="full")
    parser.add_argument("--only", action="append", choices=NAMES, help="run only these (repeatable)")
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument(
        "--cache-dir",
        type=Path,
        default=None,
        help="where generated log files are kept between runs (default: $FAUNA_BENCH_CACHE or ~/.cache/...)",
    )
    parser.add_argument("--strict", action="store_true", help="exit 1 when a target is missed")
    args = parser.parse_args(argv)
    chosen = set(args.only or NAMES)
    cache_dir = args.cache_dir or transfer.default_cache_dir()
    started = time.monotonic()
    _say(f"benchmarks ({args.size}): {', '.join(n for n in NAMES if n in chosen)}")

    results: list[Result] = []
    failures: list[str] = []

    def finish(batch: list[Result]) -> None:
        for result in batch:
            if result.name not in chosen:
                continue
            path = write_result(result, args.size, args.results_dir)
            sys.stdout.write("\n" + render(result) + f"(written to {path})\n")
            sys.stdout.flush()
            results.append(result)

    # api_economy waits in real time and makes a few calls a second: it runs alongside the
    # others. A smoke run's figures mean nothing, so there everything runs at once.
    jobs: list[tuple[str, Callable[[], list[Result]]]] = []
    if chosen & {"transfer_memory", "transfer_speed"}:
        jobs.append(("transfer", lambda: run_transfer(args.size, cache_dir, _say)))
    if "triggerer_scale" in chosen:
        jobs.append(("triggerer_scale", lambda: run_triggerer(args.size, _say)))
    background: list[tuple[str, _Background]] = []
    if "api_economy" in chosen:
        background.append(("api_economy", _Background(lambda: run_api_economy(args.size, _say))))
    if args.size == "smoke":
        background += [(name, _Background(work)) for name, work in jobs]
        jobs = []
    for name, thread in background:
        _say(f"{name} starts in the background")
        thread.start()
    for name, work in jobs:
        _say(f"{name} ...")
        try:
            finish(work())
        except Exception:
            failures.append(name)
            _say(f"{name} FAILED:\n{traceback.format_exc()}")
    for name, thread in background:
        _say(f"waiting for {name} ...")
        thread.join()
        if thread.error is not None:
            failures.append(name)
            _say(f"{name} FAILED: {''.join(traceback.format_exception(thread.error))}")
        else:
            finish(thread.results)

    missed = [f"{r.name}: {t.name}" for r in results for t in r.targets if not t.met]
    summary: list[Any] = [f"\n{len(results)} benchmark(s) in {time.monotonic() - started:.0f} s"]
    summary += [f"  target missed: {m}" for m in missed] or ["  every target met"]
    summary += [f"  FAILED to run: {f}" for f in failures]
    sys.stdout.write("\n".join(summary) + "\n")
    if failures:
        return 2
    return 1 if (args.strict and missed) else 0


if __name__ == "__main__":
    sys.exit(main())
