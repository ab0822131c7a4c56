"""The pieces of the streaming reader that need no server: the gzip check, progress, URL expiry, the session."""

from __future__ import annotations

import contextlib
import gzip
import os
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
import requests

from airflow_provider_fauna.log_requests import LogRequest
from airflow_provider_fauna.transfers.checks import FaunaVerificationError, GzipCheck, MiB, StreamChecks
from airflow_provider_fauna.transfers.download import Progress, url_expires_soon
from airflow_provider_fauna.transfers.session import PresignedUrlSession as _file_session

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


def feed(check: GzipCheck, data: bytes, step: int = 4096) -> None:
    for i in range(0, len(data), step):
        check.update(data[i : i + step])


def test_gzip_check_accepts_a_whole_file_and_concatenated_members() -> None:
    one = gzip.compress(b'{"a":1}\n' * 50_000)
    two = gzip.compress(b'{"b":2}\n' * 10)
    check = GzipCheck()
    feed(check, one + two)
    check.finish()
    assert check.uncompressed == 8 * 50_010


def test_gzip_check_refuses_a_truncated_file() -> None:
    data = gzip.compress(os.urandom(200_000))
    check = GzipCheck()
    feed(check, data[: len(data) - 5])
    with pytest.raises(FaunaVerificationError, match="truncated"):
        check.finish()


