"""Nothing leaks: the account key stays with the API host, presigned URL signatures stay out of what people read.

Every reliability test already has its evidence searched when it ends (see ``conftest.py`` and
:mod:`leak_evidence`). Here:

* one test runs the full pipeline through every path that handles a secret (a URL renewed
  mid-copy, API faults, a failed export and its message, a revoked key) and searches everything,
  the whole metadata DB included;
* the presigned URL is served by another host, which redirects to a third: neither may see an
  ``Authorization`` header, while the API host sees the key on every call;
* the sweep at the end of the session searches the metadata DB and the log folder for every secret
  any reliability test handled.
"""

from __future__ import annotations

import contextlib
import logging
import re
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import TYPE_CHECKING, Any

import pytest
import requests
from fauna_emulator import FaultConfig
from fauna_emulator.calls import fingerprint
from harness import FAUNA_CONN_ID, FAUNA_TEST_KEY, conn_env_var, fauna_connection_json, run_dag
from leak_evidence import log_folder_text, metadata_db_dump, run_rows
from reliability_support import DATABASE, Bucket, day_key, nov, statuses

if TYPE_CHECKING:
    from collections.abc import Iterator

    from leak_evidence import Evidence

pytestmark = pytest.mark.dagrun


def assert_no_leak(evidence: Evidence) -> None:
    leaks = evidence.leaks()
    assert not leaks, "secrets leaked:\n" + "\n".join(leaks)


# --------------------------------------------------------------------------------- the pipeline
def test_the_full_pipeline_leaks_neither_the_key_nor_a_signature(
    fauna: Any, bucket: str, dagruns: Any, evidence: Evidence
) -> None:
    fauna.faults = FaultConfig(download_expire_mid_stream=True)  # two URLs, one refused mid-copy
    dagruns.one("reliability_pipeline", nov(12)).assert_success()
    fauna.faults = FaultConfig(
        rate_limit_ratio=0.2, server_error_ratio=0.2, drop_ratio=0.1, retry_after=0, seed=3
    )
    dagruns.one("reliability_pipeline", nov(13)).assert_success()
    fauna.faults = FaultConfig()
    fauna.set_outcome(DATABASE, "Failed", count=1)  # a failure message naming the request
    dagruns.one("reliability_one_task", nov(14)).assert_success()
    fauna.revoke_key(FAUNA_TEST_KEY)  # a 401 and its message
    assert dagruns.one("reliability_pipeline", nov(15)).state == "failed"

    assert len(evidence.signatures) >= 4, "the runs must have handled several presigned URLs"
    assert any("presigned_url_expiration_time" in text for _, text in evidence.texts), (
        "the XComs searched hold the log request's details"
    )
    evidence.add_text("the metadata DB", metadata_db_dump())
    evidence.add_text("Airflow's log folder", log_folder_text())
    evidence.add_calls(fauna.calls, "the emulator")
    assert_no_leak(evidence)
    # The key went to the configured host only, in the Authorization header of API calls.
    assert {c.key_fingerprint for c in fauna.api_calls()} == {fingerprint(FAUNA_TEST_KEY)}
    assert fauna.download_calls() and not any(c.had_authorization for c in fauna.download_calls())


