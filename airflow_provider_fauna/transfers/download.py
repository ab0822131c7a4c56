"""Read a Fauna log file from its presigned URL: streamed, resumed with ``Range``, verified, never leaked.

The presigned URL is a credential: it is masked, shown only as its host, and scrubbed from
library messages, which are raised or logged outside the ``except`` block that caught them.
"""

from __future__ import annotations

import base64
import dataclasses
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any
from urllib.parse import urljoin, urlsplit

import requests
import urllib3

from airflow_provider_fauna.exceptions import FaunaValidationError
from airflow_provider_fauna.log_requests import LogRequestState, parse_time
from airflow_provider_fauna.outcomes import describe
from airflow_provider_fauna.transfers.checks import (
    AUTO,
    FaunaTransferError,
    FaunaVerificationError,
    GzipStart,
    MiB,
    StreamChecks,
    check_verify_gzip,
)
from airflow_provider_fauna.transfers.session import PresignedUrlSession, mask_url
from airflow_provider_fauna.utils.redact import redact_url, scrub_urls

if TYPE_CHECKING:
    from collections.abc import Callable, Generator, Iterator

    from airflow_provider_fauna.hooks.fauna import FaunaAccountHook
    from airflow_provider_fauna.log_requests import LogRequest
    from airflow_provider_fauna.waiting import TaskLogger

#: Size of one read from the HTTP stream.
DEFAULT_READ_SIZE = 1 * MiB
#: A URL this close to its expiry is renewed before a request is made with it.
URL_EXPIRY_MARGIN = 60.0
#: How long to wait for a new URL while the request reads ``CreatingNewUrl``.
URL_REFRESH_TIMEOUT = 300.0
#: Connect and read timeouts of the file download, in seconds.
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 60.0
#: Failures in a row without a new byte (drops, 5xx, refused URLs) before the attempt gives up.
DEFAULT_MAX_RESUMES = 5
#: Resumes in one attempt in all, so that a link that drops every few bytes cannot loop forever.
MAX_TOTAL_RESUMES = 100
#: Progress goes to the task log at most this often, or at each further tenth of the file.
PROGRESS_SECONDS = 10.0
PROGRESS_FRACTION = 0.1
#: Redirects followed from the presigned URL to the file (``requests`` allows 30).
MAX_REDIRECTS = 10
_REDIRECTS = (301, 302, 303, 307, 308)
#: Server-side encryption whose ETag is not the MD5 of the content (S3's KMS modes).
KMS_ENCRYPTION = ("aws:kms", "aws:kms:dsse")

_PLAIN_MD5_ETAG = re.compile(r'^"?([0-9a-fA-F]{32})"?$')
_CONTENT_RANGE = re.compile(r"^bytes (\d+)-(\d+)/(\d+|\*)$")


@dataclass(frozen=True)
class DownloadStats:
    """What was read: the size and digests of the file, and how much trouble it took."""

    size: int
    md5_hex: str
    resumes: int
    url_refreshes: int
    #: Whether the gzip stream was decompressed to its end (``verify_gzip``).
    gzip_checked: bool
    #: The CRC-32 of the file, and the MD5 of each part of :attr:`LogFileDownload.part_size`.
    crc32: int
    part_md5s: list[bytes]

    @property
    def md5_b64(self) -> str:
        """Return the MD5 as object stores spell it in headers (``Content-MD5``, GCS ``md5Hash``)."""
        return base64.b64encode(bytes.fromhex(self.md5_hex)).decode()


class _Retryable(Exception):
    """Internal: this read failed in a way a resume may cure (kept free of the URL)."""


class _Refresh(Exception):
    """Internal: the URL was refused; ask for a new one, then resume."""


class Progress:
    """Report a long copy in the task log every ten seconds or tenth of the file."""

    def __init__(self, log: TaskLogger, what: str, clock: Callable[[], float] = time.monotonic) -> None:
        self.log = log
        self.what = what
        self.clock = clock
        self.started = clock()
        self.total: int | None = None
        self.done = 0
        self._last_time = self.started
        self._last_done = 0

    def advance(self, count: int) -> None:
        """Count ``count`` more bytes, and log if it is time to."""
        self.done += count
        now = self.clock()
        step = self.total * PROGRESS_FRACTION if self.total else None
        if now - self._last_time >= PROGRESS_SECONDS or (step and self.done - self._last_done >= step):
            self._last_time, self._last_done = now, self.done
            self.log.info("%s: %s", self.what, self.summary(now))

    def summary(self, now: float | None = None) -> str:
        """Return e.g. ``"12.0 MiB of 48.0 MiB (25%) in 3.1 s, 3.9 MiB/s"``."""
        elapsed = max((now if now is not None else self.clock()) - self.started, 1e-6)
        text = f"{self.done / MiB:.1f} MiB"
        if self.total:
            text += f" of {self.total / MiB:.1f} MiB ({100 * self.done // self.total}%)"
        return f"{text} in {elapsed:.1f} s, {self.done / MiB / elapsed:.1f} MiB/s"


