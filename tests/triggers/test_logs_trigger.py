"""FaunaLogsTrigger against the emulator: events, transient faults, restarts, deadlines."""

from __future__ import annotations

import asyncio
import logging
import threading
import time
from datetime import datetime, timedelta, timezone
from types import SimpleNamespace

import pendulum
import pytest
from fauna_emulator import FaultConfig
from harness import gaps, hold_until, requests_read, run_until_killed

from airflow_provider_fauna.hooks.fauna import FaunaAccountHook
from airflow_provider_fauna.triggers.logs import FaunaLogsTrigger, seconds_until
from airflow_provider_fauna.waiting import wait_deadline

DAY = {
    "time_start": pendulum.datetime(2026, 11, 1, tz="UTC"),
    "time_end": pendulum.datetime(2026, 11, 2, tz="UTC"),
}


def submit(conn_id: str, database: str = "us-std/ECommerce") -> str:
    return FaunaAccountHook(fauna_conn_id=conn_id).request_logs(database=database, **DAY).request_id


async def first_event(trigger: FaunaLogsTrigger, limit: float = 20.0):
    async def consume():
        async for event in trigger.run():
            return event.payload
        return None

    return await asyncio.wait_for(consume(), limit)


def status_calls(emulator, request_id: str) -> list:
    return [c for c in emulator.calls if c.method == "GET" and c.path == f"/api/v1/logs/{request_id}"]


def test_serialize_mirrors_init():
    trigger = FaunaLogsTrigger(
        request_id="42", fauna_conn_id="c", end_time=123.5, poll_interval=7.0, first_poll_at=100.25
    )
    path, kwargs = trigger.serialize()
    assert path == "airflow_provider_fauna.triggers.logs.FaunaLogsTrigger"
    assert kwargs == {
        "request_id": "42",
        "fauna_conn_id": "c",
        "end_time": 123.5,
        "poll_interval": 7.0,
        "first_poll_at": 100.25,
    }
    assert all(isinstance(v, str | int | float | type(None)) for v in kwargs.values())
    rebuilt = FaunaLogsTrigger(**kwargs)
    assert rebuilt.serialize() == trigger.serialize()


def test_sleeps_never_pass_the_deadline_nor_go_negative():
    now = time.time()
    assert seconds_until(None, None) == 0.0
    assert seconds_until(now - 50, None) == 0.0, "a poll already due (a late rebuild) is made at once"
    assert 9 < seconds_until(now + 10, None) <= 10
    assert 2 < seconds_until(now + 10, now + 3) <= 3, "the last check comes at the deadline, not after it"
    assert seconds_until(now + 10, now - 1) == 0.0


def test_the_deadline_is_the_timeout_or_the_execution_timeout_counted_from_the_start():
    started = datetime.now(timezone.utc) - timedelta(seconds=100)
    context = {"ti": SimpleNamespace(start_date=started)}
    assert wait_deadline(context, None, None) is None
    by_task = wait_deadline(context, None, timedelta(seconds=300))
    assert by_task == pytest.approx(started.timestamp() + 300 - 5, abs=0.01), (
        "a few seconds before Airflow's own"
    )
    assert wait_deadline(context, 60.0, timedelta(seconds=300)) == pytest.approx(time.time() + 60, abs=1)
    assert wait_deadline({"ti": SimpleNamespace(start_date=None)}, None, timedelta(seconds=300)) == (
        pytest.approx(time.time() + 295, abs=1)
    )


async def test_polls_once_per_interval_from_first_poll_at(fauna_connection, emulator):
    emulator.completion_delay = 2.0
    request_id = submit(fauna_connection)
    first_poll_at = time.time() + 0.8
    payload = await first_event(
        FaunaLogsTrigger(request_id, fauna_connection, poll_interval=0.6, first_poll_at=first_poll_at)
    )

    assert payload["status"] == "terminal"
    calls = status_calls(emulator, request_id)
    assert calls[0].time >= first_poll_at - 0.02, "the trigger asked before its first_poll_at"
    assert min(gaps(calls)) >= 0.6 - 0.02, f"polls closer than poll_interval: {gaps(calls)}"
    # Done after 2 s: polls at about 0.8, 1.4, 2.0 and perhaps 2.6 (the file is built at 2 s).
    assert len(calls) <= 4


async def test_a_trigger_rebuilt_after_its_first_poll_time_polls_at_once(fauna_connection, emulator):
    request_id = submit(fauna_connection)
    rebuilt = FaunaLogsTrigger(
        request_id, fauna_connection, poll_interval=30.0, first_poll_at=time.time() - 120
    )
    payload = await first_event(rebuilt, limit=5.0)
    assert payload["status"] == "terminal"
    assert len(status_calls(emulator, request_id)) == 1


async def test_complete_request_fires_terminal_event_without_signature(fauna_connection, emulator):
    with hold_until(emulator, requests_read(emulator)):  # seen in progress once, then complete
        request_id = submit(fauna_connection)
        payload = await first_event(FaunaLogsTrigger(request_id, fauna_connection, poll_interval=0.5))

    assert payload["status"] == "terminal"
    assert payload["request"]["state"] == "Complete"
    assert payload["request"]["request_id"] == request_id
    assert "Signature" not in str(payload)
    assert len(status_calls(emulator, request_id)) >= 2


