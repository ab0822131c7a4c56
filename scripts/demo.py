"""``make demo``: the real pipeline, locally, for three days, narrated, then everything stopped.

It starts the Fauna emulator and a local S3 server (moto) as their own processes, gives Airflow
the two connections through environment variables, and runs the example DAG
``example_fauna_logs_to_s3`` through Airflow itself for 2026-11-01 to 2026-11-03: the
``airflow dags test`` command, once per day (request, deferred wait with the trigger run
inline, as ``dags test`` does, streaming copy). While it runs, it tells each step as Airflow
logs it: task states, the export's states, the bytes copied, where the object landed. Then it
lists the objects and shows a record. The full Airflow output is kept in a log file.

Nothing here is special to the demo but the hosts and one setting the DAG reads,
``FAUNA_LOGS_POLL_SECONDS``: the DAG file is the example users copy.

Why the three ``dags test`` commands run in one interpreter (``--airflow`` below): each new
``airflow`` process spends seconds importing Airflow and starting its in-process execution
API; one process pays that once, which keeps the demo under a minute.
"""

from __future__ import annotations

import gzip
import json
import os
import re
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from contextlib import ExitStack
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Callable

REPO = Path(__file__).resolve().parent.parent
DAG_ID = "example_fauna_logs_to_s3"
DAYS = ["2026-11-02", "2026-11-03", "2026-11-04"]  # each run covers the day before
BUCKET = "fauna-demo-logs"
KEY = "fnacapi_demo_key"
BIN = Path(sys.executable).parent

#: What to tell, as Airflow logs it: (pattern on a log line, what to print from its groups).
STORY: list[tuple[re.Pattern[str], str]] = [
    # Airflow warns twice while it creates the asset a new object's alias event names (its usual
    # path for an alias); the demo tells what happened instead.
    (
        re.compile(r"AssetModel .*?uri='([^']+)'.* not found; cannot create asset event"),
        "    asset event for {0}",
    ),
    (re.compile(r"Emitting event for inactive AssetModel"), ""),
    # Airflow's other warnings and errors are shown as they are: the demo hides nothing wrong.
    (re.compile(r"\[(warning|error|critical)\s*\]\s*(.*)"), "  Airflow {0}: {1}"),
    (re.compile(r"\[DAG TEST\] starting task_id=(\S+)"), "  {0}: running"),
    (re.compile(r"Fauna log request (\d+) for (\S+) is (\w+)\."), "    export {0} of {1} submitted: {2}"),
    (re.compile(r"Pausing task as DEFERRED"), "    deferred: the wait moves to the trigger"),
    (
        re.compile(r"\[DAG TEST\] running trigger in line"),
        "    trigger polling the export (in line: dags test is its triggerer)",
    ),
    (re.compile(r"Fauna log request (\d+) is (\w+)\."), "    export {0}: {1}"),
    (
        re.compile(r"\[DAG TEST\] Trigger completed"),
        "    trigger fired: the export finished, the wait resumes on a worker",
    ),
    (re.compile(r"Copying the log file of .* to (\S+)\.\s"), "    streaming the file to {0}"),
    (re.compile(r"Stored (\S+): (\d+) bytes, md5 (\w+)"), "    copied {1} bytes (md5 {2}) to {0}"),
    (re.compile(r"new_state=(success|failed|up_for_retry|skipped)"), "    -> {0}"),
    (re.compile(r"DagRun Finished: .*logical_date=(\S+ \S+), .*state=(\w+)"), "  run of {0}: {1}"),
]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def launch(stack: ExitStack, argv: list[str], log: Path) -> subprocess.Popen[bytes]:
    """Start a server process that is stopped when the demo ends."""
    out = open(log, "w")  # noqa: SIM115 - closed by the ExitStack
    stack.callback(out.close)
    process = subprocess.Popen(argv, stdout=out, stderr=subprocess.STDOUT)

    def stop() -> None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()

    stack.callback(stop)
    return process


def wait_ready(process: subprocess.Popen[bytes], url: str, log: Path) -> None:
    """Return once the server at ``url`` answers; fail if it exits or takes a minute."""
    import requests

    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{log.stem} exited early; see {log}")
        try:
            requests.get(url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.1)
    raise SystemExit(f"{log.stem} did not start within 60 s; see {log}")


def narrate(line: str) -> str | None:
    """The story line for one line of Airflow's output, or ``None`` for the rest."""
    for pattern, template in STORY:
        found = pattern.search(line)
        if found:
            return template.format(*found.groups()) or None
    return None


