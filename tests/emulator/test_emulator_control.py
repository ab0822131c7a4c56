"""The ``/_emulator`` control endpoints and the Python API's bookkeeping."""

from __future__ import annotations

import gzip
from typing import TYPE_CHECKING, Any

import requests
from emu_client import Api
from fauna_emulator import FaultConfig, RecordedCall

if TYPE_CHECKING:
    from fauna_emulator import FaunaEmulator


def _control(emu: FaunaEmulator, method: str, path: str, **kwargs: Any) -> requests.Response:
    return requests.request(method, f"{emu.url}/_emulator/{path}", timeout=10, **kwargs)


def test_health_needs_no_key(emu: FaunaEmulator) -> None:
    answer = _control(emu, "GET", "health")
    assert answer.status_code == 200
    assert answer.json()["status"] == "ok"
    assert answer.json()["url"] == emu.url


def test_control_calls_are_not_recorded(emu: FaunaEmulator) -> None:
    _control(emu, "GET", "health")
    _control(emu, "GET", "calls")
    assert emu.calls == []


def test_calls_endpoint_lists_and_filters_recorded_calls(api: Api, emu: FaunaEmulator) -> None:
    request_id = api.submit_ok()["request_id"]
    api.status(request_id)
    api.call("GET", "/api/v1/oauth/apps")
    listed = _control(emu, "GET", "calls").json()
    assert [c["path"] for c in listed] == ["/api/v1/logs", f"/api/v1/logs/{request_id}", "/api/v1/oauth/apps"]
    assert [RecordedCall.from_dict(c) for c in listed] == emu.calls
    only_posts = _control(emu, "GET", "calls", params={"method": "post"}).json()
    assert [c["method"] for c in only_posts] == ["POST"]
    logs = _control(emu, "GET", "calls", params={"path_prefix": "/api/v1/logs/"}).json()
    assert [c["path"] for c in logs] == [f"/api/v1/logs/{request_id}"]


def test_api_calls_helper_filters_like_the_endpoint(api: Api, emu: FaunaEmulator) -> None:
    url = api.completed()["presigned_url"]
    requests.get(url, timeout=10)
    assert [c.method for c in emu.api_calls()] == ["POST", "GET"]
    assert len(emu.api_calls(method="get", path_prefix="/api/v1/logs/")) == 1
    assert len(emu.calls) == 3
    assert len(emu.download_calls()) == 1
    call = emu.api_calls(method="POST")[0]
    assert call.json["database"] == "us-std/ECommerce"
    assert call.query == {"type": "query"}
    assert call.status == 200 and call.fault is None and call.time > 0


def test_reset_endpoint_forgets_calls_and_optionally_state(api: Api, emu: FaunaEmulator) -> None:
    api.submit_ok()
    apps = api.call("GET", "/api/v1/oauth/apps").json()["results"]
    api.call("DELETE", f"/api/v1/oauth/apps/{apps[0]['id']}")
    assert _control(emu, "POST", "reset").json() == {"reset": ["calls"]}
    assert emu.calls == []
    assert len(emu.log_requests) == 1
    assert _control(emu, "POST", "reset", json={"state": True}).json() == {"reset": ["calls", "state"]}
    assert emu.log_requests == []
    assert len(api.call("GET", "/api/v1/oauth/apps").json()["results"]) == len(apps)


def test_faults_endpoint_replaces_the_faults(api: Api, emu: FaunaEmulator) -> None:
    answer = _control(emu, "PUT", "faults", json={"rate_limit_ratio": 1.0, "retry_after": 3})
    assert answer.status_code == 200
    assert answer.json()["rate_limit_ratio"] == 1.0
    assert emu.faults == FaultConfig(rate_limit_ratio=1.0, retry_after=3)
    assert _control(emu, "GET", "faults").json() == FaultConfig(rate_limit_ratio=1.0, retry_after=3).to_dict()
    assert api.submit().status_code == 429
    _control(emu, "PUT", "faults", json={})
    assert api.submit().status_code == 200


