"""Local object stores for transfer tests: moto's S3 server and gcp-storage-emulator.

Both run in threads of the test process on 127.0.0.1 and a free port, and both must be stopped:
gcp-storage-emulator's server thread is not a daemon and would keep the process alive. Each
context manager yields the endpoint URL and stops its server on exit, even after a failure.
"""

from __future__ import annotations

import contextlib
import urllib.request
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from collections.abc import Iterator


@contextlib.contextmanager
def moto_s3_server(host: str = "127.0.0.1") -> Iterator[str]:
    """Run moto's S3 (multipart uploads included) on a free port; yields ``http://host:port``."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address=host, port=0, verbose=False)
    server.start()
    try:
        bound_host, port = server.get_host_and_port()
        yield f"http://{bound_host}:{port}"
    finally:
        server.stop()


@contextlib.contextmanager
def gcs_emulator(host: str = "127.0.0.1", start_timeout: float = 30.0) -> Iterator[str]:
    """Run gcp-storage-emulator in memory on a free port; yields ``http://host:port``.

    Clients reach it through ``STORAGE_EMULATOR_HOST`` (set that to the yielded URL).
    """
    from gcp_storage_emulator.server import create_server

    server = create_server(host, 0, in_memory=True)
    api = server._api  # the emulator has no public way to learn the bound port or to start safely
    api.daemon = True  # never keep the interpreter alive, even if a test forgets to stop it
    api.start()
    try:
        # Server.start() would wait forever if the bind failed; wait with a limit instead.
        if not api.is_running.wait(start_timeout):
            raise RuntimeError(f"gcp-storage-emulator did not start within {start_timeout} s")
        port = api._httpd.server_address[1]
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def reset_moto(url: str, timeout: float = 10.0) -> None:
    """Forget every bucket and object of the moto server at ``url`` (between tests)."""
    request = urllib.request.Request(f"{url}/moto-api/reset", method="POST")
    with urllib.request.urlopen(request, timeout=timeout) as response:
        response.read()


def wipe_gcs(url: str, timeout: float = 10.0) -> None:
    """Forget every bucket and object of the gcp-storage-emulator at ``url`` (between tests)."""
    with urllib.request.urlopen(f"{url}/wipe", timeout=timeout) as response:
        response.read()
