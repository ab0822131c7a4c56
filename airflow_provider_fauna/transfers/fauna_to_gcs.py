"""Copy a Fauna query-log export to GCS with the google library's resumable upload (extra ``google``)."""

from __future__ import annotations

import base64
import re
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, quote, quote_plus, urlsplit

from airflow.providers.common.compat.sdk import AirflowFailException, mask_secret

from airflow_provider_fauna.arguments import check_templated, given
from airflow_provider_fauna.exceptions import FaunaValidationError
from airflow_provider_fauna.transfers.base import (
    BaseFaunaLogsTransferOperator,
    Destination,
    StoredObject,
    require_provider,
)
from airflow_provider_fauna.transfers.download import FaunaVerificationError, MiB
from airflow_provider_fauna.transfers.session import mask_url
from airflow_provider_fauna.utils.redact import scrub_urls

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.google.cloud.hooks.gcs import GCSHook

    from airflow_provider_fauna.transfers.download import LogFileDownload

#: Bytes per resumable-upload request; GCS wants a multiple of 256 KiB.
DEFAULT_CHUNK_SIZE = 8 * MiB
CHUNK_MULTIPLE = 256 * 1024
_BUCKET = re.compile(r"^[a-z0-9][a-z0-9._\-]{1,220}[a-z0-9]$")


def _precondition_failed(err: BaseException) -> bool:
    """Tell whether GCS refused the write with 412 (``ifGenerationMatch=0``: the object exists by now).

    The resumable upload raises its own ``InvalidResponse`` (with the response), the JSON API a
    ``PreconditionFailed`` (with a code): both are read here.
    """
    status = getattr(getattr(err, "response", None), "status_code", None)
    return status == 412 or getattr(err, "code", None) == 412


