"""The copy itself, against the Fauna emulator, moto's S3 and gcp-storage-emulator: bytes, metadata, faults.

Each test calls the operator's ``execute`` with a stub task context (only the task instance's ids
and ``xcom_push``), so it can set up the exact moment a fault strikes; everything the copy talks
to is real: the hook, the emulator's presigned URL, the store. Every test runs on both stores.
"""

from __future__ import annotations

import dataclasses
import hashlib
import time
import zlib
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from fauna_emulator import FaultConfig
from transfer_stores import DEFAULT_KEY, S3Store, Store, complete_request

from airflow_provider_fauna.transfers.base import TRANSFER_XCOM_KEY
from airflow_provider_fauna.transfers.download import FaunaTransferError, FaunaVerificationError
from airflow_provider_fauna.transfers.fauna_to_gcs import FaunaLogsToGCSOperator
from airflow_provider_fauna.transfers.fauna_to_s3 import FaunaLogsToS3Operator

MiB = 1024 * 1024


def run(store: Store, context: dict[str, Any], request_id: str, **kwargs: Any) -> Any:
    """Execute the store's operator on ``request_id`` (blocking wait, no retries)."""
    operator = store.operator(request_id=request_id, deferrable=False, poll_interval=0.2, **kwargs)
    return operator.execute(context)


def downloads(fauna: Any) -> list[Any]:
    return fauna.download_calls()


def signatures(fauna: Any) -> set[str]:
    """Every presigned URL signature the emulator saw: none may appear where people read."""
    return {c.query.get("X-Fauna-Signature", "") for c in fauna.download_calls()} - {""}


def assert_nothing_left(store: Store) -> None:
    assert store.keys() == []
    assert store.open_uploads() == []


def assert_no_secret_in(text: str, fauna: Any) -> None:
    for signature in signatures(fauna):
        assert signature not in text


# --------------------------------------------------------------------------------- the happy path
def test_copy_stores_the_served_bytes_with_gzip_metadata(
    fauna: Any, store: Store, task_context: dict[str, Any]
) -> None:
    request = complete_request()
    expected = fauna.file_bytes(request.request_id)
    assert len(expected) > 2 * 5 * MiB, "the test file must span several parts"

    uri = run(store, task_context, request.request_id)

    assert uri == store.uri(DEFAULT_KEY)
    stored = store.get(DEFAULT_KEY)
    assert stored is not None
    assert stored.data == expected
    assert stored.content_type == "application/gzip"
    assert not stored.content_encoding  # no transparent decompression by clients or GCS
    assert stored.metadata["fauna-request-id"] == request.request_id
    assert stored.metadata["fauna-scope"] == "us-std/ECommerce"
    assert store.open_uploads() == []
    summary = task_context["ti"].xcoms[TRANSFER_XCOM_KEY]
    assert summary["size"] == len(expected)
    assert summary["uri"] == uri
    assert (summary["resumes"], summary["url_refreshes"]) == (0, 0)
    calls = downloads(fauna)
    assert [c.status for c in calls] == [200]
    assert not any(c.had_authorization for c in calls)
    assert_no_secret_in(repr(task_context["ti"].xcoms), fauna)


# --------------------------------------------------------------------------------- the presigned URL
def test_url_expired_before_the_copy_is_renewed_before_downloading(
    fauna: Any, store: Store, task_context: dict[str, Any]
) -> None:
    fauna.faults = FaultConfig(url_ttl_override=1.0)
    request = complete_request()
    time.sleep(2.2)  # the URL the request completed with has expired
    fauna.faults = FaultConfig()
    fauna.reset_calls()

    run(store, task_context, request.request_id)

    assert store.get(DEFAULT_KEY).data == fauna.file_bytes(request.request_id)
    calls = [
        c for c in fauna.calls if c.path.startswith(("/_files/", f"/api/v1/logs/{request.request_id}/url"))
    ]
    assert calls[0].method == "POST" and calls[0].path.endswith("/url"), "a new URL is asked for first"
    assert [c.status for c in downloads(fauna)] == [200], "the expired URL is never tried"
    assert task_context["ti"].xcoms[TRANSFER_XCOM_KEY]["url_refreshes"] == 1


