"""The transfer's edges: bodies that are not gzip, ranges that start elsewhere, files too big for 10,000 parts.

A loopback stub file server stands in for the presigned URL where the emulator cannot serve the
answer (a body of the test's choosing with its true MD5 as ETag, a 206 from another offset); the
request itself is the emulator's, completed through the hook, and the store is real.
"""

from __future__ import annotations

import contextlib
import dataclasses
import gzip
import hashlib
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
import requests
from airflow.providers.common.compat.sdk import AirflowFailException
from hypothesis import given
from hypothesis import strategies as st
from transfer_stores import DEFAULT_KEY, GCSStore, S3Store, Store, complete_request

from airflow_provider_fauna.transfers import fauna_to_s3
from airflow_provider_fauna.transfers.base import TRANSFER_XCOM_KEY
from airflow_provider_fauna.transfers.download import FaunaTransferError, FaunaVerificationError
from airflow_provider_fauna.transfers.fauna_to_s3 import MAX_PART_SIZE, MIN_PART_SIZE, part_size_for

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

MiB = 1024 * 1024


@dataclasses.dataclass
class Served:
    """What the stub serves, and the ``Range`` headers it was asked with."""

    body: bytes
    #: Answer the n-th GET (from 0) with this callable instead: ``(handler, range header) -> None``.
    special: dict[int, Callable[[Any, str | None], None]] = dataclasses.field(default_factory=dict)
    ranges: list[str | None] = dataclasses.field(default_factory=list)

    @property
    def etag(self) -> str:
        return f'"{hashlib.md5(self.body).hexdigest()}"'


@contextlib.contextmanager
def stub_file_server(served: Served) -> Iterator[str]:
    """Serve ``served.body`` at ``/file`` with its MD5 ETag and byte ranges, as an object store does."""

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def log_message(self, *args: Any) -> None:
            pass

        def do_GET(self) -> None:
            number = len(served.ranges)
            wanted = self.headers.get("Range")
            served.ranges.append(wanted)
            if number in served.special:
                served.special[number](self, wanted)
                return
            start = int(wanted.removeprefix("bytes=").rstrip("-")) if wanted else 0
            self.send_part(start, len(served.body) - 1, partial=bool(wanted))

        def send_part(self, start: int, end: int, *, partial: bool, cut: int | None = None) -> None:
            body = served.body[start : end + 1]
            self.send_response(206 if partial else 200)
            self.send_header("Content-Type", "application/gzip")
            self.send_header("ETag", served.etag)
            self.send_header("Content-Length", str(len(body)))
            if partial:
                self.send_header("Content-Range", f"bytes {start}-{end}/{len(served.body)}")
            self.end_headers()
            self.wfile.write(body if cut is None else body[:cut])
            if cut is not None:
                self.close_connection = True

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/file?X-Stub-Signature=stub-0123456789abcdef"
    finally:
        server.shutdown()
        server.server_close()


def transfer_from(store: Store, context: dict[str, Any], url: str, **kwargs: Any) -> Any:
    """Copy the file at ``url`` as the file of a completed emulator request, through the real operator."""
    request = dataclasses.replace(complete_request(), presigned_url=url)
    operator = store.operator(request_id=request.request_id, deferrable=False, max_resumes=2, **kwargs)
    return operator.transfer(context, request)


def assert_nothing_left(store: Store) -> None:
    assert store.keys() == []
    assert store.open_uploads() == []


# --------------------------------------------------------------------------------- not gzip
NOT_GZIP = {
    "empty": b"",
    "html": b"<!DOCTYPE html><html><body>Service Unavailable</body></html>\n" * 20,
    "plain-ndjson": b'{"query": "Collection.all()", "ts": 1}\n' * 200_000,  # several parts
    "too-short": b"\x1f\x8b\x08\x00",
}


