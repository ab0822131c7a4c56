"""Properties of answers: any JSON body is a log request or a FaunaApiError naming the endpoint.

One loopback stub (test_odd_answers' canned server) serves every example, on the sync and the
async path; also ``Retry-After`` values, and the odd answers of issue 21 one by one.
"""

from __future__ import annotations

import asyncio
import json
import math
import threading
import time
import traceback
import types
from datetime import datetime, timedelta, timezone
from email.utils import format_datetime
from http.server import ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
from airflow.providers.common.compat.sdk import AirflowFailException
from hypothesis import given
from hypothesis import strategies as st
from test_odd_answers import KEY, _Canned, connect

from airflow_provider_fauna.exceptions import FaunaApiError, FaunaAuthError, FaunaUnknownStateError
from airflow_provider_fauna.hooks.retry import parse_retry_after
from airflow_provider_fauna.log_requests import ALL_STATES, LogRequest, parse_time
from airflow_provider_fauna.sensors.logs import FaunaLogsSensor
from airflow_provider_fauna.tasks import wait_or_defer
from airflow_provider_fauna.triggers.logs import FaunaLogsTrigger
from airflow_provider_fauna.waiting import poll_until_terminal, read_trigger_event

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator

SPEC = {"time_start": "2026-11-01T00:00:00Z", "time_end": "2026-11-02T00:00:00Z", "database": "us-std/Shop"}

#: Every endpoint that reads a log request or a page, the path its error must name, and the call.
ENDPOINTS: dict[str, tuple[str, Callable[[Any], Any]]] = {
    "status": ("GET /api/v1/logs/1", lambda hook: hook.get_log_request("1")),
    "status-async": ("GET /api/v1/logs/1", lambda hook: asyncio.run(hook.aget_log_request("1"))),
    "submit": ("POST /api/v1/logs", lambda hook: hook.request_logs(**SPEC)),
    "new-url": ("POST /api/v1/logs/1/url", lambda hook: hook.create_log_file_url("1")),
    "list": ("GET /api/v1/logs", lambda hook: list(hook.list_log_requests())),
    "oauth-apps": ("GET /api/v1/oauth/apps", lambda hook: list(hook.list_oauth_apps())),
}

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False, allow_infinity=False) | st.text(),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)
#: Bodies that look like a log request or a page, with any JSON in each field, to reach the deeper checks.
FIELDS = (
    "request_id",
    "state",
    "time_start",
    "database",
    "region_group",
    "version",
    "presigned_url",
    "presigned_url_expiration_time",
)
#: Strings that look like numbers or times but are not what Python reads: "²" passes isdigit(), not int().
odd_strings = st.sampled_from(
    ["²", "9" * 5000, "٣", "-1", "1.0", " 1", "0", "2099-09-19T21:42:16.828Z", "soon", "2026-13-01T00:00:00Z"]
) | st.text(alphabet=st.characters(categories=["Nd", "No"]), min_size=1, max_size=3)
near_requests = st.dictionaries(
    st.sampled_from(FIELDS), json_values | odd_strings | st.sampled_from(ALL_STATES), max_size=8
)
near_pages = st.fixed_dictionaries(
    {"results": st.lists(near_requests | json_values, max_size=3) | json_values},
    optional={"next_token": st.none() | st.text(max_size=3) | json_values},
)
#: Log requests whose id and state are right, so that every example reaches the fields' own checks.
odd_field_requests = st.fixed_dictionaries(
    {
        "request_id": st.just("1"),
        "state": st.sampled_from(ALL_STATES),
        "version": odd_strings | st.integers(),
    },
    optional={name: odd_strings | json_values for name in FIELDS[2:] if name != "version"}
    | {"presigned_url_expiration_time": odd_strings},
)
bodies = json_values | near_requests | near_pages | odd_field_requests


