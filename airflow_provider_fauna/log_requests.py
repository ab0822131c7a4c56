"""What a Fauna log request is: its states, the validated input that submits one, and the answer.

Input is checked before any call, and a refusal names the field and the fix (the API's own is a terse 400).
"""

from __future__ import annotations

import re
import uuid
from dataclasses import dataclass, field, fields
from datetime import datetime, timedelta, timezone
from enum import StrEnum
from typing import TYPE_CHECKING, Any

import pendulum

from airflow_provider_fauna.arguments import check_str, given
from airflow_provider_fauna.exceptions import FaunaValidationError

if TYPE_CHECKING:
    from collections.abc import Mapping

REGION_GROUPS: frozenset[str] = frozenset({"us-std", "eu-std", "classic"})
MAX_INTERVAL = timedelta(days=90)
_SEGMENT = re.compile(r"^[A-Za-z0-9_\-]+$")
#: A request or OAuth app id: one path segment with a letter or digit (never ``.`` or ``..``).
#: A version the API gives as text: ASCII digits, few enough for a 64-bit number.
_VERSION_TEXT = re.compile(r"^[0-9]{1,18}$")
ID_PATTERN = re.compile(r"^[A-Za-z0-9_\-.]*[A-Za-z0-9][A-Za-z0-9_\-.]*$")


class LogRequestState(StrEnum):
    """The states of a log request, as the API spells them."""

    REQUESTED = "Requested"
    PENDING = "Pending"
    CREATING_NEW_URL = "CreatingNewUrl"
    COMPLETE = "Complete"
    DOES_NOT_EXIST = "DoesNotExist"
    FAILED = "Failed"
    TIMED_OUT = "TimedOut"


#: Terminal states that mean the export did not happen; a retry must start a fresh request.
FAILED_STATES: frozenset[LogRequestState] = frozenset({LogRequestState.FAILED, LogRequestState.TIMED_OUT})
#: A request in one of these states will not change any more (except for a new file URL).
TERMINAL_STATES = FAILED_STATES | {LogRequestState.COMPLETE, LogRequestState.DOES_NOT_EXIST}
ALL_STATES: tuple[str, ...] = tuple(state.value for state in LogRequestState)


def format_api_time(value: datetime) -> str:
    """Render an aware datetime the way the API's examples do: UTC, ISO 8601, ``Z`` suffix."""
    utc = value.astimezone(timezone.utc)
    text = utc.isoformat(timespec="microseconds" if utc.microsecond else "seconds")
    return text.replace("+00:00", "Z")


#: The minutes of a trailing ``±hh:mm`` or ``±hhmm`` offset.
_OFFSET_MINUTES = re.compile(r"[+-]\d{2}:?(\d{2})$")


def parse_time(value: datetime | str, field_name: str) -> pendulum.DateTime:
    """Return ``value`` as an aware pendulum datetime in UTC, or refuse it naming ``field_name``."""
    if isinstance(value, str):
        text = value.strip()
        if not text:
            raise FaunaValidationError(f"{field_name} is empty: give an ISO 8601 time with an offset.")
        # RFC 3339 allows a lower-case designator, which pendulum's ISO 8601 parser does not.
        if text[-1:] == "z":
            text = text[:-1] + "Z"
        # pendulum reads offset minutes up to 99 ("+01:99" as 2 h 39 min); ISO 8601's end at 59.
        minutes = _OFFSET_MINUTES.search(text)
        if minutes is not None and int(minutes.group(1)) > 59:
            raise FaunaValidationError(
                f"{field_name}={value!r} has an offset whose minutes are {minutes.group(1)}: offset minutes "
                "run from 00 to 59, for example '+01:30'."
            )
        try:
            # tz=None: a string without an offset stays naive instead of being read as UTC.
            parsed = pendulum.parse(text, exact=True, tz=None)
            # An offset of 24 hours or more is parsed, and only refused once it is used.
            offset = parsed.utcoffset() if isinstance(parsed, datetime) else None
        except Exception as err:  # pendulum's parser also raises TypeError, IndexError... on odd text ("0:")
            raise FaunaValidationError(
                f"{field_name}={value!r} is not an ISO 8601 time: write it like '2026-11-01T00:00:00Z'."
            ) from err
        if not isinstance(parsed, datetime):
            raise FaunaValidationError(
                f"{field_name}={value!r} is not a date and time: write it like '2026-11-01T00:00:00Z'."
            )
        if offset is None:
            raise FaunaValidationError(
                f"{field_name}={value!r} has no timezone: add one, for example '{text}Z' for UTC."
            )
        value = parsed
    if not isinstance(value, datetime):
        raise FaunaValidationError(
            f"{field_name} must be a timezone-aware datetime or an ISO 8601 string, "
            f"not {type(value).__name__}."
        )
    if value.tzinfo is None or value.utcoffset() is None:
        raise FaunaValidationError(
            f"{field_name}={value.isoformat()} is naive: pass a timezone-aware datetime, "
            "for example pendulum.datetime(2026, 11, 1, tz='UTC')."
        )
    try:
        return pendulum.instance(value).in_timezone("UTC")
    except OverflowError:  # 9999-12-31T23:00:00-05:00 is in the year 10000 in UTC
        raise FaunaValidationError(
            f"{field_name}={value.isoformat()} is out of range in UTC: give a time within years 1 to 9999."
        ) from None


