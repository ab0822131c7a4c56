"""New presigned URLs, listing log requests and OAuth apps, with pagination."""

from __future__ import annotations

from typing import Any

import pytest
import requests
from emu_client import Api
from fauna_emulator import FaunaEmulator

# ------------------------------------------------------------------------------ new URL


def test_new_url_answers_creating_new_url_then_complete(api: Api) -> None:
    done = api.completed()
    fresh = api.call("POST", f"/api/v1/logs/{done['request_id']}/url", json={"version": done["version"]})
    assert fresh.status_code == 200
    body = fresh.json()
    assert body["state"] == "CreatingNewUrl"
    assert body["version"] == done["version"] + 1
    assert body["presigned_url"] != done["presigned_url"]
    assert body["presigned_url_expiration_time"] >= done["presigned_url_expiration_time"]
    after = api.status(done["request_id"])
    assert after["state"] == "Complete"
    assert after["version"] == body["version"] + 1
    assert after["presigned_url"] == body["presigned_url"]
    # Both URLs serve the file until they expire, as presigned URLs do.
    assert requests.get(done["presigned_url"], timeout=10).status_code == 200
    assert requests.get(after["presigned_url"], timeout=10).status_code == 200


@pytest.mark.parametrize("body", [None, {}])
def test_new_url_body_is_optional(api: Api, body: dict[str, Any] | None) -> None:
    done = api.completed()
    answer = api.call("POST", f"/api/v1/logs/{done['request_id']}/url", json=body)
    assert answer.status_code == 200
    assert answer.json()["state"] == "CreatingNewUrl"


def test_new_url_with_regiongroup_query_like_the_how_to(api: Api) -> None:
    done = api.completed()
    answer = api.call("POST", f"/api/v1/logs/{done['request_id']}/url", query="type=query&regionGroup=us-std")
    assert answer.status_code == 200


def test_new_url_with_a_stale_version_is_400(api: Api) -> None:
    done = api.completed()
    answer = api.call("POST", f"/api/v1/logs/{done['request_id']}/url", json={"version": 0})
    assert answer.status_code == 400
    assert "version" in answer.json()["reason"]


@pytest.mark.parametrize("body", [{"version": "2"}, {"version": True}, [2]])
def test_new_url_with_a_malformed_body_is_400(api: Api, body: Any) -> None:
    done = api.completed()
    assert api.call("POST", f"/api/v1/logs/{done['request_id']}/url", json=body).status_code == 400


def test_new_url_before_complete_is_400(start_emulator: Any) -> None:
    api = Api(start_emulator(completion_delay=30).url)
    request_id = api.submit_ok()["request_id"]
    answer = api.call("POST", f"/api/v1/logs/{request_id}/url")
    assert answer.status_code == 400
    assert "Complete" in answer.json()["reason"]


def test_new_url_for_a_failed_request_is_400(api: Api, emu: FaunaEmulator) -> None:
    emu.set_outcome("us-std", "Failed")
    request_id = api.submit_ok()["request_id"]
    assert api.status(request_id)["state"] == "Failed"
    assert api.call("POST", f"/api/v1/logs/{request_id}/url").status_code == 400


def test_new_url_for_an_unknown_request_is_404(api: Api) -> None:
    assert api.call("POST", "/api/v1/logs/123456789012/url").status_code == 404


# ------------------------------------------------------------------------------ list log requests


def _list(api: Api, body: dict[str, Any]) -> dict[str, Any]:
    answer = api.call("GET", "/api/v1/logs", json=body)
    assert answer.status_code == 200, answer.text
    return answer.json()


def test_list_pages_through_all_requests_in_submission_order(api: Api) -> None:
    ids = [api.submit_ok()["request_id"] for _ in range(7)]
    seen: list[str] = []
    token = None
    pages = 0
    while True:
        body: dict[str, Any] = {"states": ["Pending", "Requested", "Complete"], "max_results": 3}
        if token:
            body["next_token"] = token
        page = _list(api, body)
        pages += 1
        seen += [r["request_id"] for r in page["results"]]
        token = page["next_token"]
        if token is None:
            break
        assert isinstance(token, str)
    assert seen == ids
    assert pages == 3


def test_list_last_page_has_a_null_token_even_when_full(api: Api) -> None:
    for _ in range(2):
        api.submit_ok()
    first = _list(api, {"states": ["Complete"], "max_results": 1})
    second = _list(api, {"states": ["Complete"], "max_results": 1, "next_token": first["next_token"]})
    assert len(second["results"]) == 1
    assert second["next_token"] is None


def test_list_filters_by_state_and_shows_urls_of_complete_requests(api: Api, emu: FaunaEmulator) -> None:
    good = api.completed()["request_id"]
    emu.set_outcome("eu-std", "DoesNotExist")
    bad = api.submit_ok(database="eu-std/x")["request_id"]
    complete = _list(api, {"states": ["Complete"]})["results"]
    assert [r["request_id"] for r in complete] == [good]
    assert complete[0]["presigned_url"] and complete[0]["presigned_url_expiration_time"]
    missing = _list(api, {"states": ["DoesNotExist", "Failed"]})["results"]
    assert [r["request_id"] for r in missing] == [bad]
    assert _list(api, {"states": ["TimedOut"]}) == {"next_token": None, "results": []}