def url_expires_soon(request: LogRequest, margin: float = URL_EXPIRY_MARGIN) -> bool:
    """Tell whether the presigned URL expires within ``margin`` seconds (unknown: no, a 403 will tell)."""
    text = request.presigned_url_expiration_time
    if not text:
        return False
    try:
        expires = parse_time(text, "presigned_url_expiration_time")
    except FaunaValidationError:
        return False
    return expires.timestamp() - margin <= datetime.now(timezone.utc).timestamp()


def usable_url(
    hook: FaunaAccountHook, request: LogRequest, log: TaskLogger, *, renew: bool = False
) -> LogRequest:
    """Return ``request`` read again as ``Complete`` with a presigned URL: the one path to a URL to download.

    A request without a URL (a trigger event's copy never has one) is read again. A ``Complete``
    one that still has none (the reference's own status sample has none) gets a new URL asked for,
    once; while it reads ``CreatingNewUrl`` (this or another transfer asked for one) the status is
    read again, for up to :data:`URL_REFRESH_TIMEOUT` seconds.

    :param renew: ask for a new URL at once (the one in hand expired or was refused).
    """
    rid = request.request_id
    if renew:
        request = hook.create_log_file_url(rid)
    elif not (request.is_complete and request.presigned_url):
        request = hook.get_log_request(rid)
    asked, given = renew, request
    deadline = time.monotonic() + URL_REFRESH_TIMEOUT
    delay = 0.25
    while not (request.is_complete and request.presigned_url):
        if request.is_complete and not asked:
            log.info("%s is Complete without a presigned URL; asking for one.", describe(request))
            request = given = hook.create_log_file_url(rid)
            asked = True
            continue
        if request.is_complete and given.presigned_url:
            # The status read may leave out the URL the new-URL answer gave; that one is current.
            return dataclasses.replace(
                request,
                presigned_url=given.presigned_url,
                presigned_url_expiration_time=given.presigned_url_expiration_time,
            )
        if request.state != LogRequestState.CREATING_NEW_URL and not request.is_complete:
            how = "became" if renew else "is"
            raise FaunaTransferError(
                f"{describe(request)} {how} {request.state} and has no file to download."
            )
        if time.monotonic() >= deadline:
            raise FaunaTransferError(
                f"No presigned URL for request {rid} within {URL_REFRESH_TIMEOUT:g} s "
                f"(it still reads {request.state})."
            )
        time.sleep(delay)
        delay = min(delay * 2, 10.0)
        request = hook.get_log_request(rid)
    return request


