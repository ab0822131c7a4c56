"""An operator extra link to the log request a task made.

The link is computed while the task runs (when the connection is at hand) and kept in XCom,
so the UI does not have to resolve connections to draw it. For the public service it opens
the Fauna dashboard with the request's id and state in the URL; for a local emulator it
opens the emulator's own page of that request. It never holds a credential.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode, urlsplit

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import TaskInstanceKey

    from airflow_provider_fauna.log_requests import LogRequest

DASHBOARD_URL = "https://dashboard.fauna.com/"
LINK_XCOM_KEY = "log_request_link"


def log_request_url(base_url: str, request: LogRequest) -> str:
    """Where a person can follow ``request``: the dashboard, or the emulator's request page."""
    host = urlsplit(base_url).hostname or ""
    if host == "fauna.com" or host.endswith(".fauna.com"):
        return DASHBOARD_URL + "#" + urlencode({"log_request": request.request_id, "state": request.state})
    return f"{base_url}/_emulator/requests/{quote(request.request_id, safe='')}"


def push_no_link_yet(context: Any) -> None:
    """Store an empty link first thing, so a task that fails before its request has one anyway.

    Airflow 3 draws every extra link when a task ends, failed or not; a link whose XCom does
    not exist makes the API server log ``XCom not found`` as an error right below the task's
    real error, which reads like a second failure.
    """
    context["ti"].xcom_push(key=LINK_XCOM_KEY, value="")


class FaunaLogRequestLink(BaseOperatorLink):
    """ "Fauna log request": the request made by this task instance."""

    name = "Fauna log request"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        """The URL stored by the task, or an empty string before it ran."""
        return XCom.get_value(key=LINK_XCOM_KEY, ti_key=ti_key) or ""
