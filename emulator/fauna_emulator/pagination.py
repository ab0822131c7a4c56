"""Opaque ``next_token`` pagination over items kept in insertion order.

A token names the sequence number to resume *after*, not an offset, so that items changing
state or being deleted between two pages neither repeat an item nor skip one that still
matches. Tokens are base64 text with a kind prefix, so a log-requests token is refused by the
OAuth apps listing and vice versa; clients must treat them as opaque.
"""

from __future__ import annotations

import base64
import binascii
from typing import TYPE_CHECKING, Protocol, TypeVar

from fauna_emulator.validation import bad_request

if TYPE_CHECKING:
    from collections.abc import Callable, Iterable


class Sequenced(Protocol):
    """Anything with a growing insertion number."""

    @property
    def seq(self) -> int: ...


T = TypeVar("T", bound=Sequenced)


def encode_token(kind: str, seq: int) -> str:
    """Token that resumes after item ``seq``."""
    return base64.urlsafe_b64encode(f"{kind}:{seq}".encode()).decode().rstrip("=")


def decode_token(kind: str, token: str | None) -> int:
    """The sequence number a token resumes after (0: from the start); 400 if it is not ours."""
    if token is None:
        return 0
    try:
        padded = token + "=" * (-len(token) % 4)
        text = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
        prefix, _, number = text.partition(":")
        if prefix != kind:
            raise ValueError(prefix)
        return int(number)
    except (ValueError, UnicodeDecodeError, binascii.Error):
        raise bad_request("next_token is not valid") from None


def page(
    items: Iterable[T], kind: str, token: str | None, limit: int, keep: Callable[[T], bool]
) -> tuple[list[T], str | None]:
    """One page of the kept items after the token, and the token of the next page (None: last)."""
    after = decode_token(kind, token)
    chosen: list[T] = []
    for item in items:
        if item.seq <= after or not keep(item):
            continue
        if len(chosen) == limit:
            return chosen, encode_token(kind, chosen[-1].seq)
        chosen.append(item)
    return chosen, None
