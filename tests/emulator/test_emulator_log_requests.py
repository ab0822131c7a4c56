"""Submit, status and the state machine of log requests, over real HTTP."""

from __future__ import annotations

import time
import uuid
from typing import TYPE_CHECKING, Any

import pytest
from emu_client import KEY, Api

if TYPE_CHECKING:
    from fauna_emulator import FaunaEmulator

LOG_FIELDS = {"request_id", "region_group", "state", "time_start", "time_end", "updated_at", "version"}


def test_submit_database_answers_pending_object(api: Api, emu: FaunaEmulator) -> None:
    answer = api.submit()
    assert answer.status_code == 200
    assert answer.headers["Content-Type"].startswith("application/json")
    body = answer.json()
    assert set(body) >= LOG_FIELDS
    assert body["state"] == "Pending"
    assert body["version"] == 0
    assert body["database"] == "us-std/ECommerce"
    assert body["region_group"] == "us-std"
    assert body["time_start"] == "2099-07-10T07:46:05Z"
    assert body["time_end"] == "2099-07-11T07:46:05Z"
    assert body["request_id"].isdigit() and len(body["request_id"]) == 12
    assert body["updated_at"].endswith("Z")
    assert "presigned_url" not in body
    assert emu.log_requests[0]["request_id"] == body["request_id"]


@pytest.mark.parametrize("field", ["region_group", "regionGroup"])
def test_submit_region_group_export_has_no_database(api: Api, field: str) -> None:
    body = api.submit_ok(database=None, **{field: "eu-std"})
    assert "database" not in body
    assert body["region_group"] == "eu-std"


def test_times_are_normalized_to_utc(api: Api) -> None:
    body = api.submit_ok(time_start="2099-07-10T09:46:05.828+02:00", time_end="2099-07-11T07:46:05.000001Z")
    assert body["time_start"] == "2099-07-10T07:46:05.828Z"
    assert body["time_end"] == "2099-07-11T07:46:05.000001Z"


def test_agreeing_database_and_region_group_are_accepted(api: Api) -> None:
    body = api.submit_ok(database="classic/parent-db/child-db", region_group="classic")
    assert body["database"] == "classic/parent-db/child-db"
    assert body["region_group"] == "classic"


def test_ninety_days_exactly_is_accepted_and_the_end_may_be_in_the_future(api: Api) -> None:
    api.submit_ok(time_start="2099-01-01T00:00:00Z", time_end="2099-04-01T00:00:00Z")


@pytest.mark.parametrize(
    ("overrides", "reason_part"),
    [
        ({"database": None}, "database or region_group"),
        ({"database": "ECommerce"}, "region group"),
        ({"database": "us-std"}, "must name a database"),
        ({"database": "us-std/"}, "must name a database"),
        ({"database": "us-std//orders"}, "must name a database"),
        ({"database": "ap-std/orders"}, "region group"),
        ({"database": 7}, "string"),
        ({"database": None, "region_group": "mars"}, "region_group"),
        ({"region_group": "eu-std"}, "does not match"),
        ({"database": None, "region_group": "us-std", "regionGroup": "eu-std"}, "disagree"),
        ({"time_start": None}, "time_start is required"),
        ({"time_end": None}, "time_end is required"),
        ({"time_start": "2099-07-10T07:46:05"}, "offset"),
        ({"time_end": "2099-07-11"}, "ISO 8601"),
        ({"time_start": "yesterday"}, "ISO 8601"),
        ({"time_start": 1720597565}, "ISO 8601"),
        ({"time_end": "2099-07-10T07:46:05Z"}, "after"),
        ({"time_end": "2099-07-09T07:46:05Z"}, "after"),
        ({"time_start": "2099-01-01T00:00:00Z", "time_end": "2099-04-01T00:00:01Z"}, "90 days"),
        ({"idempotency_token": "not-a-uuid"}, "UUID"),
        ({"idempotency_token": 12}, "UUID"),
    ],
)
def test_invalid_submissions_are_400_with_a_reason(
    api: Api, overrides: dict[str, Any], reason_part: str
) -> None:
    answer = api.submit(**overrides)
    assert answer.status_code == 400
    assert reason_part in answer.json()["reason"]


@pytest.mark.parametrize("body", [b"{not json", b"[1, 2]", b'"text"'])
def test_a_body_that_is_not_a_json_object_is_400(api: Api, body: bytes) -> None:
    answer = api.call("POST", "/api/v1/logs", data=body, headers={"Content-Type": "application/json"})
    assert answer.status_code == 400
    assert "reason" in answer.json()


def test_missing_body_is_400(api: Api) -> None:
    assert api.call("POST", "/api/v1/logs").status_code == 400