class FaunaLogsToGCSOperator(BaseFaunaLogsTransferOperator):
    """Stream a Fauna query-log export into GCS, as ``gs://{bucket_name}/{object_name}``; return that URI.

    The file goes through a resumable upload session in chunks of ``chunk_size``, finalized
    only with the last chunk, after the whole file was read and verified; the stored object's
    size, MD5 and CRC32C are then compared with what was sent, or it is deleted. Any failure
    cancels the session. Without ``replace`` the upload carries ``ifGenerationMatch=0``. See
    :class:`BaseFaunaLogsTransferOperator` for the other parameters.

    :param bucket_name: the bucket (templated).
    :param object_name: the object name (templated); the same placeholders and default as the
        S3 operator's ``s3_key``.
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
    provider = ("airflow.providers.google.cloud.hooks.gcs", "google")

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
        self.gcp_conn_id = check_templated("gcp_conn_id", gcp_conn_id)
        what = "a service account or a list of them (strings)"
        chain = check_templated(
            "impersonation_chain", impersonation_chain, kinds=(str, list, tuple), what=what
        )
        if isinstance(chain, list | tuple) and not all(isinstance(account, str) for account in chain):
            raise FaunaValidationError(f"impersonation_chain={given(chain)} must be {what}.")
        self.impersonation_chain = chain
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
        self.check_destination(rendered=False)

    def validate_bucket(self, bucket: str) -> None:
        """Check a bucket name against GCS's naming rules."""
        too_long = len(bucket) > 63 and ("." not in bucket or any(len(p) > 63 for p in bucket.split(".")))
        if not _BUCKET.match(bucket) or too_long or ".." in bucket or bucket.startswith("goog"):
            raise FaunaValidationError(
                f"bucket_name={bucket!r} is not a valid GCS bucket name: 3 to 63 lowercase letters, digits, "
                "'-', '_' and '.', beginning and ending with a letter or digit, not beginning with 'goog'."
            )

    def validate_key(self, key: Any) -> None:
        """Check the key template, and GCS's rules: no newlines, not ``.`` or ``..``."""
        super().validate_key(key)
        if "\r" in key or "\n" in key or key in (".", ".."):
            raise FaunaValidationError(
                f"object_name={key!r} is not a valid GCS object name (no newlines, not '.' or '..')."
            )

    @cached_property
    def gcs_hook(self) -> GCSHook:
        """Return a ``GCSHook`` on ``gcp_conn_id``."""
        module = require_provider(*self.provider, type(self).__name__)
        return module.GCSHook(gcp_conn_id=self.gcp_conn_id, impersonation_chain=self.impersonation_chain)

    def check_bucket_exists(self) -> None:
        """Fail on a missing bucket or missing credentials before the export."""
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

    def stored_object(self, destination: Destination) -> StoredObject | None:
        """Return the object's metadata and size, or ``None`` if it (or the bucket: the upload says so) is absent."""
        client = self.gcs_hook.get_conn()
        blob = client.bucket(destination.bucket).get_blob(destination.key)
        return None if blob is None else StoredObject(dict(blob.metadata or {}), blob.size)

    def copy(self, download: LogFileDownload, destination: Destination, metadata: dict[str, str]) -> None:
        """Write the download through a resumable session; finalize only a verified file; cancel on failure."""
        import google_crc32c  # GCS's own checksum, a dependency of google-cloud-storage

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
        crc = google_crc32c.Checksum()
        try:
            _open_masked_session(writer)
            for chunk in download:
                writer.write(chunk)
                crc.update(chunk)
            writer.close()  # sends the last chunk: the object appears only now
        except BaseException as failure:
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
            if not self.replace and _precondition_failed(failure):
                raise AirflowFailException(
                    f"{destination.uri} was created by someone else while this task copied the log "
                    "file; it was left as it is. Pass replace=True to overwrite it."
                ) from None
            raise
        stats = download.stats
        assert stats is not None
        try:
            blob = client.bucket(destination.bucket).get_blob(destination.key)
            if blob is None:
                raise FaunaVerificationError(
                    f"GCS does not show {destination.uri} after the upload finished."
                )
            problems = []
            if blob.size != stats.size:
                problems.append(f"size {blob.size} instead of {stats.size}")
            if (blob.metadata or {}).get("fauna-attempt") != metadata["fauna-attempt"]:
                problems.append("it was written by another attempt")
            if blob.md5_hash and blob.md5_hash != stats.md5_b64:
                problems.append(f"md5 {blob.md5_hash} instead of {stats.md5_b64}")
            ours = base64.b64encode(crc.digest()).decode()
            if blob.crc32c and blob.crc32c != ours:
                problems.append(f"crc32c {blob.crc32c} instead of {ours}")
            if problems:
                raise FaunaVerificationError(
                    f"GCS reports a different object at {destination.uri} than was sent: {'; '.join(problems)}. "
                    "It was deleted; retry the task."
                )
        except BaseException:
            self._delete_if_ours(client, destination, metadata)
            raise

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


def _open_masked_session(writer: Any) -> None:
    """Open the resumable upload session now and mask its URI, before a chunk is sent to it.

    The session URI (its ``upload_id``) lets anyone finish the upload with other bytes, and
    urllib3 logs each chunk's PUT to it at DEBUG; the google library opens the session on the
    first chunk and offers no public way to see its URI before that, hence its private names.
    """
    if getattr(writer, "_upload_and_transport", None) is None and hasattr(writer, "_initiate_upload"):
        writer._initiate_upload()
    upload = (getattr(writer, "_upload_and_transport", None) or (None,))[0]
    url = getattr(upload, "resumable_url", None) or ""  # the session's URI (upload_url: where it was asked)
    mask_url(url)
    # The id alone too, in each spelling a request line may give it ("a:b c" as "a%3Ab+c").
    for session in parse_qs(urlsplit(url).query).get("upload_id", []):
        for form in {session, quote_plus(session), quote(session, safe="")}:
            mask_secret(form)
