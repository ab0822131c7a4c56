"""An operator extra link to the log request a task made.

The task fills the connection's ``link_template`` extra while it runs and keeps the URL in
XCom, so the UI never resolves a connection to draw the link. It never holds a credential.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import TaskInstanceKey

    from airflow_provider_fauna.log_requests import LogRequest

LINK_XCOM_KEY = "log_request_link"


def log_request_url(template: str, api_url: str, request: LogRequest) -> str:
    """Fill the connection's link template for ``request``; every value but ``api_url`` is URL-quoted.

    :param template: the hook's ``link_template`` (checked when the connection was read).
    :param api_url: the hook's ``base_url``, for templates that point at the API's own host.
    :param request: the log request the task made or waited on.
    """
    return template.format(
        api_url=api_url,
        request_id=quote(request.request_id, safe=""),
        state=quote(request.state, safe=""),
        scope=quote(request.scope, safe=""),
    )


def push_no_link_yet(context: Any) -> None:
    """Store an empty link first thing, so a task that fails before its request has one anyway.

    Airflow 3 draws every extra link when a task ends; a missing XCom makes the API server log
    ``XCom not found`` as an error, which reads like a second failure.
    """
    context["ti"].xcom_push(key=LINK_XCOM_KEY, value="")


class FaunaLogRequestLink(BaseOperatorLink):
    """ "Fauna log request": the request made by this task instance."""

    name = "Fauna log request"

    def get_link(self, operator: Any, *, ti_key: TaskInstanceKey) -> str:
        """Return the URL stored by the task, or an empty string before it ran."""
        return XCom.get_value(key=LINK_XCOM_KEY, ti_key=ti_key) or ""
