"""Generated log files, built once per distinct content, off the event loop, kept on disk.

Why: a benchmark file can be a gigabyte. Building it on the event loop would freeze every
other client, and building it twice would waste minutes. So each :class:`LogFileSpec` is built
at most once, on a small worker pool, into a cache directory; a sidecar JSON keeps its size and
MD5 so that a cache directory given by the user is reused by later emulator runs.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
import tempfile
import threading
import time
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING

from fauna_emulator.logfile import FORMAT_VERSION, generate

if TYPE_CHECKING:
    from fauna_emulator.logfile import LogFileSpec

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class CachedFile:
    """A finished file: where it is, its length and its MD5 (served as the ``ETag``)."""

    path: str
    size: int
    md5: str
    ready_at: float

    @property
    def etag(self) -> str:
        """The quoted MD5, as an object store sends it."""
        return f'"{self.md5}"'


class FileCache:
    """Builds and remembers log files. Thread-safe; every method returns quickly."""

    def __init__(self, directory: str | None = None, *, workers: int = 2) -> None:
        self._owned = directory is None
        self._directory = directory
        self._executor = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="fauna-emu-logfile")
        self._lock = threading.Lock()
        self._futures: dict[str, Future[CachedFile]] = {}
        self._closing = threading.Event()

    def ensure(self, spec: LogFileSpec) -> Future[CachedFile]:
        """Start building the file for ``spec`` unless that is done or under way."""
        key = spec.cache_key()
        with self._lock:
            future = self._futures.get(key)
            if future is None:
                future = self._executor.submit(self._build, spec)
                self._futures[key] = future
            return future

    def poll(self, spec: LogFileSpec) -> CachedFile | Exception | None:
        """The finished file, the exception that stopped its build, or None while building.

        Starts the build if nobody has asked for it yet.
        """
        future = self.ensure(spec)
        if not future.done():
            return None
        error = future.exception()
        if error is not None:
            return error if isinstance(error, Exception) else RuntimeError(str(error))
        return future.result()

    @property
    def directory(self) -> str:
        """Where files go; a temporary directory is made on first use, not before."""
        with self._lock:
            if self._directory is None:
                self._directory = tempfile.mkdtemp(prefix="fauna-emulator-files-")
            else:
                os.makedirs(self._directory, exist_ok=True)
            return self._directory

    def _build(self, spec: LogFileSpec) -> CachedFile:
        key = spec.cache_key()
        directory = self.directory
        path = os.path.join(directory, f"{key}.ndjson.gz")
        meta_path = os.path.join(directory, f"{key}.json")
        cached = self._load(path, meta_path)
        if cached is not None:
            return cached
        started = time.perf_counter()
        made = generate(spec, path, self._closing)
        with open(meta_path, "w") as meta:
            json.dump({"format": FORMAT_VERSION, "size": made.size, "md5": made.md5}, meta)
        log.info(
            "generated %s: %d records, %d bytes in %.2fs",
            os.path.basename(path),
            spec.records,
            made.size,
            time.perf_counter() - started,
        )
        return CachedFile(path, made.size, made.md5, time.time())

    @staticmethod
    def _load(path: str, meta_path: str) -> CachedFile | None:
        """A file a previous run left in a user-given cache directory, if it is intact."""
        try:
            with open(meta_path) as meta:
                info = json.load(meta)
            if info.get("format") == FORMAT_VERSION and os.path.getsize(path) == info["size"]:
                return CachedFile(path, int(info["size"]), str(info["md5"]), time.time())
        except (OSError, ValueError, KeyError, TypeError):
            pass
        return None

    def close(self) -> None:
        """Stop building; delete the directory if the cache made it."""
        self._closing.set()
        self._executor.shutdown(wait=True, cancel_futures=True)
        if self._owned and self._directory is not None:
            shutil.rmtree(self._directory, ignore_errors=True)
