"""The account's OAuth client apps: listed with pagination, deleted by id.

The seed apps look like what integrations create (Cloudflare, Vercel, Netlify, Datadog), with
the field shapes of the vendor's reference. Tests can pass their own list.
"""

from __future__ import annotations

import copy
import threading
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from fauna_emulator import pagination

if TYPE_CHECKING:
    from fauna_emulator.validation import PageInput


def _scope(*ids: str) -> list[dict[str, str]]:
    return [{"id": i, "display_name": i.replace("_", " ").title()} for i in ids]


DEFAULT_APPS: tuple[dict[str, Any], ...] = (
    {
        "id": "12311231",
        "oauth2_client": "Cloudflare",
        "scope": _scope("list_databases", "create_databases", "create_keys"),
        "created_at": "2022-09-19T20:42:16.828Z",
    },
    {
        "id": "38118260",
        "oauth2_client": "Vercel",
        "scope": _scope("list_databases", "create_keys"),
        "created_at": "2023-02-07T11:03:51.004Z",
    },
    {
        "id": "40925517",
        "oauth2_client": "Netlify",
        "scope": _scope("list_databases"),
        "created_at": "2023-08-30T16:25:09.370Z",
    },
    {
        "id": "51782046",
        "oauth2_client": "Datadog",
        "scope": _scope("list_databases", "read_logs"),
        "created_at": "2024-04-12T08:14:27.651Z",
    },
)


@dataclass(frozen=True)
class _App:
    seq: int
    data: dict[str, Any]


class OAuthApps:
    """The apps of the one emulated account. Thread-safe."""

    def __init__(self, seeds: list[dict[str, Any]] | None = None) -> None:
        chosen = list(DEFAULT_APPS) if seeds is None else seeds
        ids = [app.get("id") if isinstance(app, dict) else None for app in chosen]
        if not all(isinstance(i, str) and i for i in ids) or len(set(ids)) != len(ids):
            raise ValueError("every OAuth app needs a unique, non-empty string 'id'")
        self._seeds = copy.deepcopy(chosen)
        self._lock = threading.Lock()
        self._apps: list[_App] = []
        self.reset()

    def reset(self) -> None:
        """Back to the seed apps."""
        with self._lock:
            self._apps = [_App(n, copy.deepcopy(app)) for n, app in enumerate(self._seeds, start=1)]

    def list_apps(self, query: PageInput) -> dict[str, Any]:
        """One page of apps, in creation order."""
        with self._lock:
            chosen, token = pagination.page(
                self._apps, "apps", query.next_token, query.max_results, lambda _: True
            )
            return {"next_token": token, "results": [copy.deepcopy(a.data) for a in chosen]}

    def delete(self, app_id: str) -> bool:
        """Remove an app; False if there is none with that id."""
        with self._lock:
            for index, app in enumerate(self._apps):
                if app.data["id"] == app_id:
                    del self._apps[index]
                    return True
            return False
