"""Test DAGs of the reliability suite (``tests/reliability``): the pipeline under injected faults.

Every DAG exports one day per run (a daily interval timetable) of the database in its params,
into the S3 bucket in its params; the suite injects faults on the Fauna side through the
emulator and on the S3 side through :class:`FaultyS3Transfer`, whose fault is chosen by the
run's params, so one DAG serves many cases.

The transfer task also *witnesses* the bucket: at the start of each try it lists the bucket's
objects and open multipart uploads and pushes them as XCom ``bucket_at_start`` (XComs are
cleared when a try starts, so the one that survives is the last try's). That is how a test
proves that a failed try left nothing behind *before* its retry landed the file.

Waits are short (0.2 s polls) and retries immediate, so a day takes well under a second.
"""

from __future__ import annotations

import datetime as dt
import time
from typing import Any

from airflow.providers.common.compat.sdk import DAG
from harness.timetables import daily_dag_args

from airflow_provider_fauna.operators.logs import FaunaLogsRequestOperator
from airflow_provider_fauna.sensors.logs import FaunaLogsSensor
from airflow_provider_fauna.transfers.fauna_to_gcs import FaunaLogsToGCSOperator
from airflow_provider_fauna.transfers.fauna_to_s3 import MIN_PART_SIZE, FaunaLogsToS3Operator

BUCKET = "fauna-reliability"
GCS_BUCKET = "fauna-reliability-gcs"
POLL = 0.2
#: ``s3_fault`` values: what breaks on the S3 side during the faulted tries (``fault_tries``).
S3_FAULTS = (
    "",  # nothing
    "part_upload_fails",  # the network to S3 breaks while a part goes up
    "complete_fails",  # the completion call fails: the parts are there, the object is not
    "complete_answer_lost",  # S3 completes the object, but its answer never arrives
    "killed_after_part",  # the worker is SIGKILLed after a part went up: no code runs after it
    "hang_before_complete",  # all parts are up, the completion hangs (until execution_timeout)
)
#: The hang outlasts the task's timeout; it is on a transfer thread, which the timeout cannot stop.
HANG_SECONDS = 11.0
TASK_TIMEOUT = dt.timedelta(seconds=8)
PARAMS: dict[str, Any] = {
    "database": "us-std/ECommerce",
    "s3_bucket": BUCKET,
    "s3_fault": "",
    "fault_tries": [1],
    "die_after_wait": False,
}


class WorkerKilled(RuntimeError):
    """The process running the try is gone (SIGKILL, OOM): no S3 call succeeds after this point.

    An ``Exception`` rather than a ``BaseException``: ``dag.test()`` of Airflow 2.11 lets the
    latter escape the DAG run instead of failing the try.
    """


class WorkerDied(RuntimeError):
    """The try failed after its request was made, as if the worker had crashed."""


class S3Faults:
    """One try's S3 fault, injected on the real boto3 client through botocore's event hooks.

    Hooking the client rather than the operator keeps the fault on the wire: the operator's
    own code (its part bookkeeping, its clean-up) runs exactly as in production.
    """

    def __init__(self, kind: str) -> None:
        if kind not in S3_FAULTS:
            raise ValueError(f"s3_fault={kind!r} is not one of {S3_FAULTS}")
        self.kind = kind
        self.killed = False

    def attach(self, client: Any) -> None:
        events = client.meta.events
        if self.kind == "part_upload_fails":
            events.register("before-call.s3.UploadPart", self._network_breaks)
        elif self.kind == "complete_fails":
            events.register("before-call.s3.CompleteMultipartUpload", self._network_breaks)
        elif self.kind == "complete_answer_lost":
            events.register("after-call.s3.CompleteMultipartUpload", self._network_breaks)
        elif self.kind == "killed_after_part":
            events.register("after-call.s3.UploadPart", self._kill)
            events.register("before-call.s3", self._dead)
        elif self.kind == "hang_before_complete":
            events.register("before-call.s3.CompleteMultipartUpload", self._hang)

    @staticmethod
    def _network_breaks(**_: Any) -> None:
        from botocore.exceptions import EndpointConnectionError

        raise EndpointConnectionError(endpoint_url="s3 (fault injected by the reliability suite)")

    def _kill(self, **_: Any) -> None:
        self.killed = True
        raise WorkerKilled("the worker was killed after uploading a part")

    def _dead(self, **_: Any) -> None:
        if self.killed:  # a dead process sends nothing: no abort, no delete, no head
            raise WorkerKilled("the worker is dead")

    @staticmethod
    def _hang(**_: Any) -> None:
        time.sleep(HANG_SECONDS)