def test_url_expiring_mid_copy_is_renewed_and_the_copy_resumes_where_it_stopped(
    fauna: Any, store: Store, task_context: dict[str, Any]
) -> None:
    request = complete_request()
    fauna.faults = FaultConfig(download_expire_mid_stream=True)

    run(store, task_context, request.request_id)

    assert store.get(DEFAULT_KEY).data == fauna.file_bytes(request.request_id)
    assert store.open_uploads() == []
    calls = downloads(fauna)
    # Cut mid-stream, the old URL refused, then the rest with a new URL and a Range request.
    assert [c.status for c in calls] == [200, 403, 206]
    assert calls[0].fault == "download_expire_mid_stream"
    assert calls[1].query["X-Fauna-Signature"] != calls[2].query["X-Fauna-Signature"]
    assert len(fauna.api_calls("POST", f"/api/v1/logs/{request.request_id}/url")) == 1
    assert not any(c.had_authorization for c in calls)
    summary = task_context["ti"].xcoms[TRANSFER_XCOM_KEY]
    assert summary["url_refreshes"] == 1
    assert_no_secret_in(repr(task_context["ti"].xcoms), fauna)


def test_dropped_connection_resumes_with_a_range_request(
    fauna: Any, store: Store, task_context: dict[str, Any]
) -> None:
    request = complete_request()
    fauna.faults = FaultConfig(download_drop_after_bytes=3 * MiB + 12345)

    run(store, task_context, request.request_id)

    assert store.get(DEFAULT_KEY).data == fauna.file_bytes(request.request_id)
    assert [c.status for c in downloads(fauna)] == [200, 206]
    assert fauna.api_calls("POST", f"/api/v1/logs/{request.request_id}/url") == [], "no new URL needed"


def test_connection_dropping_often_still_finishes_while_each_read_makes_progress(
    fauna: Any, store: Store, task_context: dict[str, Any]
) -> None:
    request = complete_request()
    fauna.faults = FaultConfig(download_drop_after_bytes=4 * MiB, download_fault_count=None)

    run(store, task_context, request.request_id, max_resumes=1)

    assert store.get(DEFAULT_KEY).data == fauna.file_bytes(request.request_id)
    assert [c.status for c in downloads(fauna)] == [200, 206, 206]


def test_connection_dropping_without_progress_fails_after_max_resumes_and_leaves_nothing(
    fauna: Any, store: Store, task_context: dict[str, Any]
) -> None:
    request = complete_request()
    fauna.faults = FaultConfig(download_drop_after_bytes=0, download_fault_count=None)

    with pytest.raises(FaunaTransferError, match="max_resumes=2") as failure:
        run(store, task_context, request.request_id, max_resumes=2)

    assert len(downloads(fauna)) == 3, "the first read and two resumes"
    assert_nothing_left(store)
    assert_no_secret_in(str(failure.value), fauna)


def test_truncated_body_is_detected_and_completed_by_resuming(
    fauna: Any, store: Store, task_context: dict[str, Any]
) -> None:
    request = complete_request()
    fauna.faults = FaultConfig(download_truncate=True)

    run(store, task_context, request.request_id)

    assert store.get(DEFAULT_KEY).data == fauna.file_bytes(request.request_id)
    assert [c.status for c in downloads(fauna)] == [200, 206]


def test_truncated_body_without_resumes_fails_and_leaves_nothing(
    fauna: Any, store: Store, task_context: dict[str, Any]
) -> None:
    request = complete_request()
    fauna.faults = FaultConfig(download_truncate=True)

    with pytest.raises(FaunaTransferError, match="Nothing was stored"):
        run(store, task_context, request.request_id, max_resumes=0)

    assert_nothing_left(store)


