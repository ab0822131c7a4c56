"""The emulator's building blocks on their own: time parsing, file generation, tokens."""

from __future__ import annotations

import gzip
import hashlib
import json
import subprocess
import sys
import threading
from typing import TYPE_CHECKING, Any

import pytest
from emu_client import Api
from fauna_emulator import filecache
from fauna_emulator.logfile import Cancelled, LogFileSpec, generate
from fauna_emulator.pagination import decode_token, encode_token
from fauna_emulator.timeutil import format_utc, parse_iso8601
from fauna_emulator.validation import ApiError

if TYPE_CHECKING:
    from pathlib import Path

DAY_US = 86_400 * 1_000_000
START_US = 4_087_353_107_000_000  # 2099-07-10


@pytest.mark.parametrize(
    ("text", "normalized"),
    [
        ("2099-07-10T07:46:05Z", "2099-07-10T07:46:05Z"),
        ("2099-07-10t07:46:05z", "2099-07-10T07:46:05Z"),
        ("2099-07-10T07:46:05.828Z", "2099-07-10T07:46:05.828Z"),
        ("2099-07-10T07:46:05.123456789Z", "2099-07-10T07:46:05.123456Z"),
        ("2099-07-10T09:46:05+02:00", "2099-07-10T07:46:05Z"),
        ("2099-07-10T02:16:05-0530", "2099-07-10T07:46:05Z"),
        ("2099-07-10T07:46+00", "2099-07-10T07:46:00Z"),
        ("2099-07-10 07:46:05Z", "2099-07-10T07:46:05Z"),
    ],
)
def test_iso8601_with_offsets_is_parsed_and_normalized(text: str, normalized: str) -> None:
    assert format_utc(parse_iso8601(text)) == normalized


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("2099-07-10T07:46:05", "no UTC offset"),
        ("2099-07-10", "not an ISO 8601"),
        ("2099-02-30T00:00:00Z", "not a valid"),
        ("tomorrow", "not an ISO 8601"),
        ("", "not an ISO 8601"),
    ],
)
def test_naive_or_malformed_times_are_refused(text: str, message: str) -> None:
    with pytest.raises(ValueError, match=message):
        parse_iso8601(text)


def _spec(records: int = 300, **changes: Any) -> LogFileSpec:
    fields: dict[str, Any] = {
        "region_group": "us-std",
        "database": "us-std/ECommerce",
        "time_start_us": START_US,
        "time_end_us": START_US + DAY_US,
        "records": records,
        "seed": 0,
        **changes,
    }
    return LogFileSpec(**fields)


def test_generation_is_deterministic_and_reports_size_and_md5(tmp_path: Path) -> None:
    made = generate(_spec(), str(tmp_path / "a.gz"))
    again = generate(_spec(), str(tmp_path / "b.gz"))
    data = (tmp_path / "a.gz").read_bytes()
    assert data == (tmp_path / "b.gz").read_bytes()
    assert made == again
    assert made.size == len(data)
    assert made.md5 == hashlib.md5(data).hexdigest()
    lines = gzip.decompress(data).decode().splitlines()
    assert len(lines) == 300
    assert all(json.loads(line)["database"] == "us-std/ECommerce" for line in lines)


@pytest.mark.parametrize(
    "change",
    [{"seed": 1}, {"records": 301}, {"database": "us-std/Other"}, {"time_end_us": START_US + 2 * DAY_US}],
)
def test_every_spec_field_changes_the_file(tmp_path: Path, change: dict[str, Any]) -> None:
    assert _spec().cache_key() != _spec(**change).cache_key()
    generate(_spec(), str(tmp_path / "a.gz"))
    generate(_spec(**change), str(tmp_path / "b.gz"))
    assert (tmp_path / "a.gz").read_bytes() != (tmp_path / "b.gz").read_bytes()


def test_zero_records_is_a_valid_empty_gzip(tmp_path: Path) -> None:
    generate(_spec(records=0), str(tmp_path / "empty.gz"))
    assert gzip.decompress((tmp_path / "empty.gz").read_bytes()) == b""


def test_a_tiny_interval_with_many_records_stays_inside_it(tmp_path: Path) -> None:
    generate(_spec(records=50, time_end_us=START_US + 10), str(tmp_path / "t.gz"))
    stamps = [
        json.loads(line)["txn_ts"] for line in gzip.decompress((tmp_path / "t.gz").read_bytes()).splitlines()
    ]
    assert all(START_US <= s < START_US + 10 for s in stamps)
    assert stamps == sorted(stamps)


def test_cancelled_generation_leaves_no_file(tmp_path: Path) -> None:
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(Cancelled):
        generate(_spec(), str(tmp_path / "c.gz"), cancel)
    assert list(tmp_path.iterdir()) == []


def test_a_failed_build_makes_the_request_failed(
    start_emulator: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken(*args: Any) -> Any:
        raise OSError("disk full")

    monkeypatch.setattr(filecache, "generate", broken)
    emu = start_emulator()
    api = Api(emu.url)
    request_id = api.submit_ok()["request_id"]
    assert api.status(request_id)["state"] == "Failed"


@pytest.mark.parametrize("token", ["", "!!!", "bG9nczp4", "YXBwczox", "bG9nczox%"])
def test_foreign_or_garbled_tokens_are_400(token: str) -> None:
    with pytest.raises(ApiError) as caught:
        decode_token("logs", token)
    assert caught.value.status == 400


def test_tokens_round_trip() -> None:
    assert decode_token("logs", encode_token("logs", 41)) == 41
    assert decode_token("logs", None) == 0


def test_the_emulator_imports_neither_airflow_nor_the_provider() -> None:
    probe = (
        "import sys, fauna_emulator, fauna_emulator.__main__\n"
        "print('\\n'.join(sorted(m for m in sys.modules if m.split('.')[0] in ('airflow', 'airflow_provider_fauna'))))"
    )
    loaded = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    ).stdout.split()
    assert loaded == []
