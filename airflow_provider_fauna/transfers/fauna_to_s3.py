"""Copy a Fauna query-log export to S3 with ``S3Hook`` and boto3's managed transfer (extra ``amazon``)."""

from __future__ import annotations

import base64
import hashlib
import math
import re
from functools import cached_property
from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_fauna.arguments import check_bool, check_str, check_templated
from airflow_provider_fauna.exceptions import FaunaValidationError
from airflow_provider_fauna.transfers.base import (
    BaseFaunaLogsTransferOperator,
    Destination,
    StoredObject,
    check_int,
    require_provider,
)
from airflow_provider_fauna.transfers.download import (
    KMS_ENCRYPTION,
    FaunaTransferError,
    FaunaVerificationError,
    MiB,
)

if TYPE_CHECKING:
    from collections.abc import Iterator, Sequence

    from airflow.providers.amazon.aws.hooks.s3 import S3Hook

    from airflow_provider_fauna.transfers.download import DownloadStats, LogFileDownload

#: Bytes per uploaded part: S3 wants 5 MiB to 5 GiB, and at most 10,000 parts (78 GiB at 8 MiB).
DEFAULT_PART_SIZE = 8 * MiB
MIN_PART_SIZE = 5 * MiB
MAX_PART_SIZE = 5 * 1024 * MiB
#: Parts in one multipart upload, at most (S3's limit).
MAX_PARTS = 10_000
#: Parts uploaded at once; memory holds about one part more than this.
DEFAULT_UPLOAD_CONCURRENCY = 2
MAX_UPLOAD_CONCURRENCY = 16
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
_IP_ADDRESS = re.compile(r"^\d+\.\d+\.\d+\.\d+$")
_ETAG = re.compile(r'^"?([0-9a-fA-F]{32})(?:-(\d+))?"?$')


def part_size_for(size: int | None, part_size: int) -> int:
    """Return the part size for a file of ``size`` bytes: ``part_size``, or more if it needs more than :data:`MAX_PARTS`.

    The smallest whole number of MiB that fits the file in :data:`MAX_PARTS` parts; ``size``
    ``None`` (not announced) keeps ``part_size``.

    :param size: the file's size, as its server announced it.
    :param part_size: the part size asked for.
    """
    if size is None:
        return part_size
    needed = math.ceil(math.ceil(size / MAX_PARTS) / MiB) * MiB
    if needed > MAX_PART_SIZE:
        raise FaunaTransferError(
            f"The log file is {size} bytes: more than S3 takes in {MAX_PARTS} parts of at most "
            f"{MAX_PART_SIZE // MiB} MiB. Export a shorter interval. Nothing was stored."
        )
    return max(part_size, needed)


class TaskKilled(FaunaTransferError):
    """The task was killed (``on_kill``) while its file was being read: the upload is abandoned."""


def _error_code(err: BaseException) -> str:
    response = getattr(err, "response", None) or {}
    return str(response.get("Error", {}).get("Code", ""))


class DownloadReader:
    """Read the verified download as a non-seekable file, as ``upload_fileobj`` does part by part.

    The download raises on a bad byte before its end, so the managed transfer aborts the upload.
    """

    def __init__(self, download: LogFileDownload) -> None:
        self._chunks: Iterator[bytes] = iter(download)
        self._rest = b""
        self._killed = False

    def kill(self) -> None:
        """Make the next read raise, so that the managed transfer aborts its multipart upload itself."""
        self._killed = True

    def read(self, size: int = -1) -> bytes:
        """Return ``size`` bytes (all that is left when negative); fewer only at the end of the file."""
        pieces, have = [self._rest], len(self._rest)
        while size < 0 or have < size:
            if self._killed:
                raise TaskKilled("The task was killed while copying the log file; the upload was abandoned.")
            chunk = next(self._chunks, None)
            if chunk is None:
                break
            pieces.append(chunk)
            have += len(chunk)
        data = b"".join(pieces)
        cut = len(data) if size < 0 else size
        self._rest = data[cut:]
        return data[:cut]  # the very object when the part is the whole join


def etag_check(etag: str, stats: DownloadStats) -> bool | None:
    """Tell whether a store's ETag (a plain MD5, or AWS's MD5 of part MD5s with ``-N``) matches the bytes sent.

    :return: ``None`` when the ETag's form cannot tell.
    """
    match = _ETAG.match(etag or "")
    if not match:
        return None
    digest, parts = match.group(1).lower(), match.group(2)
    if parts is None:
        return digest == stats.md5_hex
    if int(parts) != len(stats.part_md5s):  # another part size than ours
        return None
    return digest == hashlib.md5(b"".join(stats.part_md5s), usedforsecurity=False).hexdigest()