@pytest.mark.parametrize("state", ["Failed", "TimedOut", "DoesNotExist"])
async def test_other_terminal_states_fire_too(fauna_connection, emulator, state):
    emulator.set_outcome("us-std/Other", state)
    request_id = submit(fauna_connection, "us-std/Other")
    payload = await first_event(FaunaLogsTrigger(request_id, fauna_connection, poll_interval=0.2))
    assert payload["status"] == "terminal"
    assert payload["request"]["state"] == state


async def test_a_fault_storm_is_ridden_out(fauna_connection, emulator):
    request_id = submit(fauna_connection)
    emulator.faults = FaultConfig(rate_limit_ratio=0.4, server_error_ratio=0.3, drop_ratio=0.1, retry_after=0)
    with hold_until(emulator, lambda: any(c.fault for c in status_calls(emulator, request_id))):
        trigger = FaunaLogsTrigger(request_id, fauna_connection, poll_interval=0.2)
        payload = await first_event(trigger, limit=60)

    assert payload["status"] == "terminal"
    assert payload["request"]["state"] == "Complete"
    faults = [c.fault for c in status_calls(emulator, request_id) if c.fault]
    assert faults, "no fault was injected, so nothing was ridden out"


async def test_unknown_request_is_an_error_event(fauna_connection, emulator):
    payload = await first_event(FaunaLogsTrigger("777777", fauna_connection, poll_interval=0.2))
    assert payload["status"] == "error"
    assert payload["error_type"] == "FaunaNotFoundError"
    assert len(status_calls(emulator, "777777")) == 1


async def test_deadline_gives_timeout_after_a_last_check(fauna_connection, emulator):
    emulator.completion_delay = 60
    request_id = submit(fauna_connection)
    started = time.time()
    payload = await first_event(
        FaunaLogsTrigger(request_id, fauna_connection, end_time=started + 1.5, poll_interval=0.4)
    )
    assert payload["status"] == "timeout"
    assert request_id in payload["message"]
    last = status_calls(emulator, request_id)[-1]
    assert last.time >= started + 1.5 - 0.05, "the last status check did not happen at the deadline"


async def test_restart_mid_poll_resumes_on_the_same_request(fauna_connection, emulator):
    killed = threading.Event()
    with hold_until(emulator, killed.is_set):  # in progress until the first trigger is gone
        request_id = submit(fauna_connection)
        trigger = FaunaLogsTrigger(request_id, fauna_connection, poll_interval=0.3)
        early = await run_until_killed(trigger, lambda: bool(status_calls(emulator, request_id)))
        assert early is None, "the first trigger fired: nothing was restarted"
        polled_before = len(status_calls(emulator, request_id))
        assert polled_before >= 1
        killed.set()

        path, kwargs = trigger.serialize()
        assert path.endswith("FaunaLogsTrigger")
        payload = await first_event(FaunaLogsTrigger(**kwargs))

    assert payload["status"] == "terminal"
    assert payload["request"]["request_id"] == request_id
    assert len(status_calls(emulator, request_id)) > polled_before
    assert [c for c in emulator.calls if c.method == "POST"] and all(
        c.path == "/api/v1/logs" for c in emulator.calls if c.method == "POST"
    )
    assert len([c for c in emulator.calls if c.method == "POST"]) == 1


async def test_logs_a_state_once_not_on_every_poll(fauna_connection, emulator, caplog):
    with hold_until(emulator, requests_read(emulator, 8)):
        request_id = submit(fauna_connection)
        trigger = FaunaLogsTrigger(request_id, fauna_connection, poll_interval=0.2)
        trigger._log = logging.getLogger("test.fauna_trigger")  # stdlib, so caplog sees it on both lines
        with caplog.at_level("INFO", logger="test.fauna_trigger"):
            payload = await first_event(trigger)

    assert payload["status"] == "terminal"
    lines = [r.getMessage() for r in caplog.records if f"Fauna log request {request_id} is" in r.getMessage()]
    assert len(status_calls(emulator, request_id)) >= 8, "too few polls to show anything"
    assert lines, "the trigger never said what state the request was in"
    assert sorted(lines) == sorted(set(lines)), f"a state was logged more than once: {lines}"


async def test_a_deadline_before_the_first_poll_still_gets_its_last_check(fauna_connection, emulator):
    emulator.completion_delay = 60
    request_id = submit(fauna_connection)
    started = time.time()
    trigger = FaunaLogsTrigger(
        request_id, fauna_connection, end_time=started + 0.8, poll_interval=30.0, first_poll_at=started + 30
    )
    payload = await first_event(trigger, limit=10.0)

    assert payload["status"] == "timeout"
    (last,) = status_calls(emulator, request_id)
    assert started + 0.8 - 0.05 <= last.time < started + 30, "the one check was not made at the deadline"


def test_the_blocking_wait_keeps_the_same_schedule(fauna_connection, emulator):
    from airflow_provider_fauna.waiting import poll_until_terminal

    emulator.completion_delay = 1.5
    request_id = submit(fauna_connection)
    first_poll_at = time.time() + 0.7
    request = poll_until_terminal(
        FaunaAccountHook(fauna_connection),
        request_id,
        poll_interval=0.5,
        deadline=None,
        log=logging.getLogger("test.blocking_wait"),
        first_poll_at=first_poll_at,
    )

    assert request.state == "Complete"
    calls = status_calls(emulator, request_id)
    assert calls[0].time >= first_poll_at - 0.02, "the blocking wait asked before first_poll_at"
    assert min(gaps(calls), default=0.5) >= 0.5 - 0.02, f"polls closer than poll_interval: {gaps(calls)}"