# --------------------------------------------------------------------------------- other hosts
class Seen:
    """What a local server saw: (method, path, Authorization header) per request."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.requests: list[tuple[str, str, str | None]] = []

    def add(self, handler: BaseHTTPRequestHandler) -> None:
        with self.lock:
            self.requests.append((handler.command, handler.path, handler.headers.get("Authorization")))


@contextlib.contextmanager
def serve(handler: type[BaseHTTPRequestHandler], host: str) -> Iterator[str]:
    server = ThreadingHTTPServer((host, 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://{host}:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


class Quiet(BaseHTTPRequestHandler):
    def log_message(self, *args: Any) -> None:
        pass


#: The emulator's presigned URL, as the API relay rewrites it into a path-signed one.
_EMULATOR_FILE_URL = re.compile(
    r"(?P<origin>http://[^/\"]+)(?P<path>/_files/[^?\"]+)\?X-Fauna-Expires=(?P<expires>\d+)&X-Fauna-Signature=(?P<sig>[0-9a-f]+)"
)
_PATH_SIGNED = re.compile(r"^/_signed/(?P<sig>[0-9a-f]+)/(?P<expires>\d+)(?P<path>/_files/.+)$")


@contextlib.contextmanager
def api_and_file_hosts(emulator_url: str, *, path_signed: bool = False) -> Iterator[tuple[str, Seen, Seen]]:
    """An API host that relays to the emulator but hands out presigned URLs on a *file host*,
    which answers every download with a 307 to the emulator's own URL (as S3 redirects a
    request to another region's endpoint). Yields the API host's URL and what each host saw.

    ``path_signed``: the URLs handed out carry the emulator's signature in their *path*
    (``/_signed/{signature}/{expires}/_files/...``, as some stores sign), and the file host
    redirects to the emulator's query-signed URL, which the provider never saw in an answer."""
    api_seen, file_seen = Seen(), Seen()
    file_origin: list[str] = []

    class FileHost(Quiet):
        def do_GET(self) -> None:
            file_seen.add(self)
            target = emulator_url + self.path
            if match := _PATH_SIGNED.match(self.path):
                target = (
                    f"{emulator_url}{match['path']}?X-Fauna-Expires={match['expires']}"
                    f"&X-Fauna-Signature={match['sig']}"
                )
            self.send_response(307)
            self.send_header("Location", target)
            self.send_header("Content-Length", "0")
            self.end_headers()

    relay = requests.Session()
    relay.trust_env = False  # the relay is the test's, and must not pick up the test's .netrc

    class ApiHost(Quiet):
        def relay(self) -> None:
            api_seen.add(self)
            body = self.rfile.read(int(self.headers.get("Content-Length") or 0)) or None
            forwarded = {
                k: v for k, v in self.headers.items() if k in ("Authorization", "Content-Type", "Accept")
            }
            answer = relay.request(
                self.command,
                emulator_url + self.path,
                data=body,
                headers=forwarded,
                timeout=30,
                allow_redirects=False,
            )
            text = answer.text
            if path_signed:
                text = _EMULATOR_FILE_URL.sub(
                    lambda m: f"{file_origin[0]}/_signed/{m['sig']}/{m['expires']}{m['path']}", text
                )
            text = text.replace(emulator_url + "/_files/", file_origin[0] + "/_files/")
            self.send_response(answer.status_code)
            for name in ("Content-Type", "Retry-After", "WWW-Authenticate"):
                if name in answer.headers:
                    self.send_header(name, answer.headers[name])
            self.send_header("Content-Length", str(len(text.encode())))
            self.end_headers()
            self.wfile.write(text.encode())

        do_GET = do_POST = do_DELETE = relay

    # Three hosts as requests sees them: the API on 127.0.0.2, the file host on localhost, and
    # the emulator, where the file host redirects to, on 127.0.0.1.
    with serve(FileHost, "localhost") as file_url, serve(ApiHost, "127.0.0.2") as api_url:
        file_origin.append(file_url)
        yield api_url, api_seen, file_seen


