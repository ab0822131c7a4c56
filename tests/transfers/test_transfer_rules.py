"""Input rules of the transfers (refused before any network call, naming the field) and the key layout."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_fauna.exceptions import FaunaValidationError
from airflow_provider_fauna.log_requests import LogRequest
from airflow_provider_fauna.transfers.base import DEFAULT_KEY_TEMPLATE, LEGACY_KEY_TEMPLATE, render_key
from airflow_provider_fauna.transfers.fauna_to_gcs import FaunaLogsToGCSOperator
from airflow_provider_fauna.transfers.fauna_to_s3 import FaunaLogsToS3Operator

pytest.importorskip("airflow.providers.amazon.aws.hooks.s3")
pytest.importorskip("airflow.providers.google.cloud.hooks.gcs")


def s3(**kwargs: Any) -> FaunaLogsToS3Operator:
    return FaunaLogsToS3Operator(
        **{"task_id": "to_s3", "s3_bucket": "fauna-logs", "request_id": "123", **kwargs}
    )


def gcs(**kwargs: Any) -> FaunaLogsToGCSOperator:
    return FaunaLogsToGCSOperator(
        **{"task_id": "to_gcs", "bucket_name": "fauna-logs", "request_id": "123", **kwargs}
    )


@pytest.mark.parametrize(
    ("build", "field"),
    [
        (lambda: s3(s3_bucket=""), "s3_bucket"),
        (lambda: s3(s3_bucket="Fauna_Logs"), "s3_bucket"),
        (lambda: s3(s3_bucket="s3://fauna-logs"), "s3_bucket"),
        (lambda: s3(s3_bucket="ab"), "s3_bucket"),
        (lambda: s3(s3_key=""), "s3_key"),
        (lambda: s3(s3_key="   "), "s3_key"),
        (lambda: s3(s3_key="logs/{day}.gz"), "s3_key"),
        (lambda: s3(s3_key="logs/{scope"), "s3_key"),
        (lambda: s3(part_size=1024 * 1024), "part_size"),
        (lambda: gcs(bucket_name=""), "bucket_name"),
        (lambda: gcs(bucket_name="goog-logs"), "bucket_name"),
        (lambda: gcs(bucket_name="gs://fauna-logs"), "bucket_name"),
        (lambda: gcs(object_name=""), "object_name"),
        (lambda: gcs(object_name="a\nb"), "object_name"),
        (lambda: gcs(chunk_size=1000), "chunk_size"),
        (lambda: s3(on_no_logs="maybe"), "on_no_logs"),
        (lambda: gcs(on_no_logs="ignore"), "on_no_logs"),
        (lambda: s3(poll_interval=-1), "poll_interval"),
        (lambda: gcs(poll_interval=0), "poll_interval"),
        (lambda: s3(timeout=-5), "timeout"),
        (lambda: s3(max_resumes=-1), "max_resumes"),
        (lambda: s3(content_type=""), "content_type"),
        (lambda: s3(verify_gzip="yes"), "verify_gzip"),
        (lambda: gcs(verify_gzip=None), "verify_gzip"),
        (lambda: s3(request_id="123", database="us-std/ECommerce"), "request_id"),
        (lambda: s3(request_id=None), "request_id"),
        (lambda: gcs(request_id=None, database=None, region_group=None), "request_id"),
        (lambda: s3(request_id="123", time_start="2026-11-20T00:00:00Z"), "time_start"),
        (lambda: s3(request_id=None, database="ECommerce"), "database"),
        (lambda: s3(request_id=None, region_group="mars-std"), "region_group"),
        (lambda: s3(request_id=None, database="us-std/ECommerce", region_group="us-std"), "region_group"),
    ],
)
def test_bad_input_is_refused_when_the_dag_is_parsed_naming_the_field(build: Any, field: str) -> None:
    with pytest.raises(FaunaValidationError, match=field):
        build()


def test_templated_values_are_checked_once_rendered_before_any_network_call(
    fauna: Any, task_context: dict[str, Any]
) -> None:
    operator = s3(s3_bucket="{{ params.bucket }}", s3_key="{{ params.key }}")
    operator.s3_bucket = "Not A Bucket"  # as Jinja rendered it

    with pytest.raises(AirflowFailException, match="s3_bucket"):
        operator.execute(task_context)

    operator.s3_bucket, operator.s3_key = "fauna-logs", ""
    with pytest.raises(AirflowFailException, match="s3_key"):
        operator.execute(task_context)

    operator = gcs(request_id="{{ ti.xcom_pull('request_logs') }}")
    operator.request_id = "not an id!"
    with pytest.raises(AirflowFailException, match="request_id"):
        operator.execute(task_context)
    assert fauna.calls == [], "nothing was sent anywhere"


def test_a_scope_form_with_times_and_templates_is_accepted() -> None:
    operator = s3(
        request_id=None,
        database="{{ params.database }}",
        time_start="{{ data_interval_start }}",
        time_end="{{ data_interval_end }}",
        s3_bucket="{{ params.bucket }}",
        s3_key="exports/{{ ds }}/{scope}.ndjson.gz",
    )
    day, next_day = (
        dt.datetime(2026, 11, 1, tzinfo=dt.timezone.utc),
        dt.datetime(2026, 11, 2, tzinfo=dt.timezone.utc),
    )
    operator.render_template_fields(
        {
            "params": {"database": "us-std/ECommerce", "bucket": "fauna-logs"},
            "data_interval_start": day,
            "data_interval_end": next_day,
            "ds": "2026-11-01",
        }
    )
    # Jinja rendered; the provider's own {scope} placeholder is left for the request to fill.
    assert (operator.database, operator.s3_bucket, operator.s3_key) == (
        "us-std/ECommerce",
        "fauna-logs",
        "exports/2026-11-01/{scope}.ndjson.gz",
    )
    assert (str(operator.time_start), str(operator.time_end)) == (str(day), str(next_day))


def request(**fields: Any) -> LogRequest:
    return LogRequest.from_api(
        {
            "request_id": "524533559245",
            "state": "Complete",
            "time_start": "2026-11-21T00:00:00Z",
            "time_end": "2026-11-22T00:00:00Z",
            **fields,
        }
    )


def test_default_key_is_a_date_partition_named_by_the_scope_and_the_compact_interval() -> None:
    database = request(database="us-std/production/customers", region_group="us-std")
    region = request(region_group="eu-std")

    assert render_key("s3_key", DEFAULT_KEY_TEMPLATE, database) == (
        "fauna/query_logs/us-std/production/customers/date=2026-11-21/"
        "20261121T000000Z_20261122T000000Z.ndjson.gz"
    )
    # A region group's export covers all its databases: a segment no database path can fill.
    assert render_key("s3_key", DEFAULT_KEY_TEMPLATE, region) == (
        "fauna/query_logs/eu-std/_all_databases/date=2026-11-21/20261121T000000Z_20261122T000000Z.ndjson.gz"
    )


def test_default_key_is_unique_per_sub_daily_interval_and_free_of_plus_and_colon() -> None:
    hours = [
        request(
            database="us-std/ECommerce",
            time_start=f"2026-11-21T{h:02d}:00:00+01:00",
            time_end=f"2026-11-21T{h + 6:02d}:00:00+01:00",
        )
        for h in (1, 7, 13)
    ]
    keys = [render_key("s3_key", DEFAULT_KEY_TEMPLATE, r) for r in hours]

    assert len(set(keys)) == 3
    assert keys[0] == (
        "fauna/query_logs/us-std/ECommerce/date=2026-11-21/20261121T000000Z_20261121T060000Z.ndjson.gz"
    )
    assert not any(c in key for key in keys for c in "+: ")


def test_the_legacy_template_restores_the_old_layout() -> None:
    # The changelog gives this template to users who must keep the pre-0.1.0 layout.
    database = request(database="us-std/ECommerce")
    assert render_key("s3_key", LEGACY_KEY_TEMPLATE, database) == (
        "fauna/query/us-std/ECommerce/2026-11-21T00:00:00+00:00_2026-11-22T00:00:00+00:00.ndjson.gz"
    )


def test_key_placeholders_and_offsets_are_normalised_to_utc() -> None:
    shifted = request(
        database="us-std/ECommerce",
        time_start="2026-11-21T01:00:00+01:00",
        time_end="2026-11-22T01:00:00+01:00",
    )

    key = render_key("object_name", "{region_group}/{request_id}/{time_start}/{time_end}.gz", shifted)

    assert key == "us-std/524533559245/2026-11-21T00:00:00+00:00/2026-11-22T00:00:00+00:00.gz"


def test_a_key_needing_an_interval_the_request_does_not_report_is_refused() -> None:
    undated = LogRequest.from_api({"request_id": "1", "state": "Complete", "region_group": "us-std"})

    with pytest.raises(FaunaValidationError, match="does not report its interval"):
        render_key("s3_key", DEFAULT_KEY_TEMPLATE, undated)
    assert render_key("s3_key", "fixed/{request_id}.gz", undated) == "fixed/1.gz"


def test_standalone_form_builds_the_request_of_the_data_interval() -> None:
    operator = s3(request_id=None, region_group="us-std")
    context = {
        "data_interval_start": dt.datetime(2026, 11, 20, tzinfo=dt.timezone.utc),
        "data_interval_end": dt.datetime(2026, 11, 21, tzinfo=dt.timezone.utc),
    }

    spec = operator.build_spec(context)  # type: ignore[arg-type]

    assert spec.to_body() == {
        "region_group": "us-std",
        "time_start": "2026-11-20T00:00:00Z",
        "time_end": "2026-11-21T00:00:00Z",
    }


def test_a_key_that_cannot_be_filled_fails_the_task_without_retries(task_context: dict[str, Any]) -> None:
    undated = LogRequest.from_api({"request_id": "1", "state": "Complete", "region_group": "us-std"})

    with pytest.raises(AirflowFailException, match="does not report its interval"):
        s3().transfer(task_context, undated)  # type: ignore[arg-type]
