"""Answers the emulator does not give, from one narrow HTTP server, through both clients alike.

A lower-case ``retry-after``, a gateway's error page that is not UTF-8, a proxy between the
worker and the API, a host that cannot be reached: the sync (requests) and the async
(aiohttp) path must come to the same result, and no exception may carry the key along.
"""

from __future__ import annotations

import json
import threading
import traceback
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest

from airflow_provider_fauna.exceptions import (
    FaunaConnectionError,
    FaunaRateLimitedError,
    FaunaServerError,
    FaunaValidationError,
)
from airflow_provider_fauna.hooks.fauna import FaunaAccountHook
from airflow_provider_fauna.hooks.retry import RetryPolicy

if TYPE_CHECKING:
    from collections.abc import Iterator

KEY = "fnacapi_odd_answers_secret"
ONCE = RetryPolicy(max_attempts=1)
PENDING = json.dumps({"request_id": "1", "state": "Pending", "region_group": None, "regionGroup": "us-std"})


class _Canned(BaseHTTPRequestHandler):
    """Answers every request with ``answer`` and records the request line it was sent."""

    answer: tuple[int, list[tuple[str, str]], bytes] = (200, [], b"{}")
    seen: list[str] = []

    def _answer(self) -> None:
        type(self).seen.append(self.requestline)
        status, headers, body = type(self).answer
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    do_GET = do_POST = do_DELETE = _answer

    def log_message(self, *args: object) -> None:
        pass


@pytest.fixture
def server() -> Iterator[tuple[str, type[_Canned]]]:
    class Handler(_Canned):
        seen = []

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}", Handler
    httpd.shutdown()
    httpd.server_close()


def connect(monkeypatch: pytest.MonkeyPatch, host: str, **extra: Any) -> FaunaAccountHook:
    monkeypatch.setenv(
        "AIRFLOW_CONN_FAUNA_ODD",
        json.dumps({"conn_type": "fauna", "host": host, "password": KEY, "extra": extra}),
    )
    return FaunaAccountHook(fauna_conn_id="fauna_odd", retry_policy=ONCE if not extra else None)


async def status(hook: FaunaAccountHook, mode: str) -> Any:
    if mode == "sync":
        return hook.get_log_request("1")
    return await hook.aget_log_request("1")


