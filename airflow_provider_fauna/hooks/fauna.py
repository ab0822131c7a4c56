"""The Fauna Account API over an Airflow connection: the connection form, its settings, the endpoints."""

from __future__ import annotations

import dataclasses
import ipaddress
import math
import string
import uuid
from datetime import timedelta
from functools import cached_property
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlsplit

import pendulum
import requests
from airflow.providers.common.compat.connection import get_async_connection, get_async_extra_dejson
from airflow.providers.common.compat.sdk import BaseHook, mask_secret

from airflow_provider_fauna.arguments import check_int, check_str, given
from airflow_provider_fauna.exceptions import (
    FaunaApiError,
    FaunaAuthError,
    FaunaConnectionError,
    FaunaValidationError,
)
from airflow_provider_fauna.get_provider_info import CONNECTION_FIELDS, DEFAULT_HOST, UI_FIELD_BEHAVIOUR
from airflow_provider_fauna.hooks.retry import RetryPolicy, parse_number
from airflow_provider_fauna.hooks.transport import (
    USER_AGENT,
    ApiCall,
    Settings,
    asend,
    environment_proxy,
    send,
)
from airflow_provider_fauna.log_requests import (
    ALL_STATES,
    ID_PATTERN,
    LogRequest,
    LogRequestSpec,
    format_api_time,
    json_kind,
    known_state,
    log_request_problem,
    validate_request_id,
)

if TYPE_CHECKING:
    from collections.abc import Callable, Iterator
    from datetime import datetime

    from airflow.providers.common.compat.sdk import Connection

DEFAULT_TIMEOUT = 30.0
MAX_PAGE_SIZE = 100
#: Spellings of a state that differ from the pages' only in case, already warned about.
_WARNED_SPELLINGS: set[str] = set()
DEFAULT_LINK_TEMPLATE = "https://dashboard.fauna.com/#log_request={request_id}&state={state}"
LINK_FIELDS = frozenset({"request_id", "state", "scope", "api_url"})


def _logs_call(method: str, path: str, body: Any | None = None) -> ApiCall:
    return ApiCall(method, path, {"type": "query"}, body)


def _not_an_answer(call: ApiCall, problem: str) -> FaunaApiError:
    """The error of a 2xx answer that is not what the endpoint returns (a proxy's page, an API change)."""
    return FaunaApiError(
        200,
        f"{problem}; the provider cannot read it (a proxy in the way, or a change of the API?)",
        method=call.method,
        path=call.path,
    )


def _log_request_path(request_id: str) -> str:
    return f"/api/v1/logs/{quote(validate_request_id(request_id), safe='')}"


#: An answered time this close to the one asked is the same, told at another precision
#: (the vendor's samples give milliseconds; Airflow's manual intervals have microseconds).
ANSWER_TIME_TOLERANCE = timedelta(seconds=1)


def answer_differences(spec: LogRequestSpec, request: LogRequest) -> list[str]:
    """List how a submission's answer differs from the export asked for (fields it leaves out are not).

    Only what names another export counts: another database, another region group, other times.
    A region-group export's answer may carry a ``database`` field too (the vendor's samples do).
    """
    differences = []
    if spec.database and request.database and request.database != spec.database:
        differences.append(f"database is {request.database!r}, not {spec.database!r}")
    if spec.region_group and request.region_group and request.region_group != spec.region_group:
        differences.append(f"region_group is {request.region_group!r}, not {spec.region_group!r}")
    for name, asked in (("time_start", spec.time_start), ("time_end", spec.time_end)):
        answered = getattr(request, name)
        try:
            # An answered time without an offset is read as UTC, the API's own zone.
            moment = pendulum.parse(answered, tz="UTC") if answered else None
            same = moment is None or (
                isinstance(moment, pendulum.DateTime) and abs(moment - asked) < ANSWER_TIME_TOLERANCE
            )
        except Exception:  # pendulum raises more than ValueError on odd text
            same = False
        if not same:
            differences.append(f"{name} is {answered[:40]!r}, not {format_api_time(asked)!r}")
    return differences


def validate_page_size(page_size: int) -> int:
    """Refuse a page size the API does not take (1 to 100)."""
    return check_int("page_size", page_size, 1, MAX_PAGE_SIZE, "results per page")


def validate_states(states: tuple[str, ...] | list[str] | None) -> tuple[str, ...]:
    """Refuse an empty list or unknown log request states; ``None`` means all of them."""
    if states is not None and not isinstance(states, list | tuple | set | frozenset):
        raise FaunaValidationError(
            f"states={given(states)} must be a list of log request states, for example ['Complete']."
        )
    chosen = tuple(str(s) for s in (states if states is not None else ALL_STATES))
    if not chosen or any(s not in ALL_STATES for s in chosen):
        raise FaunaValidationError(
            f"states={list(chosen)!r} must be a non-empty list of log request states ({', '.join(ALL_STATES)})."
        )
    return chosen


