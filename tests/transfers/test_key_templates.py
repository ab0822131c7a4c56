"""Key templates with strftime specs on the time placeholders, checked when the DAG is parsed.

``{start:%Y}`` and the like serve Hive layouts; everything else ``str.format`` would read (a spec
on another placeholder, ``!r``, ``.attr``, ``[i]``, a spec strftime cannot use the same way
everywhere) is refused with the field and the fix, before any export is made. The property:
a template that passes the check renders for every export, or is refused with
``FaunaValidationError``, never another exception.
"""

from __future__ import annotations

import datetime as dt
import string
from typing import Any

import pytest
from hypothesis import example, given
from hypothesis import strategies as st

from airflow_provider_fauna.exceptions import FaunaValidationError
from airflow_provider_fauna.log_requests import LogRequest
from airflow_provider_fauna.transfers.base import (
    DEFAULT_KEY_TEMPLATE,
    KEY_FIELDS,
    LEGACY_KEY_TEMPLATE,
    STRFTIME_DIRECTIVES,
    check_key_template,
    render_key,
)

HIVE = "lake/{database_name}/year={start:%Y}/month={start:%m}/day={start:%d}/{request_id}.ndjson.gz"
TIME_FIELDS = ("time_start", "time_end", "start", "end", "date")


def request(**overrides: Any) -> LogRequest:
    values = {
        "request_id": "524533559245",
        "state": "Complete",
        "database": "us-std/ECommerce",
        "time_start": "2026-11-21T01:00:00+01:00",
        "time_end": "2026-11-22T01:00:00+01:00",
    }
    return LogRequest.from_api({**values, **overrides})


def test_a_hive_layout_renders_from_the_utc_times():
    assert render_key("s3_key", HIVE, request()) == (
        "lake/ECommerce/year=2026/month=11/day=21/524533559245.ndjson.gz"
    )
    # Just before midnight UTC on 31 December, in a zone east of UTC: still the UTC year.
    new_year = request(time_start="2027-01-01T00:30:00+01:00", time_end="2027-01-01T01:30:00+01:00")
    assert render_key("s3_key", "{time_start:%Y}/{date:%m-%d}/{end:%H%M}", new_year) == "2026/12-31/0030"
    assert render_key("s3_key", "{date:%G-W%V}/{start:%%}", new_year) == "2026-W53/%"


def test_without_a_spec_the_keys_are_those_of_before():
    """The default and legacy layouts, byte for byte as 0.1 wrote them."""
    assert render_key("s3_key", DEFAULT_KEY_TEMPLATE, request()) == (
        "fauna/query_logs/us-std/ECommerce/date=2026-11-21/20261121T000000Z_20261122T000000Z.ndjson.gz"
    )
    assert render_key("s3_key", LEGACY_KEY_TEMPLATE, request(database=None, region_group="eu-std")) == (
        "fauna/query/eu-std/2026-11-21T00:00:00+00:00_2026-11-22T00:00:00+00:00.ndjson.gz"
    )


def test_a_spec_needs_the_interval_the_request_reports():
    undated = LogRequest.from_api({"request_id": "1", "state": "Complete", "region_group": "us-std"})
    with pytest.raises(FaunaValidationError, match="does not report its interval"):
        render_key("s3_key", "year={start:%Y}/{request_id}.gz", undated)


@pytest.mark.parametrize(
    ("template", "match"),
    [
        (
            "{request_id:>20}.gz",
            r"gives \{request_id\} the format spec '>20', but only the time placeholders",
        ),
        ("{scope:%Y}.gz", r"only the time placeholders .* take one"),
        ("{start!r}.gz", r"converts \{start!r\}, which keys do not support"),
        ("{date!s}.gz", r"converts \{date!s\}"),
        ("{start.year}.gz", r"reads \{start.year\}, an attribute or index"),
        ("{end[0]}.gz", r"reads \{end\[0\]\}"),
        ("{x[0]}.gz", r"unknown placeholder\(s\) x\[0\]"),
        ("{}.gz", r"unknown placeholder\(s\) \{\}"),
        ("{start:Y}.gz", r"no strftime directive"),
        ("{start:%Q}.gz", r"the directive '%Q', not one strftime gives the same way on every worker"),
        ("{start:%-d}.gz", r"the directive '%-'"),
        ("{start:%c}.gz", r"the directive '%c'"),
        ("{start:%Y%}.gz", r"a lone '%'"),
        ("{start:{date}}.gz", r"a nested placeholder"),
        ("{start:%Y\x00}.gz", r"a NUL character"),
        ("{start:%Y.gz", r"unbalanced braces"),
    ],
)
def test_a_template_str_format_would_misread_is_refused_naming_the_field_and_the_fix(template, match):
    with pytest.raises(FaunaValidationError, match=match) as raised:
        check_key_template("s3_key", template)
    assert "s3_key=" in str(raised.value)
    assert "{" in str(raised.value).split(":", 1)[1], "the message shows what to write instead"


