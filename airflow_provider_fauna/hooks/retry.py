"""The one retry policy of the hook, applied by tenacity to the sync and the async client alike."""

from __future__ import annotations

import math
import random
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import TYPE_CHECKING, Any, Protocol

from tenacity import retry_if_exception, stop_after_attempt, stop_before_delay
from tenacity.wait import wait_base

from airflow_provider_fauna.exceptions import FaunaApiError, FaunaConnectionError

if TYPE_CHECKING:
    from tenacity import RetryCallState
    from tenacity.stop import stop_base

#: Statuses that say "try again later" rather than "this request is wrong".
RETRYABLE_STATUSES: frozenset[int] = frozenset({429, 500, 502, 503, 504})


class RetryLogger(Protocol):
    """Where retries are announced (stdlib and Airflow 3's structlog loggers both fit)."""

    def warning(self, msg: Any, /, *args: Any, **kwargs: Any) -> Any: ...


#: Drawn from the OS, so that a task calling ``random.seed()`` cannot put every worker's retries in step.
_JITTER = random.SystemRandom()


def parse_retry_after(value: str | None, *, now: datetime | None = None) -> float | None:
    """Read ``Retry-After`` as seconds, whether it holds delta-seconds or an HTTP date.

    :param value: the header's value, if the answer had one.
    :param now: the time to count a date from; the current time by default.
    """
    if not value:
        return None
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # "inf", "nan" or "1e400" say nothing usable
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = parsedate_to_datetime(value.strip())
    except (TypeError, ValueError, IndexError, OverflowError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=timezone.utc)
    return max(0.0, (when - (now or datetime.now(timezone.utc))).total_seconds())


def parse_number(
    raw: Any, name: str, *, whole: bool = False, minimum: int = 0, positive: bool = False
) -> float:
    """Read ``raw`` as a finite number of at least ``minimum``, or raise ``ValueError`` naming ``name``.

    :param whole: refuse a fraction.
    :param positive: refuse 0 too (a number of seconds).
    """
    try:
        number = math.nan if isinstance(raw, bool) else float(raw)
    except (TypeError, ValueError):
        number = math.nan
    if (
        math.isfinite(number)
        and number >= minimum
        and (number > 0 or not positive)
        and (number.is_integer() or not whole)
    ):
        return number
    if positive:
        what = "a positive number of seconds"
    else:
        what = f"a whole number, {minimum} or more" if whole else "a finite number of seconds, 0 or more"
    raise ValueError(f"{name}={raw!r} must be {what}")


@dataclass(frozen=True)
class RetryPolicy:
    """Capped exponential backoff with jitter, honouring ``Retry-After``.

    :param max_attempts: attempts in all, the first included (1 disables retries).
    :param backoff_base: seconds before the second attempt; doubled for each attempt after.
    :param backoff_max: the cap of one wait, ``Retry-After`` included.
    :param jitter: wait a random time in ``[delay/2, delay]``, and after a ``Retry-After`` up to
        half as long again, so that workers retrying together (a backfill) do not keep in step.
    :param retry_statuses: HTTP statuses worth retrying; 400/401/403/404 never are.
    """

    max_attempts: int = 5
    backoff_base: float = 1.0
    backoff_max: float = 60.0
    jitter: bool = True
    retry_statuses: frozenset[int] = RETRYABLE_STATUSES

    def __post_init__(self) -> None:
        if not isinstance(self.max_attempts, int):
            raise ValueError(f"max_attempts={self.max_attempts!r} must be a whole number.")
        parse_number(self.max_attempts, "max_attempts", whole=True, minimum=1)
        parse_number(self.backoff_base, "backoff_base")
        parse_number(self.backoff_max, "backoff_max")

    @classmethod
    def from_extra(cls, extra: dict[str, Any]) -> RetryPolicy:
        """Build a policy from a connection's extras; an empty value means the default.

        :param extra: the connection's extras; ``max_retries`` counts the attempts after the first.
        :raises ValueError: a bad extra, named by its own key (``max_retries``, not ``max_attempts``).
        """
        given = {key for key, value in extra.items() if value not in (None, "")}
        values: dict[str, Any] = {
            key: parse_number(extra[key], key) for key in given & {"backoff_base", "backoff_max"}
        }
        if "max_attempts" in given:
            values["max_attempts"] = int(
                parse_number(extra["max_attempts"], "max_attempts", whole=True, minimum=1)
            )
        if "max_retries" in given:
            values["max_attempts"] = int(parse_number(extra["max_retries"], "max_retries", whole=True)) + 1
        return cls(**values)

    def is_retryable(self, error: BaseException) -> bool:
        """Tell whether ``error`` is worth another attempt: a retryable status, no answer, a timeout."""
        if isinstance(error, FaunaApiError):
            return error.status in self.retry_statuses
        return isinstance(error, FaunaConnectionError)

    def delay(self, attempt: int, retry_after: float | None = None) -> float:
        """Return the seconds to wait after attempt number ``attempt`` (1-based) failed.

        :param retry_after: the wait the API asked for, if any: a floor, with jitter on top (up
            to half as long again, within ``backoff_max``) so that workers told the same wait do
            not come back in step. At or above ``backoff_max`` the wait is the cap itself.
        """
        raw = min(self.backoff_max, self.backoff_base * (2 ** (attempt - 1)))
        backoff = _JITTER.uniform(raw / 2, raw) if self.jitter else raw
        if retry_after is None:
            return backoff
        floor = max(retry_after, backoff)
        if not self.jitter:
            return min(floor, self.backoff_max)
        if floor >= self.backoff_max:  # the cap the user set wins, and nothing above it is left to draw
            return self.backoff_max
        # Up to half the floor on top, within the cap, so that no two workers wait exactly the cap.
        return floor + _JITTER.uniform(0, min(floor / 2, self.backoff_max - floor))

    def wait(self) -> wait_base:
        """Return the tenacity wait of this policy (see :meth:`delay`)."""
        return _PolicyWait(self)

    def retry_args(self, log: RetryLogger, *, deadline: float | None = None) -> dict[str, Any]:
        """Return the arguments of a tenacity ``Retrying`` or ``AsyncRetrying`` that apply this policy.

        :param log: where each retry is announced.
        :param deadline: epoch seconds by which the call must be over: no retry sleeps past it.
            Build the ``Retrying`` at once, as tenacity counts from its first attempt.
        """

        def announce(state: RetryCallState) -> None:
            error = state.outcome.exception() if state.outcome else None
            delay = state.next_action.sleep if state.next_action else 0.0
            log.warning(
                "%s; retrying in %.1f s (attempt %d of %d).",
                str(error).rstrip("."),
                delay,
                state.attempt_number + 1,
                self.max_attempts,
            )

        stop: stop_base = stop_after_attempt(self.max_attempts)
        if deadline is not None:
            stop = stop | stop_before_delay(max(0.0, deadline - time.time()))
        return {
            "stop": stop,
            "wait": self.wait(),
            "retry": retry_if_exception(self.is_retryable),
            "before_sleep": announce,
            "reraise": True,
        }


class _PolicyWait(wait_base):
    """A policy's wait: tenacity's random waits draw from the seedable ``random`` module, and it has no max()."""

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy

    def __call__(self, retry_state: RetryCallState) -> float:
        error = retry_state.outcome.exception() if retry_state.outcome else None
        return self.policy.delay(retry_state.attempt_number, getattr(error, "retry_after", None))
