"""The connection extra ``link_template``: where the "Fauna log request" extra link points.

A template with ``{request_id}``, ``{state}``, ``{scope}`` and ``{api_url}`` placeholders, for
example a team's own console, or the local emulator's page of a request (the connection line
the emulator prints sets one). Without it the link opens the Fauna dashboard. It lives beside the hook, which checks
it while it reads the connection, so a bad template fails before any API call.
"""

from __future__ import annotations

import string
from urllib.parse import quote

from airflow_provider_fauna.exceptions import FaunaValidationError

#: The extra's name in the connection.
LINK_TEMPLATE_EXTRA = "link_template"
#: The link when the connection has no template: the dashboard, with the request's id and state.
DEFAULT_LINK_TEMPLATE = "https://dashboard.fauna.com/#log_request={request_id}&state={state}"
#: The placeholders a template may use; every value is URL-quoted.
LINK_FIELDS = frozenset({"request_id", "state", "scope", "api_url"})


def validate_link_template(conn_id: str, template: object) -> str:
    """Return the connection's link template, or say which extra to fix and how."""
    if template is None or template == "":
        return DEFAULT_LINK_TEMPLATE
    fix = f'for example "{DEFAULT_LINK_TEMPLATE}" (placeholders: {", ".join(sorted(LINK_FIELDS))})'
    if not isinstance(template, str) or not template.startswith(("http://", "https://", "{api_url}")):
        raise FaunaValidationError(
            f"Connection {conn_id!r} has extra {LINK_TEMPLATE_EXTRA}={template!r}, which is not an "
            f"http(s) URL template: {fix}."
        )
    try:
        names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    except ValueError as err:
        raise FaunaValidationError(
            f"Connection {conn_id!r} has extra {LINK_TEMPLATE_EXTRA}={template!r} with unbalanced "
            f"braces ({err}): {fix}."
        ) from None
    unknown = sorted(names - LINK_FIELDS)
    if unknown:
        raise FaunaValidationError(
            f"Connection {conn_id!r} has extra {LINK_TEMPLATE_EXTRA}={template!r} with unknown "
            f"placeholder(s) {', '.join(unknown)}: {fix}."
        )
    return template


def render_link(template: str, *, api_url: str, request_id: str, state: str, scope: str) -> str:
    """Fill a checked template; ``api_url`` stays as it is, the rest are URL-quoted."""
    return template.format(
        api_url=api_url,
        request_id=quote(request_id, safe=""),
        state=quote(state, safe=""),
        scope=quote(scope, safe=""),
    )
