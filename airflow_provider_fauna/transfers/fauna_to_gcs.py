"""Copy a Fauna query-log export to Google Cloud Storage as a resumable upload: streamed, verified, all or nothing.

Needs the Google provider (``pip install 'airflow-provider-fauna[google]'``); this module
imports without it, and the operator says what to install when it is missing.
"""

from __future__ import annotations

import base64
import re
from functools import cached_property
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
from airflow_provider_fauna.transfers.download import FaunaVerificationError, MiB
from airflow_provider_fauna.utils.redact import scrub_urls
from airflow_provider_fauna.utils.templates import is_templated

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.google.cloud.hooks.gcs import GCSHook

    from airflow_provider_fauna.transfers.download import LogFileDownload

#: Bytes per resumable-upload request; GCS wants a multiple of 256 KiB.
DEFAULT_CHUNK_SIZE = 8 * MiB
CHUNK_MULTIPLE = 256 * 1024
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._\-]{1,220}[a-z0-9]$")


def validate_gcs_bucket(bucket: Any) -> str:
    """Check a bucket name against GCS's rules, naming the field in the message."""
    if not isinstance(bucket, str) or not bucket.strip():
        raise FaunaValidationError("bucket_name is empty: give the name of the bucket to write to.")
    if bucket.startswith("gs://"):
        raise FaunaValidationError(
            f"bucket_name={bucket!r} is a URL: give the bare bucket name ({bucket[5:].split('/')[0]!r})."
        )
    too_long = len(bucket) > 63 and ("." not in bucket or any(len(p) > 63 for p in bucket.split(".")))
    if not _BUCKET.match(bucket) or too_long or ".." in bucket or bucket.startswith("goog"):
        raise FaunaValidationError(
            f"bucket_name={bucket!r} is not a valid GCS bucket name: 3 to 63 lowercase letters, digits, "
            "'-', '_' and '.', beginning and ending with a letter or digit, not beginning with 'goog'."
        )
    return bucket


def check_object_name(template: Any) -> str:
    """GCS object names: what :func:`check_key_template` checks, and no newlines, not ``.``/``..``."""
    check_key_template("object_name", template)
    if "\r" in template or "\n" in template or template in (".", ".."):
        raise FaunaValidationError(
            f"object_name={template!r} is not a valid GCS object name (no newlines, not '.' or '..')."
        )
    return template


def _crc32c() -> Any:
    """A running CRC32C (GCS's own checksum) if ``google-crc32c`` is there; it comes with the GCS client."""
    try:
        import google_crc32c
    except ImportError:  # pragma: no cover - a dependency of google-cloud-storage
        return None
    return google_crc32c.Checksum()


