"""The hook's edges a hostile review found: deadlines, answer sizes, Retry-After, hosts, keys, odd fields.

Each runs against a loopback server on the sync (requests) and the async (aiohttp) path, and
through the waits (the blocking wait and the trigger) where a wait is what a user would see.
"""

from __future__ import annotations

import asyncio
import contextlib
import gzip
import io
import json
import logging
import socket
import threading
import time
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
from hypothesis import given
from hypothesis import strategies as st
from tenacity import Retrying
from test_odd_answers import KEY, _Canned, connect, status

from airflow_provider_fauna.exceptions import (
    FaunaApiError,
    FaunaConnectionError,
    FaunaRateLimitedError,
    FaunaServerError,
    FaunaValidationError,
)
from airflow_provider_fauna.hooks.fauna import FaunaAccountHook
from airflow_provider_fauna.hooks.retry import RetryPolicy
from airflow_provider_fauna.hooks.transport import MAX_ANSWER_BYTES
from airflow_provider_fauna.triggers.logs import FaunaLogsTrigger
from airflow_provider_fauna.waiting import LAST_CHECK_SECONDS, WaitTimeout, poll_until_terminal

if TYPE_CHECKING:
    from collections.abc import Iterator

PENDING = {"request_id": "1", "state": "Pending"}
MODES = ["sync", "async"]


class _Dripping(_Canned):
    """Sends the headers at once, then the body a byte every ``pause`` seconds."""

    pause = 0.3

    def _answer(self) -> None:
        type(self).seen.append(self.requestline)
        body = json.dumps(PENDING).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        try:
            for byte in body:
                self.wfile.write(bytes([byte]))
                self.wfile.flush()
                time.sleep(self.pause)
        except OSError:  # the client gave up, as it should
            pass

    do_GET = do_POST = do_DELETE = _answer


class _Slow(_Canned):
    """Answers after ``delay`` seconds."""

    delay = 5.0

    def _answer(self) -> None:
        time.sleep(self.delay)
        with contextlib.suppress(OSError):
            super()._answer()

    do_GET = do_POST = do_DELETE = _answer


def serve(handler: type[_Canned], host: str = "127.0.0.1") -> tuple[str, ThreadingHTTPServer]:
    server_class = ThreadingHTTPServer
    if ":" in host:

        class _Six(ThreadingHTTPServer):
            address_family = socket.AF_INET6

        server_class = _Six
    httpd = server_class((host, 0), handler)
    httpd.daemon_threads = True
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    shown = f"[{host}]" if ":" in host else host
    return f"http://{shown}:{httpd.server_address[1]}", httpd


@pytest.fixture
def canned() -> Iterator[tuple[str, type[_Canned]]]:
    class Handler(_Canned):
        seen = []

    url, httpd = serve(Handler)
    yield url, Handler
    httpd.shutdown()
    httpd.server_close()


def answer(handler: type[_Canned], body: Any, status_code: int = 200, headers: Any = ()) -> None:
    handler.answer = (
        status_code,
        [("Content-Type", "application/json"), *headers],
        json.dumps(body).encode(),
    )


def first_event(trigger: FaunaLogsTrigger, limit: float) -> tuple[dict[str, Any], float]:
    async def first() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("no event")

    started = time.monotonic()
    payload = asyncio.run(asyncio.wait_for(first(), limit))
    return payload, time.monotonic() - started