def whole_chain(error: BaseException) -> str:
    """Everything a reporter that walks ``__cause__`` and ``__context__`` could print or keep."""
    parts, seen = [], set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts.append(repr(current))
        parts.append(repr(getattr(current, "request", None) and current.request.headers))  # type: ignore[attr-defined]
        current = current.__cause__ or current.__context__
    parts.append("".join(traceback.format_exception(error)))
    return "\n".join(parts)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_lower_case_retry_after_is_read_by_both_clients(server, monkeypatch, mode) -> None:
    url, handler = server
    handler.answer = (429, [("retry-after", "7")], b'{"reason": "slow down"}')
    with pytest.raises(FaunaRateLimitedError) as info:
        await status(connect(monkeypatch, url), mode)
    assert info.value.retry_after == 7.0


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_gateway_page_that_is_not_utf8_is_a_server_error_on_both_paths(
    server, monkeypatch, mode
) -> None:
    url, handler = server
    handler.answer = (502, [("Content-Type", "text/html")], b"\xff\xfe<html>Bad gateway \xe9</html>")
    with pytest.raises(FaunaServerError) as info:
        await status(connect(monkeypatch, url), mode)
    assert info.value.status == 502 and "Bad gateway" in str(info.value)


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_both_clients_go_through_the_environments_proxy(server, monkeypatch, mode) -> None:
    proxy, handler = server
    handler.answer = (200, [("Content-Type", "application/json")], PENDING.encode())
    for name in ("NO_PROXY", "no_proxy", "ALL_PROXY", "all_proxy"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("HTTP_PROXY", proxy)
    monkeypatch.setenv("http_proxy", proxy)
    # A host that does not resolve: only a client that asks the proxy can get an answer.
    request = await status(connect(monkeypatch, "http://account.fauna.invalid"), mode)
    assert request.state == "Pending"
    assert request.region_group == "us-std", "a null region_group falls back to regionGroup"
    (line,) = handler.seen
    assert line.startswith("GET http://account.fauna.invalid/api/v1/logs/1?type=query ")


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_an_unreachable_host_fails_with_no_library_exception_chained(monkeypatch, mode) -> None:
    with pytest.raises(FaunaConnectionError) as info:
        await status(connect(monkeypatch, "http://127.0.0.1:9"), mode)
    assert info.value.__context__ is None and info.value.__cause__ is None
    assert KEY not in whole_chain(info.value)


#: Extras a connection form or a secrets backend may hold, and how the refusal names each.
BAD_EXTRAS = [
    ({"backoff_max": "nan"}, "backoff_max='nan'"),
    ({"backoff_base": "inf"}, "backoff_base='inf'"),
    ({"backoff_base": -1}, "backoff_base=-1"),
    ({"timeout": "nan"}, "timeout='nan'"),
    ({"timeout": 0}, "timeout=0"),
    ({"timeout": "soon"}, "timeout='soon'"),
    ({"max_retries": -1}, "max_retries=-1"),
    ({"max_retries": 2.7}, "max_retries=2.7"),
    ({"max_retries": "many"}, "max_retries='many'"),
    ({"max_retries": True}, "max_retries=True"),
]


@pytest.mark.parametrize(("extra", "named"), BAD_EXTRAS)
@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_bad_extras_are_refused_naming_the_extra_before_any_call(
    server, monkeypatch, extra, named, mode
) -> None:
    url, handler = server
    with pytest.raises(FaunaValidationError) as info:
        await status(connect(monkeypatch, url, **extra), mode)
    assert named in str(info.value) and ".." not in str(info.value)
    assert handler.seen == []


@pytest.mark.parametrize(("extra", "named"), BAD_EXTRAS)
def test_test_connection_reports_a_bad_extra_by_name_without_calling(
    server, monkeypatch, extra, named
) -> None:
    url, handler = server
    ok, message = connect(monkeypatch, url, **extra).test_connection()
    assert not ok
    assert named in message and "fauna_odd" in message
    assert handler.seen == []


@pytest.mark.parametrize("timeout", [0, -1, "nan", "soon"])
def test_a_bad_timeout_argument_is_refused_when_the_hook_is_made(timeout) -> None:
    with pytest.raises(FaunaValidationError, match=r"timeout=.*the hook's timeout argument"):
        FaunaAccountHook(fauna_conn_id="fauna_odd", timeout=timeout)


def test_integral_extras_given_as_text_or_floats_are_taken(server, monkeypatch) -> None:
    url, handler = server
    handler.answer = (200, [], PENDING.encode())
    hook = connect(monkeypatch, url, max_retries="2", backoff_base=0.01, backoff_max=3.0, timeout="5")
    hook.get_log_request("1")
    assert hook._settings.policy.max_attempts == 3
    assert hook._settings.timeout == 5.0


@pytest.mark.parametrize("app_id", ["..", ".", "", "a/b", "a?b=c"])
def test_delete_oauth_app_refuses_what_is_not_one_app_id(server, monkeypatch, app_id) -> None:
    url, handler = server
    with pytest.raises(FaunaValidationError, match="app_id="):
        connect(monkeypatch, url).delete_oauth_app(app_id)
    assert handler.seen == []


class _Recording(_Canned):
    """Also keeps the Authorization header of each request."""

    authorizations: list[str | None] = []

    def _answer(self) -> None:
        type(self).authorizations.append(self.headers.get("Authorization"))
        super()._answer()

    do_GET = do_POST = do_DELETE = _answer


@pytest.mark.parametrize("mode", ["sync", "async"])
async def test_a_netrc_login_for_the_api_host_never_replaces_the_key(tmp_path, monkeypatch, mode) -> None:
    """``requests`` applies a ``.netrc`` login over an explicit Authorization header; the key must win."""

    class Handler(_Recording):
        seen = []
        authorizations = []
        answer = (200, [], PENDING.encode())

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    netrc = tmp_path / ".netrc"
    netrc.write_text("machine 127.0.0.1 login someone password netrc-password\n")
    netrc.chmod(0o600)
    monkeypatch.setenv("NETRC", str(netrc))
    try:
        request = await status(connect(monkeypatch, f"http://127.0.0.1:{httpd.server_port}"), mode)
    finally:
        httpd.shutdown()
        httpd.server_close()
    assert request.state == "Pending"
    assert Handler.authorizations == [f"Bearer {KEY}"]
