"""Fault injection: what can go wrong between the provider and Fauna, on demand and reproducibly.

Every random choice comes from one seeded RNG, so a test that sets the same faults in the same
order sees the same failures. Set ``FaultConfig.seed`` to restart that RNG when the faults are
installed, for a sequence that does not depend on what ran before.

API faults (``/api/...`` only, optionally narrowed by ``fault_paths`` prefixes), drawn per call:

* ``slow_ratio``: the answer is delayed by ``slow_seconds`` (asynchronously; others are served).
  Drawn independently of the next three, so a call can be slow *and* rate limited.
* ``rate_limit_ratio``: 429 with ``Retry-After`` (``retry_after`` seconds, or an HTTP date when
  ``retry_after_http_date``), before any work is done.
* ``server_error_ratio``: 500, 502, 503 or 504, before any work is done. 502 and 504 come with
  an HTML body, as a gateway's would, so clients must not assume every error is JSON.
* ``drop_ratio``: the request *is processed* and then the connection is closed without an
  answer: the worst case, where a retry without an idempotency token creates a duplicate.

The three exclusive ones are drawn from one number, so their ratios must sum to at most 1.

Log request outcomes: ``outcome_ratios`` (``{"Failed": 0.1, "TimedOut": 0.05}``) is drawn once
per new log request; the rest complete normally. A forced outcome (``set_outcome``) wins.

Presigned URL faults:

* ``early_expiry_ratio``: the URL is already expired when issued, while the advertised
  ``presigned_url_expiration_time`` is normal (clock skew, a rotated signing key...).
* ``url_ttl_override``: the lifetime of newly issued URLs, in place of the emulator's
  ``url_ttl`` (both advertised and enforced).

Download faults, applied to the first ``download_fault_count`` downloads that they can affect
(``None``: all of them), counted from when the faults were installed; one per download, in
this order of precedence:

* ``download_expire_mid_stream``: cut after half the body, and the URL answers 403 from then on.
* ``download_drop_after_bytes``: reset the connection after that many bytes of the body.
* ``download_truncate``: send half the body, then close the connection cleanly.
* ``download_corrupt``: flip 8 bytes in the middle of the body (length and ETag unchanged).
"""

from __future__ import annotations

import dataclasses
import random
import threading
from dataclasses import dataclass, field
from typing import Any, cast

OUTCOME_FAULT_STATES = ("DoesNotExist", "Failed", "TimedOut")
SERVER_ERROR_CODES = (500, 502, 503, 504)
CORRUPT_BYTES = 8


def _check_ratio(name: str, value: float) -> None:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not 0 <= value <= 1:
        raise ValueError(f"{name} must be a number between 0 and 1, got {value!r}")


def _check_number(name: str, value: Any, *, integer: bool = False, optional: bool = True) -> None:
    if value is None and optional:
        return
    kinds: tuple[type, ...] = (int,) if integer else (int, float)
    if isinstance(value, bool) or not isinstance(value, kinds) or cast("float", value) < 0:
        raise ValueError(f"{name} must be a non-negative {'integer' if integer else 'number'}")