# 1. A wait's deadline bounds its status calls, and a sync call's timeout bounds the whole answer.


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", ["blocking wait", "trigger"])
def test_a_wait_ends_at_its_deadline_though_each_429_asks_for_longer(canned, monkeypatch, mode) -> None:
    url, handler = canned
    answer(handler, {"reason": "slow down"}, 429, [("Retry-After", "5")])
    hook = connect(monkeypatch, url, max_retries=4)  # the defaults: 5 attempts, Retry-After honoured
    deadline = time.time() + 2
    started = time.monotonic()
    if mode == "trigger":
        trigger = FaunaLogsTrigger(
            request_id="1", fauna_conn_id="fauna_odd", end_time=deadline, poll_interval=0.5
        )
        payload, took = first_event(trigger, 30)
        assert payload["status"] == "timeout"
    else:
        with pytest.raises(WaitTimeout):
            poll_until_terminal(hook, "1", poll_interval=0.5, deadline=deadline, log=logging.getLogger("t"))
        took = time.monotonic() - started
    # At the deadline, and never later than the last check's allowance (a second for a busy CI).
    assert took < 2 + LAST_CHECK_SECONDS + 1, took
    assert len(handler.seen) >= 2, "polls at its interval meanwhile, rather than sleeping 5 s"


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", MODES)
async def test_a_calls_deadline_cuts_its_timeout_and_its_retries(monkeypatch, mode) -> None:
    class Handler(_Slow):
        seen = []
        delay = 4.0
        answer = (200, [], json.dumps(PENDING).encode())

    url, httpd = serve(Handler)
    try:
        hook = connect(monkeypatch, url, max_retries=4, timeout=30)
        started = time.monotonic()
        with pytest.raises(FaunaConnectionError, match="timed out"):
            if mode == "sync":
                hook.get_log_request("1", deadline=time.time() + 1)
            else:
                await hook.aget_log_request("1", deadline=time.time() + 1)
        assert time.monotonic() - started < 2.5
    finally:
        httpd.shutdown()
        httpd.server_close()


@pytest.mark.timeout(60)
@pytest.mark.parametrize("mode", MODES)
async def test_the_timeout_bounds_an_answer_that_drips(monkeypatch, mode) -> None:
    class Handler(_Dripping):
        seen = []

    url, httpd = serve(Handler)
    try:
        hook = connect(monkeypatch, url, max_retries=0, timeout=1)
        started = time.monotonic()
        with pytest.raises(FaunaConnectionError, match="timed out"):
            await status(hook, mode)
        # The body takes 0.3 s a byte (about 12 s); each read is quick, the whole is not.
        assert time.monotonic() - started < 2.5
    finally:
        httpd.shutdown()
        httpd.server_close()


# 2. An answer's body is read up to MAX_ANSWER_BYTES, decoded.


def gzip_bomb(inflated: int) -> bytes:
    buffer = io.BytesIO()
    with gzip.GzipFile(fileobj=buffer, mode="wb", compresslevel=9) as out:
        out.write(b'{"request_id": "1", "state": "Pending", "pad": "')
        for _ in range(inflated >> 20):
            out.write(b"x" * (1 << 20))
        out.write(b'"}')
    return buffer.getvalue()


@pytest.mark.parametrize("mode", MODES)
@pytest.mark.parametrize("kind", ["plain", "gzip"])
async def test_an_answer_over_the_limit_is_an_api_error_naming_the_endpoint(
    canned, monkeypatch, mode, kind
) -> None:
    url, handler = canned
    if kind == "gzip":  # 50 KB on the wire, 50 MiB decoded
        body = gzip_bomb(50 << 20)
        assert len(body) < MAX_ANSWER_BYTES
        handler.answer = (200, [("Content-Type", "application/json"), ("Content-Encoding", "gzip")], body)
    else:
        pad = "x" * (3 * MAX_ANSWER_BYTES)
        handler.answer = (
            200,
            [("Content-Type", "application/json")],
            json.dumps({**PENDING, "pad": pad}).encode(),
        )
    with pytest.raises(FaunaApiError, match=r"GET /api/v1/logs/1: answer too large") as info:
        await status(connect(monkeypatch, url), mode)
    assert info.value.status == 200 and not isinstance(info.value, FaunaServerError)


@pytest.mark.parametrize("mode", MODES)
async def test_a_huge_error_page_is_cut_and_still_a_server_error(canned, monkeypatch, mode) -> None:
    url, handler = canned
    handler.answer = (
        502,
        [("Content-Type", "text/html")],
        b"<html>Bad gateway" + b"x" * (2 * MAX_ANSWER_BYTES),
    )
    with pytest.raises(FaunaServerError, match="Bad gateway"):
        await status(connect(monkeypatch, url), mode)


@pytest.mark.parametrize("mode", MODES)
async def test_a_small_gzip_answer_is_read(canned, monkeypatch, mode) -> None:
    url, handler = canned
    handler.answer = (200, [("Content-Encoding", "gzip")], gzip.compress(json.dumps(PENDING).encode()))
    assert (await status(connect(monkeypatch, url), mode)).state == "Pending"


# 3. Retry-After is a floor, never the wait itself: every wait is jittered.


