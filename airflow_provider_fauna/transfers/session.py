"""The HTTP session of presigned URLs: it never sends a credential, on the first request or a redirect."""

from __future__ import annotations

import re
from urllib.parse import urlsplit

import requests
from airflow.providers.common.compat.sdk import mask_secret

from airflow_provider_fauna.hooks.fauna import USER_AGENT

#: A path segment this long, of token characters with letters and digits, is taken for a signature.
#: Shorter ones (and request ids, all digits) are not masked: the masker would hide them everywhere.
MIN_SECRET_SEGMENT = 20
_TOKEN = re.compile(r"^[A-Za-z0-9_\-+=.~%]+$")


def looks_secret(segment: str) -> bool:
    """Tell whether a path segment looks like a signature or token (long, letters and digits)."""
    return (
        len(segment) >= MIN_SECRET_SEGMENT
        and _TOKEN.match(segment) is not None
        and any(c.isdigit() for c in segment)
        and any(c.isalpha() for c in segment)
    )


def mask_url(url: str) -> None:
    """Mask a presigned URL in every log line from now on: whole, its query, and its path's secrets.

    Libraries log a URL in pieces (urllib3: host, then ``"GET /path?query"``), so the query and the
    secret-looking path segments (stores that sign the path) are masked on their own too.
    """
    if not url:
        return
    # requests re-quotes a URL before sending it ("%7E" becomes "~", a space "%20"), and urllib3
    # logs the re-quoted form: both are masked.
    for form in dict.fromkeys((url, requests.utils.requote_uri(url))):
        mask_secret(form)
        try:
            parts = urlsplit(form)
        except ValueError:
            continue
        if parts.query:
            mask_secret(parts.query)
        for segment in parts.path.split("/"):
            if looks_secret(segment):
                mask_secret(segment)


def _no_credentials(request: requests.PreparedRequest) -> requests.PreparedRequest:
    """``requests`` auth that sends none: it also keeps ``.netrc`` credentials off the file URL."""
    request.headers.pop("Authorization", None)
    return request


class PresignedUrlSession(requests.Session):
    """A ``requests`` session that sends no credentials (a presigned URL carries its own), even on redirects.

    ``trust_env`` stays on, so proxy settings and ``REQUESTS_CA_BUNDLE`` still apply.
    """

    def __init__(self) -> None:
        super().__init__()
        self.auth = _no_credentials
        self.headers["User-Agent"] = USER_AGENT
        # The stored bytes must be the gzip file as served, never a transparently decoded copy.
        self.headers["Accept-Encoding"] = "identity"

    def rebuild_auth(self, prepared_request: requests.PreparedRequest, response: requests.Response) -> None:
        """On a redirect, drop any ``Authorization`` header, even to the same host, and add none."""
        prepared_request.headers.pop("Authorization", None)
