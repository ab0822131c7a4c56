"""The one retry policy the sync and the async hook share.

It decides, and only decides: whether an outcome is worth another attempt and how long to
wait first. The sync path sleeps with :func:`time.sleep`, the async path with
:func:`asyncio.sleep`; neither duplicates the rules.
"""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Any

#: Statuses that say "try again later" rather than "this request is wrong".
RETRYABLE_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Read ``Retry-After`` as seconds, whether it holds delta-seconds or an HTTP date."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    now = now or datetime.now(timezone.utc)
    return max(0.0, (when - now).total_seconds())


def _given(extra: dict[str, Any], key: str) -> bool:
    return key in extra and extra[key] not in (None, "")


def _number(raw: Any) -> float:
    """An extra's value as a number; ``nan`` for what is not one (``True`` included)."""
    if isinstance(raw, bool):
        return math.nan
    try:
        return float(raw)
    except (TypeError, ValueError):
        return math.nan


def _whole_number(extra: dict[str, Any], key: str, *, minimum: int) -> int:
    """``extra[key]`` as an integer of at least ``minimum`` (``"3"`` and ``3.0`` are fine; ``2.7`` is not)."""
    number = _number(extra[key])
    if not number.is_integer() or number < minimum:
        raise ValueError(f"{key}={extra[key]!r} must be a whole number, {minimum} or more")
    return int(number)


def _seconds(extra: dict[str, Any], key: str) -> float:
    """``extra[key]`` as a finite, non-negative number of seconds."""
    number = _number(extra[key])
    if not math.isfinite(number) or number < 0:
        raise ValueError(f"{key}={extra[key]!r} must be a finite number of seconds, 0 or more")
    return number


#: One generator for every policy (a triggerer builds a policy per trigger run), drawing from
#: the OS: a task that calls ``random.seed()`` cannot put every worker's retries in step.
_JITTER = random.SystemRandom()


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter (half to all of each delay), honouring ``Retry-After``.

    :param max_attempts: attempts in all, the first included (1 disables retries).
    :param backoff_base: seconds before the second attempt; doubled for each attempt after.
    :param backoff_max: the cap of one wait, ``Retry-After`` included.
    :param jitter: wait a random time in ``[delay/2, delay]`` so that many workers retrying
        together (a backfill) do not hit the API in step.
    :param retry_statuses: HTTP statuses worth retrying; 400/401/403/404 never are.
    """

    max_attempts: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    jitter: bool = True
    retry_statuses: frozenset[int] = RETRYABLE_STATUSES

    def __post_init__(self) -> None:
        if isinstance(self.max_attempts, bool) or not isinstance(self.max_attempts, int):
            raise ValueError(f"max_attempts={self.max_attempts!r} must be a whole number.")
        if self.max_attempts < 1:
            raise ValueError(f"max_attempts={self.max_attempts} must be at least 1.")
        for name in ("backoff_base", "backoff_max"):
            value = getattr(self, name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(f"{name}={value!r} must be a finite number of seconds, 0 or more.")

    @classmethod
    def from_extra(cls, extra: dict[str, Any], **overrides: Any) -> RetryPolicy:
        """Build a policy from a connection's extras, with explicit arguments taking precedence.

        A bad extra raises ``ValueError`` naming the extra's own key (``max_retries``, not
        the ``max_attempts`` it becomes), so the message points at what to change.
        """
        values: dict[str, Any] = {}
        if _given(extra, "max_attempts"):
            values["max_attempts"] = _whole_number(extra, "max_attempts", minimum=1)
        if _given(extra, "max_retries"):
            values["max_attempts"] = _whole_number(extra, "max_retries", minimum=0) + 1
        for key in ("backoff_base", "backoff_max"):
            if _given(extra, key):
                values[key] = _seconds(extra, key)
        values.update({k: v for k, v in overrides.items() if v is not None})
        return cls(**values)

    def should_retry_status(self, status: int, attempt: int) -> bool:
        """Whether a response with ``status`` on attempt number ``attempt`` (1-based) is retried."""
        return status in self.retry_statuses and attempt < self.max_attempts

    def should_retry_error(self, attempt: int) -> bool:
        """Whether a connection error or timeout on attempt ``attempt`` is retried."""
        return attempt < self.max_attempts

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Seconds to wait after attempt ``attempt`` failed, before the next one."""
        if retry_after is not None:
            return min(retry_after, self.backoff_max)
        raw = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        if self.jitter:
            return _JITTER.uniform(raw / 2, raw)
        return raw
