"""FaunaAccountHook against the emulator over real HTTP: every endpoint, retries, errors."""

from __future__ import annotations

import json
import logging
import os
import uuid
from datetime import datetime, timezone
from typing import Any

import pendulum
import pytest
import requests
from fauna_emulator import FaultConfig
from fauna_emulator.calls import fingerprint
from harness import FAUNA_TEST_KEY, conn_env_var

from airflow_provider_fauna.exceptions import (
    FaunaApiError,
    FaunaAuthError,
    FaunaConnectionError,
    FaunaNotFoundError,
    FaunaRateLimitedError,
    FaunaServerError,
    FaunaValidationError,
)
from airflow_provider_fauna.hooks.fauna import FaunaAccountHook
from airflow_provider_fauna.hooks.retry import RetryPolicy
from airflow_provider_fauna.hooks.transport import USER_AGENT, ApiCall
from airflow_provider_fauna.log_requests import LogRequestState

FAST = RetryPolicy(max_attempts=3, backoff_base=0.01, backoff_max=0.05)
DAY = {
    "time_start": pendulum.datetime(2026, 11, 1, tz="UTC"),
    "time_end": pendulum.datetime(2026, 11, 2, tz="UTC"),
}

ROTATED_KEY = "fnacapi_new_key_after_rotation"


@pytest.fixture
def hook(fauna_connection: str) -> FaunaAccountHook:
    return FaunaAccountHook(fauna_conn_id=fauna_connection, retry_policy=FAST, timeout=5)


def api_calls(emulator, method: str | None = None, path_prefix: str = "/api/") -> list:
    return [
        c for c in emulator.calls if c.path.startswith(path_prefix) and (method is None or c.method == method)
    ]


class TestLogRequests:
    def test_request_logs_sends_the_documented_body(self, hook, emulator):
        request = hook.request_logs(database="us-std/ECommerce", **DAY)

        assert request.request_id
        assert request.state in (LogRequestState.PENDING, LogRequestState.REQUESTED, LogRequestState.COMPLETE)
        (call,) = api_calls(emulator, "POST")
        assert call.path == "/api/v1/logs"
        assert call.query["type"] == "query"
        token = call.json.pop("idempotency_token")
        assert str(uuid.UUID(token)) == token, "a token is always sent, random when none is given"
        assert call.json == {
            "database": "us-std/ECommerce",
            "time_start": "2026-11-01T00:00:00Z",
            "time_end": "2026-11-02T00:00:00Z",
        }

    def test_region_group_export_and_idempotency(self, hook, emulator):
        token = "3fa85f64-5717-4562-b3fc-2c963f66afa6"
        first = hook.request_logs(region_group="eu-std", idempotency_token=token, **DAY)
        again = hook.request_logs(region_group="eu-std", idempotency_token=token, **DAY)

        assert first.request_id == again.request_id
        assert first.database is None and first.region_group == "eu-std"
        assert [c.json["region_group"] for c in api_calls(emulator, "POST")] == ["eu-std", "eu-std"]
        assert len(emulator.log_requests) == 1

    def test_status_of_a_complete_request_has_a_url_kept_out_of_repr(self, hook):
        request = hook.request_logs(database="us-std/ECommerce", **DAY)
        status = hook.get_log_request(request.request_id)

        assert status.state == LogRequestState.COMPLETE
        assert status.presigned_url and status.presigned_url_expiration_time
        assert status.presigned_url not in repr(status)
        assert "Signature" not in json.dumps(status.to_xcom())

    def test_new_file_url(self, hook):
        request = hook.request_logs(database="us-std/ECommerce", **DAY)
        before = hook.get_log_request(request.request_id)
        renewed = hook.create_log_file_url(request.request_id, version=before.version)

        assert renewed.presigned_url and renewed.presigned_url != before.presigned_url
        assert renewed.version is not None and before.version is not None
        assert renewed.version > before.version
        assert hook.get_log_request(request.request_id).state == LogRequestState.COMPLETE

    def test_list_log_requests_reads_every_page(self, hook, emulator):
        made = [
            hook.request_logs(
                database=f"us-std/db{i}",
                time_start=pendulum.datetime(2026, 10, i + 1, tz="UTC"),
                time_end=pendulum.datetime(2026, 10, i + 2, tz="UTC"),
            ).request_id
            for i in range(5)
        ]
        listed = [r.request_id for r in hook.list_log_requests(page_size=2)]

        assert listed == made
        pages = api_calls(emulator, "GET", "/api/v1/logs")
        pages = [c for c in pages if c.path == "/api/v1/logs"]
        assert len(pages) == 3
        assert [bool(c.json.get("next_token")) for c in pages] == [False, True, True]
        assert all(c.json["max_results"] == 2 for c in pages)

    def test_list_filters_by_state(self, hook):
        hook.request_logs(database="us-std/ECommerce", **DAY)
        assert list(hook.list_log_requests(states=["Failed"])) == []
        assert len(list(hook.list_log_requests(states=["Complete"]))) == 1

    def test_unknown_request_is_not_found_and_not_retried(self, hook, emulator):
        with pytest.raises(FaunaNotFoundError) as info:
            hook.get_log_request("999999999")
        assert info.value.status == 404
        assert len(api_calls(emulator)) == 1


