"""Deterministic generation of a Fauna query-log file (gzip of NDJSON).

Why deterministic: tests assert that what the provider lands in the data lake is byte for byte
what the presigned URL served, and a resumed download (``Range``) must continue the very same
bytes. So the file depends only on a :class:`LogFileSpec` (scope, interval, record count, seed),
and the gzip stream has mtime 0 and no file name.

Why templated lines instead of ``json.dumps`` per record: benchmarks ask for files of about
1 GiB. Random numbers are drawn in bulk (``randbytes``) and each line is one ``%`` format of a
fixed template whose string parts are JSON-escaped once, up front. Compression uses level 1:
the point is realistic gzip framing, not a small file.

Record fields (one JSON object per line, in this order): ``ts`` (UTC, inside
[time_start, time_end), non-decreasing), ``txn_ts`` (microseconds), ``region_group``,
``database``, ``request_method``, ``response_code``, ``query_shape``, ``query_fingerprint``,
``query_time_ms``, ``parse_time_ms``, ``compute_ops``, ``read_ops``, ``write_ops``,
``storage_bytes_read``, ``storage_bytes_write``, ``txn_retries``, ``bytes_in``, ``bytes_out``,
``traceparent`` (W3C), ``tags`` (the query's ``x-fauna-tags`` as an object), ``api_version``,
``driver``, ``driver_version``.
"""

from __future__ import annotations

import hashlib
import json
import os
import queue
import random
import threading
import time
import zlib
from dataclasses import dataclass
from typing import TYPE_CHECKING, BinaryIO

if TYPE_CHECKING:
    from collections.abc import Iterator

FORMAT_VERSION = 1
"""Bump when the generated content changes, so on-disk caches are not reused across formats."""

_BATCH = 4096
_U16_PER_RECORD = 8
_SECONDS = tuple(f"{n:02d}." for n in range(60))
_DIGITS3 = tuple(f"{n:03d}" for n in range(1000))

_REGION_DATABASES = (
    "ECommerce",
    "production/customers",
    "production/orders",
    "analytics",
    "staging/inventory",
)

_SHAPES = (
    "Product.where(.category == $1).pageSize($2)",
    "Order.byId($1)!.update({ status: $2 })",
    'Customer.byEmail($1).first() { id, name, "email": .email }',
    "Product.all().order(desc(.price)).take($1)",
    "Order.create({ customer: Customer.byId($1), items: $2, total: $3 })",
    "Inventory.byProduct($1)!.update({ quantity: .quantity - $2 })",
    "Customer.all().where(.createdAt > Time($1)).count()",
    "Product.byName($1).map(p => p { name, price, stock })",
    "Order.where(.customer == Customer.byId($1)).order(desc(.createdAt)).pageSize($2)",
    "Set.paginate($1)",
    "Review.create({ product: Product.byId($1), rating: $2, body: $3 })",
    "Collection.byName($1)!.indexes",
)

_TAGS = (
    "{}",
    '{"app":"checkout","env":"prod"}',
    '{"app":"checkout","env":"prod","route":"cart_total"}',
    '{"job":"nightly_sync","env":"prod"}',
    '{"app":"storefront","env":"prod","tenant":"acme_co"}',
    '{"app":"admin","env":"staging"}',
    '{"service":"search_indexer"}',
    '{"app":"mobile","version":"4_12_0","platform":"ios"}',
)

_DRIVERS = (
    '"driver":"python","driver_version":"2.4.0"',
    '"driver":"javascript","driver_version":"2.5.0"',
    '"driver":"go","driver_version":"1.3.0"',
    '"driver":"jvm","driver_version":"1.1.0"',
    '"driver":"dotnet","driver_version":"1.0.1"',
)

