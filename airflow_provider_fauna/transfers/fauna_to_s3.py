"""Copy a Fauna query-log export to Amazon S3 as a multipart upload: streamed, verified, all or nothing.

Needs the Amazon provider (``pip install 'airflow-provider-fauna[amazon]'``); this module
imports without it, and the operator says what to install when it is missing.
"""

from __future__ import annotations

import base64
import functools
import hashlib
import re
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_fauna.exceptions import FaunaValidationError
from airflow_provider_fauna.transfers.base import (
    BaseFaunaLogsTransferOperator,
    Destination,
    check_key_template,
    check_provider_installed,
    require_provider,
)
from airflow_provider_fauna.transfers.download import KMS_ENCRYPTION, FaunaVerificationError, MiB
from airflow_provider_fauna.utils.templates import is_templated

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook
    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_fauna.log_requests import LogRequest
    from airflow_provider_fauna.transfers.download import DownloadStats, LogFileDownload

#: Bytes per uploaded part. S3 needs at least 5 MiB for every part but the last, and allows
#: 10,000 parts: 8 MiB parts carry files up to 78 GiB.
DEFAULT_PART_SIZE = 8 * MiB
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * 1024 * MiB
MAX_PARTS = 10_000
#: Parts uploaded at once while the next one is read; memory holds about this many parts more.
DEFAULT_UPLOAD_CONCURRENCY = 2
MAX_UPLOAD_CONCURRENCY = 16
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")


def validate_s3_bucket(bucket: Any) -> str:
    """Check a bucket name against S3's rules, naming the field in the message."""
    if not isinstance(bucket, str) or not bucket.strip():
        raise FaunaValidationError("s3_bucket is empty: give the name of the bucket to write to.")
    if bucket.startswith("s3://"):
        raise FaunaValidationError(
            f"s3_bucket={bucket!r} is a URL: give the bare bucket name ({bucket[5:].split('/')[0]!r})."
        )
    if not _BUCKET.match(bucket) or ".." in bucket or _IP_ADDRESS.match(bucket):
        raise FaunaValidationError(
            f"s3_bucket={bucket!r} is not a valid S3 bucket name: 3 to 63 lowercase letters, digits, "
            "'.' and '-', beginning and ending with a letter or digit."
        )
    return bucket


@functools.cache
def _s3_hook_class(base: type[S3Hook], caller: str) -> type[S3Hook]:
    """``S3Hook`` that names its caller in the AWS user agent without walking the stack.

    To write ``Caller/<operator>`` into the user agent of each client it makes, the amazon
    provider walks the call stack with ``inspect.stack()``, reading the source of every
    frame: 0.14 s of CPU per client here, in a 64 MiB copy more than half of what the copy
    costs beyond a bare ``boto3`` one, and more in a task's deeper stack. The caller is known
    here, so it is given rather than searched for; the user agent reads the same.
    """

    class FaunaS3Hook(base):  # type: ignore[valid-type,misc]
        def _get_caller(self, *args: Any, **kwargs: Any) -> str:
            return caller

    return FaunaS3Hook


def _b64_crc32(crc: int) -> str:
    """A CRC-32 as S3 spells it (``x-amz-checksum-crc32``): four big-endian bytes, base64."""
    return base64.b64encode(crc.to_bytes(4, "big")).decode()


@dataclass(frozen=True)
class _Part:
    """One uploaded part: its entry for ``complete_multipart_upload``, its CRC-32, and its MD5 if needed.

    The MD5 is taken only for a store that does not acknowledge the part's checksum: then the
    multipart ETag (the MD5 of the parts' MD5s) is the check of the completed object.
    """

    entry: dict[str, Any]
    crc32: int
    md5: bytes | None