def validate_interval(
    time_start: datetime | str, time_end: datetime | str
) -> tuple[pendulum.DateTime, pendulum.DateTime]:
    """Return the interval ``[time_start, time_end)`` in UTC, or refuse it: empty, reversed, or over 90 days."""
    start = parse_time(time_start, "time_start")
    end = parse_time(time_end, "time_end")
    if end <= start:
        raise FaunaValidationError(
            f"time_end ({format_api_time(end)}) must be after time_start ({format_api_time(start)}): "
            "the interval is [time_start, time_end) and may not be empty."
        )
    if end - start > MAX_INTERVAL:
        raise FaunaValidationError(
            f"time_start ({format_api_time(start)}) to time_end ({format_api_time(end)}) spans "
            f"{(end - start).days} days; the Account API allows at most 90: "
            "split it into shorter runs (a daily schedule exports one day per run)."
        )
    return start, end


def validate_database(database: str) -> str:
    """Check a database path: a region group, then the database hierarchy, separated by ``/``."""
    check_str("database", database, example="us-std/ECommerce")
    if not database.strip():
        raise FaunaValidationError(
            "database is empty: give the path with its region group, for example 'us-std/ECommerce'."
        )
    region, *names = database.split("/")
    if region not in REGION_GROUPS:
        raise FaunaValidationError(
            f"database={database!r} must begin with its region group ({', '.join(sorted(REGION_GROUPS))}), "
            f"for example 'us-std/{database.strip('/')}'."
        )
    if not names or not all(names):
        raise FaunaValidationError(
            f"database={database!r} names no database after the region group: "
            f"write it like '{region}/ECommerce' (or pass region_group={region!r} to export the whole group)."
        )
    bad = [name for name in names if not _SEGMENT.match(name)]
    if bad:
        raise FaunaValidationError(
            f"database={database!r} has an invalid path segment {bad[0]!r}: "
            "database names hold letters, digits, '_' and '-'."
        )
    return database


def validate_region_group(region_group: str) -> str:
    """Check a region group name against the ones the API knows."""
    if not isinstance(region_group, str) or region_group not in REGION_GROUPS:
        shown = repr(region_group) if isinstance(region_group, str) else given(region_group)
        raise FaunaValidationError(
            f"region_group={shown} is not a Fauna region group: use one of {', '.join(sorted(REGION_GROUPS))}."
        )
    return region_group


def validate_request_id(request_id: Any) -> str:
    """Check a log request id before it becomes part of a URL path."""
    if not isinstance(request_id, str | int) or isinstance(request_id, bool):
        raise FaunaValidationError(
            f"request_id must be the string id returned when the logs were requested, "
            f"not {type(request_id).__name__}."
        )
    text = str(request_id).strip()
    if not text or text == "None":
        raise FaunaValidationError(
            "request_id is empty: pass the id returned by FaunaLogsRequestOperator "
            "(for example request_task.output)."
        )
    if not ID_PATTERN.match(text):
        raise FaunaValidationError(
            f"request_id={text!r} is malformed: ids hold only letters, digits, '.', '_' and '-'."
        )
    return text


