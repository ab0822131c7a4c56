"""The presigned file URL: signing, expiry, headers, ranges and the file's content."""

from __future__ import annotations

import datetime as dt
import gzip
import hashlib
import json
import time
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlencode, urlsplit, urlunsplit

import pytest
import requests
from emu_client import Api

if TYPE_CHECKING:
    from fauna_emulator import FaunaEmulator


def _with_query(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = {k: v[0] for k, v in parse_qs(parts.query).items()}
    for key, value in changes.items():
        name = key.replace("_", "-")
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return urlunsplit(parts._replace(query=urlencode(query)))


def test_download_serves_the_gzip_as_is(api: Api, emu: FaunaEmulator) -> None:
    done = api.completed()
    answer = requests.get(done["presigned_url"], timeout=10)
    assert answer.status_code == 200
    assert answer.headers["Content-Type"] == "application/gzip"
    assert "Content-Encoding" not in answer.headers
    assert answer.headers["Accept-Ranges"] == "bytes"
    assert int(answer.headers["Content-Length"]) == len(answer.content)
    assert answer.headers["ETag"] == f'"{hashlib.md5(answer.content).hexdigest()}"'
    assert answer.content[:2] == b"\x1f\x8b"
    assert answer.content == emu.file_bytes(done["request_id"])


def test_download_needs_no_authorization_and_the_call_says_if_one_was_sent(
    api: Api, emu: FaunaEmulator
) -> None:
    url = api.completed()["presigned_url"]
    requests.get(url, timeout=10)
    requests.get(url, headers={"Authorization": "Bearer leaked"}, timeout=10)
    plain, leaked = emu.download_calls()
    assert (plain.had_authorization, leaked.had_authorization) == (False, True)
    assert plain.status == leaked.status == 200
    assert plain.path == f"/_files/{api.status(url.split('/')[4])['request_id']}/query-logs.ndjson.gz"
    assert plain.query["X-Fauna-Signature"].startswith("sha256:")  # never the signature itself
    assert parse_qs(urlsplit(url).query)["X-Fauna-Signature"][0] not in repr(emu.calls)


def test_url_expiry_matches_the_advertised_time(start_emulator: Any) -> None:
    emu = start_emulator(url_ttl=3600)
    done = Api(emu.url).completed()
    expires = int(parse_qs(urlsplit(done["presigned_url"]).query)["X-Fauna-Expires"][0])
    advertised = dt.datetime.fromisoformat(done["presigned_url_expiration_time"].replace("Z", "+00:00"))
    assert advertised.timestamp() == expires
    assert 3590 <= expires - time.time() <= 3600


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"X_Fauna_Signature": None}, "requires"),
        ({"X_Fauna_Expires": None}, "requires"),
        ({"X_Fauna_Signature": "0" * 64}, "signature"),
        ({"X_Fauna_Expires": "9999999999"}, "signature"),
        ({"X_Fauna_Expires": "soon"}, "signature"),
    ],
)
def test_tampered_or_incomplete_urls_are_403_xml(
    api: Api, changes: dict[str, str | None], message: str
) -> None:
    url = _with_query(api.completed()["presigned_url"], **changes)
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 403
    assert answer.headers["Content-Type"].startswith("application/xml")
    assert "<Code>AccessDenied</Code>" in answer.text
    assert message in answer.text


def test_a_url_for_another_request_is_403(api: Api) -> None:
    first, second = api.completed(), api.completed(database="us-std/Other")
    stolen = first["presigned_url"].replace(first["request_id"], second["request_id"])
    assert requests.get(stolen, timeout=10).status_code == 403


def test_expired_url_is_403_request_has_expired_and_a_new_url_works(start_emulator: Any) -> None:
    emu = start_emulator(url_ttl=0.2)
    api = Api(emu.url)
    done = api.completed()
    deadline = dt.datetime.fromisoformat(done["presigned_url_expiration_time"].replace("Z", "+00:00"))
    time.sleep(max(0.0, deadline.timestamp() - time.time()) + 0.05)
    expired = requests.get(done["presigned_url"], timeout=10)
    assert expired.status_code == 403
    assert "Request has expired" in expired.text
    emu.faults = emu.faults.__class__(url_ttl_override=60)
    fresh = api.call("POST", f"/api/v1/logs/{done['request_id']}/url").json()
    assert requests.get(fresh["presigned_url"], timeout=10).status_code == 200


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ("bytes=0-9", (0, 9)),
        ("bytes=100-", (100, None)),
        ("bytes=-50", (-50, None)),
        ("bytes=10-999999999", (10, None)),
    ],
)
def test_single_ranges_answer_206(
    api: Api, emu: FaunaEmulator, header: str, expected: tuple[int, int | None]
) -> None:
    done = api.completed()
    whole = emu.file_bytes(done["request_id"])
    start, end = expected
    want = whole[start:] if end is None else whole[start : end + 1]
    answer = requests.get(done["presigned_url"], headers={"Range": header}, timeout=10)
    assert answer.status_code == 206
    assert answer.content == want
    first = len(whole) + start if start < 0 else start
    assert answer.headers["Content-Range"] == f"bytes {first}-{first + len(want) - 1}/{len(whole)}"
    assert answer.headers["ETag"] == f'"{hashlib.md5(whole).hexdigest()}"'


