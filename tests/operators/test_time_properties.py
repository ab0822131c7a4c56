"""Properties of ``parse_time``, which reads ``time_start``/``time_end`` (hypothesis).

Any ISO 8601 date and time with an offset (``Z``, ``+01``, ``+0100``, ``+01:00``; extended or
basic; ordinal dates; any precision) is the instant it names, in UTC. Anything else is a
``FaunaValidationError`` naming the field, never another exception.
"""

from __future__ import annotations

import datetime as dt

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from airflow_provider_fauna.exceptions import FaunaValidationError
from airflow_provider_fauna.log_requests import parse_time

offsets = st.integers(min_value=-(23 * 60 + 59), max_value=23 * 60 + 59).map(
    lambda m: dt.timedelta(minutes=m)
)
moments = st.datetimes(min_value=dt.datetime(1900, 1, 2), max_value=dt.datetime(9998, 12, 30))


def _reads_ordinal_dates() -> bool:
    """pendulum 3.0.0, the floor, reads no ordinal date with a time ("2000-121T00:00Z"); 3.3 does."""
    try:
        parse_time("2000-121T00:00:00Z", "time_start")
    except FaunaValidationError:
        return False
    return True


#: Ordinal dates are generated only where the installed pendulum reads them; the offsets, which
#: the provider reads itself, are generated everywhere.
ORDINAL_DATES = _reads_ordinal_dates()


def offset_text(offset: dt.timedelta, form: str) -> str:
    minutes = int(offset.total_seconds() // 60)
    sign = "-" if minutes < 0 else "+"
    hours, rest = divmod(abs(minutes), 60)
    if form == "Z":
        return "Z"
    if form == "z":
        return "z"
    if form == "hh":
        return f"{sign}{hours:02d}"
    if form == "hhmm":
        return f"{sign}{hours:02d}{rest:02d}"
    return f"{sign}{hours:02d}:{rest:02d}"


@st.composite
def iso_times(draw):
    """An ISO 8601 date-time with an offset, and the instant it names."""
    local = draw(moments)
    form = draw(st.sampled_from(["Z", "z", "hh", "hhmm", "hh:mm"]))
    offset = dt.timedelta(0) if form in "Zz" else draw(offsets)
    if form == "hh":  # an hours-only offset has no minutes
        offset = dt.timedelta(hours=int(offset.total_seconds() / 3600))  # towards zero: within 23 h
    basic = draw(st.booleans())
    precision = draw(st.sampled_from(["hours", "minutes", "seconds", "fraction"]))
    if precision == "hours":
        local = local.replace(minute=0, second=0, microsecond=0)
    elif precision == "minutes":
        local = local.replace(second=0, microsecond=0)
    elif precision == "seconds":
        local = local.replace(microsecond=0)
    ordinal = draw(st.booleans()) if ORDINAL_DATES else False
    if ordinal:
        date = local.strftime("%Y%j" if basic else "%Y-%j")
    else:
        date = local.strftime("%Y%m%d" if basic else "%Y-%m-%d")
    clock = {"hours": "%H", "minutes": "%H%M" if basic else "%H:%M"}.get(
        precision, "%H%M%S" if basic else "%H:%M:%S"
    )
    time = local.strftime(clock)
    if precision == "fraction":
        digits = draw(st.integers(min_value=1, max_value=6))
        time += draw(st.sampled_from([".", ","])) + f"{local.microsecond:06d}"[:digits]
        local = local.replace(microsecond=int(f"{local.microsecond:06d}"[:digits].ljust(6, "0")))
    separator = "T" if basic else draw(st.sampled_from(["T", " "]))
    text = f"{date}{separator}{time}{offset_text(offset, form)}"
    return text, (local - offset).replace(tzinfo=dt.timezone.utc)


@given(case=iso_times())
@example(case=("2026-11-01T00:00:00+01", dt.datetime(2026, 10, 31, 23, tzinfo=dt.timezone.utc)))  # issue 21
@example(case=("2026-11-01T00:00:00+0100", dt.datetime(2026, 10, 31, 23, tzinfo=dt.timezone.utc)))
@example(case=("2026-11-01T05:30:00-05:30", dt.datetime(2026, 11, 1, 11, tzinfo=dt.timezone.utc)))
def test_every_iso_8601_time_with_an_offset_is_the_instant_it_names(case):
    text, instant = case
    parsed = parse_time(text, "time_start")
    assert parsed == instant
    assert parsed.utcoffset() == dt.timedelta(0)


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("2026-11-01", "is not a date and time"),
        ("2026-11", "is not a date and time"),
        ("T00:00:00Z", "is not an ISO 8601 time"),
        ("9999-12-31T23:59:59-23:59", "is out of range in UTC"),
        ("2026-11-01T00:00:00", "has no timezone: add one, for example '2026-11-01T00:00:00Z'"),
        ("2026-11-01 00:00", "has no timezone"),
        ("20261101T000000", "has no timezone"),
        ("2026-11-01T00:00:00+24:00", "is not an ISO 8601 time"),
        ("2026-11-01T24:00:00Z", "is not an ISO 8601 time"),
        ("yesterday", "is not an ISO 8601 time"),
        ("   ", "is empty"),
    ],
)
def test_naive_date_only_and_malformed_times_are_refused_naming_the_field(text, match):
    with pytest.raises(FaunaValidationError, match=match) as raised:
        parse_time(text, "time_end")
    assert "time_end" in str(raised.value)


@given(text=st.one_of(st.text(max_size=40), st.text(alphabet="0123456789-+:TZz., W", max_size=32)))
@example(text="2026-11-01T00:00:00+2400")
@example(text="2026-11-01T00:00:00\x00Z")
@example(text="9999-12-31T23:59:59-23:59")
@example(text="0:")  # a TypeError inside pendulum, found by the deep profile
def test_anything_else_is_a_clear_refusal_never_another_exception(text):
    try:
        parsed = parse_time(text, "time_start")
    except FaunaValidationError as err:
        message = str(err)
    else:
        assert parsed.utcoffset() == dt.timedelta(0)
        return
    assert "time_start" in message


@given(
    value=st.one_of(st.integers(), st.floats(), st.none(), st.dates(), st.datetimes(), st.binary(max_size=4))
)
def test_a_value_that_is_no_time_is_a_clear_refusal(value):
    with pytest.raises(FaunaValidationError, match="time_start"):
        parse_time(value, "time_start")


@given(
    hours=st.integers(0, 23),
    minutes=st.integers(60, 99),
    basic=st.booleans(),
    sign=st.sampled_from("+-"),
)
def test_an_offset_whose_minutes_are_60_or_more_is_refused_not_shifted(hours, minutes, basic, sign):
    """pendulum reads "+01:99" as 2 h 39 min; ISO 8601 offset minutes run from 00 to 59."""
    offset = f"{sign}{hours:02d}{'' if basic else ':'}{minutes:02d}"
    with pytest.raises(FaunaValidationError, match=r"time_start=.* offset whose minutes are"):
        parse_time(f"2026-11-01T00:00:00{offset}", "time_start")
