"""The copy itself, against the Fauna emulator, two S3 servers and gcp-storage-emulator: bytes, faults.

Each test calls the operator's ``execute`` with a stub task context (only the task instance's ids
and ``xcom_push``), so it can set up the exact moment a fault strikes; everything the copy talks
to is real: the hook, the emulator's presigned URL, the store. Every test runs on every store it
concerns: S3 on moto's server and on s3rver, and GCS.
"""

from __future__ import annotations

import hashlib
import time
from typing import TYPE_CHECKING, Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from fauna_emulator import FaultConfig
from transfer_stores import DEFAULT_KEY, GCSStore, S3Store, Store, complete_request

from airflow_provider_fauna.transfers.base import TRANSFER_XCOM_KEY
from airflow_provider_fauna.transfers.download import FaunaTransferError, FaunaVerificationError
from airflow_provider_fauna.transfers.fauna_to_s3 import FaunaLogsToS3Operator

if TYPE_CHECKING:
    from collections.abc import Callable

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


@pytest.mark.parametrize(
    ("faults", "max_resumes", "statuses"),
    [
        pytest.param({"download_drop_after_bytes": 3 * MiB + 12345}, 5, [200, 206], id="dropped-once"),
        pytest.param(
            {"download_drop_after_bytes": 4 * MiB, "download_fault_count": None},
            1,
            [200, 206, 206],
            id="dropped-often-with-progress",
        ),
        pytest.param({"download_truncate": True}, 5, [200, 206], id="truncated-body"),
    ],
)
def test_a_cut_download_resumes_with_a_range_request(
    fauna: Any,
    store: Store,
    task_context: dict[str, Any],
    faults: dict[str, Any],
    max_resumes: int,
    statuses: list[int],
) -> None:
    request = complete_request()
    fauna.faults = FaultConfig(**faults)

    run(store, task_context, request.request_id, max_resumes=max_resumes)

    assert store.get(DEFAULT_KEY).data == fauna.file_bytes(request.request_id)
    assert [c.status for c in downloads(fauna)] == statuses
    assert fauna.api_calls("POST", f"/api/v1/logs/{request.request_id}/url") == [], "no new URL needed"


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

    def without_etag(response: Any, *args: Any, **kwargs: Any) -> None:
        response.headers.pop("ETag", None)

    class WithoutEtag(download.PresignedUrlSession):
        def __init__(self) -> None:
            super().__init__()
            self.hooks["response"].append(without_etag)

    monkeypatch.setattr(download, "PresignedUrlSession", WithoutEtag)


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
def break_the_upload_midway(store: Store, monkeypatch: pytest.MonkeyPatch, s3_calls: list[Any]) -> list[Any]:
    """The second part (S3) or the third chunk (GCS) fails, as if the network to the store broke."""
    broken: list[Any] = []
    if isinstance(store, S3Store):

        def part_number_two(params: dict[str, Any], **_: Any) -> None:
            if params.get("PartNumber") == 2:
                broken.append(True)
                raise ConnectionError("S3 went away")

        s3_calls.append(("before-parameter-build.s3.UploadPart", part_number_two))
        return broken
    from google.cloud.storage.fileio import BlobWriter

    write, terminate = BlobWriter.write, BlobWriter.terminate

    def failing_write(writer: Any, data: bytes) -> int:
        writer.written = getattr(writer, "written", 0) + len(data)
        if writer.written > 2 * MiB:  # GCSStore's chunk_size is 1 MiB
            raise ConnectionError("GCS went away")
        return write(writer, data)

    def recorded_terminate(writer: Any) -> None:
        broken.append(True)
        terminate(writer)

    monkeypatch.setattr(BlobWriter, "write", failing_write)
    monkeypatch.setattr(BlobWriter, "terminate", recorded_terminate)
    return broken


def test_upload_failing_midway_leaves_no_object_and_no_open_upload(
    fauna: Any,
    store: Store,
    task_context: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    s3_calls: list[Any],
) -> None:
    request = complete_request()
    broken = break_the_upload_midway(store, monkeypatch, s3_calls)

    with pytest.raises(ConnectionError, match="went away"):
        run(store, task_context, request.request_id)

    assert broken, "the fault struck (S3: part 2 of 3; GCS: the session was cancelled)"
    assert_nothing_left(store)


def test_bytes_corrupted_in_flight_abort_the_upload_already_under_way(
    fauna: Any,
    store: Store,
    task_context: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    s3_calls: list[Any],
) -> None:
    """A byte flipped between the file server and the upload (past the first part) is caught."""
    import urllib3

    request = complete_request()
    stream = urllib3.response.HTTPResponse.stream

    def flipping(response: Any, *args: Any, **kwargs: Any) -> Any:
        for number, chunk in enumerate(stream(response, *args, **kwargs)):
            yield chunk if number != 7 else bytes([chunk[0] ^ 0xFF]) + chunk[1:]

    monkeypatch.setattr(urllib3.response.HTTPResponse, "stream", flipping)
    parts: list[int] = []
    s3_calls.append(
        ("before-parameter-build.s3.UploadPart", lambda params, **_: parts.append(params["PartNumber"]))
    )

    with pytest.raises(FaunaVerificationError, match="differs from the ETag") as failure:
        run(store, task_context, request.request_id)

    assert "Nothing was stored" in str(failure.value)
    if isinstance(store, S3Store):
        assert parts, "the managed transfer had started uploading parts before the end was read"
    assert_nothing_left(store)


