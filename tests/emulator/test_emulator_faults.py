"""Every fault knob, as a client sees it and as the recorded calls name it."""

from __future__ import annotations

import email.utils
import gzip
import hashlib
import threading
import time
import zlib
from typing import Any

import pytest
import requests
from emu_client import Api
from fauna_emulator import FaultConfig, FaunaEmulator

# ------------------------------------------------------------------------------ API faults


def test_rate_limit_sends_retry_after_seconds_and_does_no_work(api: Api, emu: FaunaEmulator) -> None:
    emu.faults = FaultConfig(rate_limit_ratio=1.0, retry_after=7)
    answer = api.submit()
    assert answer.status_code == 429
    assert answer.headers["Retry-After"] == "7"
    assert answer.json()["reason"]
    assert emu.log_requests == []
    (call,) = emu.api_calls()
    assert (call.status, call.fault) == (429, "rate_limit")


def test_rate_limit_can_send_retry_after_as_an_http_date(api: Api, emu: FaunaEmulator) -> None:
    emu.faults = FaultConfig(rate_limit_ratio=1.0, retry_after=30, retry_after_http_date=True)
    answer = api.call("GET", "/api/v1/oauth/apps")
    when = email.utils.parsedate_to_datetime(answer.headers["Retry-After"])
    assert 20 <= when.timestamp() - time.time() <= 31


def test_server_errors_use_every_5xx_code_and_gateways_answer_html(api: Api, emu: FaunaEmulator) -> None:
    emu.faults = FaultConfig(server_error_ratio=1.0, seed=3)
    answers = [api.call("GET", "/api/v1/oauth/apps") for _ in range(40)]
    assert {a.status_code for a in answers} == {500, 502, 503, 504}
    for answer in answers:
        if answer.status_code in (502, 504):
            assert answer.headers["Content-Type"].startswith("text/html")
        else:
            assert answer.json()["reason"]
    assert {c.fault for c in emu.api_calls()} == {"server_error"}


def test_drop_processes_the_request_then_closes_without_an_answer(api: Api, emu: FaunaEmulator) -> None:
    emu.faults = FaultConfig(drop_ratio=1.0)
    with pytest.raises(requests.ConnectionError):
        api.submit()
    emu.faults = FaultConfig()
    assert len(emu.log_requests) == 1  # the work was done: only the answer was lost
    (call,) = emu.api_calls()
    assert (call.status, call.fault) == (0, "drop")


def test_slow_delays_one_call_without_blocking_others(api: Api, emu: FaunaEmulator) -> None:
    # 5 s: long enough that a loaded machine still sends the fast call while the slow one waits.
    emu.faults = FaultConfig(slow_ratio=1.0, slow_seconds=5.0, fault_paths=("/api/v1/oauth",))
    slow_done = threading.Event()
    started = time.monotonic()

    def slow_call() -> None:
        Api(emu.url).call("GET", "/api/v1/oauth/apps")
        slow_done.set()

    thread = threading.Thread(target=slow_call)
    thread.start()
    while not emu.calls:
        assert time.monotonic() - started < 4, "the slow call never arrived"
        time.sleep(0.01)
    (in_flight,) = emu.calls
    assert (in_flight.path, in_flight.status) == ("/api/v1/oauth/apps", 0)  # listed on arrival
    fast = api.submit()  # not under fault_paths: answered at once
    assert fast.status_code == 200
    assert not slow_done.is_set()
    thread.join()
    assert time.monotonic() - started >= 5.0
    slow_call_record = emu.api_calls(path_prefix="/api/v1/oauth")[0]
    assert (slow_call_record.status, slow_call_record.fault) == (200, "slow")
    assert slow_call_record.duration >= 5.0
    assert emu.api_calls(method="POST")[0].fault is None
    # Arrival order, though the slow call finished last.
    assert [c.path for c in emu.calls] == ["/api/v1/oauth/apps", "/api/v1/logs"]


def test_slow_and_rate_limit_combine(api: Api, emu: FaunaEmulator) -> None:
    emu.faults = FaultConfig(slow_ratio=1.0, slow_seconds=0.05, rate_limit_ratio=1.0)
    assert api.submit().status_code == 429
    assert emu.api_calls()[0].fault == "slow+rate_limit"


def test_fault_paths_limit_faults_to_matching_paths(api: Api, emu: FaunaEmulator) -> None:
    emu.faults = FaultConfig(rate_limit_ratio=1.0, fault_paths=("/api/v1/logs/",))
    request_id = api.submit_ok()["request_id"]
    assert api.call("GET", f"/api/v1/logs/{request_id}").status_code == 429