class FaunaLogsToGCSOperator(BaseFaunaLogsTransferOperator):
    """Stream a Fauna query-log export into Google Cloud Storage, as ``gs://{bucket_name}/{object_name}``.

    The file goes from the presigned URL to GCS through a resumable upload session in chunks
    of ``chunk_size`` bytes, so memory stays at about one chunk however large the file. The
    session is finalized (the object appears) only with the last chunk, sent after the whole
    file was read and verified (size, MD5 against the ETag, or the gzip CRC when nothing else
    proves it: see ``verify_gzip``); the stored object's size, MD5 and CRC32C are then
    compared with what was sent, or the object is deleted. Any failure cancels the session, so
    no object is left behind. Without ``replace`` the upload carries ``ifGenerationMatch=0``,
    so an object written meanwhile by someone else is not overwritten either.

    The object gets content type ``application/gzip`` and *no* ``contentEncoding``: with
    ``contentEncoding: gzip`` GCS would apply decompressive transcoding and serve the
    decompressed NDJSON to most readers. See :class:`BaseFaunaLogsTransferOperator`.

    Returns ``gs://bucket/object``. To schedule on the file, declare it as an outlet, e.g.
    ``outlets=[Asset("gs://my-bucket/fauna/query_logs/us-std/ECommerce/")]``.

    :param bucket_name: the bucket (templated).
    :param object_name: the object name (templated); the same placeholders and default as the
        S3 operator's ``s3_key``:
        ``fauna/query_logs/{region_group}/{database_name}/date={date}/{start}_{end}.ndjson.gz``.
    :param gcp_conn_id: the Google Cloud connection (templated).
    :param impersonation_chain: a service account to impersonate, as in Google's operators (templated).
    :param chunk_size: bytes per upload request, a multiple of 256 KiB.
    """

    template_fields: Sequence[str] = (
        *BaseFaunaLogsTransferOperator.template_fields,
        "bucket_name",
        "object_name",
        "gcp_conn_id",
        "impersonation_chain",
    )
    scheme = "gs"
    bucket_field = "bucket_name"
    key_field = "object_name"

    def __init__(
        self,
        *,
        bucket_name: str,
        object_name: str | None = None,
        gcp_conn_id: str = "google_cloud_default",
        impersonation_chain: str | Sequence[str] | None = None,
        chunk_size: int = DEFAULT_CHUNK_SIZE,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.bucket_name = bucket_name
        self.object_name = object_name
        self.gcp_conn_id = gcp_conn_id
        self.impersonation_chain = impersonation_chain
        if (
            isinstance(chunk_size, bool)
            or not isinstance(chunk_size, int)
            or chunk_size <= 0
            or chunk_size % CHUNK_MULTIPLE
        ):
            raise FaunaValidationError(
                f"chunk_size={chunk_size!r} must be a positive multiple of {CHUNK_MULTIPLE} (256 KiB), "
                f"for example {DEFAULT_CHUNK_SIZE}."
            )
        self.chunk_size = chunk_size
        check_provider_installed("airflow.providers.google.cloud.hooks.gcs", "google", type(self).__name__)
        if not is_templated(bucket_name):
            validate_gcs_bucket(bucket_name)
        if object_name is not None and not is_templated(object_name):
            check_object_name(object_name)

    def check_destination(self) -> None:
        """Check the rendered bucket and object name before any network call."""
        validate_gcs_bucket(self.bucket_name)
        if self.object_name is not None:
            check_object_name(self.object_name)

    def key_template(self) -> str | None:
        """The rendered ``object_name``."""
        return self.object_name

    def bucket(self) -> str:
        """The rendered ``bucket_name``."""
        return self.bucket_name

    @cached_property
    def gcs_hook(self) -> GCSHook:
        """A ``GCSHook`` on ``gcp_conn_id``."""
        module = require_provider("airflow.providers.google.cloud.hooks.gcs", "google", type(self).__name__)
        return module.GCSHook(gcp_conn_id=self.gcp_conn_id, impersonation_chain=self.impersonation_chain)

    # ------------------------------------------------------------------ GCS
    def check_bucket_exists(self) -> None:
        """Look the bucket up: a missing bucket or missing credentials fail the task before the export."""
        hook = self.gcs_hook  # imports the Google provider, and so google.auth
        from google.auth.exceptions import DefaultCredentialsError

        try:
            found = hook.get_conn().lookup_bucket(self.bucket_name)
        except Exception as err:
            if isinstance(err, DefaultCredentialsError):
                raise AirflowFailException(
                    f"gcp_conn_id={self.gcp_conn_id!r} yields no Google Cloud credentials: define that "
                    "connection, or give the worker credentials of its own. Nothing was exported."
                ) from None
            self.log.warning(
                "Could not check that bucket %s exists (%s); going on, the upload will tell.",
                self.bucket_name,
                scrub_urls(str(err)),
            )
            return
        if found is None:
            raise AirflowFailException(
                f"bucket_name={self.bucket_name!r} does not exist (as seen with gcp_conn_id="
                f"{self.gcp_conn_id!r}): create it, or fix the name. Nothing was exported."
            )

    def stored_metadata(self, destination: Destination) -> dict[str, str] | None:
        """The object's metadata, or ``None`` if absent (a missing bucket reads as a missing
        object; the upload then says so)."""
        client = self.gcs_hook.get_conn()
        blob = client.bucket(destination.bucket).get_blob(destination.key)
        return None if blob is None else dict(blob.metadata or {})

    def copy(self, download: LogFileDownload, destination: Destination, metadata: dict[str, str]) -> None:
        """Write the download through a resumable session; finalize only a verified file; cancel on failure."""
        client = self.gcs_hook.get_conn()
        blob = client.bucket(destination.bucket).blob(destination.key, chunk_size=self.chunk_size)
        blob.metadata = metadata
        options: dict[str, Any] = {
            "chunk_size": self.chunk_size,
            "content_type": self.content_type,
            "checksum": "crc32c",
        }
        if not self.replace:
            options["if_generation_match"] = 0
        writer = blob.open("wb", **options)
        self._abort = writer.terminate
        crc = _crc32c()
        try:
            for chunk in download:
                writer.write(chunk)
                if crc is not None:
                    crc.update(chunk)
            writer.close()  # sends the last chunk: the object appears only now
        except BaseException:
            self._cancel(writer, destination, client, metadata)
            raise
        try:
            self._confirm(client, destination, download, metadata, crc)
        except BaseException:
            self._delete_if_ours(client, destination, metadata)
            raise

    def _confirm(
        self,
        client: Any,
        destination: Destination,
        download: LogFileDownload,
        metadata: dict[str, str],
        crc: Any,
    ) -> None:
        stats = download.stats
        assert stats is not None
        blob = client.bucket(destination.bucket).get_blob(destination.key)
        if blob is None:
            raise FaunaVerificationError(f"GCS does not show {destination.uri} after the upload finished.")
        problems = []
        if blob.size != stats.size:
            problems.append(f"size {blob.size} instead of {stats.size}")
        if (blob.metadata or {}).get("fauna-attempt") != metadata["fauna-attempt"]:
            problems.append("it was written by another attempt")
        if blob.md5_hash and blob.md5_hash != stats.md5_b64:
            problems.append(f"md5 {blob.md5_hash} instead of {stats.md5_b64}")
        if crc is not None and blob.crc32c:
            ours = base64.b64encode(crc.digest()).decode()
            if blob.crc32c != ours:
                problems.append(f"crc32c {blob.crc32c} instead of {ours}")
        if problems:
            raise FaunaVerificationError(
                f"GCS reports a different object at {destination.uri} than was sent: {'; '.join(problems)}. "
                "It was deleted; retry the task."
            )

    def _cancel(self, writer: Any, destination: Destination, client: Any, metadata: dict[str, str]) -> None:
        """Cancel the resumable session (nothing was finalized), and remove an object if it was after all."""
        try:
            writer.terminate()
        except Exception as err:
            self.log.warning(
                "Could not cancel the upload session to %s (it was not finalized, so no object "
                "exists; GCS drops the session within a week): %s",
                destination.uri,
                scrub_urls(str(err)),  # the resumable session's URI is a credential too
            )
        self._delete_if_ours(client, destination, metadata)

    def _delete_if_ours(self, client: Any, destination: Destination, metadata: dict[str, str]) -> None:
        """Delete the object only if this attempt wrote it (its metadata carries the attempt id)."""
        try:
            blob = client.bucket(destination.bucket).get_blob(destination.key)
        except Exception as err:
            self.log.warning(
                "Could not check whether %s was written by this attempt, so it was not deleted: %s",
                destination.uri,
                scrub_urls(str(err)),
            )
            return
        if blob is None or (blob.metadata or {}).get("fauna-attempt") != metadata["fauna-attempt"]:
            return
        try:
            blob.delete(if_generation_match=blob.generation)
        except Exception as err:
            self.log.error(
                "Could not delete %s after it failed its checks: %s", destination.uri, scrub_urls(str(err))
            )
        else:
            self.log.warning("Deleted %s, which failed its checks.", destination.uri)
