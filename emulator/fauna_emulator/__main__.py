"""Command line: run the emulator as its own process (the demo and the benchmarks do).

``python -m fauna_emulator --port 8765 --key fnacapi_demo`` (or the console
script ``fauna-emulator``). Keys also come from ``FAUNA_EMULATOR_KEYS`` (comma-separated).
Prints the URL and a ready-to-paste ``AIRFLOW_CONN_FAUNA_DEFAULT`` line, logs each call, and
stops cleanly on SIGINT or SIGTERM.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

from fauna_emulator.emulator import FaunaEmulator
from fauna_emulator.faults import FaultConfig

if TYPE_CHECKING:
    from collections.abc import Sequence
    from types import FrameType

KEYS_ENV = "FAUNA_EMULATOR_KEYS"
#: A ``link_template`` for the provider's connection: the emulator's page of one request.
EMULATOR_LINK_TEMPLATE = "{api_url}/_emulator/requests/{request_id}"


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fauna-emulator", description="Run a local Fauna Account API emulator (query logs, OAuth apps)."
    )
    parser.add_argument("--host", default="127.0.0.1", help="interface to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=8765, help="port (0 = any free port; default 8765)")
    parser.add_argument("--key", action="append", default=[], help="accepted account key secret (repeatable)")
    parser.add_argument(
        "--completion-delay", type=float, default=2.0, help="seconds until a log request ends"
    )
    parser.add_argument("--url-ttl", type=float, default=3600.0, help="presigned URL lifetime in seconds")
    parser.add_argument("--records", type=int, default=200, help="query log records per generated file")
    parser.add_argument("--cache-dir", default=None, help="keep generated files here across runs")
    parser.add_argument("--seed", type=int, default=0, help="seed of ids, file contents and faults")
    parser.add_argument("--quiet", action="store_true", help="do not log each call")
    parser.add_argument(
        "--no-status-urls",
        action="store_true",
        help="answer status reads and lists without presigned_url, as the reference's GET sample",
    )
    faults = parser.add_argument_group("fault injection (ratios 0..1)")
    faults.add_argument("--fault-429", type=float, default=0.0, dest="rate_limit_ratio")
    faults.add_argument("--retry-after", type=int, default=1, help="Retry-After seconds of a 429")
    faults.add_argument("--fault-5xx", type=float, default=0.0, dest="server_error_ratio")
    faults.add_argument("--fault-drop", type=float, default=0.0, dest="drop_ratio")
    faults.add_argument("--fault-slow", type=float, default=0.0, dest="slow_ratio")
    faults.add_argument("--slow-seconds", type=float, default=1.0)
    faults.add_argument("--fault-early-expiry", type=float, default=0.0, dest="early_expiry_ratio")
    for state in ("Failed", "TimedOut", "DoesNotExist"):
        faults.add_argument(f"--outcome-{state.lower()}", type=float, default=0.0, help=f"ratio of {state}")
    return parser


def _faults(args: argparse.Namespace) -> FaultConfig:
    outcomes = {
        state: ratio
        for state in ("Failed", "TimedOut", "DoesNotExist")
        if (ratio := getattr(args, f"outcome_{state.lower()}"))
    }
    return FaultConfig(
        rate_limit_ratio=args.rate_limit_ratio,
        retry_after=args.retry_after,
        server_error_ratio=args.server_error_ratio,
        drop_ratio=args.drop_ratio,
        slow_ratio=args.slow_ratio,
        slow_seconds=args.slow_seconds,
        early_expiry_ratio=args.early_expiry_ratio,
        outcome_ratios=outcomes,
    )


def main(argv: Sequence[str] | None = None) -> int:
    """Run until SIGINT/SIGTERM; exit status 0 on a clean stop, 2 on bad arguments."""
    parser = _parser()
    args = parser.parse_args(argv)
    keys = [*args.key, *(k.strip() for k in os.environ.get(KEYS_ENV, "").split(",") if k.strip())]
    if not keys:
        parser.error(f"give at least one account key with --key or {KEYS_ENV}")
    try:
        faults = _faults(args)
    except ValueError as exc:
        parser.error(str(exc))
    logging.basicConfig(
        level=logging.WARNING if args.quiet else logging.INFO,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    emulator = FaunaEmulator(
        keys=keys,
        host=args.host,
        port=args.port,
        completion_delay=args.completion_delay,
        url_ttl=args.url_ttl,
        records_per_file=args.records,
        faults=faults,
        file_cache_dir=args.cache_dir,
        seed=args.seed,
    )
    emulator.status_urls = not args.no_status_urls
    stop = threading.Event()

    def _on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGINT, _on_signal)
    signal.signal(signal.SIGTERM, _on_signal)
    emulator.start()
    # The extra sends the provider's "Fauna log request" link to this emulator's request page.
    connection = {
        "conn_type": "fauna",
        "host": emulator.url,
        "password": keys[0],
        "extra": {"link_template": EMULATOR_LINK_TEMPLATE},
    }
    print(f"Fauna emulator listening on {emulator.url}", flush=True)
    # With ``export``: pasted without it, the variable stays in the shell and airflow never sees it.
    print(f"export AIRFLOW_CONN_FAUNA_DEFAULT='{json.dumps(connection)}'", flush=True)
    try:
        while not stop.wait(0.5):
            pass
    finally:
        emulator.stop()
    print("Fauna emulator stopped", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