class TestOAuthApps:
    def test_list_every_page_then_delete(self, hook, emulator):
        apps = list(hook.list_oauth_apps(page_size=1))
        assert len(apps) >= 2
        assert {"id", "oauth2_client", "scope", "created_at"} <= set(apps[0])
        assert len(api_calls(emulator, "GET", "/api/v1/oauth/apps")) == len(apps)

        hook.delete_oauth_app(apps[0]["id"])
        remaining = [a["id"] for a in hook.list_oauth_apps()]
        assert apps[0]["id"] not in remaining
        with pytest.raises(FaunaNotFoundError):
            hook.delete_oauth_app(apps[0]["id"])

    def test_bad_app_id_is_refused_before_any_call(self, hook, emulator):
        with pytest.raises(FaunaValidationError, match="app_id"):
            hook.delete_oauth_app("../logs")
        assert api_calls(emulator) == []


class TestRetryPolicy:
    @pytest.mark.parametrize(
        ("faults", "error"),
        [
            (FaultConfig(rate_limit_ratio=1.0, retry_after=0), FaunaRateLimitedError),
            (FaultConfig(server_error_ratio=1.0), FaunaServerError),
            (FaultConfig(drop_ratio=1.0), FaunaConnectionError),
        ],
        ids=["429", "5xx", "dropped"],
    )
    def test_transient_errors_are_retried_up_to_max_attempts(self, hook, emulator, faults, error):
        emulator.faults = faults
        with pytest.raises(error):
            hook.get_log_request("123")
        assert len(api_calls(emulator)) == FAST.max_attempts

    def test_rate_limit_reason_comes_from_the_api(self, hook, emulator):
        emulator.faults = FaultConfig(rate_limit_ratio=1.0, retry_after=0)
        with pytest.raises(FaunaRateLimitedError) as info:
            hook.get_log_request("123")
        assert info.value.status == 429
        assert info.value.retry_after == 0

    def test_a_storm_of_transient_errors_is_ridden_out(self, fauna_connection, emulator):
        emulator.faults = FaultConfig(rate_limit_ratio=0.3, server_error_ratio=0.2, retry_after=0)
        hook = FaunaAccountHook(
            fauna_conn_id=fauna_connection, retry_policy=RetryPolicy(max_attempts=12, backoff_base=0.001)
        )
        request = hook.request_logs(database="us-std/ECommerce", **DAY)
        for _ in range(10):
            assert hook.get_log_request(request.request_id).request_id == request.request_id
        statuses = {c.status for c in api_calls(emulator)}
        assert statuses & {429, 500, 502, 503, 504}, "the storm injected no fault"

    def test_slow_answer_times_out(self, fauna_connection, emulator):
        emulator.faults = FaultConfig(slow_ratio=1.0, slow_seconds=2.0)
        hook = FaunaAccountHook(
            fauna_conn_id=fauna_connection,
            timeout=0.3,
            retry_policy=RetryPolicy(max_attempts=2, backoff_base=0),
        )
        with pytest.raises(FaunaConnectionError, match="timed out"):
            hook.get_log_request("123")
        assert len(api_calls(emulator)) == 2

    def test_bad_request_is_not_retried_and_reports_the_reason(self, hook, emulator):
        with pytest.raises(FaunaApiError) as info:
            hook._send(ApiCall("POST", "/api/v1/logs", {"type": "query"}, {"database": "us-std/x"}))
        assert info.value.status == 400
        assert info.value.reason
        assert len(api_calls(emulator)) == 1


