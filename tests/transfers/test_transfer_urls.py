"""The one path to a usable presigned URL: asked for when a Complete request has none, waited for while CreatingNewUrl."""

from __future__ import annotations

import time
import types
from typing import Any

import pytest
from transfer_stores import DEFAULT_KEY, Store, complete_request

from airflow_provider_fauna.log_requests import LogRequest
from airflow_provider_fauna.transfers import download
from airflow_provider_fauna.transfers.base import TRANSFER_XCOM_KEY
from airflow_provider_fauna.transfers.download import FaunaTransferError, usable_url

URL = "https://files.example/log.gz?X-Signature=secret"


def test_a_complete_request_without_a_url_gets_one_asked_for(
    fauna: Any, store: Store, task_context: dict[str, Any]
) -> None:
    fauna.status_urls = False  # as the reference's own GET sample: Complete, no presigned_url
    request = complete_request()
    assert request.is_complete and not request.presigned_url
    operator = store.operator(request_id=request.request_id, deferrable=False, poll_interval=0.2)

    operator.execute(task_context)

    assert store.get(DEFAULT_KEY).data == fauna.file_bytes(request.request_id)
    assert len(fauna.api_calls("POST", f"/api/v1/logs/{request.request_id}/url")) == 1
    assert task_context["ti"].xcoms[TRANSFER_XCOM_KEY]["url_refreshes"] == 0


class ScriptedHook:
    """Answers status reads and new-URL calls from scripts, and records which were made."""

    def __init__(self, reads: list[LogRequest], new_urls: list[LogRequest] | None = None) -> None:
        self.reads, self.new_urls, self.calls = list(reads), list(new_urls or []), []

    def get_log_request(self, request_id: str) -> LogRequest:
        self.calls.append("GET")
        return self.reads.pop(0)

    def create_log_file_url(self, request_id: str, version: int | None = None) -> LogRequest:
        self.calls.append("POST")
        return self.new_urls.pop(0)


def request(state: str, url: str | None = None) -> LogRequest:
    return LogRequest(request_id="r1", state=state, presigned_url=url)


class NullLog:
    def info(self, *args: Any, **kwargs: Any) -> None:
        pass

    def warning(self, *args: Any, **kwargs: Any) -> None:
        pass


@pytest.fixture
def no_sleep(monkeypatch: pytest.MonkeyPatch) -> None:
    """The download module's clock, without its waits (the time module itself stays as it is)."""
    clock = types.SimpleNamespace(monotonic=time.monotonic, time=time.time, sleep=lambda seconds: None)
    monkeypatch.setattr(download, "time", clock)


def test_a_status_read_while_another_transfer_renews_the_url_waits_for_it(no_sleep: None) -> None:
    # A deferrable transfer resumes with the event's copy (no URL) and reads CreatingNewUrl.
    hook = ScriptedHook([request("CreatingNewUrl"), request("CreatingNewUrl"), request("Complete", URL)])
    got = usable_url(hook, request("Complete"), NullLog())  # type: ignore[arg-type]
    assert got.presigned_url == URL and got.is_complete
    assert hook.calls == ["GET", "GET", "GET"]


def test_a_status_read_without_the_url_takes_the_one_the_new_url_answer_gave(no_sleep: None) -> None:
    hook = ScriptedHook([request("Complete"), request("Complete")], new_urls=[request("CreatingNewUrl", URL)])
    got = usable_url(hook, request("Complete"), NullLog())  # type: ignore[arg-type]
    assert got.presigned_url == URL and got.is_complete
    assert hook.calls == ["GET", "POST", "GET"]


def test_a_request_that_ends_otherwise_has_no_file(no_sleep: None) -> None:
    hook = ScriptedHook([request("CreatingNewUrl"), request("Failed")])
    with pytest.raises(FaunaTransferError, match="is Failed and has no file"):
        usable_url(hook, request("Complete"), NullLog())  # type: ignore[arg-type]


def test_a_usable_url_in_hand_costs_no_call() -> None:
    hook = ScriptedHook([])
    assert usable_url(hook, request("Complete", URL), NullLog()).presigned_url == URL  # type: ignore[arg-type]
    assert hook.calls == []