def test_the_transfer_uploads_while_it_downloads_without_holding_the_file(
    fauna: Any,
    s3_bucket: str,
    task_context: dict[str, Any],
    s3_calls: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The first part goes up before the file's last byte is read: the body is never buffered whole."""
    from airflow_provider_fauna.transfers.checks import StreamChecks

    request = complete_request()
    total = len(fauna.file_bytes(request.request_id))
    read = [0]
    update = StreamChecks.update

    def counted(checks: StreamChecks, chunk: bytes) -> None:
        read[0] += len(chunk)
        update(checks, chunk)

    monkeypatch.setattr(StreamChecks, "update", counted)
    read_when_uploading: list[int] = []

    def first_part(params: dict[str, Any], **_: Any) -> None:
        if params["PartNumber"] == 1:
            read_when_uploading.append(read[0])

    s3_calls.append(("before-parameter-build.s3.UploadPart", first_part))

    run(S3Store(s3_bucket), task_context, request.request_id, upload_concurrency=1)

    # One part in flight and the next being read: at most two of the 2.4 parts.
    assert read_when_uploading and read_when_uploading[0] <= 2 * 5 * MiB < total


# --------------------------------------------------------------------------------- orphaned uploads
class RecordingLog:
    """The operator's log, kept as text: Airflow 3 logs through structlog, which ``caplog`` does not see."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def _record(self, msg: Any, *args: Any, **_: Any) -> None:
        self.lines.append(str(msg) % args if args else str(msg))

    debug = info = warning = error = exception = _record


class S3LoggingToAList(FaunaLogsToS3Operator):
    """The S3 transfer with its log kept as text."""

    recorded = RecordingLog()

    @property
    def log(self) -> Any:
        return self.recorded


def open_upload(store: S3Store, key: str) -> str:
    """An upload with one part, as a killed try leaves it."""
    upload_id = store.client.create_multipart_upload(Bucket=store.bucket, Key=key)["UploadId"]
    store.client.upload_part(Bucket=store.bucket, Key=key, UploadId=upload_id, PartNumber=1, Body=b"x" * 1024)
    return upload_id


def access_denied(**_: Any) -> None:
    from botocore.exceptions import ClientError

    error = {"Error": {"Code": "AccessDenied", "Message": "no s3:ListBucketMultipartUploads"}}
    raise ClientError(error, "ListMultipartUploads")


@pytest.mark.parametrize("listing", ["allowed", "refused"])
def test_uploads_earlier_tries_left_open_on_the_key_are_aborted_where_the_store_lists_them(
    fauna: Any, s3_bucket: str, task_context: dict[str, Any], s3_calls: list[Any], listing: str
) -> None:
    """moto lists and aborts them (only this key's); s3rver (501) and a role without the right cannot."""
    store = S3Store(s3_bucket)
    request = complete_request()
    orphans = [open_upload(store, DEFAULT_KEY) for _ in range(3)]
    neighbour = open_upload(store, DEFAULT_KEY + ".bak")  # shares the prefix, not the key
    listed = [u["UploadId"] for u in store.open_uploads()]
    if listing == "refused":
        s3_calls.append(("before-call.s3.ListMultipartUploads", access_denied))
    S3LoggingToAList.recorded = log = RecordingLog()

    run(store, task_context, request.request_id, operator_class=S3LoggingToAList)

    assert store.get(DEFAULT_KEY).data == fauna.file_bytes(request.request_id)
    if listed and listing == "allowed":
        assert [u["UploadId"] for u in store.open_uploads()] == [neighbour]
        (line,) = [line for line in log.lines if "earlier tries left open" in line]
        assert "Aborted 3 of the 3 multipart upload(s)" in line
        assert all(upload_id in line for upload_id in orphans)
    else:
        assert sorted(u["UploadId"] for u in store.open_uploads()) == sorted(listed), (
            "left to a lifecycle rule"
        )
        assert any("Could not list the open multipart uploads" in line for line in log.lines)


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
    fauna: Any, s3_bucket: str, task_context: dict[str, Any], s3_calls: list[Any]
) -> None:
    store = S3Store(s3_bucket)
    request = complete_request()
    sent: list[dict[str, Any]] = []
    s3_calls.append(
        ("before-parameter-build.s3.CreateMultipartUpload", lambda params, **_: sent.append(params))
    )

    run(store, task_context, request.request_id, encrypt=True, acl_policy="bucket-owner-full-control")

    assert store.get(DEFAULT_KEY).data == fauna.file_bytes(request.request_id)
    (params,) = sent
    assert (params["ServerSideEncryption"], params["ACL"]) == ("AES256", "bucket-owner-full-control")
    assert params["Metadata"]["fauna-request-id"] == request.request_id


def test_the_aws_connections_config_kwargs_reach_the_upload(
    fauna: Any,
    s3_server: str,
    s3_bucket: str,
    task_context: dict[str, Any],
    s3_calls: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """For a store that rejects flexible checksums: ``when_required`` sends no CRC-32 of the parts."""
    import os

    from harness import aws_connection_json, conn_env_var

    config = {
        "request_checksum_calculation": "when_required",
        "response_checksum_validation": "when_required",
    }
    key = os.environ["AWS_ACCESS_KEY_ID"]  # the server's, set by s3_server
    monkeypatch.setenv(
        conn_env_var("aws_default"), aws_connection_json(s3_server, key=key, config_kwargs=config)
    )
    store = S3Store(s3_bucket)
    request = complete_request()
    headers: list[dict[str, str]] = []
    s3_calls.append(("before-send.s3.UploadPart", lambda request, **_: headers.append(dict(request.headers))))

    run(store, task_context, request.request_id)

    assert store.get(DEFAULT_KEY).data == fauna.file_bytes(request.request_id)
    assert len(headers) == 3, "three parts"
    assert not any(name.lower().startswith("x-amz-checksum") for sent in headers for name in sent)


# --------------------------------------------------------------------------------- what landed
def tamper_head(**changes: Any) -> Callable[..., None]:
    """An ``after-call`` handler that makes HeadObject report ``changes`` (``None``: drop the field)."""

    def handler(parsed: dict[str, Any], **_: Any) -> None:
        if "ContentLength" not in parsed:  # a 404: no object yet
            return
        for name, value in changes.items():
            if value is None:
                parsed.pop(name, None)
            else:
                parsed[name] = value(parsed) if callable(value) else value

    return handler


ZERO_MD5 = '"' + "0" * 32 + '"'
#: What the store reports about the object, and whether the copy keeps it.
REPORTS = {
    "size-differs": ({"ContentLength": lambda p: p["ContentLength"] - 1}, "size"),
    "plain-md5-etag-differs": ({"ETag": ZERO_MD5}, "ETag"),
    "multipart-etag-differs": ({"ETag": '"' + "0" * 32 + '-3"'}, "ETag"),
    "full-object-crc-differs": ({"ChecksumCRC32": "AAAAAA==", "ChecksumType": "FULL_OBJECT"}, "CRC-32"),
    "etag-of-an-unknown-form": ({"ETag": '"opaque-etag-of-some-store"', "ChecksumCRC32": None}, ""),
    "multipart-etag-of-other-parts": ({"ETag": '"' + "0" * 32 + '-7"', "ChecksumCRC32": None}, ""),
    "composite-crc": ({"ChecksumCRC32": "AAAAAA==-3", "ChecksumType": "COMPOSITE"}, ""),
}


@pytest.mark.parametrize("report", list(REPORTS))
def test_an_object_reported_different_is_deleted_and_one_in_an_unknown_form_is_kept(
    fauna: Any, s3_bucket: str, task_context: dict[str, Any], s3_calls: list[Any], report: str
) -> None:
    changes, problem = REPORTS[report]
    store = S3Store(s3_bucket)
    request = complete_request()
    s3_calls.append(("after-call.s3.HeadObject", tamper_head(**changes)))

    if not problem:
        run(store, task_context, request.request_id)
        assert store.get(DEFAULT_KEY).data == fauna.file_bytes(request.request_id)
        return
    with pytest.raises(FaunaVerificationError, match="It was deleted") as failure:
        run(store, task_context, request.request_id)
    assert problem in str(failure.value)
    assert_nothing_left(store)


def test_gcs_object_reported_different_is_deleted(
    fauna: Any, gcs_bucket: str, task_context: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    from google.cloud.storage import Blob

    store = GCSStore(gcs_bucket)
    request = complete_request()
    monkeypatch.setattr(Blob, "crc32c", property(lambda blob: "AAAAAA=="))

    with pytest.raises(FaunaVerificationError, match="It was deleted") as failure:
        run(store, task_context, request.request_id)

    assert "crc32c" in str(failure.value)
    monkeypatch.undo()
    assert_nothing_left(store)


def test_an_upload_whose_answer_was_lost_but_landed_whole_is_kept(
    fauna: Any, s3_bucket: str, task_context: dict[str, Any], s3_calls: list[Any]
) -> None:
    """A byte-identical object is never deleted: S3 completed it, the answer never came."""
    store = S3Store(s3_bucket)
    request = complete_request()

    def answer_lost(**_: Any) -> None:
        raise ConnectionError("the answer never came")

    s3_calls.append(("after-call.s3.CompleteMultipartUpload", answer_lost))

    assert run(store, task_context, request.request_id) == store.uri(DEFAULT_KEY)

    assert store.get(DEFAULT_KEY).data == fauna.file_bytes(request.request_id)