@pytest.mark.parametrize("query", ["", "type=audit", "type="])
def test_type_query_is_required_on_log_endpoints(api: Api, query: str) -> None:
    answer = api.call("POST", "/api/v1/logs", query=query, json={})
    assert answer.status_code == 400
    assert "type" in answer.json()["reason"]


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {KEY}"}, {"Authorization": "Bearer "}],
)
def test_bad_or_missing_key_is_401(emu: FaunaEmulator, headers: dict[str, str]) -> None:
    api = Api(emu.url)
    del api.session.headers["Authorization"]
    answer = api.call("GET", "/api/v1/logs/123", headers=headers)
    assert answer.status_code == 401
    assert answer.json()["reason"]
    assert answer.headers["WWW-Authenticate"] == "Bearer"


def test_revoked_key_is_401_from_then_on_and_added_keys_work(api: Api, emu: FaunaEmulator) -> None:
    request_id = api.submit_ok()["request_id"]
    emu.add_key("fnacapi_second")
    assert Api(emu.url, "fnacapi_second").status(request_id)["request_id"] == request_id  # one account
    emu.revoke_key(KEY)
    assert api.call("GET", f"/api/v1/logs/{request_id}").status_code == 401


def test_key_with_ttl_expires(emu: FaunaEmulator) -> None:
    emu.add_key("fnacapi_short", ttl=5.0)  # a loaded machine's first call still comes in time
    api = Api(emu.url, "fnacapi_short")
    assert api.call("GET", "/api/v1/oauth/apps").status_code == 200
    time.sleep(5.1)
    assert api.call("GET", "/api/v1/oauth/apps").status_code == 401


def test_recorded_calls_hold_a_key_fingerprint_never_the_key(api: Api, emu: FaunaEmulator) -> None:
    api.submit_ok()
    (call,) = emu.api_calls()
    assert call.key_fingerprint is not None and len(call.key_fingerprint) == 8
    assert KEY not in repr(emu.calls)


def test_unknown_request_is_404(api: Api) -> None:
    answer = api.call("GET", "/api/v1/logs/999999999999")
    assert answer.status_code == 404
    assert "not found" in answer.json()["reason"]


def test_unknown_api_path_is_a_json_404(api: Api) -> None:
    answer = api.call("GET", "/api/v1/nothing")
    assert answer.status_code == 404
    assert answer.json() == {"reason": "Not Found"}


def test_wrong_method_is_a_json_405(api: Api) -> None:
    answer = api.call("PUT", "/api/v1/logs")
    assert answer.status_code == 405
    assert "reason" in answer.json()
    assert "POST" in answer.headers["Allow"]


def test_region_group_query_param_is_accepted_or_400(api: Api) -> None:
    request_id = api.submit_ok()["request_id"]
    assert (
        api.call("GET", f"/api/v1/logs/{request_id}", query="type=query&regionGroup=us-std").status_code
        == 200
    )
    # A region group other than the request's is ignored: the how-to sends it, nothing says it must match.
    assert (
        api.call("GET", f"/api/v1/logs/{request_id}", query="type=query&regionGroup=eu-std").status_code
        == 200
    )
    bad = api.call("GET", f"/api/v1/logs/{request_id}", query="type=query&regionGroup=moon")
    assert bad.status_code == 400
    assert "regionGroup" in bad.json()["reason"]


def test_zero_delay_completes_on_the_first_read_at_version_2(api: Api) -> None:
    submitted = api.submit_ok()
    status = api.status(submitted["request_id"])
    assert status["state"] == "Complete"
    assert status["version"] == 2
    assert status["presigned_url"].startswith(api.base + "/_files/")
    assert status["presigned_url_expiration_time"].endswith("Z")


def test_state_machine_follows_the_completion_delay(start_emulator: Any) -> None:
    emu = start_emulator(completion_delay=1.2)
    api = Api(emu.url)
    real_clock, start = emu._account.clock, time.time()
    # A clock the test moves, so that a slow machine cannot skip a state between two reads.
    emu._account.clock = lambda: start
    request_id = api.submit_ok()["request_id"]
    seen = [api.status(request_id)]
    emu._account.clock = lambda: start + 0.7
    seen.append(api.status(request_id))
    resumed = real_clock()
    emu._account.clock = lambda: start + 1.3 + (real_clock() - resumed)  # past d, and running again
    while seen[-1]["state"] != "Complete":  # the file may still be building
        time.sleep(0.05)
        seen.append(api.status(request_id))
    states = [s["state"] for s in seen]
    assert states[0] == "Pending"
    assert "Requested" in states
    assert states == sorted(states, key=["Pending", "Requested", "Complete"].index)
    versions = {s["state"]: s["version"] for s in seen}
    assert versions == {"Pending": 0, "Requested": 1, "Complete": 2}
    updated = {s["state"]: s["updated_at"] for s in seen}
    assert updated["Pending"] < updated["Requested"] < updated["Complete"]


def test_idempotency_token_returns_the_same_request(api: Api, emu: FaunaEmulator) -> None:
    token = str(uuid.uuid4())
    first = api.submit_ok(idempotency_token=token)
    again = api.submit(idempotency_token=token.upper())
    assert again.status_code == 200
    assert again.json()["request_id"] == first["request_id"]
    assert again.json()["state"] == "Complete"  # the request as it is now
    other = api.submit_ok(idempotency_token=str(uuid.uuid4()))
    assert other["request_id"] != first["request_id"]
    assert len(emu.log_requests) == 2