def run_airflow(env: dict[str, str], log: Path, started: float, prepare: Callable[[], None]) -> None:
    """Run the CLI steps in one child interpreter; tell the story; keep everything in ``log``.

    The child migrates the database while ``prepare`` (in a thread) waits for the servers; it
    runs the DAG once ``prepare`` is done.
    """
    argv = [sys.executable, __file__, "--airflow", DAG_ID, *DAYS]
    with open(log, "w") as out:
        process = subprocess.Popen(
            argv,
            env=env,
            cwd=REPO,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert process.stdin is not None and process.stdout is not None
        failure: list[BaseException] = []

        def prepare_then_go() -> None:
            try:
                prepare()
                process.stdin.write("go\n")  # type: ignore[union-attr]
                process.stdin.flush()  # type: ignore[union-attr]
            except BaseException as err:
                failure.append(err)
                process.kill()

        threading.Thread(target=prepare_then_go, daemon=True).start()
        for line in process.stdout:
            out.write(line)
            if line.startswith("$ airflow"):
                print(f"\n{line.rstrip()}", flush=True)
            elif (story := narrate(line)) is not None:
                print(f"[{time.monotonic() - started:5.1f} s] {story}", flush=True)
    if failure:
        raise failure[0]
    if process.wait() != 0:
        raise SystemExit(f"Airflow failed; its whole output is in {log}")


def airflow_commands(dag_id: str, days: list[str]) -> int:
    """``airflow db migrate``, then ``airflow dags test DAG DAY`` per day, in this interpreter.

    Between the two, it waits for a line on stdin: the parent's word that the servers are up.
    """
    import warnings

    # `dags test` can render the run as an image, which needs graphviz; the demo never asks it to.
    warnings.filterwarnings("ignore", message="Could not import graphviz")
    from airflow.cli.cli_parser import get_parser

    parser = get_parser()
    for command in (["db", "migrate"], *(["dags", "test", dag_id, day] for day in days)):
        if command[0] == "dags" and command[-1] == days[0] and not sys.stdin.readline():
            return 1  # the parent gave up
        print("$ airflow " + " ".join(command), flush=True)
        args = parser.parse_args(command)
        args.func(args)
    return 0


def main() -> int:
    import boto3
    from cryptography.fernet import Fernet

    started = time.monotonic()
    work = Path(tempfile.mkdtemp(prefix="fauna-demo-"))
    fauna_port, s3_port = free_port(), free_port()
    fauna_url, s3_url = f"http://127.0.0.1:{fauna_port}", f"http://127.0.0.1:{s3_port}"
    with ExitStack() as stack:
        say(f"Starting the Fauna emulator on {fauna_url} and a local S3 (moto) on {s3_url}")
        emulator = [sys.executable, "-m", "fauna_emulator", "--port", str(fauna_port), "--key", KEY]
        # An export completes 2 s after it is submitted (a real one takes minutes); the test of
        # the demo sets more, so that a loaded machine still sees each wait defer.
        delay = os.environ.get("FAUNA_DEMO_COMPLETION_DELAY", "2")
        emulator += ["--completion-delay", delay, "--quiet"]
        fauna_log, s3_log = work / "fauna-emulator.log", work / "moto-s3.log"
        fauna = launch(stack, emulator, fauna_log)
        moto = launch(stack, [str(BIN / "moto_server"), "-p", str(s3_port)], s3_log)
        s3 = boto3.client(
            "s3",
            endpoint_url=s3_url,
            aws_access_key_id="demo-access-key",
            aws_secret_access_key="demo-secret-key",
            region_name="us-east-1",
        )

        def prepare() -> None:
            wait_ready(fauna, f"{fauna_url}/_emulator/health", fauna_log)
            wait_ready(moto, s3_url, s3_log)
            s3.create_bucket(Bucket=BUCKET)
            print(
                f"[{time.monotonic() - started:5.1f} s] Fauna emulator and S3 up; bucket {BUCKET} created",
                flush=True,
            )

        env = {
            **os.environ,
            "AIRFLOW_HOME": str(work / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "INFO",
            # As a deployment would: connections and variables stored encrypted (without a key
            # Airflow warns that they are not).
            "AIRFLOW__CORE__FERNET_KEY": Fernet.generate_key().decode(),
            # The example DAG's wait polls once a minute, as suits a real export; the emulator
            # finishes in 2 s, so the demo asks for a poll a second (the DAG reads this variable).
            "FAUNA_LOGS_POLL_SECONDS": "1",
            # The only lines that change for the real service: host, key and the AWS connection.
            "AIRFLOW_CONN_FAUNA_DEFAULT": json.dumps(
                {"conn_type": "fauna", "host": fauna_url, "password": KEY}
            ),
            "AIRFLOW_CONN_AWS_DEFAULT": json.dumps(
                {
                    "conn_type": "aws",
                    "login": "demo-access-key",
                    "password": "demo-secret-key",
                    "extra": {"region_name": "us-east-1", "endpoint_url": s3_url},
                }
            ),
            "AIRFLOW_VAR_FAUNA_LOGS_S3_BUCKET": BUCKET,
        }
        log = work / "airflow.log"
        say(
            f"Running {DAG_ID} through Airflow for three days (request -> deferred wait -> "
            f"streaming copy to S3); Airflow's full output goes to {log}"
        )
        run_airflow(env, log, started, prepare)

        say(f"What landed in s3://{BUCKET}")
        objects = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        for obj in objects:
            print(f"  s3://{BUCKET}/{obj['Key']}  ({obj['Size']:,} bytes)")
        if len(objects) != len(DAYS):
            print(f"Expected {len(DAYS)} objects, found {len(objects)}: the demo failed. See {log}.")
            return 1
        first = s3.get_object(Bucket=BUCKET, Key=objects[0]["Key"])
        lines = gzip.decompress(first["Body"].read()).decode().splitlines()
        print(f"\n  {objects[0]['Key']} holds {len(lines)} query log records; the first one:")
        print("  " + json.dumps(json.loads(lines[0]), indent=2).replace("\n", "\n  "))
        print(
            "\n  The date= folders are partitions that Athena, BigQuery and DuckDB read as a column "
            "(docs/guides/data-lake.rst)."
            "\n  For the real service: set AIRFLOW_CONN_FAUNA_DEFAULT to your account key (host "
            "https://account.fauna.com), point aws_default at your AWS account, and set the Variable "
            "fauna_logs_s3_bucket. Nothing in the DAG changes."
        )
    shutil.rmtree(work, ignore_errors=True)
    say(f"Done in {time.monotonic() - started:.0f} s: every server the demo started is stopped.")
    return 0


if __name__ == "__main__":
    if sys.argv[1:2] == ["--airflow"]:
        raise SystemExit(airflow_commands(sys.argv[2], sys.argv[3:]))
    raise SystemExit(main())