@given(
    retry_after=st.floats(min_value=0, max_value=60) | st.sampled_from([0.0, 1.0, 5.0]),
    attempt=st.integers(min_value=1, max_value=8),
)
def test_a_wait_after_retry_after_is_never_below_it_and_never_the_same_twice(retry_after, attempt) -> None:
    policy, other = RetryPolicy(), RetryPolicy()
    waits = [p.delay(attempt, retry_after) for p in (policy, other) for _ in range(4)]
    assert all(min(retry_after, policy.backoff_max) <= w <= policy.backoff_max for w in waits), waits
    if retry_after < policy.backoff_max:
        assert len(set(waits)) > 1, f"no jitter: {waits}"


@pytest.mark.parametrize("header", ["0", "Wed, 21 Oct 2015 07:28:00 GMT", "nan"])
def test_refused_calls_told_to_come_back_now_are_retried_with_jitter(header) -> None:
    """Two workers told ``Retry-After: 0`` (or a past date, or nonsense) do not come back in step."""
    from airflow_provider_fauna.hooks.retry import parse_retry_after

    retry_after = parse_retry_after(header)
    sleeps: list[list[float]] = []
    for _ in range(2):
        waits: list[float] = []

        def refused() -> None:
            raise FaunaRateLimitedError(429, "slow down", retry_after=retry_after)

        with pytest.raises(FaunaRateLimitedError):
            Retrying(**RetryPolicy().retry_args(logging.getLogger("t")), sleep=waits.append)(refused)
        sleeps.append(waits)
    assert all(w > 0 for waits in sleeps for w in waits), sleeps
    assert sleeps[0] != sleeps[1], sleeps


# 4. The connection's host.


def hook_for(monkeypatch: pytest.MonkeyPatch, conn: dict[str, Any] | str) -> FaunaAccountHook:
    value = conn if isinstance(conn, str) else json.dumps({"conn_type": "fauna", "password": KEY, **conn})
    monkeypatch.setenv("AIRFLOW_CONN_FAUNA_HOST", value)
    return FaunaAccountHook(fauna_conn_id="fauna_host")


@pytest.mark.parametrize(
    ("conn", "named", "hidden"),
    [
        ({"host": "https://user:s3cret@account.fauna.com"}, "user name or password", "s3cret"),
        ({"host": "https://fnacapi_in_user@account.fauna.com"}, "user name or password", "fnacapi_in_user"),
        ({"host": "https://user:xy?s3cret@account.fauna.com"}, "user name or password", "xy"),
        ({"host": "https://account.fauna.com/?token=s3cret"}, "query string or fragment", "s3cret"),
        ({"host": "https://account.fauna.com#s3cret"}, "query string or fragment", "s3cret"),
        ({"host": "account.fauna.com:99999"}, "port '99999'", None),
        ({"host": "account.fauna.com", "port": 70000}, "port 70000", None),
        ({"host": "account.fauna.com:http"}, "port 'http'", None),
    ],
    ids=[
        "userinfo",
        "user-only",
        "password-with-query-char",
        "query",
        "fragment",
        "port-in-host",
        "port-field",
        "port-text",
    ],
)
def test_a_host_with_userinfo_a_query_or_a_bad_port_is_refused_by_name(
    monkeypatch, conn, named, hidden
) -> None:
    hook = hook_for(monkeypatch, conn)
    with pytest.raises(FaunaValidationError) as info:
        hook.get_log_request("1")
    message = str(info.value)
    assert "'fauna_host'" in message and named in message, message
    assert hidden is None or hidden not in message, message
    ok, said = hook_for(monkeypatch, conn).test_connection()
    assert not ok and said == message


@pytest.mark.parametrize("mode", MODES)
async def test_the_documented_uri_form_with_an_ipv6_host_reaches_the_api(monkeypatch, mode) -> None:
    class Handler(_Canned):
        seen = []
        answer = (200, [("Content-Type", "application/json")], json.dumps(PENDING).encode())

    url, httpd = serve(Handler, "::1")
    try:
        port = url.rsplit(":", 1)[1]
        hook = hook_for(monkeypatch, f"fauna://:{KEY}@[::1]:{port}?scheme=http")
        assert hook.get_connection("fauna_host").host == "::1", "Airflow strips the brackets"
        assert hook.base_url == f"http://[::1]:{port}"
        assert (await status(hook, mode)).state == "Pending"
    finally:
        httpd.shutdown()
        httpd.server_close()


# 5. The account key.


