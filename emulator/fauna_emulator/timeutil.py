"""Timestamps as the Account API writes and reads them.

The API speaks ISO 8601. We accept any ISO 8601 date-time that carries an offset (``Z`` or
``+02:00``) and refuse naive ones, because a naive time is ambiguous and a careful client must
never send one. We answer in UTC with a ``Z`` suffix: whole seconds when there is no fraction
(``2099-07-10T07:46:05Z``), microseconds otherwise (``2099-07-11T21:53:47.398213Z``), as the
vendor's examples show (trailing zeros of the fraction dropped: ``.828Z``).
"""

from __future__ import annotations

import datetime as dt
import re

UTC = dt.timezone.utc
_EPOCH = dt.datetime(1970, 1, 1, tzinfo=UTC)

# Our own pattern rather than datetime.fromisoformat: its accepted forms differ between Python
# 3.10 and 3.11 ("Z", fraction digits), and the emulator must judge the same way everywhere.
_ISO = re.compile(
    r"(?P<date>\d{4}-\d{2}-\d{2})[Tt ](?P<hm>\d{2}:\d{2})(?::(?P<s>\d{2})(?:[.,](?P<frac>\d+))?)?"
    r"(?P<tz>[Zz]|[+-]\d{2}(?::?\d{2})?)?"
)


def parse_iso8601(value: str) -> dt.datetime:
    """Parse an ISO 8601 date-time with an offset into an aware UTC datetime.

    Raises ValueError with a message fit for an API ``reason`` when the text is not a date-time
    or has no offset.
    """
    match = _ISO.fullmatch(value.strip())
    if match is None:
        raise ValueError(f"{value!r} is not an ISO 8601 date-time")
    if match["tz"] is None:
        raise ValueError(f"{value!r} has no UTC offset; add 'Z' or an offset such as '+00:00'")
    tz = "+00:00" if match["tz"] in ("Z", "z") else match["tz"]
    if len(tz) == 3:
        tz += ":00"
    elif ":" not in tz:
        tz = f"{tz[:3]}:{tz[3:]}"
    fraction = (match["frac"] or "0")[:6].ljust(6, "0")
    text = f"{match['date']}T{match['hm']}:{match['s'] or '00'}.{fraction}{tz}"
    try:
        parsed = dt.datetime.fromisoformat(text)
    except ValueError:  # e.g. month 13 or hour 25
        raise ValueError(f"{value!r} is not a valid date-time") from None
    return parsed.astimezone(UTC)


def format_utc(moment: dt.datetime) -> str:
    """Render an aware datetime as the API does: UTC with ``Z``."""
    moment = moment.astimezone(UTC)
    text = moment.strftime("%Y-%m-%dT%H:%M:%S")
    if moment.microsecond:
        text += f".{moment.microsecond:06d}".rstrip("0")
    return text + "Z"


def format_epoch(seconds: float) -> str:
    """Render epoch seconds (the emulator's clock) as the API does."""
    return format_utc(from_epoch(seconds))


def from_epoch(seconds: float) -> dt.datetime:
    """Epoch seconds to an aware UTC datetime, kept exact to the microsecond."""
    return _EPOCH + dt.timedelta(microseconds=round(seconds * 1_000_000))


def to_epoch_us(moment: dt.datetime) -> int:
    """Aware datetime to integer epoch microseconds (exact, no float rounding)."""
    delta = moment - _EPOCH
    return (delta.days * 86_400 + delta.seconds) * 1_000_000 + delta.microseconds