class LogFileDownload:
    """Iterate once over the bytes of a completed log request's file; then :attr:`stats` holds its digests.

    A failed read resumes with ``Range: bytes=N-`` (with a new URL when refused). The size, the
    MD5 (against the ``ETag`` or ``x-goog-hash``) and, if no MD5 proves the bytes, the gzip
    stream are checked before the iteration ends: a failure raises instead of ending it.

    :param hook: the Account API hook, used only to ask for new presigned URLs.
    :param request: a ``Complete`` request with a presigned URL (not a redacted XCom copy).
    :param log: the task's logger, for progress and resumes.
    :param read_size: bytes per read from the HTTP stream.
    :param max_resumes: failures in a row without progress before giving up.
    :param verify_gzip: also decompress on the fly to check the gzip stream: ``True``, ``False``
        or ``"auto"`` (only when the file server sends no MD5 of the file).
    """

    backoff_base = 0.5
    backoff_max = 30.0

    def __init__(
        self,
        hook: FaunaAccountHook,
        request: LogRequest,
        *,
        log: TaskLogger,
        read_size: int = DEFAULT_READ_SIZE,
        max_resumes: int = DEFAULT_MAX_RESUMES,
        verify_gzip: bool | str = AUTO,
    ) -> None:
        if not request.is_complete or not request.presigned_url:
            raise FaunaTransferError(f"{describe(request)} is {request.state} and has no file to download.")
        self.hook = hook
        self.request = request
        self.log = log
        self.read_size = read_size
        self.max_resumes = max_resumes
        self.verify_gzip = check_verify_gzip(verify_gzip)
        self.session = PresignedUrlSession()
        self._part_size: int | None = None
        self.stats: DownloadStats | None = None
        self.progress = Progress(log, f"Copying the log file of request {request.request_id}")
        self._url = self._adopt(request)
        self._offset = 0
        self._total: int | None = None
        self._etag: str | None = None
        self._etag_md5: str | None = None
        self._checks_chosen = False
        self._goog_md5: str | None = None
        self._checks: StreamChecks | None = None
        self._start = GzipStart(request.request_id)
        self._resumes = 0
        self._refreshes = 0
        self._failures_in_row = 0
        self._target = ""
        self._chunks: Generator[bytes, None, None] | None = None
        self._answered = False

    @property
    def part_size(self) -> int | None:
        """Also take the MD5 of each part of this many bytes; set it before the first byte is read."""
        return self._part_size

    @part_size.setter
    def part_size(self, size: int | None) -> None:
        if self._offset:
            raise RuntimeError("part_size must be set before the first byte is read")
        self._part_size = size
        if self._checks is not None:
            self._checks.part_size = size

    def open(self) -> int | None:
        """Make the first request now, with the retries of any other, and return the announced size.

        No byte is consumed: the iteration goes on from this response. The S3 transfer sizes its
        parts from the answer before its upload starts.
        """
        if self._chunks is None:
            self._chunks = self._iterate()
            next(self._chunks, None)  # the first item is the b"" that marks the first accepted answer
        return self._total

    def close(self) -> None:
        """Abandon the download (its connection and checking thread); safe to call twice."""
        if self._chunks is not None:
            self._chunks.close()

    def _adopt(self, request: LogRequest) -> str:
        """Take a request's URL into use, masked (whole, query, path secrets) in every log line from now on."""
        url = request.presigned_url or ""
        self._current = request
        mask_url(url)
        return url

    @property
    def safe_url(self) -> str:
        """Return the current URL's scheme and host only, fit for logs and messages."""
        return redact_url(self._url)

    def _scrub(self, text: str) -> str:
        """Remove the URL (and where it redirected to) and their queries from a library's message."""
        for url in {self._url, self._target} - {""}:
            query = url.partition("?")[2]
            if query:
                text = text.replace(query, "***")
            text = text.replace(url, redact_url(url))
        return scrub_urls(text)

    def _refresh_url(self, why: str) -> None:
        """Ask the Account API for a new presigned URL and wait until it is there."""
        self._refreshes += 1
        self.log.warning(
            "The presigned URL of request %s %s; asking for a new one (%d so far).",
            self.request.request_id,
            why,
            self._refreshes,
        )
        self._url = self._adopt(usable_url(self.hook, self.request, self.log, renew=True))

    def __iter__(self) -> Iterator[bytes]:
        self.open()
        assert self._chunks is not None
        yield from self._chunks

    def _iterate(self) -> Generator[bytes, None, None]:
        """Yield ``b""`` once the first answer is accepted, then the file's bytes; verify at the end."""
        self._checks = checks = StreamChecks(self.request.request_id, part_size=self._part_size)
        if self.verify_gzip is True:
            checks.check_gzip()
        try:
            yield from self._read_all()
        finally:
            checks.close()
        self._verify()
        self.stats = DownloadStats(
            size=self._offset,
            md5_hex=checks.md5.hexdigest(),
            resumes=self._resumes,
            url_refreshes=self._refreshes,
            gzip_checked=checks.gzip is not None,
            crc32=checks.crc32,
            part_md5s=checks.part_md5s,
        )

    def _read_all(self) -> Iterator[bytes]:
        if url_expires_soon(self.request):
            self._refresh_url("has expired (presigned_url_expiration_time has passed)")
        while True:
            # The failure leaves the except blocks as text, so that what is raised or logged
            # below does not carry the library's exception (and its URL) along.
            refresh = retry = ""
            try:
                yield from self._read_from_offset()
            except _Refresh as why:
                refresh = str(why)
            except _Retryable as why:
                retry = str(why)
            if not refresh and not retry and (self._total is None or self._offset >= self._total):
                return
            self._failed()
            if refresh:
                self._refresh_url(refresh)
            elif retry:
                delay = min(self.backoff_base * 2 ** (self._failures_in_row - 1), self.backoff_max)
                self.log.warning(
                    "Download of request %s stopped at byte %d (%s); resuming in %.1f s.",
                    self.request.request_id,
                    self._offset,
                    retry,
                    delay,
                )
                time.sleep(delay)
            else:  # the body ended early without an error: resume like after a drop
                self.log.warning(
                    "Download of request %s ended at byte %d of %d; resuming.",
                    self.request.request_id,
                    self._offset,
                    self._total,
                )

    def _failed(self) -> None:
        """Count a failure; give up after too many in a row without progress, or in all."""
        self._failures_in_row += 1
        self._resumes += 1
        if self._failures_in_row > self.max_resumes or self._resumes > MAX_TOTAL_RESUMES:
            raise FaunaTransferError(
                f"Gave up downloading the log file of request {self.request.request_id} from "
                f"{self.safe_url} at byte {self._offset}"
                + (f" of {self._total}" if self._total is not None else "")
                + f" after {self._resumes} failed read(s) ({self._failures_in_row} in a row without "
                f"progress; max_resumes={self.max_resumes}). Nothing was stored; retry the task."
            )

    def _open(self) -> requests.Response:
        """GET the file from the current offset, following redirects here, each target masked first.

        ``requests`` would follow them itself, but then urllib3 logs (at DEBUG) a target that
        was never masked: its signature would reach the task log.
        """
        headers = {"Range": f"bytes={self._offset}-"} if self._offset else {}
        url = self._url
        failure = ""
        for _ in range(MAX_REDIRECTS + 1):
            self._target = url
            try:
                response = self.session.get(
                    url,
                    headers=headers,
                    stream=True,
                    timeout=(CONNECT_TIMEOUT, READ_TIMEOUT),
                    allow_redirects=False,
                )
            except requests.RequestException as err:
                failure = f"{type(err).__name__}: {self._scrub(str(err))}"
                break
            location = response.headers.get("Location")
            if response.status_code not in _REDIRECTS or not location:
                return response
            response.close()
            url = urljoin(url, location)
            mask_url(url)
            if urlsplit(url).scheme not in ("http", "https"):  # requests would fail alike on each try
                raise FaunaTransferError(
                    f"The file server of request {self.request.request_id} redirected the download to a "
                    f"{urlsplit(url).scheme or 'scheme-less'}: URL, which is not http(s); nothing was stored."
                )
        else:
            failure = f"more than {MAX_REDIRECTS} redirects"
        raise _Retryable(failure)  # outside the except block: see _read_all

    def _read_from_offset(self) -> Iterator[bytes]:
        """One GET from the current offset to the end (or to the next failure)."""
        with self._open() as response:
            skip = self._check_response(response)
            if not self._answered:
                self._answered = True
                yield b""  # see open()
            failure = ""
            try:
                for chunk in response.raw.stream(self.read_size, decode_content=False):
                    if skip:
                        cut = min(skip, len(chunk))
                        chunk, skip = chunk[cut:], skip - cut
                        if not chunk:
                            continue
                    if self._total is not None and self._offset + len(chunk) > self._total:
                        raise FaunaVerificationError(
                            f"the server sent more than the {self._total} bytes it announced"
                        )
                    self._take(chunk)
                    yield chunk
            except (requests.RequestException, urllib3.exceptions.HTTPError, OSError) as err:
                failure = f"{type(err).__name__}: {self._scrub(str(err))}"
            if failure:
                raise _Retryable(failure)

    def _take(self, chunk: bytes) -> None:
        assert self._checks is not None
        self._start.update(chunk)  # before a byte goes to the store
        self._checks.update(chunk)
        self._offset += len(chunk)
        self._failures_in_row = 0
        self.progress.advance(len(chunk))

    def _check_response(self, response: requests.Response) -> int:
        """Accept a 200/206 answer for the current offset; return how many bytes to skip."""
        status = response.status_code
        if status in (401, 403) or (status == 400 and url_expires_soon(self._current, 0)):
            raise _Refresh(f"was refused with {status}")
        if status == 416 and self._total is not None and self._offset >= self._total:
            return 0
        if status in (408, 429) or status >= 500:
            raise _Retryable(f"the file server answered {status}")
        if status not in (200, 206):
            raise FaunaTransferError(
                f"The log file of request {self.request.request_id} could not be downloaded from "
                f"{self.safe_url}: the file server answered {status}."
            )
        self._check_identity(response.headers)
        if self._offset == 0 and not self._checks_chosen:
            self._choose_checks()
        if status == 206:
            match = _CONTENT_RANGE.match(response.headers.get("Content-Range", "").strip())
            if not match or int(match.group(1)) != self._offset:
                raise _Retryable(
                    f"the file server answered a range other than bytes={self._offset}- "
                    f"({response.headers.get('Content-Range')!r})"
                )
            if match.group(3) != "*":
                self._announce(int(match.group(3)))
            return 0
        length = response.headers.get("Content-Length")
        if length is not None and length.isdigit():
            self._announce(int(length))
        if self._offset:
            self.log.warning(
                "The file server ignored the Range header; skipping the %d bytes already copied.",
                self._offset,
            )
        return self._offset

    def _announce(self, total: int) -> None:
        if self._total is not None and total != self._total:
            raise FaunaVerificationError(
                f"the log file's size changed between reads ({self._total} then {total} bytes)"
            )
        self._total = total
        self.progress.total = total

    def _check_identity(self, headers: Any) -> None:
        """Refuse to splice two files (the ETag must not change); note the MD5 the headers give.

        S3's ETag is the MD5 of the bytes, unless KMS or a customer key encrypted them, or multipart.
        """
        etag = headers.get("ETag")
        if etag is not None:
            if self._etag is not None and etag != self._etag:
                raise FaunaVerificationError(
                    f"the log file changed between reads (ETag {self._etag} then {etag})"
                )
            self._etag = etag
            plain = _PLAIN_MD5_ETAG.match(etag)
            encrypted = headers.get("x-amz-server-side-encryption") in KMS_ENCRYPTION or headers.get(
                "x-amz-server-side-encryption-customer-algorithm"
            )
            if plain and not encrypted:
                self._etag_md5 = plain.group(1).lower()
        for part in (headers.get("x-goog-hash") or "").split(","):
            name, _, value = part.strip().partition("=")
            if name == "md5" and value:
                self._goog_md5 = value

    def _choose_checks(self) -> None:
        """With ``verify_gzip="auto"``, decompress only if no MD5 proves the bytes (at a fraction of the CPU)."""
        assert self._checks is not None
        self._checks_chosen = True
        proof = "ETag" if self._etag_md5 else "x-goog-hash md5" if self._goog_md5 else None
        if proof is None and self.verify_gzip is False:
            self.log.warning(
                "The file server sends no MD5 of the log file of request %s and verify_gzip=False: "
                "only its size is checked.",
                self.request.request_id,
            )
        elif proof is None and self.verify_gzip == AUTO:
            self.log.info(
                "The file server sends no MD5 of the log file of request %s: decompressing it on the "
                "way to prove it whole (verify_gzip='auto').",
                self.request.request_id,
            )
            self._checks.check_gzip()
        elif self.verify_gzip == AUTO:
            self.log.info(
                "The file server sends the MD5 of the log file of request %s (%s): the bytes are "
                "proven by it, without decompressing (verify_gzip='auto').",
                self.request.request_id,
                proof,
            )

    def _verify(self) -> None:
        """Check the end of the file: size, MD5 against the ETag / x-goog-hash, gzip integrity."""
        rid = self.request.request_id
        assert self._checks is not None
        self._checks.finish()
        self._start.finish()
        md5 = self._checks.md5
        if self._total is not None and self._offset != self._total:
            raise FaunaVerificationError(
                f"Read {self._offset} bytes of the log file of request {rid}, but the server announced "
                f"{self._total}. Nothing was stored."
            )
        if self._etag_md5 and self._etag_md5 != md5.hexdigest():
            raise FaunaVerificationError(
                f"The log file of request {rid} is corrupt: its MD5 {md5.hexdigest()} differs from "
                f"the ETag {self._etag} the server gave. Nothing was stored."
            )
        if self._goog_md5:
            ours = base64.b64encode(md5.digest()).decode()
            if ours != self._goog_md5:
                raise FaunaVerificationError(
                    f"The log file of request {rid} is corrupt: its MD5 {ours} differs from the "
                    f"x-goog-hash md5 {self._goog_md5}. Nothing was stored."
                )