@dataclass
class _Parts:
    """What S3 is told at completion, and what it should answer: per-part checksums (and MD5s)."""

    entries: list[dict[str, Any]]
    crc32s: list[int]
    md5s: list[bytes | None]

    def add(self, part: _Part) -> None:
        """Record a finished part (parts are added in part-number order)."""
        self.entries.append(part.entry)
        self.crc32s.append(part.crc32)
        self.md5s.append(part.md5)

    @property
    def expected_etag(self) -> str | None:
        """A multipart object's ETag: MD5 of the parts' MD5s, then ``-N`` (``None``: MD5s not taken)."""
        md5s = [md5 for md5 in self.md5s if md5 is not None]
        if len(md5s) != len(self.md5s):
            return None
        return f'"{hashlib.md5(b"".join(md5s), usedforsecurity=False).hexdigest()}-{len(md5s)}"'

    @property
    def expected_crc32(self) -> str:
        """A multipart object's composite CRC-32: the CRC-32 of the parts' CRC-32s, base64.

        S3 spells it with ``-N`` (the number of parts) after it in some answers, not in others.
        """
        return _b64_crc32(zlib.crc32(b"".join(crc.to_bytes(4, "big") for crc in self.crc32s)))


class FaunaLogsToS3Operator(BaseFaunaLogsTransferOperator):
    """Stream a Fauna query-log export into S3, as ``s3://{s3_bucket}/{s3_key}``.

    The file goes from the presigned URL to S3 in parts of ``part_size`` bytes (a multipart
    upload with ``ChecksumAlgorithm=CRC32``, as ``boto3`` uploads by default: each part's
    CRC-32 is sent for S3 to check), so memory stays at a few parts however large the file.
    The upload is completed only after the whole file was read and verified (size, MD5
    against the ETag, or the gzip CRC when nothing else proves it), with the file's size for
    S3 to check. S3's answer is then checked as well: the stored size and the composite
    CRC-32 of the parts (or, from a store that acknowledges no checksums, the multipart ETag)
    must be what was sent, or the object is deleted. Any failure aborts the multipart upload, so neither an object nor an open upload
    is left behind; and since a killed try can abort nothing, each copy first aborts the
    uploads earlier tries left open on its key. Without ``replace`` the upload is also
    completed with ``If-None-Match: *``, so an object written meanwhile by someone else is
    not overwritten either.

    Returns ``s3://bucket/key``. To schedule on the file, declare it as an outlet, e.g.
    ``outlets=[Asset("s3://my-bucket/fauna/query_logs/us-std/ECommerce/")]`` or a key rendered
    the same way. See :class:`BaseFaunaLogsTransferOperator` for the request parameters and for
    why the object has content type ``application/gzip`` and no ``Content-Encoding``.

    :param s3_bucket: the bucket (templated).
    :param s3_key: the object key (templated). Besides Jinja, it may use the placeholders of
        :ref:`object-keys`, filled from the request; default
        ``fauna/query_logs/{region_group}/{database_name}/date={date}/{start}_{end}.ndjson.gz``, e.g.
        ``fauna/query_logs/us-std/ECommerce/date=2026-11-21/20261121T000000Z_20261122T000000Z.ndjson.gz``.
    :param aws_conn_id: the AWS connection (templated).
    :param encrypt: store with server-side encryption (SSE-S3, ``AES256``), as ``S3Hook`` does.
    :param acl_policy: a canned ACL for the object, e.g. ``bucket-owner-full-control``.
    :param part_size: bytes per part (5 MiB to 5 GiB).
    :param upload_concurrency: parts uploaded at once while the next is read (1 to 16); memory
        holds about ``upload_concurrency + 1`` parts.
    """

    template_fields: Sequence[str] = (
        *BaseFaunaLogsTransferOperator.template_fields,
        "s3_bucket",
        "s3_key",
        "aws_conn_id",
    )
    scheme = "s3"
    bucket_field = "s3_bucket"
    key_field = "s3_key"

    def __init__(
        self,
        *,
        s3_bucket: str,
        s3_key: str | None = None,
        aws_conn_id: str | None = "aws_default",
        encrypt: bool = False,
        acl_policy: str | None = None,
        part_size: int = DEFAULT_PART_SIZE,
        upload_concurrency: int = DEFAULT_UPLOAD_CONCURRENCY,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.s3_bucket = s3_bucket
        self.s3_key = s3_key
        self.aws_conn_id = aws_conn_id
        self.encrypt = encrypt
        self.acl_policy = acl_policy
        if (
            isinstance(part_size, bool)
            or not isinstance(part_size, int)
            or not (MIN_PART_SIZE <= part_size <= MAX_PART_SIZE)
        ):
            raise FaunaValidationError(
                f"part_size={part_size!r} must be an integer from {MIN_PART_SIZE} (5 MiB, S3's minimum) "
                f"to {MAX_PART_SIZE} (5 GiB)."
            )
        self.part_size = part_size
        if (
            isinstance(upload_concurrency, bool)
            or not isinstance(upload_concurrency, int)
            or not 1 <= upload_concurrency <= MAX_UPLOAD_CONCURRENCY
        ):
            raise FaunaValidationError(
                f"upload_concurrency={upload_concurrency!r} must be an integer from 1 to "
                f"{MAX_UPLOAD_CONCURRENCY} (parts uploaded at once)."
            )
        self.upload_concurrency = upload_concurrency
        self._try_hook: S3Hook | None = None
        check_provider_installed("airflow.providers.amazon.aws.hooks.s3", "amazon", type(self).__name__)
        if not is_templated(s3_bucket):
            validate_s3_bucket(s3_bucket)
        if s3_key is not None and not is_templated(s3_key):
            check_key_template("s3_key", s3_key)

    def check_destination(self) -> None:
        """Check the rendered bucket and key before any network call."""
        validate_s3_bucket(self.s3_bucket)
        if self.s3_key is not None:
            check_key_template("s3_key", self.s3_key)

    def key_template(self) -> str | None:
        """The rendered ``s3_key``."""
        return self.s3_key

    def bucket(self) -> str:
        """The rendered ``s3_bucket``."""
        return self.s3_bucket

    def check_bucket_exists(self) -> None:
        """``HeadBucket``: a missing bucket or missing credentials fail the task before the export.

        The hook (and its boto3 client) is kept for the copy when this try does not defer.
        """
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        self._try_hook = hook = self._try_hook or self.s3_hook
        try:
            hook.get_conn().head_bucket(Bucket=self.s3_bucket)
        except NoCredentialsError:
            raise AirflowFailException(
                f"aws_conn_id={self.aws_conn_id!r} yields no AWS credentials: define that connection, "
                "or give the worker credentials of its own. Nothing was exported."
            ) from None
        except (ClientError, BotoCoreError) as err:
            if isinstance(err, ClientError):
                code = str(err.response.get("Error", {}).get("Code", ""))
            else:  # the store did not answer: only the kind of failure, no endpoint URL
                code = type(err).__name__
            if code in ("404", "NoSuchBucket"):
                raise AirflowFailException(
                    f"s3_bucket={self.s3_bucket!r} does not exist (as seen with aws_conn_id="
                    f"{self.aws_conn_id!r}): create it, or fix the name. Nothing was exported."
                ) from None
            self.log.warning(
                "Could not check that bucket %s exists (%s); going on, the upload will tell.",
                self.s3_bucket,
                code,
            )

    @property
    def s3_hook(self) -> S3Hook:
        """An ``S3Hook`` on ``aws_conn_id`` (its connection's ``extra_args`` apply to the upload)."""
        module = require_provider("airflow.providers.amazon.aws.hooks.s3", "amazon", type(self).__name__)
        return _s3_hook_class(module.S3Hook, type(self).__name__)(aws_conn_id=self.aws_conn_id)

    def transfer(self, context: Context, request: LogRequest) -> str | None:
        """Copy with one ``S3Hook`` (and so one boto3 client) for the whole try.

        Each new hook builds a new botocore session and client: 0.1 to 0.2 s of CPU (loading
        the service model, Airflow's user-agent lookup), as much as copying 10 to 20 MiB.
        The check of the key and the copy share one instead of making one each.
        """
        self._try_hook = self._try_hook or self.s3_hook
        try:
            return super().transfer(context, request)
        finally:
            self._try_hook = None

    def _hook(self) -> S3Hook:
        return self._try_hook or self.s3_hook

    # ------------------------------------------------------------------ S3
    def stored_metadata(self, destination: Destination) -> dict[str, str] | None:
        """``head_object``: 404 means free; 403 and others are raised as they are."""
        head = self._hook().head_object(destination.key, destination.bucket)
        return None if head is None else dict(head.get("Metadata") or {})

    def upload_args(self, hook: S3Hook, metadata: dict[str, str]) -> dict[str, Any]:
        """The object's settings: the hook's ``extra_args``, then content type, metadata, SSE, ACL."""
        args: dict[str, Any] = dict(hook.extra_args)
        args["ContentType"] = self.content_type
        args["Metadata"] = {**args.get("Metadata", {}), **metadata}
        if self.encrypt:
            args["ServerSideEncryption"] = "AES256"
        if self.acl_policy:
            args["ACL"] = self.acl_policy
        return args

    def copy(self, download: LogFileDownload, destination: Destination, metadata: dict[str, str]) -> None:
        """Multipart-upload the download; complete only a verified file; abort on any failure.

        Parts go up on ``upload_concurrency`` threads while the next part is read, so the copy
        runs at the pace of the slower side rather than of both in turn; at most that many
        parts are in flight, which bounds memory. A part is the join of the chunks read (one
        copy of the bytes), and its CRC-32 is taken on the part's thread.
        """
        hook = self._hook()
        client = hook.get_conn()
        bucket, key = destination.bucket, destination.key
        self._abort_orphaned_uploads(client, destination)
        upload_id = client.create_multipart_upload(
            Bucket=bucket,
            Key=key,
            ChecksumAlgorithm="CRC32",
            **self.upload_args(hook, metadata),
        )["UploadId"]

        def abort() -> None:
            client.abort_multipart_upload(Bucket=bucket, Key=key, UploadId=upload_id)

        self._abort = abort
        pool = ThreadPoolExecutor(max_workers=self.upload_concurrency, thread_name_prefix="fauna-s3-part")
        in_flight: deque[Future[_Part]] = deque()
        parts = _Parts([], [], [])

        def send(body: bytes) -> None:
            number = len(parts.entries) + len(in_flight) + 1
            if number > MAX_PARTS:
                raise FaunaValidationError(
                    f"The log file needs more than {MAX_PARTS} parts of {self.part_size} bytes: raise part_size."
                )
            in_flight.append(pool.submit(self._send_part, client, destination, upload_id, number, body))
            while len(in_flight) >= self.upload_concurrency or (in_flight and in_flight[0].done()):
                parts.add(in_flight.popleft().result())

        try:
            chunks: list[bytes] = []
            pending = 0
            for chunk in download:
                chunks.append(chunk)
                pending += len(chunk)
                while pending >= self.part_size:
                    data = b"".join(chunks)
                    rest = data[self.part_size :]
                    send(data[: self.part_size])  # the very object when the part is the whole join
                    chunks, pending = ([rest] if rest else []), len(rest)
            if pending or not (parts.entries or in_flight):
                send(b"".join(chunks))
            del chunks
            while in_flight:
                parts.add(in_flight.popleft().result())
            stats = download.stats
            assert stats is not None  # the download ended, so it was verified
            answer = self._complete(client, destination, upload_id, parts, stats)
            self._confirm(client, destination, parts, answer, stats, metadata)
        except BaseException:
            pool.shutdown(wait=True, cancel_futures=True)
            self._clean_up(client, destination, upload_id, metadata)
            raise
        finally:
            pool.shutdown(wait=True)

    def _abort_orphaned_uploads(self, client: Any, destination: Destination) -> None:
        """Abort the multipart uploads still open on exactly this key, which earlier tries left.

        A try that was killed (SIGKILL, out of memory, a lost worker) after a part went up
        ran no code to abort its upload, and its parts stay, billed, until someone aborts it.
        The retry is the first code to run for this key again, so it cleans up before it
        starts its own upload. Only this key's uploads go: the listing is by prefix, so keys
        that merely begin with this one are skipped. A store or a role that refuses the
        listing (``s3:ListBucketMultipartUploads``) or an abort does not stop the copy: the
        orphan is then left to the bucket's ``AbortIncompleteMultipartUpload`` lifecycle rule.
        """
        try:
            pages = client.get_paginator("list_multipart_uploads").paginate(
                Bucket=destination.bucket, Prefix=destination.key
            )
            orphans = [
                upload["UploadId"]
                for page in pages
                for upload in page.get("Uploads") or ()
                if upload.get("Key") == destination.key
            ]
        except Exception as err:
            self.log.warning(
                "Could not list the open multipart uploads of %s, so an upload an earlier try left "
                "there (if any) stays until a lifecycle rule removes it: %s",
                destination.uri,
                err,
            )
            return
        aborted = []
        for upload_id in orphans:
            try:
                client.abort_multipart_upload(
                    Bucket=destination.bucket, Key=destination.key, UploadId=upload_id
                )
            except Exception as err:
                if "NoSuchUpload" not in str(err):  # gone meanwhile: as good as aborted
                    self.log.warning("Could not abort the open multipart upload %s: %s", upload_id, err)
                    continue
            aborted.append(upload_id)
        if orphans:
            self.log.warning(
                "Aborted %d of the %d multipart upload(s) that earlier tries left open on %s (upload ids: %s).",
                len(aborted),
                len(orphans),
                destination.uri,
                ", ".join(orphans),
            )

    def _send_part(
        self, client: Any, destination: Destination, upload_id: str, number: int, body: bytes
    ) -> _Part:
        """Upload one part (on a pool thread) and return what completion and confirmation need.

        botocore takes the part's CRC-32 we pass instead of computing its own, so it is taken
        once. A store that answers without the checksum did not check it: then the part's MD5
        is taken too, for the multipart ETag.
        """
        crc32 = zlib.crc32(body)
        answer = self.upload_part(client, destination, upload_id, number, body, crc32)
        entry = {"PartNumber": number, "ETag": answer["ETag"]}
        if answer.get("ChecksumCRC32"):
            entry["ChecksumCRC32"] = answer["ChecksumCRC32"]
            return _Part(entry, crc32, None)
        return _Part(entry, crc32, hashlib.md5(body, usedforsecurity=False).digest())

    def upload_part(
        self, client: Any, destination: Destination, upload_id: str, number: int, body: bytes, crc32: int
    ) -> dict[str, Any]:
        """Upload one part with its CRC-32, which S3 checks against what it received."""
        return client.upload_part(
            Bucket=destination.bucket,
            Key=destination.key,
            UploadId=upload_id,
            PartNumber=number,
            Body=body,
            ChecksumAlgorithm="CRC32",
            ChecksumCRC32=_b64_crc32(crc32),
        )

    def _complete(
        self, client: Any, destination: Destination, upload_id: str, parts: _Parts, stats: DownloadStats
    ) -> dict[str, Any]:
        """Complete the upload, giving S3 the file's size to check the object against."""
        from botocore.exceptions import ClientError

        kwargs: dict[str, Any] = {
            "Bucket": destination.bucket,
            "Key": destination.key,
            "UploadId": upload_id,
            "MultipartUpload": {"Parts": parts.entries},
            "MpuObjectSize": stats.size,
        }
        if self.replace:
            return client.complete_multipart_upload(**kwargs)
        try:
            return client.complete_multipart_upload(**kwargs, IfNoneMatch="*")
        except ClientError as err:
            code = err.response.get("Error", {}).get("Code")
            if code in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise AirflowFailException(
                    f"{destination.uri} was created by someone else while this task copied the log "
                    "file; it was left as it is. Pass replace=True to overwrite it."
                ) from None
            if code != "NotImplemented":
                raise
        # A store without conditional writes: the check made before the download must do.
        return client.complete_multipart_upload(**kwargs)

    def _confirm(
        self,
        client: Any,
        destination: Destination,
        parts: _Parts,
        answer: dict[str, Any],
        stats: DownloadStats,
        metadata: dict[str, str],
    ) -> None:
        """Check what S3 says it stored against what was sent; raise (and so delete) on a mismatch.

        The object's composite CRC-32 (S3's CRC-32 of the parts' CRC-32s) proves the parts
        it assembled are the ones sent, in order; from a store that acknowledged no part
        checksums, the multipart ETag (MD5 of the parts' MD5s) does. An object that can be
        checked against neither is not kept.
        """
        head = client.head_object(Bucket=destination.bucket, Key=destination.key, ChecksumMode="ENABLED")
        problems = []
        if head.get("ContentLength") != stats.size:
            problems.append(f"size {head.get('ContentLength')} instead of {stats.size}")
        if (head.get("Metadata") or {}).get("fauna-attempt") != metadata["fauna-attempt"]:
            problems.append("it was written by another attempt")
        checked = False
        for source in (answer, head):
            checksum, _, count = (source.get("ChecksumCRC32") or "").partition("-")
            if checksum:
                checked = True
                if checksum != parts.expected_crc32 or count not in ("", str(len(parts.crc32s))):
                    problems.append(
                        f"composite CRC-32 {source['ChecksumCRC32']} instead of "
                        f"{parts.expected_crc32}-{len(parts.crc32s)}"
                    )
                    break
        etag, expected_etag = answer.get("ETag") or head.get("ETag"), parts.expected_etag
        if expected_etag and etag and head.get("ServerSideEncryption") not in KMS_ENCRYPTION:
            checked = True
            if etag != expected_etag:
                problems.append(f"ETag {etag} instead of {expected_etag}")
        if not checked:
            problems.append("it reports no checksum of its content to check it against")
        if problems:
            raise FaunaVerificationError(
                f"S3 reports a different object at {destination.uri} than was sent: {'; '.join(problems)}. "
                "It was deleted; retry the task."
            )

    def _clean_up(
        self, client: Any, destination: Destination, upload_id: str, metadata: dict[str, str]
    ) -> None:
        """Abort the upload, and delete an object this very attempt completed (it failed its checks).

        The object is recognised by the attempt id in its metadata, so an object someone else
        wrote is never deleted; this also covers a completion whose answer was lost.
        """
        try:
            client.abort_multipart_upload(Bucket=destination.bucket, Key=destination.key, UploadId=upload_id)
        except Exception as err:
            # NoSuchUpload after a completion is expected; anything else is worth a line.
            if "NoSuchUpload" not in str(err):
                self.log.warning("Could not abort the multipart upload to %s: %s", destination.uri, err)
        if self._was_completed_by_us(client, destination, metadata):
            try:
                client.delete_object(Bucket=destination.bucket, Key=destination.key)
            except Exception as err:
                self.log.error("Could not delete %s after it failed its checks: %s", destination.uri, err)
            else:
                self.log.warning("Deleted %s, which failed its checks.", destination.uri)

    @staticmethod
    def _was_completed_by_us(client: Any, destination: Destination, metadata: dict[str, str]) -> bool:
        try:
            head = client.head_object(Bucket=destination.bucket, Key=destination.key)
        except Exception:
            return False
        return (head.get("Metadata") or {}).get("fauna-attempt") == metadata["fauna-attempt"]