def validate_link_template(conn_id: str, template: object) -> str:
    """Return the ``link_template`` extra, the default when it is empty, or refuse it naming the fix."""
    if template is None or template == "":
        return DEFAULT_LINK_TEMPLATE
    problem = ", which is not an http(s) URL template"
    if isinstance(template, str) and template.startswith(("http://", "https://", "{api_url}")):
        try:
            names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
        except ValueError as err:
            problem = f" with unbalanced braces ({err})"
        else:
            if not (unknown := sorted(names - LINK_FIELDS)):
                return template
            problem = f" with unknown placeholder(s) {', '.join(unknown)}"
    raise FaunaValidationError(
        f"Connection {conn_id!r} has extra link_template={template!r}{problem}: for example "
        f'"{DEFAULT_LINK_TEMPLATE}" (placeholders: {", ".join(sorted(LINK_FIELDS))}).'
    )


def check_key(conn_id: str, key: str) -> str:
    """Refuse an account key with a character that is not printable ASCII, naming its position, never the key.

    A key pasted with an invisible (``\\u200b``) or typographic (``\\u2019``) character cannot go in
    an HTTP header at all.
    """
    if key.lower().startswith("bearer "):
        raise FaunaValidationError(
            f"Connection {conn_id!r} has an account key (the password field) that begins with 'Bearer ': "
            "give the key alone (it starts with 'fnacapi'); the provider adds the 'Bearer ' scheme itself."
        )
    for position, char in enumerate(key, start=1):
        if not "!" <= char <= "~":
            raise FaunaValidationError(
                f"Connection {conn_id!r} has a character U+{ord(char):04X} at position {position} of its "
                "account key (the password field), which is not printable ASCII: an account key is "
                "letters, digits and punctuation. Copy the key again from the Fauna dashboard, without "
                "invisible or typographic characters."
            )
    return key


def api_base_url(conn_id: str, host: str | None, port: int | None, scheme: str | None) -> str:
    """Return the Account API's URL a connection's host (and port) give, or refuse it naming the fix.

    A bare IPv6 literal, as Airflow leaves the host of ``fauna://:key@[::1]:8765``, is bracketed
    again; user info, a query or a fragment is refused (never echoed: it may hold a password).
    """
    text = (host or "").strip() or DEFAULT_HOST
    where = f"Connection {conn_id!r} has host"
    if "://" not in text:
        text = f"{scheme or 'https'}://{text}"
    head, _, rest = text.partition("://")
    netloc = rest.split("/", 1)[0]
    if netloc.count(":") > 1 and not netloc.startswith("["):
        try:
            ipaddress.IPv6Address(netloc)
        except ValueError:
            pass
        else:
            text = f"{head}://[{netloc}]{rest[len(netloc) :]}"
    # Anywhere, not only in what urlsplit calls the netloc: in "user:pa?ss@host" that ends at "?".
    if "@" in rest:
        raise FaunaValidationError(
            f"{where} with a user name or password before '@' (not repeated here): the Account API "
            "takes the account key from the password field only. Remove 'user:password@' from the host."
        )
    parts = urlsplit(text)
    if "?" in text or "#" in text:
        cut = text.split("?", 1)[0].split("#", 1)[0]
        raise FaunaValidationError(
            f"{where} {cut}… with a query string or fragment ('?…' or '#…'), which the Account API URL "
            f"does not take: give {cut.rstrip('/')} and put settings in the connection's extras."
        )
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise FaunaValidationError(
            f"{where} {text!r}, which is not an http(s) URL: "
            f"use {DEFAULT_HOST} (or the emulator's http://127.0.0.1:PORT)."
        )
    try:
        given_port = parts.port
    except ValueError:
        given_port = -1
    chosen = given_port if given_port is not None else port
    if chosen is not None and not (isinstance(chosen, int) and 1 <= chosen <= 65535):
        shown = parts.netloc.rpartition(":")[2] if given_port is not None else port
        raise FaunaValidationError(
            f"Connection {conn_id!r} has port {shown!r}, which is not a TCP port: give one from 1 to 65535, "
            "or none for the scheme's default."
        )
    suffix = f":{port}" if port and given_port is None else ""
    return f"{parts.scheme}://{parts.netloc}{suffix}{parts.path.rstrip('/')}"