# Weighted by repetition: mostly successes, some client errors, aborts, contention, throttling.
_RESPONSE_CODES = (200,) * 56 + (400, 400, 401, 403, 409, 429, 440, 500)
_QUERY_TIMES_MS = (1, 2, 3, 4, 5, 7, 9, 12, 15, 19, 24, 31, 40, 80, 140, 900)
# (write_ops, txn_retries): most queries only read.
_WRITES = ((0, 0), (0, 0), (0, 0), (0, 0), (1, 0), (1, 0), (2, 0), (4, 1))


@dataclass(frozen=True)
class LogFileSpec:
    """Everything the content of one log file depends on, and nothing else."""

    region_group: str
    database: str | None
    time_start_us: int
    time_end_us: int
    records: int
    seed: int

    def cache_key(self) -> str:
        """A stable name for the file: equal specs share one cached file."""
        ident = json.dumps(
            [
                FORMAT_VERSION,
                self.region_group,
                self.database,
                self.time_start_us,
                self.time_end_us,
                self.records,
                self.seed,
            ]
        )
        return hashlib.sha256(ident.encode()).hexdigest()[:32]

    def databases(self) -> tuple[str, ...]:
        """The databases whose queries appear: one for a database export, several for a region group."""
        if self.database is not None:
            return (self.database,)
        return tuple(f"{self.region_group}/{name}" for name in _REGION_DATABASES)


@dataclass(frozen=True)
class _Fragments:
    """Ready JSON text for the low-cardinality parts of a record (see :func:`_fragments`)."""

    where: list[str]
    timings: list[str]
    ops: list[tuple[str, int, str]]
    tails: list[str]


@dataclass(frozen=True)
class GeneratedFile:
    """What the server needs to serve a file: its size and MD5 (the ``ETag``)."""

    size: int
    md5: str


def _escaped(text: str) -> str:
    """JSON-escape a string once so it can go between the template's quotes."""
    return json.dumps(text)[1:-1]


def _fragments(spec: LogFileSpec) -> _Fragments:
    """Pre-render every combination of the low-cardinality fields as JSON text, once per file.

    Picking one of these per record costs one list index instead of several int-to-text
    conversions; list sizes that divide 65536 keep the picks unbiased.
    """
    head = f'"region_group":{json.dumps(spec.region_group)},"database":'
    where = [
        f'{head}{json.dumps(db)},"request_method":"POST","query_shape":{json.dumps(shape)},'
        f'"query_fingerprint":"{hashlib.sha256(shape.encode()).hexdigest()[:16]}"'
        for db in spec.databases()
        for shape in _SHAPES
    ]
    timings = [
        f'"response_code":{code},"query_time_ms":{qt},"parse_time_ms":{pt},"compute_ops":{co}'
        for code in _RESPONSE_CODES
        for qt in _QUERY_TIMES_MS
        for pt in (0, 0, 1, 2)
        for co in range(1, 9)
    ]
    ops = [
        (
            f'"read_ops":{reads},"write_ops":{writes},"storage_bytes_read":',
            reads * 1024,
            f',"storage_bytes_write":{writes * 512},"txn_retries":{retries},"bytes_in":',
        )
        for reads in range(32)
        for writes, retries in _WRITES
    ]
    tails = [f'"tags":{tags},"api_version":"10",{driver}}}\n' for tags in _TAGS for driver in _DRIVERS]
    return _Fragments(where, timings, ops, tails)