class TestAuth:
    def test_wrong_key_is_an_auth_error_without_the_key(self, emulator, monkeypatch):
        secret = "fnacapi_wrong_secret_value"
        monkeypatch.setenv(
            "AIRFLOW_CONN_FAUNA_BAD",
            json.dumps({"conn_type": "fauna", "host": emulator.url, "password": secret}),
        )
        hook = FaunaAccountHook(fauna_conn_id="fauna_bad", retry_policy=FAST)
        with pytest.raises(FaunaAuthError) as info:
            hook.get_log_request("123")
        assert info.value.status == 401
        assert secret not in str(info.value)
        assert len(api_calls(emulator)) == 1

    @pytest.mark.parametrize("mode", ["sync", "async"])
    @pytest.mark.parametrize(
        ("connection_then", "outcome"),
        [("rotated", "sent again"), ("unchanged", "rejected"), ("deleted", "rejected")],
    )
    async def test_a_rejected_key_is_read_again_and_a_rotated_one_sent_once(
        self, hook, emulator, monkeypatch, caplog, mode, connection_then, outcome
    ):
        request_id = hook.request_logs(database="us-std/ECommerce", **DAY).request_id  # the key is read
        variable = conn_env_var(hook.fauna_conn_id)
        if connection_then == "rotated":
            emulator.add_key(ROTATED_KEY)
            monkeypatch.setenv(
                variable, json.dumps({**json.loads(os.environ[variable]), "password": ROTATED_KEY})
            )
        elif connection_then == "deleted":
            monkeypatch.delenv(variable)
        emulator.revoke_key(FAUNA_TEST_KEY)
        hook._log = logging.getLogger("test.fauna_hook")  # stdlib, so caplog sees it on both lines
        caplog.set_level("WARNING", logger="test.fauna_hook")

        def read() -> Any:
            return hook.get_log_request(request_id) if mode == "sync" else hook.aget_log_request(request_id)

        if outcome == "sent again":
            request = read() if mode == "sync" else await read()
            assert request.request_id == request_id
            assert "was rejected but has changed since" in caplog.text
        else:
            with pytest.raises(FaunaAuthError):
                read() if mode == "sync" else await read()
        keys = [c.key_fingerprint for c in api_calls(emulator, "GET")]
        statuses = [c.status for c in api_calls(emulator, "GET")]
        if outcome == "sent again":
            assert (statuses, keys) == (
                [401, 200],
                [fingerprint(FAUNA_TEST_KEY), fingerprint(ROTATED_KEY)],
            )
        else:
            assert (statuses, keys) == ([401], [fingerprint(FAUNA_TEST_KEY)]), "sent twice with one key"
        if connection_then == "deleted":
            assert "Could not read connection 'fauna_default' again" in caplog.text

    def test_connection_without_key_is_refused_before_any_call(self, emulator, monkeypatch):
        monkeypatch.setenv(
            "AIRFLOW_CONN_FAUNA_NOKEY", json.dumps({"conn_type": "fauna", "host": emulator.url})
        )
        with pytest.raises(FaunaValidationError, match="password"):
            FaunaAccountHook(fauna_conn_id="fauna_nokey").get_log_request("123")
        assert api_calls(emulator) == []

    def test_key_is_masked_once_read(self, hook, emulator):
        from airflow.providers.common.compat.sdk import redact

        key = hook._settings.key
        assert redact(f"token {key}") != f"token {key}"

    def test_user_agent_names_the_provider(self):
        from airflow_provider_fauna import __version__

        assert USER_AGENT.startswith(f"airflow-provider-fauna/{__version__}")


class TestAsync:
    async def test_async_status_matches_the_sync_path(self, hook, emulator):
        request = hook.request_logs(database="us-std/ECommerce", **DAY)
        status = await hook.aget_log_request(request.request_id)

        assert status.to_xcom() == hook.get_log_request(request.request_id).to_xcom()
        assert status.state == LogRequestState.COMPLETE

    async def test_async_path_shares_the_retry_policy(self, hook, emulator):
        emulator.faults = FaultConfig(server_error_ratio=1.0)
        with pytest.raises(FaunaServerError):
            await hook.aget_log_request("123")
        assert len(api_calls(emulator)) == FAST.max_attempts

    async def test_async_not_found_is_not_retried(self, hook, emulator):
        with pytest.raises(FaunaNotFoundError):
            await hook.aget_log_request("424242")
        assert len(api_calls(emulator)) == 1