def test_faults_endpoint_rejects_bad_configs(emu: FaunaEmulator) -> None:
    for body in ({"rate_limit_ratio": 2}, {"no_such_fault": 1}, [1]):
        answer = _control(emu, "PUT", "faults", json=body)
        assert answer.status_code == 400
        assert answer.json()["reason"]
    assert _control(emu, "PUT", "faults", data=b"{oops").status_code == 400
    assert emu.faults == FaultConfig()


def test_outcomes_endpoint_forces_and_clears(api: Api, emu: FaunaEmulator) -> None:
    answer = _control(emu, "POST", "outcomes", json={"scope": "us-std/ECommerce", "state": "TimedOut"})
    assert answer.json() == {"scope": "us-std/ECommerce", "state": "TimedOut", "count": None}
    assert api.status(api.submit_ok()["request_id"])["state"] == "TimedOut"
    _control(emu, "POST", "outcomes", json={"scope": "us-std/ECommerce", "state": None})
    assert api.status(api.submit_ok()["request_id"])["state"] == "Complete"
    assert _control(emu, "POST", "outcomes", json={"scope": "mars", "state": "Failed"}).status_code == 400
    assert _control(emu, "POST", "outcomes", json={"state": "Failed"}).status_code == 400


def test_keys_endpoint_adds_and_revokes(api: Api, emu: FaunaEmulator) -> None:
    _control(emu, "POST", "keys", json={"add": ["fnacapi_other"]})
    assert Api(emu.url, "fnacapi_other").call("GET", "/api/v1/oauth/apps").status_code == 200
    _control(emu, "POST", "keys", json={"revoke": ["fnacapi_other"]})
    assert Api(emu.url, "fnacapi_other").call("GET", "/api/v1/oauth/apps").status_code == 401
    assert _control(emu, "POST", "keys", json={"add": "fnacapi_x"}).status_code == 400


def test_requests_endpoint_matches_log_requests(api: Api, emu: FaunaEmulator) -> None:
    api.completed()
    assert _control(emu, "GET", "requests").json() == emu.log_requests


def test_log_requests_before_start_and_stop_is_idempotent() -> None:
    from fauna_emulator import FaunaEmulator

    emu = FaunaEmulator(keys={"k"})
    emu.set_outcome("us-std", "Failed")  # configurable before start
    assert emu.log_requests == []
    emu.stop()  # never started: nothing to do
    with emu:
        assert requests.get(f"{emu.url}/_emulator/health", timeout=10).status_code == 200
    emu.stop()


def test_request_page_shows_one_request_or_404(api: Api, emu: FaunaEmulator) -> None:
    done = api.completed()
    page = _control(emu, "GET", f"requests/{done['request_id']}")
    assert page.status_code == 200
    assert page.json() == done
    missing = _control(emu, "GET", "requests/000000000000")
    assert missing.status_code == 404
    assert missing.json()["reason"]
    assert emu.calls[-1].path == f"/api/v1/logs/{done['request_id']}"  # the page is not recorded


def test_timing_is_adjustable_while_serving_and_reset_restores_it(start_emulator: Any) -> None:
    emu = start_emulator(completion_delay=0.0, url_ttl=3600)
    api = Api(emu.url)
    emu.completion_delay = 30
    request_id = api.submit_ok()["request_id"]
    assert api.status(request_id)["state"] == "Pending"
    emu.completion_delay = 0  # requests in progress follow the new delay
    assert api.status(request_id)["state"] == "Complete"
    emu.records_per_file = 7
    seven = api.completed(database="us-std/Seven")["request_id"]
    assert gzip.decompress(emu.file_bytes(seven)).count(b"\n") == 7
    emu.url_ttl = 100
    emu.reset()
    assert (emu.completion_delay, emu.url_ttl, emu.records_per_file) == (0.0, 3600, 200)