@pytest.mark.parametrize("netrc", [False, True], ids=["no-netrc", "netrc-for-every-host"])
def test_no_host_but_the_api_ever_sees_a_credential_even_through_a_redirected_download(
    fauna: Any, bucket: str, dagruns: Any, monkeypatch: pytest.MonkeyPatch, tmp_path: Any, netrc: bool
) -> None:
    store = Bucket(bucket)
    if netrc:  # a user's .netrc with logins for the file host and for where it redirects
        path = tmp_path / "netrc"
        path.write_text(
            "machine localhost login file-host password netrc-secret-1\n"
            "machine 127.0.0.1 login redirect-target password netrc-secret-2\n"
        )
        path.chmod(0o600)
        monkeypatch.setenv("NETRC", str(path))
    with api_and_file_hosts(fauna.url) as (api_url, api_seen, file_seen):
        monkeypatch.setenv(conn_env_var(FAUNA_CONN_ID), fauna_connection_json(api_url, FAUNA_TEST_KEY))

        run = dagruns.one("reliability_pipeline", nov(16)).assert_success()

    (request,) = fauna.log_requests
    assert store.read(day_key(run.logical_date)) == fauna.file_bytes(request["request_id"])
    assert api_seen.requests and {auth for _, _, auth in api_seen.requests} == {f"Bearer {FAUNA_TEST_KEY}"}
    assert file_seen.requests, "the download went through the file host"
    assert {auth for _, _, auth in file_seen.requests} == {None}, "the file host saw an Authorization header"
    assert statuses(fauna.download_calls()) == [200]
    assert not any(c.had_authorization for c in fauna.download_calls()), "the redirect target saw one"


# --------------------------------------------------------------------------------- at DEBUG
#: The loggers a user turns to DEBUG to see what a transfer does on the wire.
DEBUG_LOGGERS = ("airflow", "airflow.task", "urllib3", "botocore", "boto3", "s3transfer", "requests")


@contextlib.contextmanager
def at_debug(names: tuple[str, ...] = DEBUG_LOGGERS) -> Iterator[None]:
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.DEBUG)
    try:
        yield
    finally:
        for logger, level in zip(loggers, levels, strict=True):
            logger.setLevel(level)


def test_at_debug_a_path_signed_url_and_its_redirect_target_reach_no_task_log(
    fauna: Any, bucket: str, monkeypatch: pytest.MonkeyPatch, evidence: Evidence
) -> None:
    """Airflow's, urllib3's and botocore's loggers at DEBUG; the presigned URL is signed in its
    path and redirects to a query-signed one. urllib3 logs both requests ("GET /path?query"): the
    task log, as Airflow's masker writes it, must hold neither signature, nor the key."""
    store = Bucket(bucket)
    with api_and_file_hosts(fauna.url, path_signed=True) as (api_url, _, file_seen), at_debug():
        monkeypatch.setenv(conn_env_var(FAUNA_CONN_ID), fauna_connection_json(api_url, FAUNA_TEST_KEY))
        run = run_dag("reliability_pipeline", nov(17)).assert_success()

    (request,) = fauna.log_requests
    assert store.read(day_key(run.logical_date)) == fauna.file_bytes(request["request_id"])
    assert file_seen.requests and all(path.startswith("/_signed/") for _, path, _ in file_seen.requests)
    signature = request["presigned_url"].partition("X-Fauna-Signature=")[2]
    raw = run.task("to_s3").log
    # The DEBUG lines are there, raw, with both signatures: the masker is what must hide them.
    assert f"/_signed/{signature}/" in raw and f"X-Fauna-Signature={signature}" in raw
    assert "botocore" in raw
    for task in run.tasks.values():
        evidence.add_text(f"task log of {run.dag_id}.{task.task_id}, as Airflow masks it", task.masked_log)
    evidence.add_text("the run's metadata rows", run_rows(run))
    evidence.add_url(request["presigned_url"], "kept by the emulator")
    assert signature in evidence.secrets
    assert_no_leak(evidence)


# --------------------------------------------------------------------------------- the sweep
@pytest.mark.session_sweep
def test_nothing_any_reliability_test_handled_leaked_into_the_metadata_db_or_log_folder(
    session_evidence: Evidence,
) -> None:
    sweep = [
        ("the metadata DB at the end of the session", metadata_db_dump()),
        ("Airflow's log folder at the end of the session", log_folder_text()),
    ]

    leaks = session_evidence.leaks(sweep)

    assert not leaks, "secrets leaked:\n" + "\n".join(leaks)
    print(
        f"\nsearched {len(session_evidence.texts) + len(sweep)} texts "
        f"({sum(len(t) for _, t in session_evidence.texts) + sum(len(t) for _, t in sweep)} characters) "
        f"for the key and {len(session_evidence.signatures)} presigned URL signatures"
    )
