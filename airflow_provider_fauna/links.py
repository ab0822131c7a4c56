"""An operator extra link to the log request a task made.

The link is computed while the task runs (when the connection is at hand) and kept in XCom,
so the UI does not have to resolve connections to draw it. It fills the connection's
``link_template`` extra (``airflow_provider_fauna.hooks.link_template``); without one it
opens the Fauna dashboard with the request's id and state in the URL. It never holds a
credential.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import BaseOperatorLink, XCom

from airflow_provider_fauna.hooks.link_template import render_link

if TYPE_CHECKING:
    from airflow.providers.common.compat.sdk import TaskInstanceKey

    from airflow_provider_fauna.log_requests import LogRequest

LINK_XCOM_KEY = "log_request_link"


def log_request_url(template: str, api_url: str, request: LogRequest) -> str:
    """Where a person can follow ``request``: the connection's link template, filled.

    :param template: the hook's ``link_template`` (checked when the connection was read).
    :param api_url: the hook's ``base_url``, for templates that point at the API's own host.
    :param request: the log request the task made or waited on.
    """
    return render_link(
        template,
        api_url=api_url,
        request_id=request.request_id,
        state=request.state,
        scope=request.scope,
    )


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
