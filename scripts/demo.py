"""``make demo``: the real pipeline, locally, for three days, then everything stopped again.

It starts the Fauna emulator and a local S3 server (moto) as their own processes, gives Airflow
the two connections through environment variables, and runs the example DAG
``example_fauna_logs_to_s3`` through Airflow itself (``airflow dags test``, one run per day,
deferral included) for 2026-11-01 to 2026-11-03. Then it lists the objects that landed, shows
the first records of one of them, and tells how to run the same DAG against the real service.

Nothing here is special to the demo but the hosts: the DAG file is the example users copy.
"""

from __future__ import annotations

import gzip
import json
import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from contextlib import ExitStack
from pathlib import Path

import boto3
import requests

REPO = Path(__file__).resolve().parent.parent
DAG_ID = "example_fauna_logs_to_s3"
DAYS = ["2026-11-02", "2026-11-03", "2026-11-04"]  # each run covers the day before
BUCKET = "fauna-demo-logs"
KEY = "fnacapi_demo_key"
BIN = Path(sys.executable).parent


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def say(text: str) -> None:
    print(f"\n==> {text}", flush=True)


def start(stack: ExitStack, name: str, argv: list[str], ready_url: str, log_dir: Path) -> None:
    """Start a server process, wait until it answers, and stop it when the demo ends."""
    log = open(log_dir / f"{name}.log", "w")  # noqa: SIM115 - closed by the ExitStack
    stack.callback(log.close)
    process = subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT)

    def stop() -> None:
        process.terminate()
        try:
            process.wait(10)
        except subprocess.TimeoutExpired:
            process.kill()

    stack.callback(stop)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise SystemExit(f"{name} exited early; see {log_dir / (name + '.log')}")
        try:
            requests.get(ready_url, timeout=1)
            return
        except requests.RequestException:
            time.sleep(0.2)
    raise SystemExit(f"{name} did not start within 60 s; see {log_dir / (name + '.log')}")


def airflow(env: dict[str, str], *args: str) -> None:
    print("$ airflow " + " ".join(args), flush=True)
    subprocess.run([str(BIN / "airflow"), *args], env=env, check=True, cwd=REPO)


def main() -> int:
    work = Path(tempfile.mkdtemp(prefix="fauna-demo-"))
    fauna_port, s3_port = free_port(), free_port()
    fauna_url, s3_url = f"http://127.0.0.1:{fauna_port}", f"http://127.0.0.1:{s3_port}"
    with ExitStack() as stack:
        say(f"Starting the Fauna emulator on {fauna_url} and a local S3 (moto) on {s3_url}")
        start(
            stack,
            "fauna-emulator",
            [
                sys.executable,
                "-m",
                "fauna_emulator",
                "--port",
                str(fauna_port),
                "--key",
                KEY,
                "--completion-delay",
                "3",
                "--quiet",
            ],
            f"{fauna_url}/_emulator/health",
            work,
        )
        start(stack, "moto-s3", [str(BIN / "moto_server"), "-p", str(s3_port)], s3_url, work)

        s3 = boto3.client(
            "s3",
            endpoint_url=s3_url,
            aws_access_key_id="demo-access-key",
            aws_secret_access_key="demo-secret-key",
            region_name="us-east-1",
        )
        s3.create_bucket(Bucket=BUCKET)

        env = {
            **os.environ,
            "AIRFLOW_HOME": str(work / "airflow"),
            "AIRFLOW__CORE__DAGS_FOLDER": str(REPO / "example_dags"),
            "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
            "AIRFLOW__LOGGING__LOGGING_LEVEL": "WARNING",
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
        say("Preparing Airflow's metadata database (SQLite)")
        subprocess.run(
            [str(BIN / "airflow"), "db", "migrate"], env=env, check=True, cwd=REPO, stdout=subprocess.DEVNULL
        )
        say(
            f"Running {DAG_ID} for three days through Airflow (request -> deferred wait -> S3); "
            "about a minute a day: the wait polls once a minute, as in production"
        )
        for day in DAYS:
            airflow(env, "dags", "test", DAG_ID, day)

        say(f"What landed in s3://{BUCKET}")
        objects = s3.list_objects_v2(Bucket=BUCKET).get("Contents", [])
        for obj in objects:
            print(f"  s3://{BUCKET}/{obj['Key']}  ({obj['Size']:,} bytes)")
        if len(objects) != len(DAYS):
            print(f"Expected {len(DAYS)} objects, found {len(objects)}: the demo failed.")
            return 1
        first = s3.get_object(Bucket=BUCKET, Key=objects[0]["Key"])
        lines = gzip.decompress(first["Body"].read()).decode().splitlines()
        print(f"\n  {objects[0]['Key']} holds {len(lines)} query log records; the first one:")
        print("  " + json.dumps(json.loads(lines[0]), indent=2).replace("\n", "\n  "))
        print(
            "\nTo look yourself while servers run, use boto3 or the AWS CLI with "
            "--endpoint-url; this demo stops them now."
            "\nFor the real service: set AIRFLOW_CONN_FAUNA_DEFAULT to your account key (host "
            "https://account.fauna.com), point aws_default at your AWS account, and set the Variable "
            "fauna_logs_s3_bucket. Nothing in the DAG changes."
        )
    shutil.rmtree(work, ignore_errors=True)
    say("Done: every server the demo started is stopped.")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
