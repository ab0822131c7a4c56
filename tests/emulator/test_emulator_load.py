"""Responsiveness: a thousand clients polling at once, also while a big file is being built."""

from __future__ import annotations

import asyncio
import time
from typing import TYPE_CHECKING, Any

import aiohttp
from emu_client import KEY, Api

if TYPE_CHECKING:
    from fauna_emulator import FaunaEmulator

CLIENTS = 1000
BOUND_SECONDS = 30


async def _poll_all(url: str) -> tuple[list[tuple[int, str]], float]:
    """``CLIENTS`` status reads at once, each on its own connection (no semaphore, no pool limit)."""
    connector = aiohttp.TCPConnector(limit=0, force_close=True)
    timeout = aiohttp.ClientTimeout(total=BOUND_SECONDS)
    headers = {"Authorization": f"Bearer {KEY}"}
    async with aiohttp.ClientSession(connector=connector, timeout=timeout, headers=headers) as session:

        async def poll() -> tuple[int, str]:
            async with session.get(url) as answer:
                return answer.status, (await answer.json())["state"]

        started = time.perf_counter()
        results = await asyncio.gather(*(poll() for _ in range(CLIENTS)))
        return list(results), time.perf_counter() - started


async def test_a_thousand_concurrent_status_polls_are_all_answered(api: Api, emu: FaunaEmulator) -> None:
    request_id = api.submit_ok()["request_id"]
    results, elapsed = await _poll_all(f"{emu.url}/api/v1/logs/{request_id}?type=query")
    assert [status for status, _ in results] == [200] * CLIENTS
    assert {state for _, state in results} == {"Complete"}
    assert elapsed < BOUND_SECONDS
    assert len(emu.api_calls(method="GET")) == CLIENTS


async def test_polls_are_answered_while_a_big_file_is_built(start_emulator: Any) -> None:
    emu = start_emulator(records_per_file=150_000)
    api = Api(emu.url)
    request_id = api.submit_ok()["request_id"]  # large: the submit does not wait for the file
    results, elapsed = await _poll_all(f"{emu.url}/api/v1/logs/{request_id}?type=query")
    assert [status for status, _ in results] == [200] * CLIENTS
    assert "Requested" in {state for _, state in results}  # answered while the file was being built
    assert elapsed < BOUND_SECONDS
    assert api.wait_for(request_id, ("Complete",), timeout=60)["state"] == "Complete"