@pytest.fixture(scope="module")
def stub() -> Iterator[tuple[str, type[_Canned]]]:
    """One canned server for every example of the module (a server per example would dominate)."""

    class Handler(_Canned):
        seen = []

    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=httpd.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{httpd.server_port}", Handler
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture(scope="module")
def hook(stub) -> Iterator[Any]:
    with pytest.MonkeyPatch.context() as patch:
        yield connect(patch, stub[0])


def answer(
    handler: type[_Canned], body: Any, status: int = 200, headers: list[tuple[str, str]] | None = None
) -> None:
    handler.answer = (
        status,
        [("Content-Type", "application/json"), *(headers or [])],
        json.dumps(body).encode(),
    )


@given(body=bodies, endpoint=st.sampled_from(sorted(ENDPOINTS)))
def test_any_json_answer_is_a_log_request_or_an_api_error_naming_the_endpoint(
    stub, hook, body, endpoint
) -> None:
    check_answer(stub, hook, body, endpoint)


@given(body=odd_field_requests, endpoint=st.sampled_from(["status", "status-async", "submit", "new-url"]))
def test_any_field_value_of_a_log_request_is_read_typed_or_an_api_error(stub, hook, body, endpoint) -> None:
    """Every example is a log request but for its fields' values, so each reaches the fields' checks."""
    check_answer(stub, hook, body, endpoint)


def check_answer(stub: tuple[str, type[_Canned]], hook: Any, body: Any, endpoint: str) -> None:
    """Answer ``body`` and check that ``endpoint``'s call reads it typed or raises a FaunaApiError naming it."""
    where, call = ENDPOINTS[endpoint]
    answer(stub[1], body)
    error: FaunaApiError | None = None
    try:
        result = call(hook)
    except FaunaApiError as err:  # any other exception fails the property
        error = err
    if error is not None:
        assert f"{error.method} {error.path}" == where, str(error)
        assert where in str(error)
        return
    items = result if isinstance(result, list) else [result]
    if endpoint == "oauth-apps":
        assert all(isinstance(app, dict) for app in items)
    else:
        assert all(isinstance(r, LogRequest) and r.request_id and isinstance(r.state, str) for r in items)
        # What a caller reads of it is typed as declared: a download or a new-URL call can use it.
        for r in items:
            assert r.version is None or (isinstance(r.version, int) and r.version >= 0)
            assert all(
                isinstance(getattr(r, name), str | None)
                for name in ("presigned_url", "presigned_url_expiration_time", "time_start", "database")
            )
            if r.presigned_url_expiration_time:
                parse_time(r.presigned_url_expiration_time, "presigned_url_expiration_time")


#: Answers that are no log request, by name; an OAuth app is any object, so only the non-objects
#: among them are wrong as one.
NOT_LOG_REQUESTS: dict[str, Any] = {
    "list": [],
    "null": None,
    "string": "Complete",
    "number": 7,
    "no-id": {"state": "Pending"},
    "empty-id": {"request_id": "", "state": "Pending"},
    "number-id": {"request_id": 1, "state": "Pending"},
    "no-state": {"request_id": "1"},
    "url-number": {"request_id": "1", "state": "Complete", "presigned_url": 5},
    "version-bool": {"request_id": "1", "state": "Complete", "version": True},
}


@pytest.mark.parametrize(
    ("endpoint", "body"),
    [
        pytest.param(endpoint, body, id=f"{name}-{endpoint}")
        for endpoint in sorted(ENDPOINTS)
        for name, body in NOT_LOG_REQUESTS.items()
        if not (endpoint == "oauth-apps" and isinstance(body, dict))
    ],
)
def test_an_answer_that_is_not_a_log_request_is_an_api_error(stub, hook, endpoint, body) -> None:
    where, call = ENDPOINTS[endpoint]
    # A list's page holds the body as its one result, and the body as a page is not a page either.
    for page in ({"results": [body]}, body) if endpoint in ("list", "oauth-apps") else (body,):
        answer(stub[1], page)
        with pytest.raises(FaunaApiError) as info:
            call(hook)
        assert where in str(info.value)