def test_list_accepts_query_parameters_without_a_body(api: Api) -> None:
    ids = [api.submit_ok()["request_id"] for _ in range(3)]
    first = api.call("GET", "/api/v1/logs", query="type=query&states=Complete,Pending&max_results=2").json()
    assert [r["request_id"] for r in first["results"]] == ids[:2]
    query = f"type=query&states=Complete&max_results=2&next_token={first['next_token']}"
    second = api.call("GET", "/api/v1/logs", query=query).json()
    assert [r["request_id"] for r in second["results"]] == ids[2:]
    assert second["next_token"] is None


@pytest.mark.parametrize(
    ("body", "query"),
    [
        ({}, "type=query"),
        ({"states": []}, "type=query"),
        ({"states": "Complete"}, "type=query"),
        ({"states": ["Done"]}, "type=query"),
        ({"states": ["Complete"], "max_results": 0}, "type=query"),
        ({"states": ["Complete"], "max_results": 101}, "type=query"),
        ({"states": ["Complete"], "max_results": "10"}, "type=query"),
        ({"states": ["Complete"], "next_token": "garbage!"}, "type=query"),
        ({"states": ["Complete"], "next_token": 5}, "type=query"),
        (None, "type=query"),
        (None, "type=query&states=Complete&max_results=abc"),
        (None, "type=query&states=,"),
    ],
)
def test_list_rejects_bad_input(api: Api, body: dict[str, Any] | None, query: str) -> None:
    answer = api.call("GET", "/api/v1/logs", query=query, json=body)
    assert answer.status_code == 400
    assert answer.json()["reason"]


def test_list_tokens_of_oauth_apps_are_refused(api: Api) -> None:
    apps_token = api.call("GET", "/api/v1/oauth/apps", query="max_results=1").json()["next_token"]
    answer = api.call("GET", "/api/v1/logs", json={"states": ["Complete"], "next_token": apps_token})
    assert answer.status_code == 400


# ------------------------------------------------------------------------------ OAuth apps


def test_oauth_apps_list_has_the_reference_shape(api: Api) -> None:
    answer = api.call("GET", "/api/v1/oauth/apps", query="")
    assert answer.status_code == 200
    body = answer.json()
    assert body["next_token"] is None
    assert len(body["results"]) >= 3
    for app in body["results"]:
        assert set(app) == {"id", "oauth2_client", "scope", "created_at"}
        assert all(set(s) == {"id", "display_name"} for s in app["scope"])


def test_oauth_apps_paginate(start_emulator: Any) -> None:
    seeds = [
        {"id": str(n), "oauth2_client": f"c{n}", "scope": [], "created_at": "2024-01-01T00:00:00Z"}
        for n in range(1, 6)
    ]
    api = Api(start_emulator(oauth_apps=seeds).url)
    seen, token = [], None
    while True:
        query = "max_results=2" + (f"&next_token={token}" if token else "")
        page = api.call("GET", "/api/v1/oauth/apps", query=query).json()
        seen += [a["id"] for a in page["results"]]
        token = page["next_token"]
        if token is None:
            break
    assert seen == ["1", "2", "3", "4", "5"]


@pytest.mark.parametrize(
    "query", ["max_results=0", "max_results=101", "max_results=x", "next_token=%%%", "type=other"]
)
def test_oauth_apps_list_rejects_bad_input(api: Api, query: str) -> None:
    assert api.call("GET", "/api/v1/oauth/apps", query=query).status_code == 400


def test_delete_oauth_app_then_404(api: Api) -> None:
    first = api.call("GET", "/api/v1/oauth/apps", query="").json()["results"][0]["id"]
    deleted = api.call("DELETE", f"/api/v1/oauth/apps/{first}", query="")
    assert deleted.status_code == 204
    assert deleted.content == b""
    remaining = [a["id"] for a in api.call("GET", "/api/v1/oauth/apps", query="").json()["results"]]
    assert first not in remaining
    again = api.call("DELETE", f"/api/v1/oauth/apps/{first}", query="")
    assert again.status_code == 404
    assert again.json()["reason"]


def test_oauth_endpoints_need_a_key(emu: FaunaEmulator) -> None:
    assert requests.get(f"{emu.url}/api/v1/oauth/apps", timeout=10).status_code == 401
    assert requests.delete(f"{emu.url}/api/v1/oauth/apps/12311231", timeout=10).status_code == 401


def test_bad_oauth_seed_is_refused() -> None:
    with pytest.raises(ValueError, match="id"):
        FaunaEmulator(keys={"k"}, oauth_apps=[{"oauth2_client": "no id"}])
