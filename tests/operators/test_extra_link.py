"""The "Fauna log request" extra link: stored by the task, followable, free of credentials."""

from __future__ import annotations

import datetime as dt

import pytest
import requests
from harness import FAUNA_TEST_KEY, airflow_version, run_dag

from airflow_provider_fauna.links import DASHBOARD_URL, FaunaLogRequestLink, log_request_url
from airflow_provider_fauna.log_requests import LogRequest


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
def test_link_opens_the_request_and_holds_no_secret(emulator):
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
                .filter(DagRun.run_id == run.run_id)
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


def test_public_service_links_to_the_dashboard_with_id_and_state():
    request = LogRequest(request_id="123456", state="Complete", time_start="a", time_end="b")
    url = log_request_url("https://account.fauna.com", request)
    assert url.startswith(DASHBOARD_URL)
    assert "log_request=123456" in url
    assert "state=Complete" in url
    assert log_request_url("https://frontdoor.fauna.com", request).startswith(DASHBOARD_URL)