@pytest.mark.parametrize("verify_gzip", ["auto", False])
@pytest.mark.parametrize("body", list(NOT_GZIP))
def test_a_body_that_is_not_gzip_is_refused_even_when_its_md5_etag_is_right(
    fauna: Any, store: Store, task_context: dict[str, Any], s3_calls: list[Any], body: str, verify_gzip: Any
) -> None:
    """Refused at its first bytes: not one part of it goes up (on S3, where parts can be counted)."""
    served = Served(NOT_GZIP[body])
    uploads: list[str] = []
    for call in ("CreateMultipartUpload", "UploadPart", "PutObject"):
        s3_calls.append((f"before-parameter-build.s3.{call}", lambda call=call, **_: uploads.append(call)))
    with stub_file_server(served) as url, pytest.raises(FaunaVerificationError) as failure:
        transfer_from(store, task_context, url, verify_gzip=verify_gzip)

    assert "is not gzip" in str(failure.value)
    assert "Nothing was stored" in str(failure.value)
    assert "stub-0123456789abcdef" not in str(failure.value)
    assert uploads == []
    assert_nothing_left(store)


def test_a_small_gzip_file_proven_by_its_md5_is_stored(
    fauna: Any, store: Store, task_context: dict[str, Any]
) -> None:
    served = Served(gzip.compress(b'{"a": 1}\n'))
    with stub_file_server(served) as url:
        transfer_from(store, task_context, url)

    assert store.get(DEFAULT_KEY).data == served.body
    assert task_context["ti"].xcoms[TRANSFER_XCOM_KEY]["gzip_checked"] is False


# --------------------------------------------------------------------------------- ranges
def test_a_206_from_another_offset_is_not_spliced_in_and_the_resume_is_asked_again(
    fauna: Any, store: Store, task_context: dict[str, Any]
) -> None:
    """The first GET drops after 1 MiB; the resume is answered from byte 0 (206), then rightly."""
    served = Served(gzip.compress(bytes(range(256)) * 20_000, compresslevel=0))
    half = MiB

    def drop(handler: Any, _: str | None) -> None:
        handler.send_part(0, len(served.body) - 1, partial=False, cut=half)

    def from_zero(handler: Any, _: str | None) -> None:
        handler.send_part(0, len(served.body) - 1, partial=True)

    served.special = {0: drop, 1: from_zero}
    with stub_file_server(served) as url:
        transfer_from(store, task_context, url)

    assert served.ranges == [None, f"bytes={half}-", f"bytes={half}-"]
    assert store.get(DEFAULT_KEY).data == served.body
    assert task_context["ti"].xcoms[TRANSFER_XCOM_KEY]["resumes"] == 2


