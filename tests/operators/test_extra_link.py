"""The "Fauna log request" extra link: stored by the task, followable, free of credentials."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from harness import (
    FAUNA_CONN_ID,
    FAUNA_TEST_KEY,
    airflow_version,
    conn_env_var,
    fauna_connection_json,
    run_dag,
)

from airflow_provider_fauna.exceptions import FaunaValidationError
from airflow_provider_fauna.hooks.fauna import DEFAULT_LINK_TEMPLATE, FaunaAccountHook
from airflow_provider_fauna.links import FaunaLogRequestLink, log_request_url
from airflow_provider_fauna.log_requests import LogRequest

#: What ``python -m fauna_emulator`` puts in the connection line it prints.
EMULATOR_LINK = "{api_url}/_emulator/requests/{request_id}"


def _xcoms(run_id: str, task_id: str) -> dict:
    from airflow.utils.session import create_session
    from sqlalchemy import select

    try:
        from airflow.models.xcom import XComModel as XCom
    except ImportError:  # Airflow 2
        from airflow.models.xcom import XCom  # type: ignore[no-redef]
    with create_session() as session:
        rows = session.execute(
            select(XCom.key, XCom.value).where(XCom.run_id == run_id, XCom.task_id == task_id)
        ).all()
    return {key: XCom.deserialize_value(row) for key, row in ((r[0], r) for r in rows)}


@pytest.mark.dagrun
@pytest.mark.usefixtures("airflow_db", "fauna_connection")
def test_link_opens_the_request_and_holds_no_secret(emulator, monkeypatch):
    # The link's target comes from the connection: here, the emulator's own request page.
    monkeypatch.setenv(
        conn_env_var(FAUNA_CONN_ID),
        fauna_connection_json(emulator.url, FAUNA_TEST_KEY, link_template=EMULATOR_LINK),
    )
    run = run_dag("fauna_wait_deferrable", dt.datetime(2026, 11, 21, tzinfo=dt.timezone.utc))
    run.assert_success()
    request_id = str(run.task("request_logs").return_value)

    if airflow_version() >= (3, 0):
        # Airflow 3 asks the link on the worker and stores the URL for the UI.
        url = _xcoms(run.run_id, "request_logs")["_link_FaunaLogRequestLink"]
    else:
        from airflow.models.dagrun import DagRun
        from airflow.utils.session import create_session

        from airflow_provider_fauna.operators.logs import FaunaLogsRequestOperator

        with create_session() as session:
            ti = (
                session.query(DagRun)
                .filter(DagRun.dag_id == "fauna_wait_deferrable", DagRun.run_id == run.run_id)
                .one()
                .get_task_instance("request_logs", session=session)
            )
            url = FaunaLogRequestLink().get_link(
                FaunaLogsRequestOperator(task_id="request_logs", database="us-std/x"), ti_key=ti.key
            )

    assert url == f"{emulator.url}/_emulator/requests/{request_id}"
    assert FAUNA_TEST_KEY not in url
    page = requests.get(url, timeout=10)
    assert page.status_code == 200
    assert request_id in page.text


def _hook(monkeypatch: pytest.MonkeyPatch, host: str, **extra: object) -> FaunaAccountHook:
    monkeypatch.setenv(conn_env_var("fauna_link"), fauna_connection_json(host, FAUNA_TEST_KEY, **extra))
    return FaunaAccountHook("fauna_link")


def test_without_a_template_the_link_opens_the_dashboard_for_any_host(monkeypatch):
    request = LogRequest(request_id="123456", state="Complete", time_start="a", time_end="b")
    for host in ("https://account.fauna.com", "http://127.0.0.1:8765"):
        hook = _hook(monkeypatch, host)
        assert hook.link_template == DEFAULT_LINK_TEMPLATE
        url = log_request_url(hook.link_template, hook.base_url, request)
        assert url == "https://dashboard.fauna.com/#log_request=123456&state=Complete"


def test_a_template_from_the_connection_is_filled_and_quoted(monkeypatch):
    hook = _hook(
        monkeypatch, "https://account.fauna.com", link_template="https://console.example/{scope}/{request_id}"
    )
    request = LogRequest(
        request_id="12 34", state="Pending", database="us-std/Shop", time_start="a", time_end="b"
    )
    url = log_request_url(hook.link_template, hook.base_url, request)
    assert url == "https://console.example/us-std%2FShop/12%2034"


@pytest.mark.parametrize(
    ("template", "says"),
    [
        ("ftp://x/{request_id}", "not an http(s) URL template"),
        ("https://x/{request}", "unknown placeholder(s) request"),
        ("https://x/{request_id", "unbalanced braces"),
        (42, "not an http(s) URL template"),
    ],
)
def test_a_bad_template_is_refused_when_the_connection_is_read(monkeypatch, template, says):
    hook = _hook(monkeypatch, "https://account.fauna.com", link_template=template)
    with pytest.raises(FaunaValidationError, match="link_template") as err:
        hook.base_url  # noqa: B018 - reading the connection is what checks it
    assert says in str(err.value)
    assert "request_id" in str(err.value)  # the fix names the placeholders