class FaunaAccountHook(BaseHook):
    """Talk to the Fauna Account API: log exports and OAuth apps.

    The connection holds the account key secret in its password and, optionally, the API's URL
    in its host; its extras are described in docs/connection.rst.

    :param fauna_conn_id: the Airflow connection to use.
    :param timeout: seconds one HTTP call may take; overrides the connection's extra.
    :param retry_policy: how to retry 429, 5xx, timeouts and dropped connections; by default
        built from the connection's extras.
    """

    conn_name_attr = "fauna_conn_id"
    default_conn_name = "fauna_default"
    conn_type = "fauna"
    hook_name = "Fauna"

    def __init__(
        self,
        fauna_conn_id: str = default_conn_name,
        *,
        timeout: float | None = None,
        retry_policy: RetryPolicy | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.fauna_conn_id = check_str("fauna_conn_id", fauna_conn_id, example=self.default_conn_name)
        try:
            self.timeout = None if timeout is None else parse_number(timeout, "timeout", positive=True)
        except ValueError as err:
            raise FaunaValidationError(f"{err} (the hook's timeout argument).") from None
        self.retry_policy = retry_policy

    @classmethod
    def get_connection_form_widgets(cls) -> dict[str, Any]:
        """Return the extras as form fields; Airflow 3 reads ``conn-fields`` from the provider info."""
        from flask_appbuilder.fieldwidgets import BS3TextFieldWidget
        from flask_babel import lazy_gettext
        from wtforms import StringField

        return {
            name: StringField(
                lazy_gettext(spec["label"]),
                widget=BS3TextFieldWidget(),
                description=spec["description"],
                default=str(spec["schema"]["default"]),
            )
            for name, spec in CONNECTION_FIELDS.items()
        }

    @classmethod
    def get_ui_field_behaviour(cls) -> dict[str, Any]:
        """Hide the fields that mean nothing to the Account API and label the rest."""
        return {key.replace("-", "_"): value for key, value in UI_FIELD_BEHAVIOUR.items()}

    def _settings_from(self, conn: Connection, extra: dict[str, Any]) -> Settings:
        key = (conn.password or "").strip()
        if not key:
            raise FaunaValidationError(
                f"Connection {self.fauna_conn_id!r} has no account key: put the account key secret "
                "(it starts with 'fnacapi') in the connection's password field."
            )
        check_key(self.fauna_conn_id, key)
        try:
            raw = extra.get("timeout")
            timeout = self.timeout or (
                DEFAULT_TIMEOUT if raw in (None, "") else parse_number(raw, "timeout", positive=True)
            )
            policy = self.retry_policy or RetryPolicy.from_extra(extra)
        except ValueError as err:
            raise FaunaValidationError(
                f"Connection {self.fauna_conn_id!r} has an invalid extra: {err}. "
                'Extras take numbers, for example {"timeout": 30, "max_retries": 4}.'
            ) from None
        base_url = api_base_url(self.fauna_conn_id, conn.host, conn.port, extra.get("scheme"))
        link = validate_link_template(self.fauna_conn_id, extra.get("link_template"))
        return Settings(base_url, key, timeout, policy, environment_proxy(base_url), link, self.fauna_conn_id)

    @cached_property
    def _settings(self) -> Settings:
        conn = self.get_connection(self.fauna_conn_id)
        settings = self._settings_from(conn, conn.extra_dejson)
        mask_secret(settings.key)
        return settings

    async def _asettings(self) -> Settings:
        if "_settings" not in self.__dict__:
            conn = await get_async_connection(self.fauna_conn_id, self)
            settings = self._settings_from(conn, await get_async_extra_dejson(conn))
            try:
                from airflow.sdk.log import amask_secret
            except ImportError:  # Airflow 2: no supervisor to tell, mask_secret only records the value
                mask_secret(settings.key)
            else:
                await amask_secret(settings.key)
            self.__dict__["_settings"] = settings
        return self.__dict__["_settings"]

    def _rotated(self, before: Settings, after: Settings | Exception) -> bool:
        """Whether the connection, read again after ``before``'s key was rejected, holds a new key."""
        if isinstance(after, Exception):  # the rejected key is the error to report, not this
            self.log.warning("Could not read connection %r again: %s", self.fauna_conn_id, after)
        elif after.key != before.key:
            self.log.warning(
                "The key of connection %r was rejected but has changed since: sending again with the new key.",
                self.fauna_conn_id,
            )
            return True
        self.__dict__["_settings"] = before
        return False

    def _send(self, call: ApiCall, deadline: float | None = None) -> Any:
        # A long wait or copy can outlive its key: a key rotated meanwhile gets one more try.
        before = self._settings
        try:
            return send(self._session, before, call, self.log, deadline=deadline)
        except FaunaAuthError:
            del self.__dict__["_settings"]
            try:
                after: Settings | Exception = self._settings
            except Exception as err:
                after = err
            if not self._rotated(before, after):
                raise
        return send(self._session, self._settings, call, self.log, deadline=deadline)

    async def _asend(self, call: ApiCall, deadline: float | None = None) -> Any:
        before = await self._asettings()
        try:
            return await asend(before, call, self.log, deadline=deadline)
        except FaunaAuthError:
            del self.__dict__["_settings"]
            try:
                after: Settings | Exception = await self._asettings()
            except Exception as err:
                after = err
            if not self._rotated(before, after):
                raise
        return await asend(await self._asettings(), call, self.log, deadline=deadline)

    @property
    def base_url(self) -> str:
        """Return the Account API's root URL this hook sends to."""
        return self._settings.base_url

    @property
    def link_template(self) -> str:
        """The URL template of the "Fauna log request" extra link (the ``link_template`` extra)."""
        return self._settings.link_template

    def get_conn(self) -> requests.Session:
        """Return the ``requests`` session for the Account API (it carries no credentials itself)."""
        return self._session

    @cached_property
    def _session(self) -> requests.Session:
        session = requests.Session()
        session.headers["User-Agent"] = USER_AGENT
        return session

    def _read_request(self, call: ApiCall, payload: Any) -> LogRequest:
        """Read a log request answer, or raise :class:`FaunaApiError` naming the endpoint.

        A state spelled as a listed one but for case is read as that state (with a warning once).
        """
        if (problem := log_request_problem(payload)) is not None:
            raise _not_an_answer(call, problem)
        request = LogRequest.from_api(payload)
        state = known_state(request.state)
        if state is not None and state != request.state:
            if request.state not in _WARNED_SPELLINGS:
                _WARNED_SPELLINGS.add(request.state)
                self.log.warning(
                    "The Account API spelled a log request state %r: read as %r.", request.state, state
                )
            request = dataclasses.replace(request, state=state)
        return request

    def _pages(self, call_for: Callable[[dict[str, Any]], ApiCall], first: dict[str, Any]) -> Iterator[Any]:
        """Yield each result of every page with the call of its page, sending ``first`` with each ``next_token``.

        A page that is not ``{"results": [objects], "next_token": ...}`` or a token given before
        (which would page for ever) raises :class:`FaunaApiError` naming the endpoint.
        """
        query, tokens = first, set()
        while True:
            call = call_for(query)
            page = self._send(call)
            if not isinstance(page, dict):
                raise _not_an_answer(
                    call, f"the page is {json_kind(page)}, not an object with a results list"
                )
            if not isinstance(page.get("results"), list):
                what = json_kind(page["results"]) if "results" in page else "missing"
                raise _not_an_answer(call, f"the page's results is {what}, not a list")
            token = page.get("next_token")
            if not isinstance(token, str | None) or any(
                not isinstance(item, dict) for item in page["results"]
            ):
                raise _not_an_answer(
                    call, "the page has a next_token that is not a string or a result that is not an object"
                )
            if token in tokens:
                raise _not_an_answer(
                    call, "the page gives a next_token it gave before, so the list would never end"
                )
            yield from ((call, item) for item in page["results"])
            if not token:
                return
            tokens.add(token)
            query = {**first, "next_token": token}

    def request_logs(
        self,
        *,
        time_start: datetime | str,
        time_end: datetime | str,
        database: str | None = None,
        region_group: str | None = None,
        idempotency_token: str | None = None,
    ) -> LogRequest:
        """Submit a query-log export for ``[time_start, time_end)`` of a database or a region group.

        Everything is validated before the call. Without a token a random one is made, which the
        hook's own retries of a lost answer reuse.

        :param time_start: start of the interval, inclusive (aware datetime or ISO 8601 with offset).
        :param time_end: end of the interval, exclusive.
        :param database: the database path with its region group, e.g. ``us-std/ECommerce``.
        :param region_group: export a whole region group instead.
        :param idempotency_token: a UUID; the same one within 24 hours finds the same request.
        """
        check_str("idempotency_token", idempotency_token, optional=True, example=str(uuid.uuid4()))
        spec = LogRequestSpec.build(
            time_start=time_start,
            time_end=time_end,
            database=database,
            region_group=region_group,
            idempotency_token=idempotency_token or str(uuid.uuid4()),
        )
        return self.submit(spec)

    def submit(self, spec: LogRequestSpec) -> LogRequest:
        """Submit an already validated export.

        :param spec: what to export.
        """
        call = _logs_call("POST", "/api/v1/logs", spec.to_body())
        request = self._read_request(call, self._send(call))
        if differences := answer_differences(spec, request):
            # Stored under the answer's scope and day, the file would fill another partition.
            raise FaunaApiError(
                200,
                f"the log request {request.request_id} answered is not the export asked for: its "
                + "; ".join(differences),
                method=call.method,
                path=call.path,
            )
        self.log.info("Fauna log request %s for %s is %s.", request.request_id, spec.scope, request.state)
        return request

    def get_log_request(self, request_id: str, *, deadline: float | None = None) -> LogRequest:
        """Return the current state of a log request (with the presigned URL once ``Complete``).

        :param request_id: the id the submission returned.
        :param deadline: epoch seconds by which the call must be over: no retry sleeps past it
            and each attempt's timeout is cut to the time left (a wait's budget).
        """
        call = _logs_call("GET", _log_request_path(request_id))
        return self._read_request(call, self._send(call, deadline))

    async def aget_log_request(self, request_id: str, *, deadline: float | None = None) -> LogRequest:
        """Return the current state of a log request, without blocking the event loop (for triggers).

        :param request_id: the id the submission returned.
        :param deadline: epoch seconds by which the call must be over, as for :meth:`get_log_request`.
        """
        call = _logs_call("GET", _log_request_path(request_id))
        return self._read_request(call, await self._asend(call, deadline))

    def create_log_file_url(self, request_id: str, version: int | None = None) -> LogRequest:
        """Ask for a fresh presigned URL of a completed request's log file (after the old one expired).

        :param request_id: the id the submission returned.
        :param version: the optimistic-lock version the caller last saw, if any.
        """
        if version is not None:
            check_int("version", version, 0, math.inf, "the request's version, as the API last gave it")
        body = {"version": version} if version is not None else {}
        call = _logs_call("POST", f"{_log_request_path(request_id)}/url", body)
        return self._read_request(call, self._send(call))

    def list_log_requests(
        self, states: tuple[str, ...] | list[str] | None = None, *, page_size: int = MAX_PAGE_SIZE
    ) -> Iterator[LogRequest]:
        """Yield every log request of the account in ``states``, page after page.

        :param states: the states to list; all of them by default.
        :param page_size: requests per page, 1 to 100.
        """
        body: dict[str, Any] = {
            "states": list(validate_states(states)),
            "max_results": validate_page_size(page_size),
        }
        pages = self._pages(lambda query: _logs_call("GET", "/api/v1/logs", query), body)
        for call, item in pages:
            yield self._read_request(call, item)

    def list_oauth_apps(self, *, page_size: int = MAX_PAGE_SIZE) -> Iterator[dict[str, Any]]:
        """Yield every OAuth app authorized for the account, page after page.

        :param page_size: apps per page, 1 to 100.
        """
        params = {"max_results": str(validate_page_size(page_size))}
        for _, app in self._pages(lambda query: ApiCall("GET", "/api/v1/oauth/apps", query), params):
            yield app

    def delete_oauth_app(self, app_id: str) -> None:
        """Delete an OAuth app, which disables the integration that created it.

        :param app_id: the app's ``id``, as :meth:`list_oauth_apps` gives it.
        """
        if not isinstance(app_id, str) or not ID_PATTERN.match(app_id):
            raise FaunaValidationError(
                f"app_id={app_id!r} is not an OAuth app id: take it from list_oauth_apps()."
            )
        path = f"/api/v1/oauth/apps/{quote(app_id, safe='')}"
        self._send(ApiCall("DELETE", path, empty_ok=True, gone_ok_on_retry=True))
        self.log.info("Deleted Fauna OAuth app %s.", app_id)

    def test_connection(self) -> tuple[bool, str]:
        """Make one cheap authenticated call (the first OAuth app), once, and say what happened."""
        try:
            settings = self._settings
            quick = dataclasses.replace(
                settings, timeout=min(settings.timeout, 10.0), policy=RetryPolicy(max_attempts=1)
            )
            send(self._session, quick, ApiCall("GET", "/api/v1/oauth/apps", {"max_results": "1"}), self.log)
        except FaunaAuthError as err:
            return False, f"The account key was rejected ({err.status}): {err.reason}"
        except FaunaConnectionError as err:
            return False, f"The Account API could not be reached: {err}"
        except (FaunaApiError, FaunaValidationError) as err:
            return False, str(err)
        return (
            True,
            f"Connected to the Fauna Account API at {settings.base_url}: the account key was accepted.",
        )