def test_resuming_with_a_range_rebuilds_the_exact_file(api: Api, emu: FaunaEmulator) -> None:
    done = api.completed()
    whole = emu.file_bytes(done["request_id"])
    head = requests.get(done["presigned_url"], headers={"Range": "bytes=0-999"}, timeout=10).content
    fresh = api.call("POST", f"/api/v1/logs/{done['request_id']}/url").json()["presigned_url"]
    tail = requests.get(fresh, headers={"Range": f"bytes={len(head)}-"}, timeout=10).content
    assert head + tail == whole


def test_unsatisfiable_range_is_416(api: Api, emu: FaunaEmulator) -> None:
    done = api.completed()
    size = len(emu.file_bytes(done["request_id"]))
    for header in (f"bytes={size}-", "bytes=-0"):
        answer = requests.get(done["presigned_url"], headers={"Range": header}, timeout=10)
        assert answer.status_code == 416
        assert answer.headers["Content-Range"] == f"bytes */{size}"


@pytest.mark.parametrize("header", ["bytes=0-1,5-6", "items=0-5", "bytes=9-3", "bytes=-"])
def test_multi_or_malformed_ranges_are_ignored(api: Api, emu: FaunaEmulator, header: str) -> None:
    done = api.completed()
    answer = requests.get(done["presigned_url"], headers={"Range": header}, timeout=10)
    assert answer.status_code == 200
    assert answer.content == emu.file_bytes(done["request_id"])


def test_head_gives_the_headers_without_a_body(api: Api, emu: FaunaEmulator) -> None:
    done = api.completed()
    answer = requests.head(done["presigned_url"], timeout=10)
    assert answer.status_code == 200
    assert int(answer.headers["Content-Length"]) == len(emu.file_bytes(done["request_id"]))
    assert answer.content == b""


def test_a_file_after_reset_state_is_404(api: Api, emu: FaunaEmulator) -> None:
    url = api.completed()["presigned_url"]
    emu.reset_state()
    answer = requests.get(url, timeout=10)
    assert answer.status_code == 404
    assert "NoSuchKey" in answer.text


def test_file_bytes_of_an_unknown_request_is_a_key_error(emu: FaunaEmulator) -> None:
    with pytest.raises(KeyError):
        emu.file_bytes("000000000000")


# ------------------------------------------------------------------------------ content


def _records(data: bytes) -> list[dict[str, Any]]:
    return [json.loads(line) for line in gzip.decompress(data).decode().splitlines()]


def test_records_are_realistic_and_inside_the_interval(start_emulator: Any) -> None:
    emu = start_emulator(records_per_file=500)
    done = Api(emu.url).completed()
    records = _records(requests.get(done["presigned_url"], timeout=10).content)
    assert len(records) == 500
    start, end = "2099-07-10T07:46:05Z", "2099-07-11T07:46:05Z"
    stamps = [r["ts"] for r in records]
    assert stamps == sorted(stamps)
    for record in records:
        assert start <= record["ts"] < end
        assert record["database"] == "us-std/ECommerce"
        assert record["region_group"] == "us-std"
        assert isinstance(record["tags"], dict)
        version, trace, span, flags = record["traceparent"].split("-")
        assert (version, flags, len(trace), len(span)) == ("00", "01", 32, 16)
        for field in (
            "query_time_ms",
            "read_ops",
            "write_ops",
            "compute_ops",
            "storage_bytes_read",
            "txn_ts",
        ):
            assert isinstance(record[field], int) and record[field] >= 0
        assert record["query_shape"] and record["query_fingerprint"]
        assert record["api_version"] == "10" and record["driver"]
    assert {r["response_code"] for r in records} > {200}
    assert len({r["traceparent"] for r in records}) == 500


def test_a_region_group_export_mixes_databases(api: Api) -> None:
    done = api.completed(database=None, region_group="eu-std")
    records = _records(requests.get(done["presigned_url"], timeout=10).content)
    databases = {r["database"] for r in records}
    assert len(databases) > 2
    assert all(d.startswith("eu-std/") for d in databases)
    assert {r["region_group"] for r in records} == {"eu-std"}


def test_the_same_request_gives_the_same_bytes_across_emulators(start_emulator: Any) -> None:
    first, second, other_seed = start_emulator(), start_emulator(), start_emulator(seed=1)
    files = []
    for emu in (first, second, other_seed):
        done = Api(emu.url).completed()
        files.append(requests.get(done["presigned_url"], timeout=10).content)
    assert files[0] == files[1]
    assert files[0] != files[2]
    assert files[0][4:8] == b"\0\0\0\0"  # gzip mtime 0


def test_identical_requests_share_one_file_and_different_intervals_differ(
    api: Api, emu: FaunaEmulator
) -> None:
    one, two = api.completed(), api.completed()
    later = api.completed(time_end="2099-07-12T07:46:05Z")
    assert emu.file_bytes(one["request_id"]) == emu.file_bytes(two["request_id"])
    assert emu.file_bytes(one["request_id"]) != emu.file_bytes(later["request_id"])


def test_a_cache_dir_is_reused_across_emulators(start_emulator: Any, tmp_path: Any) -> None:
    first = start_emulator(file_cache_dir=str(tmp_path))
    data = first.file_bytes(Api(first.url).completed()["request_id"])
    files = sorted(p.name for p in tmp_path.iterdir())
    assert len(files) == 2  # the gzip and its sidecar
    stamps = {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()}
    second = start_emulator(file_cache_dir=str(tmp_path))
    assert second.file_bytes(Api(second.url).completed()["request_id"]) == data
    assert {p.name: p.stat().st_mtime_ns for p in tmp_path.iterdir()} == stamps
    first.stop()
    assert tmp_path.exists() and len(list(tmp_path.iterdir())) == 2  # a given directory is kept
