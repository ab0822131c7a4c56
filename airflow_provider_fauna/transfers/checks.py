"""Prove the bytes of a log file as they stream past: MD5 (whole and per part), CRC-32, gzip integrity."""

from __future__ import annotations

import hashlib
import queue
import threading
import zlib
from typing import Any

from airflow_provider_fauna.exceptions import FaunaError, FaunaValidationError

MiB = 1024 * 1024
#: ``verify_gzip="auto"``: decompress only when the file server sends no MD5 of the file.
AUTO = "auto"
#: What every gzip member begins with: the magic ``1f 8b`` and the method 8 (deflate).
GZIP_HEADER = b"\x1f\x8b\x08"
#: The smallest gzip file there is (``gzip.compress(b"")``): a 10-byte header, 2 of deflate, 8 of trailer.
MIN_GZIP_SIZE = 20


class FaunaTransferError(FaunaError):
    """The log file could not be copied; nothing was stored. A retry of the task starts afresh."""


class FaunaVerificationError(FaunaTransferError):
    """The bytes read (or stored) are not the log file: truncated, corrupt, or changed meanwhile."""


def check_verify_gzip(value: Any) -> bool | str:
    """``verify_gzip`` is ``True``, ``False`` or ``"auto"``; refuse anything else, naming the field."""
    if isinstance(value, bool) or value == AUTO:
        return value
    raise FaunaValidationError(
        f"verify_gzip={value!r} must be True (always decompress to check the gzip stream), False "
        f"(never) or {AUTO!r} (only when the file server sends no MD5 of the file; the default)."
    )


class GzipStart:
    """Check that a file begins as gzip does and is not shorter than any gzip file: cheap, always on.

    A zero-byte body, an HTML page or plain NDJSON can carry a valid MD5 ETag; this is what refuses
    them when that MD5 spares the decompression (``verify_gzip="auto"``) or it is off (``False``).
    """

    def __init__(self, request_id: str) -> None:
        self.request_id = request_id
        self.head = b""
        self.size = 0

    def update(self, chunk: bytes) -> None:
        """Take the next bytes; raise as soon as the first three are not a gzip header."""
        self.size += len(chunk)
        if len(self.head) < len(GZIP_HEADER):
            self.head += chunk[: len(GZIP_HEADER) - len(self.head)]
            if len(self.head) == len(GZIP_HEADER) and self.head != GZIP_HEADER:
                raise self._refusal(f"it begins with {self.head.hex(' ')}, not {GZIP_HEADER.hex(' ')}")

    def finish(self) -> None:
        """Raise if the file was shorter than the smallest gzip file."""
        if self.size < MIN_GZIP_SIZE:
            raise self._refusal("it is empty" if not self.size else f"{self.size} bytes is too short")

    def _refusal(self, why: str) -> FaunaVerificationError:
        # Only the first bytes, in hex: the body may be an error page quoting the URL.
        return FaunaVerificationError(
            f"Request {self.request_id}: the log file is not gzip ({why}), so the file server did "
            "not serve the export. Nothing was stored."
        )


class GzipCheck:
    """Decompress a gzip stream on the fly, ``window`` bytes at a time, output discarded, to prove it whole.

    zlib checks each member's CRC-32 and length; a truncated file fails at :meth:`finish`.
    """

    def __init__(self, window: int = MiB) -> None:
        self.window = window
        self._zlib = zlib.decompressobj(wbits=31)
        self.uncompressed = 0

    def update(self, data: bytes) -> None:
        """Feed the next compressed bytes; raise :class:`FaunaVerificationError` if they are not gzip."""
        try:
            while data:
                if self._zlib.eof:  # the next gzip member
                    self._zlib = zlib.decompressobj(wbits=31)
                self.uncompressed += len(self._zlib.decompress(data, self.window))
                while self._zlib.unconsumed_tail and not self._zlib.eof:
                    self.uncompressed += len(self._zlib.decompress(self._zlib.unconsumed_tail, self.window))
                data = self._zlib.unused_data if self._zlib.eof else b""
        except zlib.error as err:
            raise FaunaVerificationError(f"the log file is not a valid gzip stream ({err})") from None

    def finish(self) -> None:
        """Raise unless the stream ended exactly at the end of a gzip member."""
        if not self._zlib.eof:
            raise FaunaVerificationError(
                "the log file ends in the middle of its gzip stream (the download is truncated)"
            )


class StreamChecks:
    """Take the digests (and, if asked, the gzip check) of the bytes read, on a thread (they release the GIL).

    An error found on the thread is raised by the next :meth:`update` or by :meth:`finish`.

    :param part_size: also take the MD5 of each part of this size, for a multipart ETag.
    """

    def __init__(self, request_id: str, *, part_size: int | None = None, depth: int = 8) -> None:
        self.request_id = request_id
        self.md5 = hashlib.md5(usedforsecurity=False)
        self.crc32 = 0
        self.part_size = part_size
        self.part_md5s: list[bytes] = []
        self._part = hashlib.md5(usedforsecurity=False)
        self._part_fill = 0
        self.gzip: GzipCheck | None = None
        self._seen = 0
        self._error: BaseException | None = None
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=depth)
        self._thread = threading.Thread(target=self._run, name="fauna-transfer-checks", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self._error is not None:
                continue  # drain until told to stop
            try:
                self._digest(chunk)
                if self.gzip is not None:
                    self.gzip.update(chunk)
            except FaunaVerificationError as err:
                self._error = FaunaVerificationError(
                    f"Request {self.request_id}: {err} near byte {self._seen}. Nothing was stored."
                )
            except BaseException as err:  # handed to the reading thread
                self._error = err
            self._seen += len(chunk)

    def _digest(self, chunk: bytes) -> None:
        self.md5.update(chunk)
        self.crc32 = zlib.crc32(chunk, self.crc32)
        view = memoryview(chunk)
        while self.part_size and view:
            room = self.part_size - self._part_fill
            self._part.update(view[:room])
            self._part_fill += min(room, len(view))
            view = view[room:]
            if self._part_fill == self.part_size:
                self.part_md5s.append(self._part.digest())
                self._part, self._part_fill = hashlib.md5(usedforsecurity=False), 0

    def _raise(self) -> None:
        if self._error is not None:
            raise self._error

    def check_gzip(self) -> None:
        """Decompress the stream as well; call it before the first chunk is queued."""
        self.gzip = GzipCheck()

    def update(self, chunk: bytes) -> None:
        """Queue the next bytes (blocks while the thread is ``depth`` chunks behind)."""
        self._raise()
        self._queue.put(chunk)

    def finish(self) -> None:
        """Wait for the thread; raise what it found, or if the gzip stream did not end."""
        self.close()
        self._raise()
        if self._part_fill:
            self.part_md5s.append(self._part.digest())
            self._part_fill = 0
        if self.gzip is not None:
            try:
                self.gzip.finish()
            except FaunaVerificationError as err:
                raise FaunaVerificationError(
                    f"Request {self.request_id}: {err}. Nothing was stored."
                ) from None

    def close(self) -> None:
        """Stop the thread (also when the download is abandoned); safe to call twice."""
        if self._thread.is_alive():
            self._queue.put(None)
            self._thread.join()