def validate_scope(database: str | None, region_group: str | None) -> tuple[str | None, str | None]:
    """Check that exactly one well-formed database path or region group is given (empty means absent)."""
    check_str("database", database, optional=True, example="us-std/ECommerce")
    check_str("region_group", region_group, optional=True, example="us-std")
    database = database or None
    region_group = region_group or None
    if database and region_group:
        raise FaunaValidationError(
            f"Give either database or region_group, not both (got database={database!r}, "
            f"region_group={region_group!r}): a database path already names its region group."
        )
    if not database and not region_group:
        raise FaunaValidationError(
            "Give database (for example 'us-std/ECommerce') or region_group "
            "(one of " + ", ".join(sorted(REGION_GROUPS)) + ") to say whose logs to export."
        )
    if database:
        validate_database(database)
    if region_group:
        validate_region_group(region_group)
    return database, region_group


@dataclass(frozen=True)
class LogRequestSpec:
    """A validated request for query logs: one scope and a half-open interval ``[start, end)``.

    Build it with :meth:`build`, which refuses bad input with :class:`FaunaValidationError`.
    """

    time_start: pendulum.DateTime
    time_end: pendulum.DateTime
    database: str | None = None
    region_group: str | None = None
    idempotency_token: str | None = None

    @classmethod
    def build(
        cls,
        *,
        time_start: datetime | str,
        time_end: datetime | str,
        database: str | None = None,
        region_group: str | None = None,
        idempotency_token: str | None = None,
    ) -> LogRequestSpec:
        """Validate every field and return the spec; the message of any error names the field."""
        database, region_group = validate_scope(database, region_group)
        start, end = validate_interval(time_start, time_end)
        try:  # canonical form, as the API requires a UUID
            token = str(uuid.UUID(str(idempotency_token))) if idempotency_token else None
        except ValueError as err:
            raise FaunaValidationError(
                f"idempotency_token={idempotency_token!r} is not a UUID: "
                "pass str(uuid.uuid4()) or leave it out."
            ) from err
        return cls(
            time_start=start,
            time_end=end,
            database=database,
            region_group=region_group,
            idempotency_token=token,
        )

    @property
    def scope(self) -> str:
        """The database path or the region group the logs are for."""
        return self.database or self.region_group or ""

    def to_body(self) -> dict[str, Any]:
        """Return the JSON body of ``POST /api/v1/logs``, spelled as the current reference shows."""
        body: dict[str, Any] = (
            {"database": self.database} if self.database else {"region_group": self.region_group}
        )
        body.update(time_start=format_api_time(self.time_start), time_end=format_api_time(self.time_end))
        if self.idempotency_token:
            body["idempotency_token"] = self.idempotency_token
        return body


#: The text fields of a log request answer: each a string, or absent/null.
_TEXT_FIELDS = (
    "time_start",
    "time_end",
    "database",
    "region_group",
    "regionGroup",
    "updated_at",
    "presigned_url",
)


def json_kind(value: Any) -> str:
    """Name a JSON value's kind as JSON does (object, array, string, number, boolean, null)."""
    kinds = {dict: "an object", list: "an array", str: "a string", bool: "a boolean", type(None): "null"}
    return kinds.get(type(value), "a number")