@pytest.mark.parametrize("char", ["\u200b", "\u2019", "\u00a0", "\x7f", "\u00e9"])
@pytest.mark.parametrize("mode", [*MODES, "test_connection"])
async def test_a_key_with_a_character_that_is_not_printable_ascii_is_refused_by_position(
    canned, monkeypatch, char, mode
) -> None:
    url, handler = canned
    key = f"fnacapi_secret{char}value"
    monkeypatch.setenv(
        "AIRFLOW_CONN_FAUNA_KEY", json.dumps({"conn_type": "fauna", "host": url, "password": key})
    )
    hook = FaunaAccountHook(fauna_conn_id="fauna_key")
    if mode == "test_connection":
        ok, message = hook.test_connection()
        assert not ok
    else:
        with pytest.raises(FaunaValidationError) as info:
            await status(hook, mode)
        message = str(info.value)
    assert f"U+{ord(char):04X} at position 15" in message and "'fauna_key'" in message, message
    assert key not in message and "secret" not in message
    assert handler.seen == []


@pytest.mark.parametrize("mode", [*MODES, "test_connection"])
async def test_a_key_pasted_with_its_bearer_scheme_is_refused_naming_it(canned, monkeypatch, mode) -> None:
    url, handler = canned
    monkeypatch.setenv(
        "AIRFLOW_CONN_FAUNA_KEY",
        json.dumps({"conn_type": "fauna", "host": url, "password": "Bearer fnacapi_secretvalue"}),
    )
    hook = FaunaAccountHook(fauna_conn_id="fauna_key")
    if mode == "test_connection":
        ok, message = hook.test_connection()
        assert not ok
    else:
        with pytest.raises(FaunaValidationError) as info:
            await status(hook, mode)
        message = str(info.value)
    assert "begins with 'Bearer '" in message and "'fauna_key'" in message, message
    assert "secretvalue" not in message
    assert handler.seen == []


# 6. Odd field types in a log request answer.

ODD_FIELDS = [
    ({"version": "²"}, "version"),
    ({"version": "٣"}, "version"),
    ({"version": "9" * 5000}, "version"),
    ({"version": -1}, "version"),
    ({"version": 1.5}, "version"),
    ({"presigned_url": 123}, "presigned_url"),
    ({"presigned_url": ["https://files.example/x?sig=secret"]}, "presigned_url"),
    ({"presigned_url": {"url": "https://files.example/x?sig=secret"}}, "presigned_url"),
]


@pytest.mark.parametrize(
    ("fields", "named"), ODD_FIELDS, ids=[f"{n}-{i}" for i, (_, n) in enumerate(ODD_FIELDS)]
)
@pytest.mark.parametrize("mode", [*MODES, "trigger"])
async def test_an_odd_field_type_is_an_api_error_naming_the_field_not_its_value(
    canned, monkeypatch, fields, named, mode
) -> None:
    url, handler = canned
    answer(
        handler,
        {"request_id": "1", "state": "Complete", "presigned_url": "https://f.example/x?sig=s", **fields},
    )
    hook = connect(monkeypatch, url)
    if mode == "trigger":
        trigger = FaunaLogsTrigger(request_id="1", fauna_conn_id="fauna_odd", end_time=time.time() + 5)
        payload = await asyncio.wait_for(trigger.run().__anext__(), 10)
        assert payload.payload["status"] == "error"
        message = payload.payload["message"]
    else:
        with pytest.raises(FaunaApiError) as info:
            await status(hook, mode)
        message = str(info.value)
    assert "GET /api/v1/logs/1" in message and f"{named} (" in message, message
    assert "secret" not in message and "sig=" not in message and "999" not in message


@pytest.mark.parametrize(
    "expires", [1796687394, {"t": 1}, "soon", "2099-07-11T22:53:54", "Sat, 11 Jul 2099 22:53:54 GMT"]
)
@pytest.mark.parametrize("mode", MODES)
async def test_an_expiration_time_in_another_form_is_read_as_unknown_not_as_a_broken_answer(
    canned, monkeypatch, expires, mode
) -> None:
    """Only read to renew a URL early; a refused download asks for a new one all the same."""
    url, handler = canned
    answer(
        handler,
        {
            "request_id": "1",
            "state": "Complete",
            "presigned_url": "https://f.example/x?sig=s",
            "presigned_url_expiration_time": expires,
        },
    )
    request = await status(connect(monkeypatch, url), mode)
    assert request.is_complete and request.presigned_url_expiration_time is None
