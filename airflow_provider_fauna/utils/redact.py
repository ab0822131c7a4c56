"""Keeping credentials out of what people read.

A presigned URL is a bearer credential, and some stores sign the path rather than the query, so
a URL is only ever shown as its scheme and host; messages built around a URL are scrubbed.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

REDACTED = "***"

#: A URL in free text: up to the first character that cannot be part of one in a message.
_URL_IN_TEXT = re.compile(r"\b[a-zA-Z][a-zA-Z0-9+.\-]*://[^\s'\"<>()\[\]{}]+")
#: urllib3 and requests name the request target alone: "Max retries exceeded with url: /p?q".
_URL_TARGET = re.compile(r"(\burl: )\S+")
#: Whatever looks like a query string that the two patterns above did not already cover.
_QUERY = re.compile(r"\?[^\s'\"<>()\[\]{}*]+")


def redact_url(url: str) -> str:
    """Return ``url`` as ``scheme://host[:port]/***``, or ``***`` for a string that is not a URL with a host."""
    try:
        parts = urlsplit(url)
        host, port = parts.hostname, parts.port
    except ValueError:
        return REDACTED
    if not parts.scheme or not host:
        return REDACTED
    netloc = f"[{host}]" if ":" in host else host
    if port is not None:
        netloc = f"{netloc}:{port}"
    return f"{parts.scheme}://{netloc}/{REDACTED}"


def scrub_urls(text: str) -> str:
    """Return ``text`` with every URL in it redacted (:func:`redact_url`) and every query string cut.

    A redirect target's signature, which a library may quote, was never seen by the provider, so
    it cannot be masked by value.
    """
    text = _URL_IN_TEXT.sub(lambda match: redact_url(match.group(0)), text)
    text = _URL_TARGET.sub(lambda match: match.group(1) + REDACTED, text)
    return _QUERY.sub("?" + REDACTED, text)