@pytest.mark.parametrize(
    ("module", "name", "bucket", "key"),
    [
        ("airflow_provider_fauna.transfers.fauna_to_s3", "FaunaLogsToS3Operator", "s3_bucket", "s3_key"),
        (
            "airflow_provider_fauna.transfers.fauna_to_gcs",
            "FaunaLogsToGCSOperator",
            "bucket_name",
            "object_name",
        ),
    ],
)
def test_the_transfers_refuse_a_bad_spec_when_the_dag_is_parsed_and_take_a_good_one(
    module, name, bucket, key
):
    import importlib

    operator = getattr(importlib.import_module(module), name)
    with pytest.raises(FaunaValidationError, match=rf"{key}=.*\{{request_id\}} the format spec"):
        operator(task_id="t", request_id="1", **{bucket: "fauna-logs", key: "{request_id:x}.gz"})
    with pytest.raises(FaunaValidationError, match=rf"{key}=.*the directive '%Q'"):
        operator(task_id="t", request_id="1", **{bucket: "fauna-logs", key: "year={start:%Q}/x.gz"})
    assert getattr(operator(task_id="t", request_id="1", **{bucket: "fauna-logs", key: HIVE}), key) == HIVE


# ------------------------------------------------------------------------------------ properties
directives = st.sampled_from(sorted(STRFTIME_DIRECTIVES)).map(lambda d: "%" + d)
separators = st.text(alphabet="-_/=.T", max_size=2)
# At least one directive, with literal text around each.
good_specs = st.lists(st.tuples(separators, directives), min_size=1, max_size=4).map(
    lambda parts: "".join(text + directive for text, directive in parts)
)
any_specs = st.one_of(good_specs, st.text(max_size=6), st.just(""))
names = st.one_of(
    st.sampled_from(sorted(KEY_FIELDS)),
    st.sampled_from(["day", "", "0", "start.year", "end[0]", "x[0]", "date.__class__"]),
)
placeholders = st.builds(
    lambda name, conversion, spec: (
        "{" + name + (f"!{conversion}" if conversion else "") + (f":{spec}" if spec else "") + "}"
    ),
    names,
    st.one_of(st.none(), st.none(), st.sampled_from("rsa")),
    st.one_of(st.just(""), st.just(""), any_specs),
)
literals = st.one_of(
    st.text(alphabet=string.ascii_letters + string.digits + "/_-=.", max_size=8),
    st.sampled_from(["{{", "}}", "{", "}"]),
)
templates = st.one_of(
    st.lists(st.one_of(placeholders, literals), max_size=6).map("".join), st.text(max_size=20)
)

zones = st.sampled_from(
    [dt.timezone.utc, dt.timezone(dt.timedelta(hours=5, minutes=30)), dt.timezone(dt.timedelta(hours=-11))]
)
moments = st.datetimes(min_value=dt.datetime(1000, 1, 2), max_value=dt.datetime(9998, 12, 1), timezones=zones)
exports = st.builds(
    lambda start, width, database, request_id: LogRequest(
        request_id=request_id,
        state="Complete",
        database=database,
        region_group=None if database else "eu-std",
        time_start=start.isoformat(),
        time_end=(start + width).isoformat(),
    ),
    moments,
    st.timedeltas(min_value=dt.timedelta(seconds=1), max_value=dt.timedelta(days=90)),
    st.sampled_from(["us-std/ECommerce", "classic/a/b", None]),
    st.text(alphabet=string.ascii_letters + string.digits + "-_.", min_size=1, max_size=40),
)


@given(template=templates, export=exports)
@example(template="year={time_start:%Y}/x.gz", export=request())  # the key
@example(template="{start:%Y%}", export=request())
@example(template="{request_id:>4}", export=request())
@example(template="{date!r}", export=request())
def test_a_template_that_passes_the_check_renders_for_every_export(template, export):
    try:
        check_key_template("s3_key", template)
    except FaunaValidationError:
        return
    try:
        key = render_key("s3_key", template, export)
    except FaunaValidationError:  # an empty or over-long key for this export
        return
    assert isinstance(key, str)
    if not any(f"{{{name}" in template for name in KEY_FIELDS):
        assert key == template.replace("{{", "{").replace("}}", "}")


@given(spec=good_specs, export=exports)
def test_a_time_spec_formats_the_utc_time_and_no_spec_keeps_the_old_text(spec, export):
    from airflow_provider_fauna.log_requests import parse_time

    start = parse_time(export.time_start, "time_start")
    expected = start.strftime(spec)
    if expected.strip("/ ") == "":
        with pytest.raises(FaunaValidationError, match="empty key"):
            render_key("k", "{start:" + spec + "}", export)
    else:
        assert render_key("k", "{start:" + spec + "}", export) == expected
    assert render_key("k", "{start}", export) == start.strftime("%Y%m%dT%H%M%SZ")
    assert render_key("k", "{time_start}", export) == start.isoformat()