def test_a_list_that_gives_the_same_next_token_again_stops(stub, hook) -> None:
    page = {"results": [{"request_id": "1", "state": "Complete"}], "next_token": "again"}
    answer(stub[1], page)
    stub[1].seen.clear()
    with pytest.raises(FaunaApiError, match=r"GET /api/v1/logs.*gave before"):
        list(hook.list_log_requests())
    assert len(stub[1].seen) == 2


def test_a_state_in_another_case_is_read_as_the_listed_one_with_one_warning(stub, monkeypatch) -> None:
    hook = connect(monkeypatch, stub[0])
    warnings: list[str] = []
    monkeypatch.setattr(hook, "_log", types.SimpleNamespace(warning=lambda msg, *a: warnings.append(msg % a)))
    answer(stub[1], {"request_id": "1", "state": "cOmPlEtE"})
    assert hook.get_log_request("1").state == "Complete"
    assert hook.get_log_request("1").is_complete
    assert warnings == ["The Account API spelled a log request state 'cOmPlEtE': read as 'Complete'."]


def read_trigger(hook: Any) -> dict[str, Any]:
    # A deadline, so that a wait that does not stop ends the test in seconds rather than hanging it.
    trigger = FaunaLogsTrigger(
        request_id="1", fauna_conn_id=hook.fauna_conn_id, poll_interval=0.05, end_time=time.time() + 2
    )

    async def first() -> dict[str, Any]:
        async for event in trigger.run():
            return event.payload
        raise AssertionError("no event")

    return asyncio.run(asyncio.wait_for(first(), 10))


def test_an_unknown_state_ends_the_blocking_wait_and_the_trigger_at_once(stub, hook) -> None:
    answer(stub[1], {"request_id": "1", "state": "Cancelled"})
    with pytest.raises(FaunaUnknownStateError) as info:
        poll_until_terminal(hook, "1", poll_interval=0.05, deadline=time.time() + 2, log=hook.log)
    assert isinstance(info.value, AirflowFailException)
    assert "'Cancelled'" in str(info.value) and "Complete" in str(info.value) and "1" in str(info.value)
    event = read_trigger(hook)
    assert event["status"] == "error" and event["error_type"] == "FaunaUnknownStateError"
    with pytest.raises(AirflowFailException, match="Cancelled"):
        read_trigger_event(event)


def test_an_answer_that_is_a_list_gives_the_trigger_an_error_event(stub, hook) -> None:
    answer(stub[1], [])
    event = read_trigger(hook)
    assert event["status"] == "error" and "GET /api/v1/logs/1" in event["message"]


@pytest.mark.parametrize("mode", ["sync", "async"])
def test_a_401_names_the_connection_and_its_traceback_starts_in_the_provider(stub, hook, mode) -> None:
    answer(stub[1], {"reason": "invalid key"}, status=401)
    with pytest.raises(FaunaAuthError) as info:
        if mode == "sync":
            hook.get_log_request("1")
        else:
            asyncio.run(hook.aget_log_request("1"))
    assert "'fauna_odd'" in str(info.value)
    frames = [frame.filename for frame in traceback.extract_tb(info.value.__traceback__)]
    assert not any("tenacity" in name for name in frames), frames
    assert frames[-1].endswith("transport.py"), frames  # raised in read_answer
    assert KEY not in "".join(traceback.format_exception(info.value))


NOW = datetime(2026, 11, 1, 12, 0, tzinfo=timezone.utc)
retry_after_values = st.one_of(
    st.integers(min_value=-(10**30), max_value=10**30).map(str),
    st.floats().map(str),
    st.floats(allow_nan=False).map(lambda f: f"{f:.3f}"),
    st.datetimes(min_value=datetime(1, 1, 2), max_value=datetime(9999, 12, 30)).map(
        lambda d: format_datetime(d.replace(tzinfo=timezone.utc), usegmt=True)
    ),
    st.sampled_from(
        ["", " ", "soon", "Wed, 21 Oct 2015 07:28:00", "Fri, 31 Dec 9999 23:59:59 GMT", "1e400", "-0"]
    ),
    st.text(),
)


