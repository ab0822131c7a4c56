"""The HTTP session of presigned URLs: it never sends a credential, on the first request or a redirect."""

from __future__ import annotations

import requests

from airflow_provider_fauna.hooks.fauna import USER_AGENT


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