def test_api_faults_never_touch_downloads_or_control(api: Api, emu: FaunaEmulator) -> None:
    url = api.completed()["presigned_url"]
    emu.faults = FaultConfig(rate_limit_ratio=0.5, server_error_ratio=0.5)
    assert requests.get(url, timeout=10).status_code == 200
    assert requests.get(f"{emu.url}/_emulator/health", timeout=10).status_code == 200


def test_ratios_are_honoured_and_reproducible_with_a_seed(api: Api, emu: FaunaEmulator) -> None:
    def run() -> list[int]:
        emu.faults = FaultConfig(rate_limit_ratio=0.3, seed=42)
        return [api.call("GET", "/api/v1/oauth/apps").status_code for _ in range(60)]

    first, second = run(), run()
    assert first == second
    assert 5 <= first.count(429) <= 35
    assert set(first) == {200, 429}


# ------------------------------------------------------------------------------ outcomes


def test_outcome_ratios_are_drawn_per_new_request_and_recorded(api: Api, emu: FaunaEmulator) -> None:
    emu.faults = FaultConfig(outcome_ratios={"Failed": 0.4, "TimedOut": 0.3, "DoesNotExist": 0.3}, seed=1)
    ids = [api.submit_ok()["request_id"] for _ in range(30)]
    finals = {api.status(i)["state"] for i in ids}
    assert finals == {"Failed", "TimedOut", "DoesNotExist"}
    faults = {c.fault for c in emu.api_calls(method="POST")}
    assert faults == {"outcome:Failed", "outcome:TimedOut", "outcome:DoesNotExist"}


def test_forced_outcome_beats_the_drawn_one(api: Api, emu: FaunaEmulator) -> None:
    emu.faults = FaultConfig(outcome_ratios={"Failed": 1.0})
    emu.set_outcome("us-std", "Complete")
    assert api.completed()["state"] == "Complete"


# ------------------------------------------------------------------------------ URL faults


def test_early_expiry_url_is_refused_though_advertised_valid(api: Api, emu: FaunaEmulator) -> None:
    emu.faults = FaultConfig(early_expiry_ratio=1.0)
    done = api.completed()
    assert done["presigned_url_expiration_time"] > time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    answer = requests.get(done["presigned_url"], timeout=10)
    assert answer.status_code == 403
    assert "Request has expired" in answer.text
    assert emu.download_calls()[-1].fault == "early_expiry"
    emu.faults = FaultConfig()
    fresh = api.call("POST", f"/api/v1/logs/{done['request_id']}/url").json()
    assert requests.get(fresh["presigned_url"], timeout=10).status_code == 200


def test_url_ttl_override_shortens_new_urls(start_emulator: Any) -> None:
    emu = start_emulator(url_ttl=3600)
    api = Api(emu.url)
    emu.faults = FaultConfig(url_ttl_override=0)
    done = api.completed()
    assert requests.get(done["presigned_url"], timeout=10).status_code == 403


# ------------------------------------------------------------------------------ download faults


def _get(url: str, **headers: str) -> tuple[int, bytes, BaseException | None]:
    """Status, the body bytes received, and the error that cut it (if any)."""
    received = bytearray()
    try:
        with requests.get(url, headers=headers, stream=True, timeout=10) as answer:
            for chunk in answer.raw.stream(65536, decode_content=False):
                received += chunk
            return answer.status_code, bytes(received), None
    except Exception as exc:
        return -1, bytes(received), exc


@pytest.fixture
def big(start_emulator: Any) -> tuple[FaunaEmulator, Api, dict[str, Any], bytes]:
    """An emulator whose file is large enough to be cut mid-stream (about 1 MB)."""
    emu = start_emulator(records_per_file=10_000)
    api = Api(emu.url)
    done = api.completed()
    return emu, api, done, emu.file_bytes(done["request_id"])


def test_download_drop_after_bytes_then_resume_with_range(big: Any) -> None:
    emu, _api, done, whole = big
    emu.faults = FaultConfig(download_drop_after_bytes=300_000)
    _, head, error = _get(done["presigned_url"])
    assert error is not None
    assert 0 < len(head) <= 300_000 and whole.startswith(head)
    status, tail, error = _get(done["presigned_url"], Range=f"bytes={len(head)}-")
    assert (status, error) == (206, None)  # only the first download is faulted (download_fault_count=1)
    assert head + tail == whole
    first, second = emu.download_calls()
    assert (first.status, first.fault) == (200, "download_drop")
    assert (second.status, second.fault) == (206, None)


