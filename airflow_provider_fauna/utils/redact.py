"""Keeping credentials out of what people read.

A presigned URL is a bearer credential in itself (anyone holding it can download the file
until it expires), so it is only ever shown without its query string, where object stores
keep the signature.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import urlsplit, urlunsplit

REDACTED = "***"
_URL_KEYS = ("presigned_url",)


def redact_url(url: str) -> str:
    """Return ``url`` without its query string and fragment (``?***`` marks that one was cut)."""
    parts = urlsplit(url)
    if not parts.query and not parts.fragment:
        return url
    return urlunsplit((parts.scheme, parts.netloc, parts.path, REDACTED, ""))


def redact_log_request(payload: dict[str, Any]) -> dict[str, Any]:
    """Return a copy of a log request object whose presigned URL has no signature."""
    clean = dict(payload)
    for key in _URL_KEYS:
        value = clean.get(key)
        if isinstance(value, str):
            clean[key] = redact_url(value)
    return clean
