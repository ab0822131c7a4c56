"""The leak check of the reliability suite: collect every secret and everything people read, then search.

**Secrets** are the account key and the signature (``X-Fauna-Signature``) and address of every presigned URL
the provider was handed. They are captured on the client side, where every API answer is read
(:meth:`LogRequest.from_api` is wrapped for the test), and on the server side from the
emulator's log requests. The emulator records downloads with a *fingerprint* of the signature
they used; :meth:`Evidence.unaccounted_downloads` checks that every one of those fingerprints
belongs to a captured signature, so the search cannot miss a URL the provider used.

**Readable** is what a person (or another system) gets to see: each DAG run's raw task logs
(captured before any masking: a secret found there was logged), its XComs, rendered template
fields and the task instances' trigger payloads (``next_kwargs``), the whole metadata DB (a SQL
dump, so no table is forgotten, with blobs searched in hex), Airflow's log folder, the messages of
exceptions the tests caught, and the bodies and query strings of every call the emulator
recorded (the key must travel only in the ``Authorization`` header, to the API).
"""

from __future__ import annotations

import os
import sqlite3
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qs, urlsplit, urlunsplit

from fauna_emulator.calls import fingerprint
from harness import FAUNA_TEST_KEY

if TYPE_CHECKING:
    from collections.abc import Iterable

    from harness import DagRunResult

SIGNATURE_PARAM = "X-Fauna-Signature"


def signature_of(url: str) -> str | None:
    """The signature in a presigned URL, if it has one."""
    values = parse_qs(urlsplit(url).query).get(SIGNATURE_PARAM)
    return values[0] if values else None


@dataclass
class Evidence:
    """Secrets (secret -> where it came from) and readable texts (label, text)."""

    secrets: dict[str, str] = field(default_factory=lambda: {FAUNA_TEST_KEY: "the account key"})
    #: Presigned URLs without their query: searched like secrets, but not signatures.
    addresses: dict[str, str] = field(default_factory=dict)
    texts: list[tuple[str, str]] = field(default_factory=list)

    # ------------------------------------------------------------------ collecting
    def add_url(self, url: Any, origin: str) -> None:
        """Remember the signature and the address of a presigned URL (ignores anything that has none).

        The address (scheme, host and path) counts too: the provider shows a URL by its host
        alone, so a URL's path in a log line means the URL was printed, query cut or not.
        """
        if isinstance(url, str) and (signature := signature_of(url)):
            self.secrets.setdefault(signature, f"the signature of a presigned URL ({origin})")
            parts = urlsplit(url)
            address = urlunsplit((parts.scheme, parts.netloc, parts.path, "", ""))
            self.addresses.setdefault(address, f"the address of a presigned URL ({origin})")

    def add_text(self, label: str, text: Any) -> None:
        self.texts.append((label, text if isinstance(text, str) else repr(text)))

    def add_run(self, result: DagRunResult) -> None:
        """A DAG run's task logs, and what the metadata DB keeps of it, as it is right after the run."""
        for key, task in result.tasks.items():
            self.add_text(f"task log of {result.dag_id}.{key} ({result.run_id})", task.log)
        self.add_text(f"metadata rows of {result.dag_id} {result.run_id}", run_rows(result))

    def add_calls(self, calls: Iterable[Any], where: str) -> None:
        """What the emulator recorded of each call: its body and query string."""
        for call in calls:
            self.add_text(f"{where}: {call.method} {call.path} body and query", (call.json, call.query))

    def merge(self, other: Evidence) -> None:
        for secret, origin in other.secrets.items():
            self.secrets.setdefault(secret, origin)
        for address, origin in other.addresses.items():
            self.addresses.setdefault(address, origin)
        self.texts.extend(other.texts)

    # ------------------------------------------------------------------ checking
    @property
    def signatures(self) -> set[str]:
        return {s for s in self.secrets if s != FAUNA_TEST_KEY}

    def unaccounted_downloads(self, download_calls: Iterable[Any]) -> list[str]:
        """Downloads whose signature was not captured (the search would not cover them)."""
        known = {f"sha256:{fingerprint(s)}" for s in self.signatures}
        return [
            f"{c.method} {c.path} ({c.query.get(SIGNATURE_PARAM)})"
            for c in download_calls
            if c.query.get(SIGNATURE_PARAM) and c.query[SIGNATURE_PARAM] not in known
        ]

    def leaks(self, extra: Iterable[tuple[str, str]] = ()) -> list[str]:
        """Every (secret, text) pair where the secret, or its hex encoding, appears in the text."""
        found = []
        searched = {**self.secrets, **self.addresses}
        needles = [(s, s.lower(), s.encode().hex(), origin) for s, origin in searched.items()]
        for label, text in [*self.texts, *extra]:
            lowered = text.lower()
            for _, lower, hexed, origin in needles:
                if lower in lowered or hexed in lowered:
                    found.append(f"{origin} appears in {label}")
            if f"{SIGNATURE_PARAM.lower()}=" in lowered:
                found.append(f"a presigned URL with its signature appears in {label}")
        return found


def run_rows(result: DagRunResult) -> str:
    """The run's XComs, rendered template fields and trigger payloads, as text (both Airflow lines)."""
    from airflow.models.renderedtifields import RenderedTaskInstanceFields
    from airflow.models.taskinstance import TaskInstance
    from airflow.utils.session import create_session

    try:
        from airflow.models.xcom import XComModel as XComRow
    except ImportError:  # Airflow 2
        from airflow.models.xcom import BaseXCom as XComRow  # type: ignore[no-redef]
    where = {"dag_id": result.dag_id, "run_id": result.run_id}
    with create_session() as session:
        xcoms = [(x.task_id, x.key, x.value) for x in session.query(XComRow).filter_by(**where)]
        rendered = [f.rendered_fields for f in session.query(RenderedTaskInstanceFields).filter_by(**where)]
        payloads = [ti.next_kwargs for ti in session.query(TaskInstance).filter_by(**where)]
    return repr({"xcom": xcoms, "rendered_fields": rendered, "next_kwargs": payloads})


def metadata_db_dump() -> str:
    """Every row of the session's SQLite metadata DB, as SQL text."""
    url = os.environ["AIRFLOW__DATABASE__SQL_ALCHEMY_CONN"]
    path = url.split("sqlite:///", 1)[1]
    with sqlite3.connect(path) as db:
        return "\n".join(db.iterdump())


def log_folder_text() -> str:
    """Whatever Airflow wrote under its log folder (task logs of CLI runs, processor logs)."""
    folder = Path(os.environ["AIRFLOW__LOGGING__BASE_LOG_FOLDER"])
    if not folder.is_dir():
        return ""
    parts = []
    for path in sorted(folder.rglob("*")):
        if path.is_file():
            parts.append(f"--- {path}\n{path.read_text(errors='replace')}")
    return "\n".join(parts)