def test_download_fault_count_none_faults_every_download(big: Any) -> None:
    emu, _, done, _ = big
    emu.faults = FaultConfig(download_drop_after_bytes=1000, download_fault_count=None)
    for _ in range(3):
        assert _get(done["presigned_url"])[2] is not None
    assert [c.fault for c in emu.download_calls()] == ["download_drop"] * 3


def test_download_drop_beyond_the_body_changes_nothing(big: Any) -> None:
    emu, _, done, whole = big
    emu.faults = FaultConfig(download_drop_after_bytes=len(whole) + 1)
    assert _get(done["presigned_url"]) == (200, whole, None)
    assert emu.download_calls()[0].fault is None


def test_download_truncate_sends_less_than_content_length(big: Any) -> None:
    emu, _, done, whole = big
    emu.faults = FaultConfig(download_truncate=True)
    _, body, error = _get(done["presigned_url"])
    assert error is not None
    assert len(body) == len(whole) // 2 and whole.startswith(body)
    assert emu.download_calls()[0].fault == "download_truncate"


def test_download_corrupt_keeps_length_and_etag_but_not_the_bytes(big: Any) -> None:
    emu, _, done, whole = big
    emu.faults = FaultConfig(download_corrupt=True)
    answer = requests.get(done["presigned_url"], timeout=10)
    assert answer.status_code == 200
    assert len(answer.content) == len(whole)
    assert answer.content != whole
    assert answer.headers["ETag"] == f'"{hashlib.md5(whole).hexdigest()}"'
    assert hashlib.md5(answer.content).hexdigest() != hashlib.md5(whole).hexdigest()
    with pytest.raises((OSError, EOFError, zlib.error)):
        gzip.decompress(answer.content)
    assert emu.download_calls()[0].fault == "download_corrupt"
    assert requests.get(done["presigned_url"], timeout=10).content == whole  # next download is clean


def test_download_expire_mid_stream_cuts_and_the_url_is_dead(big: Any) -> None:
    emu, api, done, whole = big
    emu.faults = FaultConfig(download_expire_mid_stream=True)
    _, head, error = _get(done["presigned_url"])
    assert error is not None and whole.startswith(head) and len(head) < len(whole)
    again = requests.get(done["presigned_url"], headers={"Range": f"bytes={len(head)}-"}, timeout=10)
    assert again.status_code == 403
    assert "Request has expired" in again.text
    fresh = api.call("POST", f"/api/v1/logs/{done['request_id']}/url").json()["presigned_url"]
    status, tail, error = _get(fresh, Range=f"bytes={len(head)}-")
    assert (status, error) == (206, None)
    assert head + tail == whole
    assert [c.fault for c in emu.download_calls()] == ["download_expire_mid_stream", None, None]


def test_download_faults_apply_to_ranges_too(big: Any) -> None:
    emu, _, done, whole = big
    emu.faults = FaultConfig(download_truncate=True)
    _, body, error = _get(done["presigned_url"], Range="bytes=1000-")
    assert error is not None
    assert body == whole[1000 : 1000 + (len(whole) - 1000) // 2]


# ------------------------------------------------------------------------------ configuration


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"rate_limit_ratio": 1.5}, "between 0 and 1"),
        ({"rate_limit_ratio": -0.1}, "between 0 and 1"),
        ({"rate_limit_ratio": 0.6, "server_error_ratio": 0.6}, "must not exceed 1"),
        ({"outcome_ratios": {"Complete": 0.5}}, "is not one of"),
        ({"outcome_ratios": {"Failed": 0.7, "TimedOut": 0.7}}, "must not sum"),
        ({"retry_after": -1}, "non-negative integer"),
        ({"retry_after": 1.5}, "non-negative integer"),
        ({"download_drop_after_bytes": -5}, "non-negative integer"),
        ({"slow_seconds": None}, "non-negative number"),
        ({"fault_paths": "/api"}, "list of path prefixes"),
    ],
)
def test_invalid_fault_configs_are_refused(kwargs: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        FaultConfig(**kwargs)


def test_fault_config_round_trips_through_a_dict() -> None:
    config = FaultConfig(rate_limit_ratio=0.2, fault_paths=("/api/v1/logs",), outcome_ratios={"Failed": 0.1})
    assert FaultConfig.from_dict(config.to_dict()) == config
    with pytest.raises(ValueError, match="unknown"):
        FaultConfig.from_dict({"rate_limit": 0.2})
