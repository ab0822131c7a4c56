"""How answers become results or typed errors; the one narrow server for a redirect."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException

from airflow_provider_fauna.exceptions import (
    FaunaApiError,
    FaunaAuthError,
    FaunaNotFoundError,
    FaunaRateLimitedError,
    FaunaServerError,
)
from airflow_provider_fauna.hooks.fauna import FaunaAccountHook
from airflow_provider_fauna.hooks.retry import RetryPolicy
from airflow_provider_fauna.hooks.transport import ApiCall, read_answer

CALL = ApiCall("GET", "/api/v1/logs/1", {"type": "query"})


@pytest.mark.parametrize("body", [{"reason": "bad time"}, {"message": "bad time"}])
def test_both_error_bodies_are_read(body):
    with pytest.raises(FaunaApiError) as info:
        read_answer(CALL, 400, {}, json.dumps(body))
    assert info.value.reason == "bad time"
    assert "400" in str(info.value) and "/api/v1/logs/1" in str(info.value)


@pytest.mark.parametrize(
    ("status", "error"),
    [
        (401, FaunaAuthError),
        (403, FaunaAuthError),
        (404, FaunaNotFoundError),
        (429, FaunaRateLimitedError),
        (500, FaunaServerError),
        (503, FaunaServerError),
    ],
)
def test_statuses_map_to_typed_errors(status, error):
    with pytest.raises(error):
        read_answer(CALL, status, {"Retry-After": "3"}, '{"reason": "x"}')


@pytest.mark.parametrize(
    ("status", "fails_at_once"),
    [(400, False), (401, True), (403, True), (404, True), (429, False), (500, False)],
)
def test_what_a_task_retry_cannot_cure_fails_the_task_at_once(status, fails_at_once):
    with pytest.raises(FaunaApiError) as info:
        read_answer(CALL, status, {}, '{"reason": "x"}')
    assert isinstance(info.value, AirflowFailException) is fails_at_once


def test_non_json_error_body_is_quoted_briefly():
    with pytest.raises(FaunaApiError) as info:
        read_answer(CALL, 502, {}, "<html>" + "x" * 1000 + "</html>")
    assert len(info.value.reason) <= 200


def test_empty_success_only_where_expected():
    assert read_answer(ApiCall("DELETE", "/x", empty_ok=True), 204, {}, "") is None
    with pytest.raises(FaunaApiError):
        read_answer(CALL, 200, {}, "")


class _Recorder(BaseHTTPRequestHandler):
    seen: list[tuple[str, str | None]] = []
    location = ""

    def do_GET(self) -> None:
        type(self).seen.append((self.path, self.headers.get("Authorization")))
        if type(self).location:
            self.send_response(302)
            self.send_header("Location", type(self).location)
            self.end_headers()
        else:
            self.send_response(200)
            self.end_headers()
            self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def two_hosts():
    class Fauna(_Recorder):
        seen = []

    class Elsewhere(_Recorder):
        seen = []

    servers = [ThreadingHTTPServer(("127.0.0.1", 0), cls) for cls in (Fauna, Elsewhere)]
    for server in servers:
        threading.Thread(target=server.serve_forever, daemon=True).start()
    Fauna.location = f"http://127.0.0.1:{servers[1].server_port}/steal"
    yield servers, Fauna, Elsewhere
    for server in servers:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_redirects_are_not_followed_so_the_key_stays_home(two_hosts, monkeypatch, mode):
    servers, fauna, elsewhere = two_hosts
    monkeypatch.setenv(
        "AIRFLOW_CONN_FAUNA_REDIRECT",
        json.dumps(
            {
                "conn_type": "fauna",
                "host": f"http://127.0.0.1:{servers[0].server_port}",
                "password": "fnacapi_redirect_secret",
            }
        ),
    )
    hook = FaunaAccountHook(fauna_conn_id="fauna_redirect", retry_policy=RetryPolicy(max_attempts=1))
    with pytest.raises(FaunaApiError, match="redirect") as info:
        if mode == "sync":
            hook.get_log_request("1")
        else:
            await hook.aget_log_request("1")
    assert "fnacapi_redirect_secret" not in str(info.value)
    assert len(fauna.seen) == 1
    assert elsewhere.seen == []
