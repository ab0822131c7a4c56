"""Type checks of public arguments, shared by the hook, the request operator, the sensor and the transfers.

Each refuses with a :class:`~airflow_provider_fauna.exceptions.FaunaValidationError` naming the field, the value and type given, and
the fix. Python's own checks would raise ``TypeError`` from deep inside, or accept ``"false"`` as
true; Airflow checks only its own arguments.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta
from typing import Any

from airflow_provider_fauna.exceptions import FaunaValidationError

#: Values no template can render into something else: a templated field holding one is wrong already.
PLAIN_DATA = (bool, int, float, complex, bytes, list, tuple, dict, set, frozenset)


def given(value: Any) -> str:
    """Describe a refused value and its type, for a message."""
    return f"{value!r} ({type(value).__name__})"


def check_bool(field_name: str, value: Any) -> bool:
    """Accept only ``True`` or ``False``: ``"false"`` and ``0`` are refused, not read as a truth value."""
    if not isinstance(value, bool):
        raise FaunaValidationError(
            f"{field_name}={given(value)} must be True or False (a bool, not a string)."
        )
    return value


def check_int(field_name: str, value: Any, low: int, high: float, meaning: str) -> int:
    """Refuse anything but an integer in ``[low, high]`` (a bool is no integer), naming what it means."""
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise FaunaValidationError(
            f"{field_name}={given(value)} must be an integer in [{low}, {high}] ({meaning})."
        )
    return value


def check_str(field_name: str, value: Any, *, optional: bool = False, example: str = "") -> Any:
    """Refuse a value that is not a string (``None`` too, unless ``optional``).

    :param example: a valid value, for the message.
    """
    if isinstance(value, str) or (optional and value is None):
        return value
    hint = f", for example {example!r}" if example else ""
    none = " or None" if optional else ""
    raise FaunaValidationError(f"{field_name}={given(value)} must be a string{none}{hint}.")


def check_templated(
    field_name: str, value: Any, *, kinds: tuple[type, ...] = (str,), what: str = "a string"
) -> Any:
    """Refuse, when the task is made, a templated field's value that no rendering can make right.

    A string, ``None`` or an object Airflow resolves at run time (an ``XComArg``) is checked once
    rendered; plain data (a number, a bool, a list) is refused now.
    """
    if value is None or isinstance(value, kinds) or not isinstance(value, PLAIN_DATA):
        return value
    raise FaunaValidationError(f"{field_name}={given(value)} must be {what} (or a Jinja template of one).")


def check_seconds(field_name: str, value: Any, *, positive: bool = False, none: str = "") -> float:
    """Return a number of seconds (an int, a float or a ``timedelta``; a bool is no number).

    :param positive: refuse 0 too.
    :param none: what ``None`` would mean, for the message of a field that takes it.
    """
    seconds = value.total_seconds() if isinstance(value, timedelta) else value
    if (
        not isinstance(seconds, bool)
        and isinstance(seconds, int | float)
        and math.isfinite(seconds)
        and (seconds > 0 if positive else seconds >= 0)
    ):
        return float(seconds)
    what = "positive" if positive else "non-negative"
    also = f", or None ({none})" if none else ""
    raise FaunaValidationError(
        f"{field_name}={given(value)} must be a {what} number of seconds or a timedelta{also}, for example 60."
    )


def check_time_argument(field_name: str, value: Any) -> Any:
    """Refuse, when the task is made, a time that is neither a datetime nor a string (templated ones render later)."""
    return check_templated(
        field_name, value, kinds=(str, datetime), what="a timezone-aware datetime or an ISO 8601 string"
    )
