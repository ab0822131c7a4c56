"""Presigned file URLs, made and checked like an object store's signed GET URLs.

A URL is ``/_files/{request_id}/query-logs.ndjson.gz?X-Fauna-Expires=E&X-Fauna-Signature=S``
where ``E`` is epoch seconds and ``S`` the hex HMAC-SHA256 of ``path + "\\n" + E`` under a
secret that lives only as long as the emulator. The URL is the credential: no Authorization
header is needed (the recorded calls say whether one was sent anyway). It stops working at
``E`` (``now >= E``), or earlier if it was revoked by the ``download_expire_mid_stream`` fault.
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import secrets
import threading
from typing import TYPE_CHECKING
from urllib.parse import urlencode

if TYPE_CHECKING:
    from collections.abc import Mapping

EXPIRES_PARAM = "X-Fauna-Expires"
SIGNATURE_PARAM = "X-Fauna-Signature"


class Verdict(enum.Enum):
    """Why a presigned URL is (not) honoured."""

    OK = "ok"
    MISSING = "missing"
    BAD_SIGNATURE = "bad_signature"
    EXPIRED = "expired"


def file_path(request_id: str) -> str:
    """The path a log request's file is served at."""
    return f"/_files/{request_id}/query-logs.ndjson.gz"


class UrlSigner:
    """Signs and checks presigned URLs; remembers revoked and born-expired ones."""

    def __init__(self, secret: bytes | None = None) -> None:
        self._secret = secret or secrets.token_bytes(32)
        self._lock = threading.Lock()
        self._revoked: set[str] = set()
        self._born_expired: set[str] = set()

    def _signature(self, path: str, expires: int) -> str:
        return hmac.new(self._secret, f"{path}\n{expires}".encode(), hashlib.sha256).hexdigest()

    def presign(self, path: str, expires: int, *, born_expired: bool = False) -> str:
        """``path?query`` valid until ``expires`` (epoch seconds).

        ``born_expired`` marks a URL the early-expiry fault made with a past ``expires``, so
        that its refusal can be recorded as that fault.
        """
        signature = self._signature(path, expires)
        if born_expired:
            with self._lock:
                self._born_expired.add(signature)
        return f"{path}?{urlencode({EXPIRES_PARAM: expires, SIGNATURE_PARAM: signature})}"

    def check(self, path: str, query: Mapping[str, str], now: float) -> Verdict:
        """Whether ``path`` with ``query`` may be served at ``now``."""
        expires_text, signature = query.get(EXPIRES_PARAM), query.get(SIGNATURE_PARAM)
        if not expires_text or not signature:
            return Verdict.MISSING
        try:
            expires = int(expires_text)
        except ValueError:
            return Verdict.BAD_SIGNATURE
        if not hmac.compare_digest(self._signature(path, expires), signature):
            return Verdict.BAD_SIGNATURE
        with self._lock:
            revoked = signature in self._revoked
        if revoked or now >= expires:
            return Verdict.EXPIRED
        return Verdict.OK

    def revoke(self, signature: str) -> None:
        """Make a URL answer 403 "expired" from now on."""
        with self._lock:
            self._revoked.add(signature)

    def was_born_expired(self, signature: str) -> bool:
        """Whether this URL was issued already expired by the early-expiry fault."""
        with self._lock:
            return signature in self._born_expired
