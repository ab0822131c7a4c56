"""Checks on what clients send, with the ``reason`` the API answers when a check fails.

Deliberately independent of the provider's own validation: the emulator is the server, and
sharing the client's rules would let a wrong rule pass on both sides.
"""

from __future__ import annotations

import datetime as dt
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fauna_emulator.timeutil import parse_iso8601

if TYPE_CHECKING:
    from collections.abc import Mapping

REGION_GROUPS = ("us-std", "eu-std", "classic")
LOG_STATES = ("Pending", "Requested", "CreatingNewUrl", "Complete", "DoesNotExist", "Failed", "TimedOut")
TERMINAL_STATES = ("Complete", "DoesNotExist", "Failed", "TimedOut")
MAX_SPAN = dt.timedelta(days=90)
MAX_RESULTS = 100


class ApiError(Exception):
    """An error answer: HTTP status and the ``{"reason": ...}`` text."""

    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def bad_request(reason: str) -> ApiError:
    """A 400 with ``reason``."""
    return ApiError(400, reason)


@dataclass(frozen=True)
class LogRequestInput:
    """A valid ``POST /api/v1/logs`` body."""

    database: str | None
    region_group: str
    time_start: dt.datetime
    time_end: dt.datetime
    idempotency_token: uuid.UUID | None


@dataclass(frozen=True)
class PageInput:
    """Where a paginated listing starts and how much it returns."""

    next_token: str | None
    max_results: int


@dataclass(frozen=True)
class ListInput:
    """A valid list-log-requests input."""

    states: tuple[str, ...]
    page: PageInput


def region_group_of(database: str) -> str:
    """The region group a database path starts with; ValueError if the path is malformed."""
    if not isinstance(database, str):
        raise ValueError("database must be a string such as 'us-std/ECommerce'")
    segments = database.split("/")
    if segments[0] not in REGION_GROUPS:
        raise ValueError(
            f"database {database!r} must start with a region group ({', '.join(REGION_GROUPS)}), "
            "e.g. 'us-std/ECommerce'"
        )
    if len(segments) < 2 or not all(s.strip() for s in segments[1:]):
        raise ValueError(
            f"database {database!r} must name a database after its region group, e.g. 'us-std/ECommerce'"
        )
    return segments[0]


def check_region_group(value: Any, field: str = "region_group") -> str:
    """A known region group, or a 400."""
    if value not in REGION_GROUPS:
        raise bad_request(f"{field} must be one of {', '.join(REGION_GROUPS)}, got {value!r}")
    return str(value)


def _scope(body: Mapping[str, Any]) -> tuple[str | None, str]:
    """``(database, region_group)`` from a request body: exactly one scope, consistent."""
    snake, camel = body.get("region_group"), body.get("regionGroup")
    if snake is not None and camel is not None and snake != camel:
        raise bad_request("region_group and regionGroup disagree")
    region_group = snake if snake is not None else camel
    if region_group is not None:
        region_group = check_region_group(region_group)
    database = body.get("database")
    if database is None:
        if region_group is None:
            raise bad_request("either database or region_group is required")
        return None, region_group
    try:
        database_group = region_group_of(database)
    except ValueError as exc:
        raise bad_request(str(exc)) from None
    if region_group is not None and region_group != database_group:
        raise bad_request(f"region_group {region_group!r} does not match database {database!r}")
    return database, database_group


def _time(body: Mapping[str, Any], field: str) -> dt.datetime:
    value = body.get(field)
    if value is None:
        raise bad_request(f"{field} is required")
    if not isinstance(value, str):
        raise bad_request(f"{field} must be an ISO 8601 date-time string")
    try:
        return parse_iso8601(value)
    except ValueError as exc:
        raise bad_request(f"{field}: {exc}") from None


def parse_log_request(body: Any) -> LogRequestInput:
    """Validate a ``POST /api/v1/logs`` body (unknown fields are ignored)."""
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    database, region_group = _scope(body)
    start, end = _time(body, "time_start"), _time(body, "time_end")
    if end <= start:
        raise bad_request("time_end must be after time_start")
    if end - start > MAX_SPAN:
        raise bad_request("the interval between time_start and time_end cannot exceed 90 days")
    token = body.get("idempotency_token")
    parsed_token = None
    if token is not None:
        try:
            parsed_token = uuid.UUID(token) if isinstance(token, str) else None
        except ValueError:
            parsed_token = None
        if parsed_token is None:
            raise bad_request(f"idempotency_token must be a UUID, got {token!r}")
    return LogRequestInput(database, region_group, start, end, parsed_token)


def _max_results(value: Any, *, from_query: bool) -> int:
    if value is None:
        return MAX_RESULTS
    if from_query and isinstance(value, str):
        try:
            value = int(value)
        except ValueError:
            raise bad_request(f"max_results must be an integer, got {value!r}") from None
    if isinstance(value, bool) or not isinstance(value, int):
        raise bad_request(f"max_results must be an integer, got {value!r}")
    if not 1 <= value <= MAX_RESULTS:
        raise bad_request(f"max_results must be between 1 and {MAX_RESULTS}, got {value}")
    return value


def parse_page(source: Mapping[str, Any], *, from_query: bool) -> PageInput:
    """``next_token`` and ``max_results`` from a JSON body or a query string."""
    token = source.get("next_token")
    if token is not None and (not isinstance(token, str) or not token):
        raise bad_request("next_token must be a non-empty string")
    return PageInput(token, _max_results(source.get("max_results"), from_query=from_query))


def parse_list(body: Any, query: Mapping[str, str]) -> ListInput:
    """The list-log-requests input: from the JSON body if there is one, else the query string."""
    if body is None:
        raw = query.get("states", "")
        states: Any = [s.strip() for s in raw.split(",") if s.strip()]
        source: Mapping[str, Any] = query
    elif isinstance(body, dict):
        states, source = body.get("states"), body
    else:
        raise bad_request("the request body must be a JSON object")
    if not isinstance(states, list) or not states:
        raise bad_request("states is required and cannot be empty")
    for state in states:
        if state not in LOG_STATES:
            raise bad_request(f"states: {state!r} is not one of {', '.join(LOG_STATES)}")
    return ListInput(tuple(dict.fromkeys(states)), parse_page(source, from_query=body is None))


def parse_version(body: Any) -> int | None:
    """The optional ``{"version": N}`` of the new-URL call."""
    if body is None:
        return None
    if not isinstance(body, dict):
        raise bad_request("the request body must be a JSON object")
    version = body.get("version")
    if version is None:
        return None
    if isinstance(version, bool) or not isinstance(version, int):
        raise bad_request(f"version must be an integer, got {version!r}")
    return version