@dataclass(frozen=True)
class FaultConfig:
    """Which faults to inject and how often. All ratios are probabilities in [0, 1]."""

    rate_limit_ratio: float = 0.0
    retry_after: int = 1
    retry_after_http_date: bool = False
    server_error_ratio: float = 0.0
    drop_ratio: float = 0.0
    slow_ratio: float = 0.0
    slow_seconds: float = 1.0
    fault_paths: tuple[str, ...] | None = None
    outcome_ratios: dict[str, float] = field(default_factory=dict)
    early_expiry_ratio: float = 0.0
    url_ttl_override: float | None = None
    download_drop_after_bytes: int | None = None
    download_truncate: bool = False
    download_corrupt: bool = False
    download_expire_mid_stream: bool = False
    download_fault_count: int | None = 1
    seed: int | None = None

    def __post_init__(self) -> None:
        for name in (
            "rate_limit_ratio",
            "server_error_ratio",
            "drop_ratio",
            "slow_ratio",
            "early_expiry_ratio",
        ):
            _check_ratio(name, getattr(self, name))
        if self.rate_limit_ratio + self.server_error_ratio + self.drop_ratio > 1:
            raise ValueError("rate_limit_ratio + server_error_ratio + drop_ratio must not exceed 1")
        _check_number("retry_after", self.retry_after, integer=True, optional=False)
        _check_number("slow_seconds", self.slow_seconds, optional=False)
        _check_number("url_ttl_override", self.url_ttl_override)
        _check_number("download_drop_after_bytes", self.download_drop_after_bytes, integer=True)
        _check_number("download_fault_count", self.download_fault_count, integer=True)
        if not isinstance(self.outcome_ratios, dict):
            raise ValueError("outcome_ratios must be an object of state -> ratio")
        for state, ratio in self.outcome_ratios.items():
            if state not in OUTCOME_FAULT_STATES:
                raise ValueError(f"outcome_ratios: {state!r} is not one of {', '.join(OUTCOME_FAULT_STATES)}")
            _check_ratio(f"outcome_ratios[{state!r}]", ratio)
        if sum(self.outcome_ratios.values()) > 1:
            raise ValueError("outcome_ratios must not sum to more than 1")
        if self.fault_paths is not None:
            if isinstance(self.fault_paths, str) or not all(isinstance(p, str) for p in self.fault_paths):
                raise ValueError("fault_paths must be a list of path prefixes")
            object.__setattr__(self, "fault_paths", tuple(self.fault_paths))

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> FaultConfig:
        """Build from JSON (the ``PUT /_emulator/faults`` body); unknown fields are an error."""
        if not isinstance(data, dict):
            raise ValueError("the fault configuration must be a JSON object")
        known = {f.name for f in dataclasses.fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise ValueError(f"unknown fault fields: {', '.join(unknown)}")
        return cls(**data)

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready form."""
        data = dataclasses.asdict(self)
        if self.fault_paths is not None:
            data["fault_paths"] = list(self.fault_paths)
        return data


@dataclass(frozen=True)
class ApiFault:
    """What to do to one API call: delay it, then maybe answer 429/5xx or drop it."""

    delay: float = 0.0
    kind: str | None = None  # "rate_limit" | "server_error" | "drop"
    status: int = 0
    retry_after: int = 0
    retry_after_http_date: bool = False

    @property
    def labels(self) -> list[str]:
        """The names recorded on the call's ``fault``."""
        return (["slow"] if self.delay else []) + ([self.kind] if self.kind else [])


NO_API_FAULT = ApiFault()


@dataclass(frozen=True)
class DownloadFault:
    """What to do to one download body. ``offset`` counts from the first byte sent."""

    kind: str  # "download_expire_mid_stream" | "download_drop" | "download_truncate" | "download_corrupt"
    offset: int


class FaultInjector:
    """The live fault configuration and its RNG, shared by the server thread and test threads."""

    def __init__(self, config: FaultConfig, seed: int) -> None:
        self._lock = threading.Lock()
        self._rng = random.Random(seed)
        self._config = config
        self._downloads_faulted = 0
        if config.seed is not None:
            self._rng.seed(config.seed)

    @property
    def config(self) -> FaultConfig:
        """The faults in force."""
        return self._config

    def install(self, config: FaultConfig) -> None:
        """Replace the faults; restart the download fault count (and the RNG if ``config.seed``)."""
        with self._lock:
            self._config = config
            self._downloads_faulted = 0
            if config.seed is not None:
                self._rng.seed(config.seed)

    def draw_api(self, path: str) -> ApiFault:
        """Decide the fate of one API call."""
        with self._lock:
            cfg = self._config
            if cfg.fault_paths is not None and not path.startswith(cfg.fault_paths):
                return NO_API_FAULT
            delay = cfg.slow_seconds if cfg.slow_ratio and self._rng.random() < cfg.slow_ratio else 0.0
            kind, status = None, 0
            if cfg.rate_limit_ratio or cfg.server_error_ratio or cfg.drop_ratio:
                draw = self._rng.random()
                if draw < cfg.rate_limit_ratio:
                    kind, status = "rate_limit", 429
                elif draw < cfg.rate_limit_ratio + cfg.server_error_ratio:
                    kind, status = "server_error", self._rng.choice(SERVER_ERROR_CODES)
                elif draw < cfg.rate_limit_ratio + cfg.server_error_ratio + cfg.drop_ratio:
                    kind = "drop"
        if not delay and kind is None:
            return NO_API_FAULT
        return ApiFault(delay, kind, status, cfg.retry_after, cfg.retry_after_http_date)

    def draw_outcome(self) -> str | None:
        """The failed terminal state a new log request is doomed to, or None to complete."""
        with self._lock:
            ratios = self._config.outcome_ratios
            if not ratios:
                return None
            draw = self._rng.random()
            for state in sorted(ratios):
                if draw < ratios[state]:
                    return state
                draw -= ratios[state]
        return None

    def draw_early_expiry(self) -> bool:
        """Whether a URL about to be issued is born expired."""
        with self._lock:
            ratio = self._config.early_expiry_ratio
            return bool(ratio) and self._rng.random() < ratio

    def url_ttl(self, default: float) -> float:
        """The lifetime of a URL issued now."""
        override = self._config.url_ttl_override
        return default if override is None else override

    def take_download_fault(self, body_length: int) -> DownloadFault | None:
        """The fault for a download of ``body_length`` bytes, if one is due (and count it)."""
        with self._lock:
            cfg = self._config
            if cfg.download_fault_count is not None and self._downloads_faulted >= cfg.download_fault_count:
                return None
            fault: DownloadFault | None = None
            if cfg.download_expire_mid_stream:
                fault = DownloadFault("download_expire_mid_stream", body_length // 2)
            elif cfg.download_drop_after_bytes is not None and cfg.download_drop_after_bytes < body_length:
                fault = DownloadFault("download_drop", cfg.download_drop_after_bytes)
            elif cfg.download_truncate:
                fault = DownloadFault("download_truncate", body_length // 2)
            elif cfg.download_corrupt:
                fault = DownloadFault("download_corrupt", max(0, body_length // 2 - CORRUPT_BYTES // 2))
            if fault is not None:
                self._downloads_faulted += 1
            return fault