@pytest.fixture
def no_etag(monkeypatch: pytest.MonkeyPatch) -> None:
    """The file server sends no ETag (as a server that does not know the file's MD5 would)."""
    from airflow_provider_fauna.transfers import download

    make_session = download._file_session

    def without_etag(response: Any, *args: Any, **kwargs: Any) -> Any:
        response.headers.pop("ETag", None)
        return response

    def session() -> Any:
        made = make_session()
        made.hooks["response"].append(without_etag)
        return made

    monkeypatch.setattr(download, "_file_session", session)


#: verify_gzip, whether the server sends its MD5 ETag, what catches a corrupt body.
CORRUPT_CASES = [
    pytest.param("auto", True, "differs from the ETag", id="auto-md5-proves"),
    pytest.param("auto", False, "not a valid gzip stream", id="auto-no-etag-decompresses"),
    pytest.param(True, True, "not a valid gzip stream", id="always-decompress"),
    pytest.param(True, False, "not a valid gzip stream", id="always-decompress-no-etag"),
    pytest.param(False, True, "differs from the ETag", id="never-decompress-md5"),
]


@pytest.mark.parametrize(("verify_gzip", "etag", "caught_by"), CORRUPT_CASES)
def test_corrupt_body_fails_the_attempt_and_leaves_nothing(
    fauna: Any,
    store: Store,
    task_context: dict[str, Any],
    request: pytest.FixtureRequest,
    verify_gzip: Any,
    etag: bool,
    caught_by: str,
) -> None:
    if not etag:
        request.getfixturevalue("no_etag")
    log_request = complete_request()
    fauna.faults = FaultConfig(download_corrupt=True)

    with pytest.raises(FaunaVerificationError, match="Nothing was stored") as failure:
        run(store, task_context, log_request.request_id, verify_gzip=verify_gzip)

    assert caught_by in str(failure.value)
    assert_nothing_left(store)
    assert_no_secret_in(str(failure.value), fauna)


@pytest.mark.parametrize(
    ("verify_gzip", "etag", "decompressed"),
    [("auto", True, False), ("auto", False, True), (True, True, True), (False, False, False)],
    ids=["auto-md5-proves", "auto-no-etag-decompresses", "always", "never"],
)
def test_the_gzip_stream_is_decompressed_only_when_no_md5_proves_the_bytes(
    fauna: Any,
    s3_bucket: str,
    task_context: dict[str, Any],
    request: pytest.FixtureRequest,
    verify_gzip: Any,
    etag: bool,
    decompressed: bool,
) -> None:
    if not etag:
        request.getfixturevalue("no_etag")
    store = S3Store(s3_bucket)
    log_request = complete_request()
    expected = fauna.file_bytes(log_request.request_id)

    run(store, task_context, log_request.request_id, verify_gzip=verify_gzip)

    assert store.get(DEFAULT_KEY).data == expected
    summary = task_context["ti"].xcoms[TRANSFER_XCOM_KEY]
    assert summary["gzip_checked"] is decompressed
    assert summary["md5"] == hashlib.md5(expected).hexdigest()


# --------------------------------------------------------------------------------- the upload
class S3FailingAfterFirstPart(FaunaLogsToS3Operator):
    """Part 2's upload fails, as if the network to S3 broke midway."""

    def upload_part(self, client: Any, destination: Any, upload_id: str, number: int, *args: Any) -> Any:
        if number == 2:
            raise ConnectionError("S3 went away")
        return super().upload_part(client, destination, upload_id, number, *args)


class _WriterFailingAfterFirstChunk:
    """Wraps a ``BlobWriter``: the second chunk's upload fails, as if the network to GCS broke."""

    def __init__(self, writer: Any, chunk_size: int) -> None:
        self.writer, self.chunk_size, self.written = writer, chunk_size, 0
        self.terminated = False

    def write(self, data: bytes) -> int:
        self.written += len(data)
        if self.written > 2 * self.chunk_size:
            raise ConnectionError("GCS went away")
        return self.writer.write(data)

    def close(self) -> None:
        self.writer.close()

    def terminate(self) -> None:
        self.terminated = True
        self.writer.terminate()