# --------------------------------------------------------------------------------- part size
@given(
    size=st.integers(min_value=0, max_value=MAX_PART_SIZE * 10_000),
    asked=st.integers(MIN_PART_SIZE, 64 * MiB),
)
def test_the_part_size_fits_any_announced_size_in_10000_parts(size: int, asked: int) -> None:
    part = part_size_for(size, asked)

    assert MIN_PART_SIZE <= asked <= part <= MAX_PART_SIZE
    assert -(-size // part) <= 10_000
    if part != asked:  # grown: a whole number of MiB, and one MiB less would not do
        assert part % MiB == 0
        assert -(-size // (part - MiB)) > 10_000


def test_the_part_size_is_kept_when_no_size_is_announced_and_a_file_too_big_is_refused() -> None:
    assert part_size_for(None, MIN_PART_SIZE) == MIN_PART_SIZE
    assert part_size_for(78 * 1024 * MiB, 8 * MiB) == 8 * MiB
    assert part_size_for(100 * 1024 * MiB, 8 * MiB) == 11 * MiB
    with pytest.raises(FaunaTransferError, match="10000 parts"):
        part_size_for(MAX_PART_SIZE * 10_000 + 1, MIN_PART_SIZE)


def test_a_file_needing_more_parts_than_s3_allows_goes_up_in_bigger_parts(
    fauna: Any,
    s3_bucket: str,
    task_context: dict[str, Any],
    s3_calls: list[Any],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """S3's 10,000 lowered to 2: the ~12 MiB file goes up in 2 parts of 6 MiB, not 3 of 5 MiB."""
    monkeypatch.setattr(fauna_to_s3, "MAX_PARTS", 2)
    store = S3Store(s3_bucket)
    request = complete_request()
    expected = fauna.file_bytes(request.request_id)
    assert 2 * 5 * MiB < len(expected) <= 2 * 6 * MiB
    parts: list[tuple[int, int]] = []

    def record(params: dict[str, Any], **_: Any) -> None:
        parts.append((params["PartNumber"], len(params["Body"].read())))
        params["Body"].seek(0)

    s3_calls.append(("before-parameter-build.s3.UploadPart", record))

    operator = store.operator(request_id=request.request_id, deferrable=False, poll_interval=0.2)
    operator.execute(task_context)

    assert sorted(parts) == [(1, 6 * MiB), (2, len(expected) - 6 * MiB)]
    assert store.get(DEFAULT_KEY).data == expected
    assert store.open_uploads() == []


# --------------------------------------------------------------------------------- write races
THEIRS = b"another writer's object"


def test_an_object_written_by_another_while_the_s3_upload_runs_is_left_as_it_is(
    fauna: Any,
    s3_bucket: str,
    task_context: dict[str, Any],
    s3_calls: list[Any],
    s3_server: str,
    request: pytest.FixtureRequest,
) -> None:
    """Another writer lands the key between our parts and our CompleteMultipartUpload.

    S3 (moto) refuses our completion (``If-None-Match: *``): theirs stays, the task fails clearly,
    no upload is left. s3rver ignores ``If-None-Match`` (see "Conditional writes" in the
    transfers guide): there, the later write wins, and ours is the later one.
    """
    store = S3Store(s3_bucket)
    log_request = complete_request()
    expected = fauna.file_bytes(log_request.request_id)

    def another_writer(**_: Any) -> None:
        store.put(DEFAULT_KEY, THEIRS)

    s3_calls.append(("before-call.s3.CompleteMultipartUpload", another_writer))
    operator = store.operator(request_id=log_request.request_id, deferrable=False, poll_interval=0.2)

    if "s3rver" in request.node.callspec.id:
        assert operator.execute(task_context) == store.uri(DEFAULT_KEY)
        assert store.get(DEFAULT_KEY).data == expected
        return
    with pytest.raises(AirflowFailException, match="was created by someone else while this task copied"):
        operator.execute(task_context)
    assert store.get(DEFAULT_KEY).data == THEIRS
    assert store.open_uploads() == []


def break_gcs_writes_after(monkeypatch: pytest.MonkeyPatch, *, then: Callable[[], None], fail: bool) -> None:
    """After the first MiB went up, run ``then`` (once); with ``fail``, the upload breaks there too."""
    from google.cloud.storage.fileio import BlobWriter

    write, done = BlobWriter.write, []

    def writing(writer: Any, data: bytes) -> int:
        writer.written = getattr(writer, "written", 0) + len(data)
        if writer.written > 2 * MiB and not done:
            done.append(True)
            then()
            if fail:
                raise ConnectionError("GCS went away")
        return write(writer, data)

    monkeypatch.setattr(BlobWriter, "write", writing)


@pytest.fixture
def gcs_generation_guard(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Refuse a finalizing upload request with ``ifGenerationMatch=0`` when the object exists, with
    GCS's 412, as GCS does and gcp-storage-emulator does not. Yields the upload URLs sent."""
    import requests
    from google.auth.transport.requests import AuthorizedSession
    from google.cloud.storage import Client

    urls: list[str] = []
    real = AuthorizedSession.request

    def request(session: Any, method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        if "/upload/" in url:
            urls.append(url)
        headers = kwargs.get("headers") or {}
        finalizing = method == "PUT" and not str(headers.get("content-range", "")).endswith("/*")
        if finalizing and "ifGenerationMatch=0" in url:
            bucket, name = _bucket_and_name(url)
            if Client.create_anonymous_client().bucket(bucket).get_blob(name) is not None:
                refused = requests.Response()
                refused.status_code, refused._content = 412, b'{"error": {"code": 412}}'
                refused.request = requests.Request(method, url).prepare()
                return refused
        return real(session, method, url, *args, **kwargs)

    monkeypatch.setattr(AuthorizedSession, "request", request)
    return urls


def _bucket_and_name(url: str) -> tuple[str, str]:
    from urllib.parse import parse_qs, unquote, urlsplit

    parts = urlsplit(url)
    bucket = parts.path.split("/b/", 1)[1].split("/", 1)[0]
    upload_id = parse_qs(parts.query)["upload_id"][0]  # the emulator's: bucket:name:time
    return bucket, unquote(upload_id).split(":", 2)[1]


def test_an_object_written_by_another_while_the_gcs_upload_runs_is_left_as_it_is(
    fauna: Any,
    gcs_bucket: str,
    task_context: dict[str, Any],
    monkeypatch: pytest.MonkeyPatch,
    gcs_generation_guard: list[str],
) -> None:
    """``ifGenerationMatch=0``: our session's final chunk is refused, theirs stays, the task fails clearly."""
    store = GCSStore(gcs_bucket)
    log_request = complete_request()
    break_gcs_writes_after(monkeypatch, then=lambda: store.put(DEFAULT_KEY, THEIRS), fail=False)
    operator = store.operator(request_id=log_request.request_id, deferrable=False, poll_interval=0.2)

    with pytest.raises(AirflowFailException, match="was created by someone else while this task copied"):
        operator.execute(task_context)

    ours = [url for url in gcs_generation_guard if "uploadType=resumable" in url]
    assert ours and all("ifGenerationMatch=0" in url for url in ours)
    assert store.get(DEFAULT_KEY).data == THEIRS


def test_a_failed_gcs_upload_deletes_no_object_it_did_not_write(
    fauna: Any, gcs_bucket: str, task_context: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """With ``replace=True`` (no generation guard) another writer lands the key, then our upload breaks:
    the clean-up finds an object at the key, sees it is not this attempt's, and keeps it."""
    store = GCSStore(gcs_bucket)
    log_request = complete_request()
    break_gcs_writes_after(monkeypatch, then=lambda: store.put(DEFAULT_KEY, THEIRS), fail=True)
    operator = store.operator(
        request_id=log_request.request_id, deferrable=False, poll_interval=0.2, replace=True
    )

    with pytest.raises(ConnectionError, match="went away"):
        operator.execute(task_context)

    assert store.get(DEFAULT_KEY).data == THEIRS


# --------------------------------------------------------------------------------- redirects
@pytest.mark.parametrize("target", ["file:///etc/hostname", "ftp://127.0.0.1/file.gz"])
def test_a_redirect_to_a_url_that_is_not_http_is_refused_at_once(
    fauna: Any, store: Store, task_context: dict[str, Any], target: str
) -> None:
    """Refused on the first answer: no resume could fetch it, and ``requests`` would fail alike each time."""
    served = Served(gzip.compress(b'{"a": 1}\n'))

    def elsewhere(handler: Any, _: str | None) -> None:
        handler.send_response(302)
        handler.send_header("Location", target)
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    served.special = {0: elsewhere}
    with (
        stub_file_server(served) as url,
        pytest.raises(FaunaTransferError, match=r"not http\(s\)") as failure,
    ):
        transfer_from(store, task_context, url)

    assert served.ranges == [None], "one GET, no resumes"
    assert target not in str(failure.value)
    assert_nothing_left(store)


@pytest.mark.parametrize(
    "url",
    [
        "http://files.example/log.gz?X-Signature=AbCd%7E0123456789abcdef",  # an unreserved character quoted
        "http://files.example/log.gz?X-Signature=AbCd 0123456789abcdef",  # a space
        "http://files.example/log.gz?X-Signature=AbCd|0123456789abcdef",  # a character requests quotes
    ],
)
def test_a_presigned_url_is_masked_as_requests_sends_and_urllib3_logs_it(url: str) -> None:
    """urllib3's DEBUG line holds the request target as ``requests`` re-quoted it, not as given."""
    from airflow.providers.common.compat.sdk import redact

    from airflow_provider_fauna.transfers.session import mask_url

    mask_url(url)
    sent = requests.Request("GET", url).prepare().path_url
    line = f'http://files.example:80 "GET {sent} HTTP/1.1" 200 1234'
    assert "0123456789abcdef" in line and "0123456789abcdef" not in str(redact(line))
