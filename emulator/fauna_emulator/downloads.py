"""The presigned file URL: an object-store-like GET of the gzip log file.

Why it behaves like S3 rather than like the API: the real presigned URL points at an object
store, so the client must cope with what object stores do: XML 403s when the URL is wrong or
expired, ``ETag`` = quoted MD5, single byte ranges for resuming (206 + ``Content-Range``,
416 when unsatisfiable; a multi-range header is ignored and the whole file sent, as S3 does).
The body is ``application/gzip`` with no ``Content-Encoding``, so HTTP clients hand over the
compressed bytes untouched. It is streamed from the cached file in chunks, read off-loop.
"""

from __future__ import annotations

import asyncio
import re
import secrets
from typing import TYPE_CHECKING

from aiohttp import web

from fauna_emulator.context import CONTEXT
from fauna_emulator.faults import CORRUPT_BYTES
from fauna_emulator.recording import finish_call, note_fault
from fauna_emulator.signing import SIGNATURE_PARAM, Verdict, file_path
from fauna_emulator.validation import ApiError

if TYPE_CHECKING:
    from typing import BinaryIO

    from fauna_emulator.faults import DownloadFault
    from fauna_emulator.filecache import CachedFile

CHUNK = 256 * 1024
_RANGE = re.compile(r"bytes=(\d*)-(\d*)")

routes = web.RouteTableDef()


class Unsatisfiable(Exception):
    """The range starts past the end of the file."""


def parse_range(header: str | None, size: int) -> tuple[int, int] | None:
    """The inclusive byte range asked for, or None for the whole file.

    Malformed and multi-range headers are ignored (whole file), as RFC 9110 allows.
    """
    if not header:
        return None
    match = _RANGE.fullmatch(header.strip())
    if match is None:
        return None
    first, last = match.groups()
    if not first:
        if not last:
            return None
        suffix = int(last)
        if suffix == 0:
            raise Unsatisfiable
        return max(0, size - suffix), size - 1
    start = int(first)
    end = size - 1 if not last else min(int(last), size - 1)
    if last and int(last) < start:
        return None
    if start >= size:
        raise Unsatisfiable
    return start, end


def s3_error(status: int, code: str, message: str) -> web.Response:
    """An object store's XML error."""
    body = (
        '<?xml version="1.0" encoding="UTF-8"?>\n'
        f"<Error><Code>{code}</Code><Message>{message}</Message>"
        f"<RequestId>{secrets.token_hex(8).upper()}</RequestId></Error>"
    )
    return web.Response(status=status, text=body, content_type="application/xml")


_REFUSALS = {
    Verdict.MISSING: "Query-string authentication requires the X-Fauna-Signature and X-Fauna-Expires parameters",
    Verdict.BAD_SIGNATURE: "The request signature we calculated does not match the signature you provided",
    Verdict.EXPIRED: "Request has expired",
}


def _apply_corruption(chunk: bytes, chunk_start: int, fault: DownloadFault | None) -> bytes:
    """Flip the bytes of the corruption fault that fall in this chunk (offsets from body start)."""
    if fault is None or fault.kind != "download_corrupt":
        return chunk
    lo, hi = max(fault.offset, chunk_start), min(fault.offset + CORRUPT_BYTES, chunk_start + len(chunk))
    if lo >= hi:
        return chunk
    flipped = bytearray(chunk)
    for i in range(lo - chunk_start, hi - chunk_start):
        flipped[i] ^= 0xFF
    return bytes(flipped)


async def _stream(
    request: web.Request, response: web.StreamResponse, cached: CachedFile, start: int, length: int
) -> None:
    """Send ``length`` bytes from ``start``, applying the download fault due, if any."""
    ctx = request.app[CONTEXT]
    fault = ctx.faults.take_download_fault(length)
    if fault is not None:
        note_fault(request, fault.kind)
    limit = length if fault is None or fault.kind == "download_corrupt" else fault.offset
    loop = asyncio.get_running_loop()
    handle: BinaryIO = await loop.run_in_executor(None, open, cached.path, "rb")
    try:
        await loop.run_in_executor(None, handle.seek, start)
        sent = 0
        while sent < limit:
            chunk = await loop.run_in_executor(None, handle.read, min(CHUNK, limit - sent))
            if not chunk:
                break
            if sent + len(chunk) >= limit:
                finish_call(request, response.status)  # before the client can have it all
            await response.write(_apply_corruption(chunk, sent, fault))
            sent += len(chunk)
    finally:
        await loop.run_in_executor(None, handle.close)
    finish_call(request, response.status)
    if fault is None or fault.kind == "download_corrupt":
        return
    if fault.kind == "download_expire_mid_stream":
        ctx.signer.revoke(request.query[SIGNATURE_PARAM])
    if fault.kind == "download_truncate":
        request.protocol.force_close()  # closes cleanly after what was written: a short body
    elif request.transport is not None:
        request.transport.abort()


@routes.get("/_files/{request_id}/query-logs.ndjson.gz")
async def download(request: web.Request) -> web.StreamResponse:
    """Serve a log file to whoever holds a valid presigned URL."""
    ctx = request.app[CONTEXT]
    request_id = request.match_info["request_id"]
    verdict = ctx.signer.check(file_path(request_id), request.query, ctx.account.clock())
    if verdict is not Verdict.OK:
        if verdict is Verdict.EXPIRED and ctx.signer.was_born_expired(request.query[SIGNATURE_PARAM]):
            note_fault(request, "early_expiry")
        return s3_error(403, "AccessDenied", _REFUSALS[verdict])
    try:
        spec = ctx.account.spec_of(request_id)
    except ApiError:
        return s3_error(404, "NoSuchKey", "The specified key does not exist.")
    cached = await asyncio.wrap_future(ctx.files.ensure(spec))
    try:
        byte_range = parse_range(request.headers.get("Range"), cached.size)
    except Unsatisfiable:
        refusal = s3_error(416, "InvalidRange", "The requested range is not satisfiable")
        refusal.headers["Content-Range"] = f"bytes */{cached.size}"
        return refusal
    start, end = byte_range or (0, cached.size - 1)
    response = web.StreamResponse(
        status=206 if byte_range else 200,
        headers={"Content-Type": "application/gzip", "ETag": cached.etag, "Accept-Ranges": "bytes"},
    )
    if byte_range:
        response.headers["Content-Range"] = f"bytes {start}-{end}/{cached.size}"
    response.content_length = end - start + 1
    await response.prepare(request)
    if request.method != "HEAD":
        await _stream(request, response, cached, start, end - start + 1)
    return response