class GCSFailingAfterFirstChunk(FaunaLogsToGCSOperator):
    writers: list[_WriterFailingAfterFirstChunk] = []

    def open_writer(self, blob: Any, **kwargs: Any) -> Any:
        writer = _WriterFailingAfterFirstChunk(super().open_writer(blob, **kwargs), self.chunk_size)
        self.writers.append(writer)
        return writer


def test_upload_failing_midway_leaves_no_object_and_no_open_upload(
    fauna: Any, store: Store, task_context: dict[str, Any]
) -> None:
    request = complete_request()
    failing = S3FailingAfterFirstPart if isinstance(store, S3Store) else GCSFailingAfterFirstChunk

    with pytest.raises(ConnectionError, match="went away"):
        run(store, task_context, request.request_id, operator_class=failing)

    assert_nothing_left(store)
    if failing is GCSFailingAfterFirstChunk:
        assert GCSFailingAfterFirstChunk.writers[-1].terminated, "the resumable session is cancelled"


# --------------------------------------------------------------------------------- orphaned uploads
class RecordingLog:
    """The operator's log, kept as text: Airflow 3 logs through structlog, which ``caplog`` does not see."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def _record(self, msg: Any, *args: Any, **_: Any) -> None:
        self.lines.append(str(msg) % args if args else str(msg))

    debug = info = warning = error = exception = _record


class S3LoggingToAList(FaunaLogsToS3Operator):
    """The S3 transfer with its log kept as text, and optionally refused the listing of open uploads."""

    refuse_listing = False
    recorded = RecordingLog()

    @property
    def log(self) -> Any:
        return self.recorded

    @property
    def s3_hook(self) -> Any:
        hook = super().s3_hook
        if self.refuse_listing:
            hook.get_conn().meta.events.register("before-call.s3.ListMultipartUploads", self._access_denied)
        return hook

    @staticmethod
    def _access_denied(**_: Any) -> None:
        from botocore.exceptions import ClientError

        error = {"Error": {"Code": "AccessDenied", "Message": "no s3:ListBucketMultipartUploads"}}
        raise ClientError(error, "ListMultipartUploads")


class S3RefusedTheListing(S3LoggingToAList):
    refuse_listing = True
    recorded = RecordingLog()


def open_upload(store: S3Store, key: str) -> str:
    """An upload with one part, as a killed try leaves it."""
    upload_id = store.client.create_multipart_upload(Bucket=store.bucket, Key=key)["UploadId"]
    store.client.upload_part(Bucket=store.bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"x" * 1024)
    return upload_id


def test_uploads_earlier_tries_left_open_on_the_key_are_aborted_and_no_others(
    fauna: Any, s3_bucket: str, task_context: dict[str, Any]
) -> None:
    store = S3Store(s3_bucket)
    request = complete_request()
    orphans = [open_upload(store, DEFAULT_KEY) for _ in range(3)]
    neighbour = open_upload(store, DEFAULT_KEY + ".bak")  # shares the prefix, not the key

    run(store, task_context, request.request_id, operator_class=S3LoggingToAList)

    assert store.get(DEFAULT_KEY).data == fauna.file_bytes(request.request_id)
    assert [(u["Key"], u["UploadId"]) for u in store.open_uploads()] == [(DEFAULT_KEY + ".bak", neighbour)]
    (line,) = [line for line in S3LoggingToAList.recorded.lines if "earlier tries left open" in line]
    assert "Aborted 3 of the 3 multipart upload(s)" in line
    assert all(upload_id in line for upload_id in orphans)


class PagedUploads:
    """A client whose open uploads come two pages long (moto answers all on one page)."""

    def __init__(self, pages: list[list[str]]) -> None:
        self.pages = pages
        self.aborted: list[str] = []

    def get_paginator(self, name: str) -> Any:
        assert name == "list_multipart_uploads"
        return self

    def paginate(self, Bucket: str, Prefix: str) -> Any:
        for number, page in enumerate(self.pages):
            yield {
                "Uploads": [{"Key": key, "UploadId": f"{key} #{number}.{i}"} for i, key in enumerate(page)]
            }

    def abort_multipart_upload(self, Bucket: str, Key: str, UploadId: str) -> None:
        self.aborted.append(UploadId)


def test_the_clean_up_follows_every_page_of_open_uploads_and_matches_the_key_exactly() -> None:
    from airflow_provider_fauna.transfers.base import Destination

    client = PagedUploads([["k", "k.bak"], ["k"]])
    operator = S3LoggingToAList(task_id="t", request_id="123456789012", s3_bucket="bucket")

    operator._abort_orphaned_uploads(client, Destination("s3", "bucket", "k"))

    assert client.aborted == ["k #0.0", "k #1.0"], "both pages read, the neighbour k.bak left alone"


def test_a_refused_listing_of_open_uploads_does_not_stop_the_copy(
    fauna: Any, s3_bucket: str, task_context: dict[str, Any]
) -> None:
    store = S3Store(s3_bucket)
    request = complete_request()
    orphan = open_upload(store, DEFAULT_KEY)

    run(store, task_context, request.request_id, operator_class=S3RefusedTheListing)

    assert store.get(DEFAULT_KEY).data == fauna.file_bytes(request.request_id)
    assert [u["UploadId"] for u in store.open_uploads()] == [orphan], "left to a lifecycle rule"
    assert any(
        "Could not list the open multipart uploads" in line for line in S3RefusedTheListing.recorded.lines
    )


# --------------------------------------------------------------------------------- replace
def test_existing_object_is_refused_before_downloading_unless_replace(
    fauna: Any, store: Store, task_context: dict[str, Any]
) -> None:
    request = complete_request()
    store.put(DEFAULT_KEY, b"older export")

    with pytest.raises(AirflowFailException) as refused:
        run(store, task_context, request.request_id)

    message = str(refused.value)
    assert store.uri(DEFAULT_KEY) in message and "replace=True" in message
    assert downloads(fauna) == [], "refused before any download"
    assert store.get(DEFAULT_KEY).data == b"older export"

    run(store, task_context, request.request_id, replace=True)
    first = store.get(DEFAULT_KEY).data
    assert first == fauna.file_bytes(request.request_id)

    run(store, task_context, request.request_id, replace=True)
    assert store.get(DEFAULT_KEY).data == first, "a re-run with replace=True yields the same bytes"
    assert store.open_uploads() == []


def test_a_retry_after_the_upload_landed_succeeds_without_copying_again(
    fauna: Any, store: Store, task_context: dict[str, Any]
) -> None:
    """The worker died after the upload: the retry finds its own export and does not fail."""
    request = complete_request()
    uri = run(store, task_context, request.request_id)
    landed = store.get(DEFAULT_KEY).data
    copies = len(downloads(fauna))

    assert run(store, task_context, request.request_id) == uri
    assert len(downloads(fauna)) == copies, "nothing downloaded again"
    assert store.get(DEFAULT_KEY).data == landed == fauna.file_bytes(request.request_id)


def test_no_authorization_header_ever_reaches_the_file_url(
    fauna: Any, store: Store, task_context: dict[str, Any]
) -> None:
    request = complete_request()
    fauna.faults = FaultConfig(download_expire_mid_stream=True)

    run(store, task_context, request.request_id)

    calls = downloads(fauna)
    assert len(calls) == 3
    assert not any(c.had_authorization for c in calls)
    assert all(c.had_authorization for c in fauna.api_calls()), "while every API call carries the key"


def test_s3_encryption_and_acl_are_applied_as_s3hook_does(
    fauna: Any, s3_bucket: str, task_context: dict[str, Any]
) -> None:
    store = S3Store(s3_bucket)
    request = complete_request()

    run(store, task_context, request.request_id, encrypt=True, acl_policy="bucket-owner-full-control")

    head = store.client.head_object(Bucket=s3_bucket, Key=DEFAULT_KEY)
    assert head["ServerSideEncryption"] == "AES256"
    assert store.get(DEFAULT_KEY).data == fauna.file_bytes(request.request_id)
    grants = store.client.get_object_acl(Bucket=s3_bucket, Key=DEFAULT_KEY)["Grants"]
    assert any(g["Permission"] == "FULL_CONTROL" for g in grants)


class S3Miscounting(FaunaLogsToS3Operator):
    """Remembers a wrong CRC-32 for each part, so S3's composite CRC-32 of the object disagrees."""

    def _send_part(self, *args: Any) -> Any:
        part = super()._send_part(*args)
        return dataclasses.replace(part, crc32=zlib.crc32(b"other bytes"))