@given(value=retry_after_values)
def test_any_retry_after_is_a_finite_non_negative_delay_or_none(value) -> None:
    delay = parse_retry_after(value, now=NOW)
    assert delay is None or (math.isfinite(delay) and delay >= 0)


def test_retry_after_reads_seconds_and_dates() -> None:
    assert parse_retry_after("7", now=NOW) == 7.0
    assert parse_retry_after(format_datetime(NOW + timedelta(seconds=30), usegmt=True), now=NOW) == 30.0
    assert parse_retry_after(format_datetime(NOW - timedelta(days=1), usegmt=True), now=NOW) == 0.0


def test_the_sensor_and_a_deferring_task_fail_on_an_unknown_state_before_waiting(stub, hook) -> None:
    answer(stub[1], {"request_id": "1", "state": "Cancelled"})
    for mode in ("poke", "deferrable"):
        sensor = FaunaLogsSensor(
            task_id="wait", request_id="1", fauna_conn_id=hook.fauna_conn_id, deferrable=mode == "deferrable"
        )
        with pytest.raises(FaunaUnknownStateError, match="Cancelled"):
            sensor.poke({}) if mode == "poke" else sensor.execute({})  # type: ignore[arg-type]
    # The request operator and the transfers hand their submission's answer to the same wait.
    task = types.SimpleNamespace(deferrable=True, execution_timeout=None, log=hook.log)
    with pytest.raises(FaunaUnknownStateError):
        wait_or_defer(
            task,
            {},
            hook,
            "1",
            current=LogRequest("1", "Cancelled"),
            poll_interval=60,
            timeout=60,
            submitted=True,
        )


@pytest.mark.parametrize(
    ("answered", "named"),
    [
        ({"time_start": "2026-10-31T00:00:00Z", "time_end": "2026-11-01T00:00:00Z"}, "time_start is"),
        ({"time_end": "2026-11-03T00:00:00Z"}, "time_end is"),
        ({"database": "us-std/Other"}, "database is 'us-std/Other', not 'us-std/Shop'"),
        ({"time_start": "yesterday"}, "time_start is 'yesterday'"),
    ],
    ids=["another-day", "longer", "another-database", "no-time"],
)
def test_a_submission_answered_with_another_export_than_asked_is_an_api_error(stub, hook, answered, named):
    """The file would be stored under the answer's day or database: another partition of the lake."""
    answer(stub[1], {"request_id": "r1", "state": "Pending", **SPEC, **answered})
    with pytest.raises(FaunaApiError, match="POST /api/v1/logs") as info:
        hook.request_logs(**SPEC)
    assert "is not the export asked for" in str(info.value) and named in str(info.value)


SAME_EXPORT = {
    # Another ISO form of the same instants, a region group beside the database, fields left out.
    "other-offset": (SPEC, {"time_start": "2026-11-01T01:00:00+01:00", "region_group": "us-std"}),
    # Airflow's manual intervals have microseconds; the vendor's samples answer milliseconds.
    "milliseconds": (
        {**SPEC, "time_start": "2026-11-01T00:36:53.638753Z"},
        {"time_start": "2026-11-01T00:36:53.638Z"},
    ),
    "no-offset": (SPEC, {"time_start": "2026-11-01T00:00:00", "time_end": "2026-11-02T00:00:00.000"}),
    # The vendor's samples carry a database field whatever the scope.
    "region-group-with-database": (
        {"time_start": SPEC["time_start"], "time_end": SPEC["time_end"], "region_group": "us-std"},
        {"database": "us-std", "region_group": "us-std"},
    ),
}


@pytest.mark.parametrize(("asked", "answered"), list(SAME_EXPORT.values()), ids=list(SAME_EXPORT))
def test_a_submission_answered_in_another_spelling_of_the_same_export_is_read(
    stub, hook, asked, answered
) -> None:
    body = {k: v for k, v in asked.items() if k != "region_group" or "database" not in asked}
    answer(stub[1], {"request_id": "r1", "state": "Pending", **body, **answered})
    assert hook.request_logs(**asked).request_id == "r1"