class FaultyS3Transfer(FaunaLogsToS3Operator):
    """The S3 transfer, with the bucket witnessed at the start of each try and faults from params."""

    _faults: S3Faults | None = None

    def _arm(self, context: Any) -> None:
        params = context["params"]
        faulted = context["ti"].try_number in params.get("fault_tries", [1])
        self._faults = S3Faults(params.get("s3_fault") or "") if faulted else None

    def make_hook(self, extra_args: dict[str, Any] | None = None) -> Any:
        hook = super().make_hook(extra_args)
        if self._faults is not None:
            self._faults.attach(hook.get_conn())
        return hook

    def _witness(self, context: Any) -> None:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        client = S3Hook(aws_conn_id=self.aws_conn_id).get_conn()
        bucket = context["params"]["s3_bucket"]
        objects = client.list_objects_v2(Bucket=bucket).get("Contents", [])
        try:
            uploads: list[str] | None = [
                u["Key"] for u in client.list_multipart_uploads(Bucket=bucket).get("Uploads", [])
            ]
        except client.exceptions.ClientError:  # s3rver cannot list them (501)
            uploads = None
        context["ti"].xcom_push(
            key="bucket_at_start",
            value={
                "try": context["ti"].try_number,
                "objects": [o["Key"] for o in objects],
                "uploads": uploads,
            },
        )

    def execute(self, context: Any) -> Any:
        self._witness(context)
        self._arm(context)
        return super().execute(context)

    def execute_complete(self, context: Any, event: dict[str, Any] | None = None) -> Any:
        self._arm(context)
        if context["params"].get("die_after_wait") and context["ti"].try_number == 1:
            raise WorkerDied("the worker died after the log request was made and had completed")
        return super().execute_complete(context, event)


def _dag(dag_id: str, params: dict[str, Any], **kwargs: Any) -> DAG:
    return DAG(dag_id, **daily_dag_args(params=dict(params), tags=["reliability"], **kwargs))


RETRIES = {"retries": 2, "retry_delay": dt.timedelta(0)}

# --- the full pipeline: request -> deferrable sensor -> S3 ---------------------------------------
for suffix, transfer_args in (("", {}), ("_timeout", {"execution_timeout": TASK_TIMEOUT})):
    with _dag(f"reliability_pipeline{suffix}", PARAMS):
        request = FaunaLogsRequestOperator(
            task_id="request_logs", database="{{ params.database }}", **RETRIES
        )
        wait = FaunaLogsSensor(
            task_id="wait_for_logs",
            request_id=request.output,
            poke_interval=POLL,
            timeout=60,
            deferrable=True,
            **RETRIES,
        )
        wait >> FaultyS3Transfer(
            task_id="to_s3",
            request_id=request.output,
            s3_bucket="{{ params.s3_bucket }}",
            part_size=MIN_PART_SIZE,
            poll_interval=POLL,
            **{**RETRIES, **transfer_args},
        )

# --- one task: request, wait on the triggerer, copy; one retry ----------------------------------
with _dag("reliability_one_task", PARAMS):
    FaultyS3Transfer(
        task_id="to_s3",
        database="{{ params.database }}",
        s3_bucket="{{ params.s3_bucket }}",
        part_size=MIN_PART_SIZE,
        deferrable=True,
        poll_interval=POLL,
        max_resumes=2,
        retries=1,
        retry_delay=dt.timedelta(0),
    )

# --- bad input, refused at run time: every checked field comes from the run's params -----------
BAD_INPUT_PARAMS: dict[str, Any] = {
    "database": "us-std/ECommerce",
    "time_start": "",
    "time_end": "",
    "request_id": "123456789012",
    "conn_id": "fauna_default",
    "bucket": BUCKET,
    "key": "fauna/{scope}/{time_start}.ndjson.gz",
    "gcs_bucket": GCS_BUCKET,
    "object_name": "fauna/{scope}/{time_start}.ndjson.gz",
}
#: Only ``database`` is templated: with both scope fields templated the operators refuse the
#: DAG when it is parsed ("not both"), even if one of them would render empty.
SCOPE = {
    "database": "{{ params.database }}",
    "time_start": "{{ params.time_start }}",
    "time_end": "{{ params.time_end }}",
    "fauna_conn_id": "{{ params.conn_id }}",
}


def bad_input_task(kind: str) -> Any:
    """The one task of DAG ``reliability_bad_{kind}``, built the same way for direct ``execute`` calls."""
    if kind == "request":
        return FaunaLogsRequestOperator(task_id="task", **SCOPE)
    if kind == "sensor":
        return FaunaLogsSensor(
            task_id="task",
            request_id="{{ params.request_id }}",
            fauna_conn_id="{{ params.conn_id }}",
            poke_interval=POLL,
            deferrable=True,
        )
    if kind == "s3":
        return FaunaLogsToS3Operator(
            task_id="task", s3_bucket="{{ params.bucket }}", s3_key="{{ params.key }}", **SCOPE
        )
    if kind == "gcs":
        return FaunaLogsToGCSOperator(
            task_id="task",
            bucket_name="{{ params.gcs_bucket }}",
            object_name="{{ params.object_name }}",
            **SCOPE,
        )
    raise ValueError(f"no bad-input task of kind {kind!r}")


for kind in ("request", "sensor", "s3", "gcs"):
    with _dag(f"reliability_bad_{kind}", BAD_INPUT_PARAMS, default_args=RETRIES):
        bad_input_task(kind)
