"""Everything the HTTP handlers share, in one object stored on the aiohttp application.

Why one object: the server runs on its own thread while tests change faults, keys and
outcomes from theirs; every piece here is thread-safe on its own, and the handlers reach them
through ``request.app[CONTEXT]`` rather than module globals, so two emulators can run at once.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from aiohttp import web

if TYPE_CHECKING:
    from collections.abc import Iterable

    from fauna_emulator.calls import CallLog
    from fauna_emulator.faults import FaultInjector
    from fauna_emulator.filecache import FileCache
    from fauna_emulator.oauth import OAuthApps
    from fauna_emulator.signing import UrlSigner
    from fauna_emulator.state import Account


class KeyRing:
    """The account key secrets that are accepted, each with an optional expiry."""

    def __init__(self, keys: Iterable[str] = ()) -> None:
        self._lock = threading.Lock()
        self._keys: dict[str, float | None] = dict.fromkeys(keys)

    def add(self, key: str, ttl: float | None = None) -> None:
        """Accept ``key`` (for ``ttl`` seconds from now, if given: account keys can expire)."""
        if not key:
            raise ValueError("an account key cannot be empty")
        with self._lock:
            self._keys[key] = None if ttl is None else time.time() + ttl

    def replace(self, keys: Iterable[str]) -> None:
        """Accept exactly ``keys`` (without expiry) from now on."""
        with self._lock:
            self._keys = dict.fromkeys(keys)

    def revoke(self, key: str) -> None:
        """Refuse ``key`` from now on."""
        with self._lock:
            self._keys.pop(key, None)

    def accepts(self, key: str) -> bool:
        """Whether ``key`` is known and has not expired."""
        with self._lock:
            if key not in self._keys:
                return False
            expires = self._keys[key]
        return expires is None or time.time() < expires


@dataclass
class Context:
    """The emulator's parts, as the handlers see them."""

    account: Account
    apps: OAuthApps
    files: FileCache
    signer: UrlSigner
    faults: FaultInjector
    calls: CallLog
    keys: KeyRing
    small_file_records: int = 20_000
    """Files up to this many records are awaited by the submit call, so that with
    ``completion_delay=0`` the very next status read is already ``Complete``."""


CONTEXT = web.AppKey("fauna_emulator_context", Context)