def _lines(spec: LogFileSpec) -> Iterator[str]:
    """Yield the NDJSON text in batches of lines (one string per batch)."""
    rnd = random.Random(spec.cache_key())
    frag = _fragments(spec)
    where, timings, ops, tails = frag.where, frag.timings, frag.ops, frag.tails
    n_where, n_timings, n_ops, n_tails = len(where), len(timings), len(ops), len(tails)
    start, total = spec.time_start_us, spec.records
    span = spec.time_end_us - start
    slot = span // total if total else 0
    last_minute, prefix = -1, ""
    done = 0
    while done < total:
        count = min(_BATCH, total - done)
        nums = memoryview(rnd.randbytes(count * _U16_PER_RECORD * 2)).cast("H")
        hexes = rnd.randbytes(count * 24).hex()
        out: list[str] = []
        append = out.append
        for j in range(count):
            b = j * _U16_PER_RECORD
            # Evenly spread over the interval with jitter inside each slot: sorted, never >= end.
            ts = start + ((done + j) * span) // total + ((nums[b] * slot) >> 16)
            minute, micros = divmod(ts, 60_000_000)
            if minute != last_minute:
                last_minute = minute
                prefix = '{"ts":"' + time.strftime("%Y-%m-%dT%H:%M:", time.gmtime(minute * 60))
            second, micros = divmod(micros, 1_000_000)
            milli, micros = divmod(micros, 1000)
            reads, read_bytes, writes = ops[nums[b + 3] % n_ops]
            h = j * 48
            append(
                f'{prefix}{_SECONDS[second]}{_DIGITS3[milli]}{_DIGITS3[micros]}Z","txn_ts":{ts},'
                f"{where[nums[b + 1] % n_where]},{timings[nums[b + 2] % n_timings]},"
                f"{reads}{read_bytes + (nums[b + 4] & 1023)}{writes}{120 + (nums[b + 5] & 1023)},"
                f'"bytes_out":{nums[b + 6]},"traceparent":"00-{hexes[h : h + 32]}-{hexes[h + 32 : h + 48]}-01",'
                f"{tails[nums[b + 7] % n_tails]}"
            )
        done += count
        yield "".join(out)


class _Packer:
    """Compress, hash and write on a helper thread, so that it overlaps with text generation.

    zlib, hashlib and file writes release the GIL, so this roughly halves the wall time of a
    big file compared with doing both steps in turn.
    """

    def __init__(self, out: BinaryIO) -> None:
        self._out = out
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=4)
        self._error: BaseException | None = None
        self.size = 0
        self.md5 = hashlib.md5(usedforsecurity=False)
        self._thread = threading.Thread(target=self._run, name="fauna-emu-gzip", daemon=True)
        self._thread.start()

    def _run(self) -> None:
        # wbits=31: a gzip container with header mtime 0 and no file name: reproducible bytes.
        packer = zlib.compressobj(1, zlib.DEFLATED, 31)
        try:
            while (data := self._queue.get()) is not None:
                self._emit(packer.compress(data))
            self._emit(packer.flush())
        except BaseException as exc:  # handed to the producer in close()
            self._error = exc
            while self._queue.get() is not None:  # unblock the producer until it stops
                pass

    def _emit(self, chunk: bytes) -> None:
        if chunk:
            self._out.write(chunk)
            self.md5.update(chunk)
            self.size += len(chunk)

    def feed(self, data: bytes) -> None:
        """Queue uncompressed bytes (blocks when the writer is behind, bounding memory)."""
        if self._error is None:
            self._queue.put(data)

    def close(self) -> None:
        """Finish the gzip stream; re-raise whatever went wrong on the helper thread."""
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error


class Cancelled(Exception):
    """Generation stopped because the emulator is shutting down."""


def generate(spec: LogFileSpec, path: str, cancel: threading.Event | None = None) -> GeneratedFile:
    """Write the gzip file for ``spec`` to ``path`` (atomically) and return its size and MD5.

    Blocking and CPU-bound: call it from a worker thread, never from the event loop. Setting
    ``cancel`` stops it between two batches of lines (and leaves no partial file).
    """
    tmp = f"{path}.{os.getpid()}.{threading.get_ident()}.tmp"
    try:
        with open(tmp, "wb") as out:
            packer = _Packer(out)
            try:
                for text in _lines(spec):
                    if cancel is not None and cancel.is_set():
                        raise Cancelled(path)
                    packer.feed(text.encode())
            finally:
                packer.close()
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise
    return GeneratedFile(size=packer.size, md5=packer.md5.hexdigest())