class TestValidation:
    @pytest.mark.parametrize(
        ("kwargs", "field"),
        [
            ({"database": "us-std/ECommerce", "region_group": "us-std"}, "not both"),
            ({}, "database"),
            ({"database": "ECommerce"}, "region group"),
            ({"database": "us-std/"}, "names no database"),
            ({"region_group": "ap-std"}, "region_group"),
            (
                {"database": "us-std/x", "time_start": datetime(2026, 11, 1), "time_end": DAY["time_end"]},
                "time_start",
            ),
            (
                {"database": "us-std/x", "time_start": DAY["time_end"], "time_end": DAY["time_start"]},
                "time_end",
            ),
            (
                {
                    "database": "us-std/x",
                    "time_start": pendulum.datetime(2026, 1, 1, tz="UTC"),
                    "time_end": pendulum.datetime(2026, 5, 1, tz="UTC"),
                },
                "90",
            ),
            ({"database": "us-std/x", "idempotency_token": "not-a-uuid"}, "idempotency_token"),
            ({"database": "us-std/x", "time_start": "2026-11-01T00:00:00"}, "timezone"),
        ],
    )
    def test_bad_input_is_refused_before_any_call(self, hook, emulator, kwargs, field):
        arguments = {**DAY, **kwargs}
        with pytest.raises(FaunaValidationError, match=field):
            hook.request_logs(**arguments)
        assert api_calls(emulator) == []

    def test_times_in_other_zones_are_sent_in_utc(self, hook, emulator):
        start = datetime(2026, 11, 1, 1, tzinfo=timezone.utc).astimezone(pendulum.timezone("Europe/Paris"))
        hook.request_logs(database="us-std/x", time_start=start, time_end="2026-11-02T02:00:00+01:00")
        (call,) = api_calls(emulator, "POST")
        assert call.json["time_start"] == "2026-11-01T01:00:00Z"
        assert call.json["time_end"] == "2026-11-02T01:00:00Z"


class TestConnection:
    def test_test_connection_ok(self, hook):
        ok, message = hook.test_connection()
        assert ok, message
        assert "accepted" in message

    def test_test_connection_reports_a_rejected_key(self, emulator, monkeypatch):
        monkeypatch.setenv(
            "AIRFLOW_CONN_FAUNA_BAD",
            json.dumps({"conn_type": "fauna", "host": emulator.url, "password": "fnacapi_nope"}),
        )
        ok, message = FaunaAccountHook(fauna_conn_id="fauna_bad").test_connection()
        assert not ok
        assert "rejected" in message and "fnacapi_nope" not in message

    def test_test_connection_reports_an_unreachable_host(self, monkeypatch):
        monkeypatch.setenv(
            "AIRFLOW_CONN_FAUNA_DOWN",
            json.dumps({"conn_type": "fauna", "host": "http://127.0.0.1:9", "password": "fnacapi_x"}),
        )
        ok, message = FaunaAccountHook(fauna_conn_id="fauna_down").test_connection()
        assert not ok
        assert "could not be reached" in message

    def test_host_without_scheme_defaults_to_https(self, monkeypatch):
        monkeypatch.setenv("AIRFLOW_CONN_FAUNA_PUBLIC", "fauna://:fnacapi_x@account.fauna.com")
        assert FaunaAccountHook(fauna_conn_id="fauna_public").base_url == "https://account.fauna.com"

    def test_empty_host_is_the_public_service(self, monkeypatch):
        monkeypatch.setenv(
            "AIRFLOW_CONN_FAUNA_PUBLIC",
            json.dumps({"conn_type": "fauna", "password": "fnacapi_public_placeholder"}),
        )
        assert FaunaAccountHook(fauna_conn_id="fauna_public").base_url == "https://account.fauna.com"


class TestRetriedWrites:
    def test_a_lost_submit_answer_is_retried_under_the_same_token(self, hook, emulator):
        # The emulator drops the connection after doing the work: the worst case for a POST.
        emulator.faults = FaultConfig(drop_ratio=1.0, fault_paths=["/api/v1/logs"])
        with pytest.raises(FaunaConnectionError):
            hook.request_logs(database="us-std/ECommerce", **DAY)
        posts = api_calls(emulator, "POST")
        assert len(posts) == FAST.max_attempts
        assert len({c.json["idempotency_token"] for c in posts}) == 1
        assert len(emulator.log_requests) == 1, "retries of one submission made one export"

    def test_a_delete_whose_answer_was_lost_counts_as_done(self, hook, emulator, monkeypatch):
        # One narrow stand-in: the first attempt's answer is lost after the emulator deleted the
        # app (the emulator's drops hit every attempt alike), the real retry then gets its 404.
        app_id = next(iter(hook.list_oauth_apps()))["id"]
        session = hook.get_conn()
        real_request = session.request
        attempts = []

        def lose_first_answer(method, url, **kwargs):
            response = real_request(method, url, **kwargs)
            attempts.append(response.status_code)
            if len(attempts) == 1:
                raise requests.ConnectionError("connection reset by peer")
            return response

        monkeypatch.setattr(session, "request", lose_first_answer)
        hook.delete_oauth_app(app_id)

        assert attempts == [204, 404]
        monkeypatch.setattr(session, "request", real_request)
        assert app_id not in [a["id"] for a in hook.list_oauth_apps()]

    def test_a_404_on_the_first_delete_is_still_an_error(self, hook):
        with pytest.raises(FaunaNotFoundError):
            hook.delete_oauth_app("no-such-app")