class GCSMiscounting(FaunaLogsToGCSOperator):
    """Compares the stored CRC32C with the checksum of other bytes, so the object disagrees."""

    def _confirm(self, client: Any, destination: Any, download: Any, metadata: Any, crc: Any) -> None:
        import google_crc32c

        super()._confirm(client, destination, download, metadata, google_crc32c.Checksum(b"other bytes"))


def test_object_the_store_reports_differently_is_deleted(
    fauna: Any, store: Store, task_context: dict[str, Any]
) -> None:
    request = complete_request()
    tampering = S3Miscounting if isinstance(store, S3Store) else GCSMiscounting

    with pytest.raises(FaunaVerificationError, match="It was deleted"):
        run(store, task_context, request.request_id, operator_class=tampering)

    assert_nothing_left(store)


class S3WithoutChecksums(FaunaLogsToS3Operator):
    """A store that acknowledges no checksums: no CRC-32 in any answer, as from a store without them."""

    hide_etag = False

    @property
    def s3_hook(self) -> Any:
        hook = super().s3_hook
        events = hook.get_conn().meta.events
        for operation in ("UploadPart", "CompleteMultipartUpload", "HeadObject"):
            events.register(f"after-call.s3.{operation}", self._hide)
        return hook

    def _hide(self, parsed: dict[str, Any], model: Any, **_: Any) -> None:
        for name in [name for name in parsed if name.startswith("Checksum")]:
            del parsed[name]
        if self.hide_etag and model.name != "UploadPart":
            parsed.pop("ETag", None)


