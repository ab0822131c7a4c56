"""Fixtures of the emulator's own tests: real HTTP against a real emulator, no provider code.

Names differ from the suite-wide ``emulator``/``fauna_emulator`` fixtures on purpose: these
tests want a fresh emulator each (state, seed and faults of their own), and they must not
depend on the provider's hook, which is tested against the emulator elsewhere.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pytest
from emu_client import KEY, Api
from fauna_emulator import FaunaEmulator

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator


@pytest.fixture
def start_emulator() -> Iterator[Callable[..., FaunaEmulator]]:
    """Factory: a started emulator (key :data:`KEY` unless ``keys`` is given), stopped at the end."""
    started: list[FaunaEmulator] = []

    def start(**kwargs: Any) -> FaunaEmulator:
        kwargs.setdefault("keys", {KEY})
        emulator = FaunaEmulator(**kwargs).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def emu(start_emulator: Callable[..., FaunaEmulator]) -> FaunaEmulator:
    """A fresh emulator with the defaults: no completion delay, one-hour URLs, no faults."""
    return start_emulator()


@pytest.fixture
def api(emu: FaunaEmulator) -> Api:
    """An HTTP client of ``emu`` with a valid key."""
    return Api(emu.url)