def test_gzip_check_refuses_flipped_bytes() -> None:
    data = bytearray(gzip.compress(b"x" * 100 + os.urandom(100_000)))
    data[len(data) // 2] ^= 0xFF
    data[-6] ^= 0xFF  # the CRC, in case the flip above still decodes
    check = GzipCheck()
    with pytest.raises(FaunaVerificationError, match="not a valid gzip"):
        feed(check, bytes(data))
        check.finish()


def test_gzip_check_bounds_the_output_it_produces_at_once() -> None:
    data = gzip.compress(b"\0" * (64 * MiB))
    assert len(data) < MiB
    check = GzipCheck(window=256 * 1024)
    check.update(data)  # one call, 64 MiB of output: produced 256 KiB at a time
    check.finish()
    assert check.uncompressed == 64 * MiB


def test_gzip_check_refuses_an_empty_body() -> None:
    with pytest.raises(FaunaVerificationError):
        GzipCheck().finish()


def test_stream_checks_take_the_md5_of_each_part_across_uneven_chunks() -> None:
    import hashlib
    import zlib

    data = os.urandom(5 * 1000 + 123)
    checks = StreamChecks("1", part_size=1000)
    for start in range(0, len(data), 333):  # chunks that straddle the part boundaries
        checks.update(data[start : start + 333])
    checks.finish()

    parts = [data[i : i + 1000] for i in range(0, len(data), 1000)]
    assert checks.part_md5s == [hashlib.md5(p).digest() for p in parts]
    assert checks.md5.hexdigest() == hashlib.md5(data).hexdigest()
    assert checks.crc32 == zlib.crc32(data)


class Recorder:
    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.lines.append(msg % args)

    def warning(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.lines.append(msg % args)


def test_progress_logs_each_tenth_of_a_known_size_not_each_chunk() -> None:
    log, now = Recorder(), [0.0]
    progress = Progress(log, "Copying", clock=lambda: now[0])
    progress.total = 100 * MiB
    for _ in range(400):  # 400 chunks of 256 KiB in 4 s
        now[0] += 0.01
        progress.advance(256 * 1024)
    assert len(log.lines) == 10
    assert log.lines[-1].startswith("Copying: 100.0 MiB of 100.0 MiB (100%)")
    assert "MiB/s" in log.lines[0]


def test_progress_logs_every_ten_seconds_when_the_size_is_unknown() -> None:
    log, now = Recorder(), [0.0]
    progress = Progress(log, "Copying", clock=lambda: now[0])
    for _ in range(100):  # 100 s
        now[0] += 1.0
        progress.advance(MiB)
    assert len(log.lines) == 10
    assert "%" not in log.lines[0]


def expiring(seconds_from_now: float | None, text: str | None = None) -> LogRequest:
    when = None
    if seconds_from_now is not None:
        when = (datetime.now(timezone.utc) + timedelta(seconds=seconds_from_now)).strftime(
            "%Y-%m-%dT%H:%M:%SZ"
        )
    return LogRequest.from_api(
        {"request_id": "1", "state": "Complete", "presigned_url_expiration_time": text or when}
    )


def test_url_expiry_is_read_from_the_request_with_a_margin() -> None:
    assert url_expires_soon(expiring(-5))
    assert url_expires_soon(expiring(30))  # within the 60 s margin: renew before starting
    assert not url_expires_soon(expiring(3600))
    assert not url_expires_soon(expiring(None)), "unknown expiry: the server's 403 will tell"
    assert not url_expires_soon(expiring(None, "next tuesday")), "unreadable expiry: same"


@pytest.fixture
def netrc_logins(tmp_path: Any, monkeypatch: pytest.MonkeyPatch) -> Callable[..., None]:
    """Give ``requests`` a ``.netrc`` (through ``$NETRC``) with a login for each host named."""

    def write(*hosts: str) -> None:
        netrc = tmp_path / ".netrc"
        netrc.write_text(
            "".join(f"machine {h} login user-{i} password secret-{i}\n" for i, h in enumerate(hosts))
        )
        netrc.chmod(0o600)
        monkeypatch.setenv("NETRC", str(netrc))

    return write


def test_file_session_sends_no_credentials_not_even_from_netrc(netrc_logins: Callable[..., None]) -> None:
    netrc_logins("files.example.com")
    session = _file_session()
    url = "https://files.example.com/f.gz?X-Sig=abc"

    from_netrc = session.prepare_request(requests.Request("GET", url))
    explicit = session.prepare_request(requests.Request("GET", url, headers={"Authorization": "Bearer k"}))

    assert "Authorization" not in from_netrc.headers
    assert "Authorization" not in explicit.headers
    assert from_netrc.headers["Accept-Encoding"] == "identity", "the gzip bytes, never decoded"
    control = requests.Session().prepare_request(requests.Request("GET", url))
    assert "Authorization" in control.headers, "a plain session would have sent the .netrc login"


@contextlib.contextmanager
def serving(host: str, answer: Any) -> Iterator[tuple[str, list[str | None]]]:
    """A local HTTP server on ``host``; ``answer(handler)`` replies. Yields its URL and the
    ``Authorization`` header of each request it saw."""
    seen: list[str | None] = []

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            seen.append(self.headers.get("Authorization"))
            answer(self)

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer((host, 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://{host}:{server.server_port}", seen
    finally:
        server.shutdown()
        server.server_close()


def test_file_session_sends_no_netrc_login_after_a_redirect_to_another_host_either(
    netrc_logins: Callable[..., None],
) -> None:
    """``requests`` re-applies ``.netrc`` on each redirect (``Session.rebuild_auth``); this session does not."""
    netrc_logins("localhost", "127.0.0.1")

    def ok(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(200)
        handler.send_header("Content-Length", "2")
        handler.end_headers()
        handler.wfile.write(b"ok")

    with serving("127.0.0.1", ok) as (target, target_saw):

        def redirect(handler: BaseHTTPRequestHandler) -> None:
            handler.send_response(307)
            handler.send_header("Location", target + handler.path)
            handler.send_header("Content-Length", "0")
            handler.end_headers()

        with serving("localhost", redirect) as (origin, origin_saw):
            url = f"{origin}/f.gz?X-Sig=abc"
            answer = _file_session().get(url, timeout=10)
            requests.get(url, timeout=10)  # the control: a plain session

    assert answer.content == b"ok" and [r.status_code for r in answer.history] == [307]
    assert origin_saw[0] is None and target_saw[0] is None, "no login on the first request nor the redirect"
    assert origin_saw[1] is not None and target_saw[1] is not None, "a plain requests.get would send both"
    assert _file_session().trust_env, "proxy settings from the environment still apply"


class _ListLog:
    """A task logger that keeps every line, formatted, for searching."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def info(self, msg: Any, *args: Any, **kwargs: Any) -> None:
        self.lines.append(str(msg) % args)

    warning = info


def test_a_redirect_targets_signature_reaches_neither_the_log_nor_the_error() -> None:
    """A 302 to a signed URL that cannot be reached: ``requests`` names it in its message.

    The provider never saw that URL, so it cannot mask it by value; the scrubbing of
    library messages must take it out, and the error must not keep the library's exception.
    """
    from airflow_provider_fauna.transfers.download import FaunaTransferError, LogFileDownload

    def redirect(handler: BaseHTTPRequestHandler) -> None:
        handler.send_response(302)
        handler.send_header("Location", "http://127.0.0.1:9/elsewhere/obj.gz?X-Amz-Signature=REDIRECTSECRET")
        handler.send_header("Content-Length", "0")
        handler.end_headers()

    with serving("127.0.0.1", redirect) as (origin, _):
        url = f"{origin}/_files/req-1/query-logs.ndjson.gz?X-Fauna-Signature=FIRSTSECRET"
        request = LogRequest(request_id="req-1", state="Complete", presigned_url=url)
        log = _ListLog()
        download = LogFileDownload(None, request, log=log, max_resumes=1)  # type: ignore[arg-type]
        download.backoff_base = 0.01
        with pytest.raises(FaunaTransferError, match="max_resumes=1") as failure:
            list(download)

    said = "\n".join([*log.lines, str(failure.value)])
    assert "ConnectionError" in said, "the cause is still named"
    for secret in ("REDIRECTSECRET", "FIRSTSECRET", "/elsewhere/obj.gz", "/_files/req-1"):
        assert secret not in said, f"{secret} was shown"
    assert f"{origin}/***" in str(failure.value), "the URL is shown by its host"
    assert failure.value.__context__ is None and failure.value.__cause__ is None


@pytest.mark.parametrize(
    ("text", "shown"),
    [
        ("https://bucket.s3.amazonaws.com/k/x.gz?X-Amz-Signature=abc", "https://bucket.s3.amazonaws.com/***"),
        (
            "GET https://user:pw@cdn.example.com:8443/token=abc/x.gz failed",
            "GET https://cdn.example.com:8443/*** failed",
        ),
        (
            "Max retries exceeded with url: /x.gz?X-Amz-Signature=abc (Caused by X)",
            "Max retries exceeded with url: *** (Caused by X)",
        ),
        ("session '/upload?upload_id=abc&name=x' gone", "session '/upload?***' gone"),
        ("nothing to see", "nothing to see"),
    ],
)
def test_scrub_urls_leaves_hosts_only(text: str, shown: str) -> None:
    from airflow_provider_fauna.utils.redact import scrub_urls

    assert scrub_urls(text) == shown
