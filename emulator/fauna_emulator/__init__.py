"""A local emulator of the Fauna Account API (query logs and OAuth apps), with fault injection.

The public service cannot be reached from our machines; this is how users, our tests, the
demo and the benchmarks exercise the provider over real HTTP. It is the *server*: it imports
nothing from the rest of ``airflow_provider_fauna`` (sharing the client's rules would hide
bugs) and nothing from Airflow; it needs only the standard library and aiohttp.

Usage::

    from fauna_emulator import FaunaEmulator, FaultConfig

    with FaunaEmulator(keys={"fnacapi_test_key"}, completion_delay=0.5) as emu:
        ...  # point a client at emu.url
        assert not any(c.had_authorization for c in emu.download_calls())

or ``python -m fauna_emulator --port 8765 --key fnacapi_demo``.

Modules: :mod:`.emulator` (lifecycle and Python API), :mod:`.server` (aiohttp app),
:mod:`.recording` (every call, as answered), :mod:`.middleware` (API faults, auth),
:mod:`.api` (endpoints), :mod:`.downloads` (presigned file URL), :mod:`.control`
(``/_emulator`` endpoints), :mod:`.state` (log requests and their state machine),
:mod:`.oauth`, :mod:`.pagination`, :mod:`.validation`, :mod:`.timeutil`, :mod:`.signing`,
:mod:`.faults`, :mod:`.calls`, :mod:`.context`, :mod:`.logfile` (deterministic file
content), :mod:`.filecache` (built once, off-loop, on disk).
"""

from __future__ import annotations

from fauna_emulator.calls import RecordedCall
from fauna_emulator.emulator import FaunaEmulator
from fauna_emulator.faults import FaultConfig

__version__ = "0.1.0"

__all__ = ["FaultConfig", "FaunaEmulator", "RecordedCall", "__version__"]
