"""What the reliability tests read back: the bucket, the default key of a day, the emulator's calls."""

from __future__ import annotations

import datetime as dt
import sys
from collections import Counter
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from harness import keys

if TYPE_CHECKING:
    from types import ModuleType

UTC = dt.timezone.utc
DATABASE = "us-std/ECommerce"


def nov(day: int) -> dt.datetime:
    """Logical date 2026-11-``day``; with the daily interval timetable it exports the day before."""
    return dt.datetime(2026, 11, day, tzinfo=UTC)


def day_key(logical_date: dt.datetime, scope: str = DATABASE) -> str:
    """The default S3 key of the export that the run of ``logical_date`` makes."""
    return keys.day_key(scope, logical_date)


@dataclass
class BucketState:
    """The keys of a bucket's objects and of its open multipart uploads."""

    objects: list[str]
    #: ``None`` where the store cannot list them (s3rver).
    uploads: list[str] | None


class Bucket:
    """An S3 bucket on the test's S3 server, read through a plain boto3 client."""

    def __init__(self, name: str) -> None:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        self.name = name
        self.client = S3Hook().get_conn()

    def state(self) -> BucketState:
        objects = self.client.list_objects_v2(Bucket=self.name).get("Contents", [])
        try:
            listed = self.client.list_multipart_uploads(Bucket=self.name).get("Uploads", [])
            uploads: list[str] | None = sorted(u["Key"] for u in listed)
        except self.client.exceptions.ClientError:  # s3rver: 501
            uploads = None
        return BucketState(sorted(o["Key"] for o in objects), uploads)

    def empty(self, uploads: list[str] | None = None) -> dict[str, Any]:
        """``bucket_at_start`` of a bucket without objects: ``uploads`` open, unless they cannot be listed."""
        return {"objects": [], "uploads": None if self.state().uploads is None else (uploads or [])}

    def read(self, key: str) -> bytes:
        return self.client.get_object(Bucket=self.name, Key=key)["Body"].read()

    def metadata(self, key: str) -> dict[str, str]:
        return self.client.head_object(Bucket=self.name, Key=key).get("Metadata") or {}

    def uri(self, key: str) -> str:
        return f"s3://{self.name}/{key}"


def submissions(emulator: Any) -> list[Any]:
    """The ``POST /api/v1/logs`` calls (each a submission, retried or not)."""
    return [c for c in emulator.api_calls("POST") if c.path == "/api/v1/logs"]


def tokens(calls: list[Any]) -> Counter[str]:
    """How often each idempotency token was sent."""
    return Counter((c.json or {}).get("idempotency_token") for c in calls)


def statuses(calls: list[Any]) -> list[int]:
    return [c.status for c in calls]


def only_request(emulator: Any) -> dict[str, Any]:
    """The one log request the emulator holds (fails if there are more or none)."""
    (request,) = emulator.log_requests
    return request


def xcom(run: Any, task_id: str, key: str) -> Any:
    """An XCom of a task instance of ``run`` (a :class:`harness.DagRunResult`), from the metadata DB."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        dag_run = session.query(DagRun).filter_by(dag_id=run.dag_id, run_id=run.run_id).one()
        ti = dag_run.get_task_instance(task_id, session=session)
        return ti.xcom_pull(task_ids=task_id, key=key, session=session)


def dag_module() -> ModuleType:
    """``tests/dags/reliability_dags.py`` as the DagBag imported it: its builders and constants."""
    from harness import load_dag

    return sys.modules[type(load_dag("reliability_one_task").get_task("to_s3")).__module__]