class FaunaLogsToS3Operator(BaseFaunaLogsTransferOperator):
    """Stream a Fauna query-log export into S3, as ``s3://{s3_bucket}/{s3_key}``; return that URI.

    The file goes through ``S3Hook.load_file_obj`` (boto3's managed transfer, in parts of
    ``part_size``), so memory stays at a few parts and the AWS connection's settings apply.
    The stored object is checked by its size and this attempt's metadata, and by its ETag or
    CRC-32 where their form is understood (see :ref:`s3-compatible`): one that differs is
    deleted. See :class:`BaseFaunaLogsTransferOperator` for the other parameters.

    :param s3_bucket: the bucket (templated).
    :param s3_key: the object key (templated), which may also use the placeholders of
        :ref:`object-keys`; default :data:`~airflow_provider_fauna.transfers.base.DEFAULT_KEY_TEMPLATE`.
    :param aws_conn_id: the AWS connection (templated).
    :param encrypt: store with server-side encryption (SSE-S3, ``AES256``), as ``S3Hook`` does.
    :param acl_policy: a canned ACL for the object, e.g. ``bucket-owner-full-control``.
    :param part_size: bytes per part (5 MiB to 5 GiB).
    :param upload_concurrency: parts uploaded at once (1 to 16).
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
    provider = ("airflow.providers.amazon.aws.hooks.s3", "amazon")

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
        self.aws_conn_id = check_templated("aws_conn_id", aws_conn_id)
        self.encrypt = check_bool("encrypt", encrypt)
        self.acl_policy = check_str(
            "acl_policy", acl_policy, optional=True, example="bucket-owner-full-control"
        )
        self.part_size = check_int("part_size", part_size, MIN_PART_SIZE, MAX_PART_SIZE, "5 MiB to 5 GiB")
        self.upload_concurrency = check_int(
            "upload_concurrency", upload_concurrency, 1, MAX_UPLOAD_CONCURRENCY, "parts uploaded at once"
        )
        self.check_destination(rendered=False)

    def validate_bucket(self, bucket: str) -> None:
        """Check a bucket name against S3's naming rules."""
        if not _BUCKET.match(bucket) or ".." in bucket or _IP_ADDRESS.match(bucket):
            raise FaunaValidationError(
                f"s3_bucket={bucket!r} is not a valid S3 bucket name: 3 to 63 lowercase letters, digits, "
                "'.' and '-', beginning and ending with a letter or digit."
            )

    def make_hook(self, extra_args: dict[str, Any] | None = None) -> S3Hook:
        """Return an ``S3Hook`` with ``part_size`` and ``upload_concurrency``, unless the connection says.

        :param extra_args: the uploaded object's settings.
        """
        module = require_provider(*self.provider, type(self).__name__)
        transfer = {
            "multipart_threshold": self.part_size,
            "multipart_chunksize": self.part_size,
            "max_concurrency": self.upload_concurrency,
        }
        return module.S3Hook(
            aws_conn_id=self.aws_conn_id, transfer_config_args=transfer, extra_args=extra_args
        )

    @cached_property
    def s3_hook(self) -> S3Hook:
        """Return an ``S3Hook`` on ``aws_conn_id``, made once: each new hook builds a boto3 client."""
        return self.make_hook()

    def check_bucket_exists(self) -> None:
        """Fail on a missing bucket or missing credentials (``HeadBucket``) before the export."""
        from botocore.exceptions import BotoCoreError, ClientError, NoCredentialsError

        try:
            self.s3_hook.get_conn().head_bucket(Bucket=self.s3_bucket)
        except NoCredentialsError:
            raise AirflowFailException(
                f"aws_conn_id={self.aws_conn_id!r} yields no AWS credentials: define that connection, "
                "or give the worker credentials of its own. Nothing was exported."
            ) from None
        except (ClientError, BotoCoreError) as err:
            # Only the kind of failure: a BotoCoreError's text holds the endpoint URL.
            code = _error_code(err) or type(err).__name__
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

    def stored_object(self, destination: Destination) -> StoredObject | None:
        """Return the object's metadata and size (``head_object``: 404 means free; 403 and others raise)."""
        head = self.s3_hook.head_object(destination.key, destination.bucket)
        if head is None:
            return None
        return StoredObject(dict(head.get("Metadata") or {}), head.get("ContentLength"))

    def copy(self, download: LogFileDownload, destination: Destination, metadata: dict[str, str]) -> None:
        """Upload the download with ``S3Hook.load_file_obj``, check what landed, delete it if it differs."""
        hook = self.make_hook({"ContentType": self.content_type, "Metadata": metadata})
        client = hook.get_conn()
        config = hook.transfer_config
        # boto3 takes no such argument; without it ten parts would wait in memory.
        config.max_in_memory_upload_chunks = config.max_concurrency
        # s3transfer sees a stream of unknown size: the parts must fit S3's 10,000 before it starts.
        try:
            size = download.open()
            part_size = part_size_for(size, config.multipart_chunksize)
        except BaseException:
            download.close()
            raise
        if part_size != config.multipart_chunksize:
            self.log.info(
                "The log file is %d bytes: uploading it in parts of %d MiB (not %d MiB), to stay "
                "within S3's %d parts.",
                size,
                part_size // MiB,
                config.multipart_chunksize // MiB,
                MAX_PARTS,
            )
            config.multipart_chunksize = part_size
        download.part_size = config.multipart_chunksize
        if not self.replace:  # refuse an object written by someone else meanwhile
            for operation in ("PutObject", "CompleteMultipartUpload"):
                client.meta.events.register(f"before-parameter-build.s3.{operation}", _if_none_match)
        self._abort_orphaned_uploads(client, destination)
        reader = DownloadReader(download)
        self._abort = reader.kill
        try:
            hook.load_file_obj(
                reader,
                destination.key,
                destination.bucket,
                replace=True,  # checked before the download, and by If-None-Match
                encrypt=self.encrypt,
                acl_policy=self.acl_policy,
            )
        except BaseException as err:
            download.close()  # a download s3transfer left half read keeps no connection open
            if _error_code(err) in ("PreconditionFailed", "ConditionalRequestConflict"):
                raise AirflowFailException(
                    f"{destination.uri} was created by someone else while this task copied the log "
                    "file; it was left as it is. Pass replace=True to overwrite it."
                ) from None
            # Also after a timeout or a kill (which go on failing): delete our object unless whole.
            try:
                problems = self._problems(client, destination, download.stats, metadata)
            except Exception:
                problems = None  # not there, or the store cannot tell: nothing of ours to remove
            if problems:
                self._delete(client, destination)
            if problems != [] or not isinstance(err, Exception):
                raise
            self.log.warning(
                "The upload to %s failed (%s), yet the object landed whole.", destination.uri, err
            )
            return
        problems = self._problems(client, destination, download.stats, metadata)
        if problems is None:
            raise FaunaVerificationError(
                f"S3 holds another object at {destination.uri} than was sent: it was written by another "
                "attempt, so it was left as it is."
            )
        if problems:
            self._delete(client, destination)
            raise FaunaVerificationError(
                f"S3 reports a different object at {destination.uri} than was sent: {'; '.join(problems)}. "
                "It was deleted; retry the task."
            )

    def _problems(
        self, client: Any, destination: Destination, stats: DownloadStats | None, metadata: dict[str, str]
    ) -> list[str] | None:
        """List how this attempt's stored object differs from what was sent (``None``: another attempt's)."""
        head = client.head_object(Bucket=destination.bucket, Key=destination.key, ChecksumMode="ENABLED")
        if (head.get("Metadata") or {}).get("fauna-attempt") != metadata["fauna-attempt"]:
            return None
        if stats is None:
            return ["the download did not finish"]
        problems = []
        if head.get("ContentLength") != stats.size:
            problems.append(f"size {head.get('ContentLength')} instead of {stats.size}")
        encrypted = head.get("ServerSideEncryption") in KMS_ENCRYPTION or head.get("SSECustomerAlgorithm")
        etag = head.get("ETag") or ""
        matches = None if encrypted else etag_check(etag, stats)
        if matches is False:
            problems.append(f"ETag {etag} does not match the bytes sent (md5 {stats.md5_hex})")
        # A CRC-32 of the whole object: said so, or implied by a single-part upload's ETag.
        crc, kind = head.get("ChecksumCRC32"), head.get("ChecksumType")
        full = kind == "FULL_OBJECT" or (kind is None and "-" not in etag)
        ours = base64.b64encode(stats.crc32.to_bytes(4, "big")).decode()
        if crc and full and "-" not in crc and crc != ours:
            problems.append(f"CRC-32 {crc} instead of {ours}")
        if matches is None and not (crc and full):
            self.log.info(
                "%s: ETag %s and checksum %s are of a form not checked.", destination.uri, etag, crc
            )
        return problems

    def _delete(self, client: Any, destination: Destination) -> None:
        try:
            client.delete_object(Bucket=destination.bucket, Key=destination.key)
        except Exception as err:
            self.log.error("Could not delete %s after it failed its checks: %s", destination.uri, err)
        else:
            self.log.warning("Deleted %s, which failed its checks.", destination.uri)

    def _abort_orphaned_uploads(self, client: Any, destination: Destination) -> None:
        """Abort the multipart uploads that killed tries left open on this key, where the store can list them."""
        try:
            pages = client.get_paginator("list_multipart_uploads").paginate(
                Bucket=destination.bucket, Prefix=destination.key
            )
            orphans = [
                u["UploadId"]
                for p in pages
                for u in p.get("Uploads") or ()
                if u.get("Key") == destination.key
            ]
        except Exception as err:
            self.log.warning(
                "Could not list the open multipart uploads of %s, so an upload an earlier try left "
                "there (if any) stays until a lifecycle rule removes it: %s",
                destination.uri,
                _error_code(err) or err,
            )
            return
        aborted = []
        for upload_id in orphans:
            try:
                client.abort_multipart_upload(
                    Bucket=destination.bucket, Key=destination.key, UploadId=upload_id
                )
            except Exception as err:
                if _error_code(err) != "NoSuchUpload":  # gone meanwhile: as good as aborted
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


def _if_none_match(params: dict[str, Any], **_: Any) -> None:
    """Make the write conditional: S3 refuses it if the key holds an object by then."""
    params.setdefault("IfNoneMatch", "*")
