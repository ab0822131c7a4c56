"""A bare HTTP client of the emulator's Account API, for the emulator's own tests.

It deliberately is not the provider's hook: the emulator is checked with plain ``requests``.
"""

from __future__ import annotations

import time
from typing import Any

import requests

KEY = "fnacapi_test_key"
DB_BODY: dict[str, Any] = {
    "database": "us-std/ECommerce",
    "time_start": "2099-07-10T07:46:05Z",
    "time_end": "2099-07-11T07:46:05Z",
}


class Api:
    """A bare HTTP client of the Account API, bound to one emulator and key."""

    def __init__(self, base: str, key: str = KEY) -> None:
        self.base = base
        self.session = requests.Session()
        self.session.headers["Authorization"] = f"Bearer {key}"

    def call(self, method: str, path: str, *, query: str = "type=query", **kwargs: Any) -> requests.Response:
        """``method`` on ``path`` (query string appended), with the bearer key."""
        url = f"{self.base}{path}" + (f"?{query}" if query else "")
        return self.session.request(method, url, timeout=10, **kwargs)

    def submit(self, **overrides: Any) -> requests.Response:
        """``POST /api/v1/logs`` with a valid database body, fields overridden or removed (None)."""
        body = {k: v for k, v in {**DB_BODY, **overrides}.items() if v is not None}
        return self.call("POST", "/api/v1/logs", json=body)

    def submit_ok(self, **overrides: Any) -> dict[str, Any]:
        """Submit and assert 200; the log request object."""
        answer = self.submit(**overrides)
        assert answer.status_code == 200, answer.text
        return answer.json()

    def status(self, request_id: str) -> dict[str, Any]:
        """``GET /api/v1/logs/{id}``, asserted 200."""
        answer = self.call("GET", f"/api/v1/logs/{request_id}")
        assert answer.status_code == 200, answer.text
        return answer.json()

    def wait_for(self, request_id: str, states: tuple[str, ...], timeout: float = 10) -> dict[str, Any]:
        """Poll until the request is in one of ``states``."""
        deadline = time.monotonic() + timeout
        while True:
            current = self.status(request_id)
            if current["state"] in states:
                return current
            assert time.monotonic() < deadline, f"still {current['state']}"
            time.sleep(0.02)

    def completed(self, **overrides: Any) -> dict[str, Any]:
        """Submit and wait for Complete; the object, with its presigned URL."""
        return self.wait_for(self.submit_ok(**overrides)["request_id"], ("Complete",))
