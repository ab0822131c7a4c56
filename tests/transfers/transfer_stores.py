"""One face for the two object stores, so each transfer test runs against S3 and GCS alike.

A :class:`Store` builds the store's operator for a test and reads back what landed: the bytes,
the object's metadata, and (for S3) the multipart uploads still open.
"""

from __future__ import annotations

import datetime as dt
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow_provider_fauna.hooks.fauna import FaunaAccountHook
from airflow_provider_fauna.waiting import poll_until_terminal

if TYPE_CHECKING:
    from airflow_provider_fauna.log_requests import LogRequest

DATABASE = "us-std/ECommerce"
DAY_START = dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc)
DAY_END = dt.datetime(2026, 11, 21, tzinfo=dt.timezone.utc)
DEFAULT_KEY = "fauna/query_logs/us-std/ECommerce/date=2026-11-20/20261120T000000Z_20261121T000000Z.ndjson.gz"


@dataclass
class StoredObject:
    """What a store holds at a key."""

    data: bytes
    content_type: str | None
    content_encoding: str | None
    metadata: dict[str, str]


class Store:
    """The parts of a store the tests look at."""

    scheme = ""
    kind = ""
    bucket = ""

    def operator(self, **kwargs: Any) -> Any:
        raise NotImplementedError

    def get(self, key: str) -> StoredObject | None:
        raise NotImplementedError

    def put(self, key: str, data: bytes) -> None:
        raise NotImplementedError

    def keys(self) -> list[str]:
        raise NotImplementedError

    def open_uploads(self) -> list[Any]:
        """Unfinished uploads (S3 multipart uploads; GCS keeps no listable sessions: empty)."""
        return []

    def uri(self, key: str) -> str:
        return f"{self.scheme}://{self.bucket}/{key}"


class S3Store(Store):
    scheme = "s3"
    kind = "s3"  # in the test DAGs' ids and task ids

    def __init__(self, bucket: str) -> None:
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        self.bucket = bucket
        self.client = S3Hook().get_conn()

    def operator(self, **kwargs: Any) -> Any:
        from airflow_provider_fauna.transfers.fauna_to_s3 import MIN_PART_SIZE, FaunaLogsToS3Operator

        options = {"task_id": "to_s3", "s3_bucket": self.bucket, "part_size": MIN_PART_SIZE}
        return (kwargs.pop("operator_class", None) or FaunaLogsToS3Operator)(**{**options, **kwargs})

    def get(self, key: str) -> StoredObject | None:
        try:
            answer = self.client.get_object(Bucket=self.bucket, Key=key)
        except self.client.exceptions.NoSuchKey:
            return None
        return StoredObject(
            data=answer["Body"].read(),
            content_type=answer.get("ContentType"),
            content_encoding=answer.get("ContentEncoding"),
            metadata=answer.get("Metadata") or {},
        )

    def put(self, key: str, data: bytes) -> None:
        self.client.put_object(Bucket=self.bucket, Key=key, Body=data)

    def keys(self) -> list[str]:
        return [o["Key"] for o in self.client.list_objects_v2(Bucket=self.bucket).get("Contents", [])]

    def open_uploads(self) -> list[Any]:
        """The open multipart uploads; s3rver cannot list them (501), so it shows none."""
        try:
            return list(self.client.list_multipart_uploads(Bucket=self.bucket).get("Uploads", []))
        except self.client.exceptions.ClientError as err:
            if err.response["Error"]["Code"] not in ("NotImplemented", "501"):
                raise
            return []


class GCSStore(Store):
    scheme = "gs"
    kind = "gcs"

    def __init__(self, bucket: str) -> None:
        from airflow.providers.google.cloud.hooks.gcs import GCSHook

        self.bucket = bucket
        self.client = GCSHook().get_conn()

    def operator(self, **kwargs: Any) -> Any:
        from airflow_provider_fauna.transfers.fauna_to_gcs import FaunaLogsToGCSOperator

        options = {"task_id": "to_gcs", "bucket_name": self.bucket, "chunk_size": 1024 * 1024}
        return (kwargs.pop("operator_class", None) or FaunaLogsToGCSOperator)(**{**options, **kwargs})

    def get(self, key: str) -> StoredObject | None:
        blob = self.client.bucket(self.bucket).get_blob(key)
        if blob is None:
            return None
        # raw_download: the stored bytes, whatever the object's content encoding says.
        return StoredObject(
            data=blob.download_as_bytes(raw_download=True),
            content_type=blob.content_type,
            content_encoding=blob.content_encoding,
            metadata=dict(blob.metadata or {}),
        )

    def put(self, key: str, data: bytes) -> None:
        self.client.bucket(self.bucket).blob(key).upload_from_string(data)

    def keys(self) -> list[str]:
        return [b.name for b in self.client.list_blobs(self.bucket)]


def complete_request(
    database: str = DATABASE, start: dt.datetime = DAY_START, end: dt.datetime = DAY_END
) -> LogRequest:
    """Request the logs of ``[start, end)`` through the hook and wait until the request is terminal."""
    hook = FaunaAccountHook()
    request = hook.request_logs(database=database, time_start=start, time_end=end)
    return poll_until_terminal(
        hook, request.request_id, poll_interval=0.2, deadline=time.time() + 60, log=_NullLog()
    )


class _NullLog:
    def info(self, msg: Any, /, *args: Any, **kwargs: Any) -> None:
        pass

    def warning(self, msg: Any, /, *args: Any, **kwargs: Any) -> None:
        pass
