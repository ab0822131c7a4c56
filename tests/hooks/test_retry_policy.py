"""The retry policy: backoff, cap, jitter, Retry-After in both forms, what is retried, as tenacity runs it."""

from __future__ import annotations

import logging
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime

import pytest
from tenacity import Retrying

from airflow_provider_fauna.exceptions import (
    FaunaApiError,
    FaunaAuthError,
    FaunaConnectionError,
    FaunaRateLimitedError,
    FaunaServerError,
    FaunaValidationError,
)
from airflow_provider_fauna.hooks.retry import RETRYABLE_STATUSES, RetryPolicy, parse_retry_after


def test_retry_after_in_seconds():
    assert parse_retry_after("7") == 7.0
    assert parse_retry_after(" 0 ") == 0.0


def test_retry_after_as_http_date():
    now = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
    header = format_datetime(now + timedelta(seconds=30), usegmt=True)
    assert parse_retry_after(header, now=now) == pytest.approx(30.0)


def test_retry_after_in_the_past_or_garbage():
    now = datetime(2026, 11, 22, 12, 0, tzinfo=timezone.utc)
    assert parse_retry_after(format_datetime(now - timedelta(hours=1), usegmt=True), now=now) == 0.0
    assert parse_retry_after("soon") is None
    assert parse_retry_after(None) is None


def test_backoff_doubles_and_is_capped():
    policy = RetryPolicy(backoff_base=1.0, backoff_max=5.0, jitter=False)
    assert [policy.delay(n) for n in range(1, 6)] == [1.0, 2.0, 4.0, 5.0, 5.0]


def test_jitter_stays_within_half_to_full_delay():
    policy = RetryPolicy(backoff_base=4.0, backoff_max=60.0)
    delays = {policy.delay(2) for _ in range(200)}
    assert all(4.0 <= d <= 8.0 for d in delays)
    assert len(delays) > 1


def test_retry_after_is_a_floor_with_jitter_and_is_capped():
    steady = RetryPolicy(backoff_max=10.0, jitter=False)
    assert steady.delay(1, retry_after=3.0) == 3.0
    assert steady.delay(1, retry_after=0.0) == 1.0, "Retry-After: 0 still waits the backoff"
    assert steady.delay(1, retry_after=3600.0) == 10.0
    policy = RetryPolicy(backoff_max=10.0)
    assert all(3.0 <= policy.delay(1, retry_after=3.0) <= 4.5 for _ in range(50))
    assert policy.delay(1, retry_after=3600.0) == 10.0


@pytest.mark.parametrize("status", [400, 401, 403, 404])
def test_client_errors_are_never_retried(status):
    assert not RetryPolicy().is_retryable(FaunaApiError(status, "no"))


@pytest.mark.parametrize("status", sorted(RETRYABLE_STATUSES))
def test_transient_statuses_are_retried_until_the_last_attempt(status):
    policy = RetryPolicy(max_attempts=3, backoff_base=0)
    attempts = []

    def fail() -> None:
        attempts.append(status)
        raise FaunaServerError(status, "later") if status >= 500 else FaunaRateLimitedError(status, "later")

    with pytest.raises(FaunaApiError):
        Retrying(**policy.retry_args(logging.getLogger(__name__)))(fail)
    assert len(attempts) == 3


def test_a_retry_waits_what_retry_after_asks_up_to_the_cap():
    policy = RetryPolicy(max_attempts=3, backoff_max=10.0, jitter=False)
    waits: list[float] = []
    raised = iter(
        [
            FaunaRateLimitedError(429, "slow", retry_after=3.0),
            FaunaRateLimitedError(429, "slow", retry_after=99),
        ]
    )

    def fail() -> None:
        raise next(raised, FaunaAuthError(401, "stop"))

    with pytest.raises(FaunaAuthError):
        Retrying(**policy.retry_args(logging.getLogger(__name__)), sleep=waits.append)(fail)
    assert waits == [3.0, 10.0]


def test_a_connection_error_is_retried_and_others_are_not():
    policy = RetryPolicy()
    assert policy.is_retryable(FaunaConnectionError("no answer"))
    assert not policy.is_retryable(FaunaValidationError("bad"))
    assert not policy.is_retryable(RuntimeError("bug"))


def test_policy_from_connection_extras():
    policy = RetryPolicy.from_extra({"max_retries": "2", "backoff_base": "0.5", "backoff_max": 9})
    assert (policy.max_attempts, policy.backoff_base, policy.backoff_max) == (3, 0.5, 9.0)


def test_nonsense_policy_is_refused():
    with pytest.raises(ValueError, match="max_attempts"):
        RetryPolicy(max_attempts=0)