def log_request_problem(payload: Any) -> str | None:
    """Say why an API answer is not a log request (``None``: it is one), without quoting its values.

    The values may hold a presigned URL, a credential: the problem names fields and kinds only.
    """
    if not isinstance(payload, dict):
        return f"the answer is {json_kind(payload)}, not a log request object"
    request_id = payload.get("request_id")
    if not isinstance(request_id, str) or not request_id.strip():
        what = (
            "empty" if request_id == "" else json_kind(request_id) if "request_id" in payload else "missing"
        )
        return f"its request_id is {what}, not the request's id"
    if not isinstance(payload.get("state"), str) or not payload["state"]:
        what = json_kind(payload["state"]) if "state" in payload else "missing"
        return f"its state is {what}, not a state name"
    wrong = [
        f"{name} ({json_kind(payload[name])})"
        for name in _TEXT_FIELDS
        if not isinstance(payload.get(name), str | None)
    ]
    version = payload.get("version")
    if version is not None and read_version(version) is None:
        what = "a string that is not a whole number" if isinstance(version, str) else json_kind(version)
        wrong.append(f"version ({what})")
    if wrong:
        return "its field(s) " + ", ".join(wrong) + " have the wrong type"
    return None


def _iso_or_none(value: Any) -> str | None:
    """Return ``value`` if it is an aware ISO 8601 time, else ``None``."""
    try:
        return value if isinstance(value, str) and parse_time(value, "time") is not None else None
    except FaunaValidationError:
        return None


def read_version(value: Any) -> int | None:
    """Return a request's ``version`` as an integer of at least 0, from a JSON number or its ASCII digits.

    ``None`` when it is anything else: ``"²"`` passes ``str.isdigit()`` but not ``int()``, and
    5,000 digits pass neither Python's limit nor any sense.
    """
    if isinstance(value, int) and not isinstance(value, bool):
        return value if 0 <= value < 2**63 else None
    if isinstance(value, str) and _VERSION_TEXT.match(value):
        return int(value)
    return None


def known_state(state: str) -> str | None:
    """Return the state the API's pages list that ``state`` names, ignoring case (``None``: unknown)."""
    return next((known for known in ALL_STATES if known.casefold() == state.casefold()), None)


@dataclass(frozen=True)
class LogRequest:
    """A log request as the API reports it.

    ``presigned_url`` is a credential: it is left out of ``repr`` and out of :meth:`to_xcom`.
    ``raw`` is the API's answer as it came, URL included: never log it or return it from a task.
    """

    request_id: str
    state: str
    time_start: str | None = None
    time_end: str | None = None
    database: str | None = None
    region_group: str | None = None
    updated_at: str | None = None
    version: int | None = None
    presigned_url: str | None = field(default=None, repr=False)
    presigned_url_expiration_time: str | None = None
    raw: Mapping[str, Any] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_api(cls, payload: Mapping[str, Any]) -> LogRequest:
        """Read an API answer, accepting both spellings the pages use for the region group.

        :param payload: the answer's JSON, or :meth:`to_xcom`'s summary.
        """
        values: dict[str, Any] = {f.name: payload.get(f.name) for f in fields(cls) if f.name != "raw"}
        values.update(
            request_id=str(payload.get("request_id", "")),
            state=str(payload.get("state", "")),
            region_group=payload.get("region_group") or payload.get("regionGroup"),
            version=read_version(values["version"]),
            # Only read to renew a URL early: in another form (epoch, HTTP date) it is unknown, and a
            # refused download asks for a new URL all the same.
            presigned_url_expiration_time=_iso_or_none(values["presigned_url_expiration_time"]),
        )
        return cls(**values, raw=dict(payload))

    @property
    def is_terminal(self) -> bool:
        """Whether the request has reached a state it will not leave."""
        return self.state in TERMINAL_STATES

    @property
    def is_complete(self) -> bool:
        """Whether the log file is ready to download."""
        return self.state == LogRequestState.COMPLETE

    @property
    def is_failed(self) -> bool:
        """Whether the export failed or timed out (a retry needs a fresh request)."""
        return self.state in FAILED_STATES

    @property
    def scope(self) -> str:
        """The database path, or the region group for a region-group export."""
        return self.database or self.region_group or ""

    def to_xcom(self) -> dict[str, Any]:
        """Return a JSON-safe summary for XCom and trigger events, without the presigned URL.

        The URL is a credential in whole and XCom is readable by anyone who sees the DAG: a task
        that needs the file asks for a fresh URL by ``request_id``.
        """
        return {f.name: getattr(self, f.name) for f in fields(self) if f.name not in ("presigned_url", "raw")}