def test_idempotency_token_expires_after_24_hours(api: Api, emu: FaunaEmulator) -> None:
    token = str(uuid.uuid4())
    first = api.submit_ok(idempotency_token=token)
    real_clock = emu._account.clock
    emu._account.clock = lambda: real_clock() + 24 * 3600 + 1
    try:
        later = api.submit_ok(idempotency_token=token)
    finally:
        emu._account.clock = real_clock
    assert later["request_id"] != first["request_id"]


def test_without_token_every_submit_is_a_new_request(api: Api, emu: FaunaEmulator) -> None:
    ids = [api.submit_ok()["request_id"] for _ in range(3)]
    assert len(set(ids)) == 3
    assert [r["request_id"] for r in emu.log_requests] == ids


@pytest.mark.parametrize("state", ["DoesNotExist", "Failed", "TimedOut"])
def test_forced_outcome_ends_without_url(api: Api, emu: FaunaEmulator, state: str) -> None:
    emu.set_outcome("us-std/ECommerce", state)
    final = api.status(api.submit_ok()["request_id"])
    assert final["state"] == state
    assert final["version"] == 2
    assert "presigned_url" not in final


def test_forced_outcome_covers_child_databases_and_the_most_specific_scope_wins(
    api: Api, emu: FaunaEmulator
) -> None:
    emu.set_outcome("us-std", "TimedOut")
    emu.set_outcome("us-std/production", "DoesNotExist")
    emu.set_outcome("us-std/production/customers", "Complete")
    assert api.completed(database="us-std/production/customers")["state"] == "Complete"
    assert (
        api.status(api.submit_ok(database="us-std/production/orders")["request_id"])["state"]
        == "DoesNotExist"
    )
    assert api.status(api.submit_ok(database="us-std/other")["request_id"])["state"] == "TimedOut"
    assert (
        api.status(api.submit_ok(database=None, region_group="us-std")["request_id"])["state"] == "TimedOut"
    )
    assert api.status(api.submit_ok(database="eu-std/other")["request_id"])["state"] == "Complete"
    emu.set_outcome("us-std", None)
    assert api.status(api.submit_ok(database="us-std/other")["request_id"])["state"] == "Complete"


def test_outcome_forced_while_in_progress_applies_at_the_end(start_emulator: Any) -> None:
    emu = start_emulator(completion_delay=0.3)
    api = Api(emu.url)
    request_id = api.submit_ok()["request_id"]
    emu.set_outcome("us-std/ECommerce", "Failed")
    assert api.wait_for(request_id, ("Complete", "Failed"))["state"] == "Failed"


@pytest.mark.parametrize(
    ("scope", "state", "message"),
    [
        ("nowhere", "Failed", "region group"),
        ("us-std/db", "Running", "state must be one of"),
        ("us-std/", "Failed", "must name a database"),
    ],
)
def test_set_outcome_rejects_bad_scope_or_state(
    emu: FaunaEmulator, scope: str, state: str, message: str
) -> None:
    with pytest.raises(ValueError, match=message):
        emu.set_outcome(scope, state)


def test_reset_returns_to_the_started_state(api: Api, emu: FaunaEmulator) -> None:
    from fauna_emulator import FaultConfig

    emu.set_outcome("us-std", "Failed")
    emu.faults = FaultConfig(slow_ratio=1.0, slow_seconds=0.01)
    emu.add_key("fnacapi_extra")
    emu.revoke_key(KEY)
    emu.completion_delay = 5
    Api(emu.url, "fnacapi_extra").submit_ok()
    emu.reset()
    assert emu.calls == []
    assert emu.log_requests == []
    assert emu.faults == FaultConfig()
    assert emu.completion_delay == 0
    assert Api(emu.url, "fnacapi_extra").call("GET", "/api/v1/oauth/apps").status_code == 401
    assert api.completed()["state"] == "Complete"  # the constructor's key works, no outcome forced
    assert len(emu.log_requests) == 1
    emu.reset_state()
    assert emu.log_requests == []


def test_outcome_pinned_for_a_count_of_requests_only():
    """``set_outcome(..., count=1)``: the first export fails, the next one completes."""
    import requests
    from fauna_emulator import FaunaEmulator

    with FaunaEmulator(keys={"k"}) as emu:
        emu.set_outcome("us-std/Flaky", "Failed", count=1)
        headers = {"Authorization": "Bearer k"}
        states = []
        for day in (1, 2):
            body = {
                "database": "us-std/Flaky",
                "time_start": f"2026-11-0{day}T00:00:00Z",
                "time_end": f"2026-11-0{day + 1}T00:00:00Z",
            }
            made = requests.post(f"{emu.url}/api/v1/logs?type=query", json=body, headers=headers, timeout=10)
            request_id = made.json()["request_id"]
            status = requests.get(
                f"{emu.url}/api/v1/logs/{request_id}?type=query", headers=headers, timeout=10
            )
            states.append(status.json()["state"])
        assert states == ["Failed", "Complete"]