class S3WithoutChecksumsMiscounting(S3WithoutChecksums):
    """Remembers a wrong MD5 for each part, so the multipart ETag disagrees."""

    def _send_part(self, *args: Any) -> Any:
        part = super()._send_part(*args)
        return dataclasses.replace(part, md5=b"\0" * 16)


class S3ReportingNothing(S3WithoutChecksums):
    """Neither a checksum nor an ETag of the object: nothing to check it against."""

    hide_etag = True


def test_a_store_without_checksums_is_checked_by_the_multipart_etag(
    fauna: Any, s3_bucket: str, task_context: dict[str, Any]
) -> None:
    store = S3Store(s3_bucket)
    request = complete_request()

    run(store, task_context, request.request_id, operator_class=S3WithoutChecksums)

    assert store.get(DEFAULT_KEY).data == fauna.file_bytes(request.request_id)
    assert store.open_uploads() == []


@pytest.mark.parametrize(
    ("tampering", "problem"),
    [(S3WithoutChecksumsMiscounting, "ETag"), (S3ReportingNothing, "reports no checksum")],
    ids=["etag-disagrees", "nothing-to-check"],
)
def test_an_object_that_cannot_be_confirmed_is_deleted(
    fauna: Any, s3_bucket: str, task_context: dict[str, Any], tampering: type, problem: str
) -> None:
    store = S3Store(s3_bucket)
    request = complete_request()

    with pytest.raises(FaunaVerificationError, match="It was deleted") as failure:
        run(store, task_context, request.request_id, operator_class=tampering)

    assert problem in str(failure.value)
    assert_nothing_left(store)
