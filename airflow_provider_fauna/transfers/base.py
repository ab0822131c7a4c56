"""What the S3 and GCS transfers share: input checks, finding the request, the key, the copy's frame.

A transfer either copies the file of a given ``request_id`` or, standalone (``database`` or
``region_group``), submits the request itself, waits, then copies; see :doc:`/transfers`.
"""

from __future__ import annotations

import importlib
import importlib.util
import math
import re
import string
import uuid
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import urlsplit

from airflow.providers.common.compat.sdk import (
    AirflowFailException,
    AirflowOptionalProviderFeatureException,
    BaseOperator,
    conf,
)

from airflow_provider_fauna.arguments import check_bool, check_int, check_str, check_templated
from airflow_provider_fauna.assets import add_default_outlet, announce
from airflow_provider_fauna.exceptions import FaunaValidationError
from airflow_provider_fauna.hooks.fauna import FaunaAccountHook
from airflow_provider_fauna.links import LINK_XCOM_KEY, FaunaLogRequestLink, log_request_url, push_no_link_yet
from airflow_provider_fauna.log_requests import (
    LogRequest,
    LogRequestSpec,
    LogRequestState,
    format_api_time,
    parse_time,
    validate_request_id,
)
from airflow_provider_fauna.outcomes import describe, settle, submitter_of
from airflow_provider_fauna.partitions import request_details
from airflow_provider_fauna.tasks import (
    DEFAULT_EXPORT_LAG,
    DEFAULT_WAIT_TIMEOUT,
    LOG_REQUEST_XCOM_KEY,
    SubmitsExport,
    submit_reusing,
    validate_interval_source,
    validate_scope_arguments,
    wait_for_export_lag,
    wait_or_defer,
)
from airflow_provider_fauna.transfers.checks import AUTO, check_verify_gzip
from airflow_provider_fauna.transfers.download import DEFAULT_MAX_RESUMES, LogFileDownload, usable_url
from airflow_provider_fauna.utils.templates import is_templated
from airflow_provider_fauna.waiting import read_trigger_event

if TYPE_CHECKING:
    from collections.abc import Callable, Sequence
    from datetime import datetime, timedelta

    from airflow.providers.common.compat.sdk import Context

#: Where a log file lands when no key is given: a Hive-style ``date=`` partition, and the interval
#: in the name so that sub-daily runs never share a key.
DEFAULT_KEY_TEMPLATE = "fauna/query_logs/{region_group}/{database_name}/date={date}/{start}_{end}.ndjson.gz"
#: The layout before 0.1.0 changed the default (ISO times with ``+`` and ``:``).
LEGACY_KEY_TEMPLATE = "fauna/query/{scope}/{time_start}_{time_end}.ndjson.gz"
#: ``{database_name}`` of a region group's export, which covers all its databases.
ALL_DATABASES = "_all_databases"
#: The placeholders a key may use (besides Jinja, which renders first, from the run's context).
KEY_FIELDS = frozenset(
    {"scope", "database", "region_group", "time_start", "time_end", "request_id"}
    | {"database_name", "date", "start", "end"}
)
_TIME_FIELDS = ("time_start", "time_end", "start", "end", "date")
#: The log file's gzip bytes are stored as such, without a ``Content-Encoding``.
DEFAULT_CONTENT_TYPE = "application/gzip"
#: The XCom key of the copy's summary (the return value is the destination URI).
TRANSFER_XCOM_KEY = "fauna_transfer"


def require_provider(module: str, extra: str, operator: str, *, load: bool = True) -> Any:
    """Import an optional provider's module, or say which extra to install.

    :param load: import it; if not, only find it (as constructors do: importing it is slow).
    """
    why = "which is not installed"
    try:
        found = importlib.import_module(module) if load else importlib.util.find_spec(module)
    except ImportError as err:  # for find_spec: a parent package is missing
        found, why = None, str(err)
    if found is None:
        raise AirflowOptionalProviderFeatureException(
            f"{operator} needs {module.rsplit('.', 1)[0]} ({why}). Install it with "
            f"pip install 'airflow-provider-fauna[{extra}]'."
        )
    return found


#: The strftime directives a time placeholder's spec may use: Python's documented, portable ones,
#: without the locale's whole-date forms (``%c``, ``%x``, ``%X``: spaces, and ``/`` in some locales).
STRFTIME_DIRECTIVES = frozenset("aAwdbBmyYHIpMSfzZjUWGuV%")
#: What a key is checked against when the DAG is parsed: both scopes, so no filled key can fail later.
SAMPLE_REQUESTS = (
    LogRequest(
        request_id="123456789",
        state=LogRequestState.COMPLETE,
        database="us-std/ECommerce",
        time_start="2026-11-01T00:00:00Z",
        time_end="2026-11-02T00:00:00Z",
    ),
    LogRequest(
        request_id="987654321",
        state=LogRequestState.COMPLETE,
        region_group="eu-std",
        time_start="2026-12-31T23:00:00Z",
        time_end="2027-01-01T00:00:00Z",
    ),
)
KEY_SPEC_FIX = "for example 'year={start:%Y}/month={start:%m}/day={start:%d}/{request_id}.ndjson.gz'"


class _KeyTime:
    """A time placeholder's value: its default text, or the UTC time formatted by a strftime spec."""

    def __init__(self, moment: datetime, text: str) -> None:
        self.moment, self.text = moment, text

    def __format__(self, spec: str) -> str:
        return self.moment.strftime(spec) if spec else self.text


def _placeholders(field_name: str, template: str) -> list[tuple[str, str, str | None]]:
    """The template's placeholders as ``(name, spec, conversion)``; refuse unbalanced braces."""
    try:
        return [
            (name, spec or "", conversion)
            for _, name, spec, conversion in string.Formatter().parse(template)
            if name is not None
        ]
    except ValueError as err:
        raise FaunaValidationError(
            f"{field_name}={template!r} has unbalanced braces ({err}); write a literal brace as '{{{{' or '}}}}'."
        ) from None


def _check_spec(field_name: str, template: str, name: str, spec: str) -> None:
    """Refuse a format spec on a placeholder that is not a time, or one strftime cannot use portably."""
    if name not in _TIME_FIELDS:
        raise FaunaValidationError(
            f"{field_name}={template!r} gives {{{name}}} the format spec {spec!r}, but only the time "
            f"placeholders ({', '.join('{' + f + '}' for f in _TIME_FIELDS)}) take one, a strftime format: "
            f"write {{{name}}} alone, {KEY_SPEC_FIX}."
        )
    # Each '%' and the character after it (none: a lone '%' at the end); "%%" is a literal '%'.
    directives = re.findall(r"%(.?)", spec, re.DOTALL)
    if "{" in spec or "}" in spec:
        why = "a nested placeholder"
    elif "\x00" in spec:
        why = "a NUL character, where strftime stops"
    elif "%" not in spec:
        why = "no strftime directive (it would be the same text for every export)"
    elif "" in directives:
        why = "a lone '%' at its end"
    elif bad := next((f"%{d}" for d in directives if d not in STRFTIME_DIRECTIVES), None):
        why = f"the directive {bad!r}, not one strftime gives the same way on every worker"
    else:
        return
    raise FaunaValidationError(
        f"{field_name}={template!r} gives {{{name}}} the format spec {spec!r}, which has {why}: use "
        f"strftime directives ({' '.join('%' + d for d in sorted(STRFTIME_DIRECTIVES))}), {KEY_SPEC_FIX}."
    )


def check_key_template(field_name: str, template: str) -> str:
    """Refuse an empty key, or one :func:`render_key` could not fill for every export.

    A time placeholder may take a strftime spec (``{start:%Y}``); anything else that ``str.format``
    would read (a spec elsewhere, ``!r``, ``.attribute``, ``[index]``) is refused, and the template
    is filled for sample exports of both scopes, so no template that passes fails later.
    """
    if not isinstance(template, str) or not template.strip():
        raise FaunaValidationError(
            f"{field_name} is empty: give the object's name, or leave it out for the default "
            f"{DEFAULT_KEY_TEMPLATE!r}."
        )
    placeholders = _placeholders(field_name, template)
    for name, _, _ in placeholders:
        if ("." in name or "[" in name) and name.split(".")[0].split("[")[0] in KEY_FIELDS:
            raise FaunaValidationError(
                f"{field_name}={template!r} reads {{{name}}}, an attribute or index of a placeholder, "
                f"which keys do not support: use the placeholder alone or with a strftime spec, {KEY_SPEC_FIX}."
            )
    unknown = sorted({name or "{}" for name, _, _ in placeholders if name not in KEY_FIELDS})
    if unknown:
        raise FaunaValidationError(
            f"{field_name}={template!r} uses unknown placeholder(s) {', '.join(unknown)}: the key may use "
            f"{', '.join('{' + f + '}' for f in sorted(KEY_FIELDS))}."
        )
    for name, spec, conversion in placeholders:
        if conversion is not None:
            raise FaunaValidationError(
                f"{field_name}={template!r} converts {{{name}!{conversion}}}, which keys do not support: "
                f"write {{{name}}}, or a time placeholder with a strftime spec, {KEY_SPEC_FIX}."
            )
        if spec:
            _check_spec(field_name, template, name, spec)
    for sample in SAMPLE_REQUESTS:
        try:
            _fill(template, sample)
        except Exception as err:  # what the checks above missed: never let it reach a run
            raise FaunaValidationError(
                f"{field_name}={template!r} cannot be filled ({type(err).__name__}: {err}): use the "
                f"placeholders {', '.join('{' + f + '}' for f in sorted(KEY_FIELDS))}, {KEY_SPEC_FIX}."
            ) from None
    return template


def _fill(template: str, request: LogRequest) -> str:
    """Fill a checked template from the request (times unused by the template may be unknown)."""
    start = parse_time(request.time_start, "time_start") if request.time_start else None
    end = parse_time(request.time_end, "time_end") if request.time_end else None
    region = request.region_group or (request.database or "").split("/", 1)[0]
    database_name = (request.database or "").split("/", 1)[1] if request.database else ALL_DATABASES
    times: dict[str, _KeyTime | None] = dict.fromkeys(_TIME_FIELDS)
    if start is not None and end is not None:
        times.update(
            time_start=_KeyTime(start, start.isoformat()),
            time_end=_KeyTime(end, end.isoformat()),
            # Compact UTC (ISO 8601 basic): no ``+`` or ``:``, which URL, Hive and shell tools mangle.
            start=_KeyTime(start, start.strftime("%Y%m%dT%H%M%SZ")),
            end=_KeyTime(end, end.strftime("%Y%m%dT%H%M%SZ")),
            date=_KeyTime(start, start.strftime("%Y-%m-%d")),
        )
    return template.format(
        scope=request.scope,
        database=request.database or "",
        region_group=region,
        database_name=database_name,
        request_id=request.request_id,
        **times,
    )


def render_key(field_name: str, template: str, request: LogRequest) -> str:
    """Fill a key template from the request, so the key names the very export it holds.

    A time placeholder alone renders as before (``{start}``: ``20261101T000000Z``); with a spec it
    is the UTC time formatted by strftime (``{start:%Y}``: ``2026``).
    """
    check_key_template(field_name, template)
    uses_times = any(name in _TIME_FIELDS for name, _, _ in _placeholders(field_name, template))
    if uses_times and not (request.time_start and request.time_end):
        raise FaunaValidationError(
            f"{describe(request)} does not report its interval, so {field_name}={template!r} cannot be "
            f"filled: pass an explicit {field_name} without {{{'}/{'.join(_TIME_FIELDS)}}}."
        )
    key = _fill(template, request)
    if not key.strip() or key.strip("/") == "":
        raise FaunaValidationError(
            f"{field_name}={template!r} renders to an empty key for {describe(request)}."
        )
    if len(key.encode()) > 1024:
        raise FaunaValidationError(
            f"{field_name} renders to {len(key.encode())} bytes; keys hold at most 1024."
        )
    return key


@dataclass(frozen=True)
class Destination:
    """Where the file goes: ``{scheme}://{bucket}/{key}``."""

    scheme: str
    bucket: str
    key: str

    @property
    def uri(self) -> str:
        """``s3://bucket/key`` or ``gs://bucket/object``, as Airflow assets and OpenLineage name it."""
        return f"{self.scheme}://{self.bucket}/{self.key}"


@dataclass(frozen=True)
class StoredObject:
    """An object already at the destination: its user metadata and its size in bytes."""

    metadata: dict[str, str]
    size: int | None


def object_metadata(request: LogRequest, attempt: str) -> dict[str, str]:
    """User metadata stored with the object: which export it is, and which attempt wrote it."""
    meta = {
        "fauna-request-id": request.request_id,
        "fauna-scope": request.scope,
        "fauna-format": "ndjson+gzip",
        "fauna-attempt": attempt,
    }
    if request.time_start:
        meta["fauna-time-start"] = str(request.time_start)
    if request.time_end:
        meta["fauna-time-end"] = str(request.time_end)
    return meta


def key_names_request(template: str) -> bool:
    """Tell whether a key template uses ``{request_id}``: each export then lands under a key of its own."""
    names = {name for _, name, _, _ in string.Formatter().parse(template) if name is not None}
    return any(re.split(r"[.\[]", name)[0] == "request_id" for name in names)


def key_before_submission(field_name: str, template: str, spec: LogRequestSpec) -> str | None:
    """Render the key of ``spec``'s export before it is submitted (``None``: it names the request id)."""
    if key_names_request(template):
        return None
    draft = LogRequest(
        request_id="",
        state="",
        database=spec.database,
        region_group=spec.region_group,
        time_start=format_api_time(spec.time_start),
        time_end=format_api_time(spec.time_end),
    )
    return render_key(field_name, template, draft)


def stored_export(stored: StoredObject, spec: LogRequestSpec) -> LogRequest | None:
    """Return the request whose file ``stored`` holds, if its metadata names ``spec``'s scope and interval."""
    meta = stored.metadata
    try:
        same = (
            meta.get("fauna-scope") == spec.scope
            and bool(meta.get("fauna-request-id"))
            and parse_time(meta["fauna-time-start"], "fauna-time-start") == spec.time_start
            and parse_time(meta["fauna-time-end"], "fauna-time-end") == spec.time_end
        )
    except (KeyError, FaunaValidationError):  # not written by this provider, or by hand
        return None
    if not same:
        return None
    return LogRequest(
        request_id=meta["fauna-request-id"],
        state=LogRequestState.COMPLETE,
        database=spec.database,
        region_group=spec.region_group,
        time_start=meta["fauna-time-start"],
        time_end=meta["fauna-time-end"],
    )


class BaseFaunaLogsTransferOperator(SubmitsExport, BaseOperator):
    """Copy a completed Fauna query-log export into an object store, verified and all-or-nothing.

    Give either ``request_id`` (the output of :class:`FaunaLogsRequestOperator`) or a scope
    (``database`` or ``region_group``) for the standalone form, which requests, waits and
    copies in one task. The object holds the gzip bytes as served, as ``application/gzip``
    without ``Content-Encoding`` (see "What it stores" in the transfers guide). An existing
    object is refused before the download unless ``replace=True``, and a failed attempt leaves
    no object and no upload behind. The landed object is announced as an asset event.

    ``database``, ``region_group``, ``time_start``, ``time_end``, ``fauna_conn_id``,
    ``deferrable``, ``poll_interval``, ``timeout`` and ``export_lag`` mean what they mean for
    :class:`FaunaLogsRequestOperator` (the first five templated); the standalone form uses them.
    Standalone, with a key that does not use ``{request_id}``, the object is looked up before
    anything is submitted: one holding this export (its metadata names the same scope and
    interval) is kept and the task succeeds; any other fails the task unless ``replace=True``.

    :param request_id: the log request whose file to copy (templated).
    :param replace: overwrite an existing object; otherwise the task fails before downloading.
        Standalone, it also asks for a fresh export on every try, rather than reusing a finished
        one (a retry then exports again and overwrites; no object is doubled).
    :param on_no_logs: ``"skip"`` (default), ``"succeed"`` (write nothing, return ``None``) or
        ``"fail"`` when the request ends ``DoesNotExist``.
    :param max_resumes: failures in a row without progress (dropped connection, 5xx, refused URL)
        before the download gives up.
    :param verify_gzip: decompress on the fly (output discarded) to prove the gzip stream whole:
        ``"auto"`` (default) only when the file server sends no MD5 of the file, ``True``
        always, ``False`` never. The file must begin with a gzip header whatever it says.
    :param content_type: the stored object's content type.
    """

    template_fields: Sequence[str] = (
        "request_id",
        "database",
        "region_group",
        "time_start",
        "time_end",
        "fauna_conn_id",
    )
    operator_extra_links = (FaunaLogRequestLink(),)
    ui_color = "#b9e3c6"

    #: ``s3`` or ``gs``.
    scheme: ClassVar[str] = ""
    #: Names of the subclass's bucket and key arguments.
    bucket_field: ClassVar[str] = "bucket"
    key_field: ClassVar[str] = "key"
    #: The optional provider's hook module, and the extra that installs it.
    provider: ClassVar[tuple[str, str]] = ("", "")

    def __init__(
        self,
        *,
        request_id: str | None = None,
        database: str | None = None,
        region_group: str | None = None,
        time_start: datetime | str | None = None,
        time_end: datetime | str | None = None,
        fauna_conn_id: str = FaunaAccountHook.default_conn_name,
        replace: bool = False,
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        poll_interval: float = 60.0,
        timeout: float | timedelta | None = DEFAULT_WAIT_TIMEOUT,
        on_no_logs: str = "skip",
        max_resumes: int = DEFAULT_MAX_RESUMES,
        verify_gzip: bool | str = AUTO,
        content_type: str = DEFAULT_CONTENT_TYPE,
        export_lag: float | timedelta = DEFAULT_EXPORT_LAG,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            database=database,
            region_group=region_group,
            time_start=time_start,
            time_end=time_end,
            fauna_conn_id=fauna_conn_id,
            deferrable=deferrable,
            poll_interval=poll_interval,
            timeout=timeout,
            on_no_logs=on_no_logs,
            export_lag=export_lag,
            **kwargs,
        )
        self.request_id = check_templated("request_id", request_id, kinds=(str, int), what="a request id")
        self.replace = check_bool("replace", replace)
        self.max_resumes = check_int(
            "max_resumes", max_resumes, 0, math.inf, "failures in a row before a download gives up"
        )
        self.verify_gzip = check_verify_gzip(verify_gzip)
        if not check_str("content_type", content_type, example=DEFAULT_CONTENT_TYPE).strip():
            raise FaunaValidationError("content_type is empty: leave it out for 'application/gzip'.")
        self.content_type = content_type
        self._check_form()
        add_default_outlet(self)
        self._lineage: tuple[LogRequest, Destination] | None = None
        self._abort: Callable[[], None] | None = None

    def _check_form(self) -> None:
        """Exactly one of ``request_id`` and a scope; times only with a scope."""
        has_request = self.request_id not in (None, "")
        has_scope = bool(self.database or self.region_group)
        if has_request and has_scope:
            raise FaunaValidationError(
                "Give either request_id (to copy an export made by FaunaLogsRequestOperator) or "
                f"database/region_group (to request and copy in this task), not both (got "
                f"request_id={self.request_id!r}, database={self.database!r}, region_group={self.region_group!r})."
            )
        if not has_request and not has_scope:
            raise FaunaValidationError(
                "Give request_id (for example request_task.output) or database/region_group "
                "(for example database='us-std/ECommerce') to say which export to copy."
            )
        if has_request and (self.time_start or self.time_end):
            raise FaunaValidationError(
                "time_start/time_end belong to the standalone form (with database or region_group); "
                "with request_id the interval is the request's own."
            )
        if has_scope:  # the standalone form exports the run's interval unless given times
            validate_scope_arguments(self.database, self.region_group)
            validate_interval_source(self, self.time_start, self.time_end)

    def check_destination(self, *, rendered: bool = True) -> None:
        """Refuse a bad bucket or key before any network call (templated ones once ``rendered``)."""
        if not rendered:  # at parse time: say which extra to install, without importing it
            require_provider(*self.provider, type(self).__name__, load=False)
        bucket = check_templated(self.bucket_field, getattr(self, self.bucket_field))
        key = check_templated(self.key_field, getattr(self, self.key_field))
        if rendered or not is_templated(bucket):
            if not check_str(self.bucket_field, bucket).strip():
                raise FaunaValidationError(
                    f"{self.bucket_field} is empty: give the name of the bucket to write to."
                )
            if "://" in bucket:
                url = urlsplit(bucket)
                prefix = url.path.strip("/")
                keep = f", and put {prefix!r} at the start of {self.key_field}" if prefix else ""
                raise FaunaValidationError(
                    f"{self.bucket_field}={bucket!r} is a URL: give the bare bucket name ({url.netloc!r}){keep}."
                )
            self.validate_bucket(bucket)
        if key is not None and (rendered or not is_templated(key)):
            self.validate_key(key)

    def validate_bucket(self, bucket: str) -> None:
        """Check a bucket name against the store's naming rules, naming the field in the message."""
        raise NotImplementedError

    def validate_key(self, key: Any) -> None:
        """Refuse an empty key, a URL, or one with placeholders :func:`render_key` cannot fill."""
        if isinstance(key, str) and re.match(r"[A-Za-z][A-Za-z0-9+.\-]*://", key):
            raise FaunaValidationError(
                f"{self.key_field}={key!r} is a URL: give the object's key alone, without "
                f"'{self.scheme}://bucket/' (the bucket goes in {self.bucket_field})."
            )
        check_key_template(self.key_field, check_str(self.key_field, key))

    def check_bucket_exists(self) -> None:
        """Fail early on a missing bucket or missing credentials; only log what is less certain."""

    def execute(self, context: Context) -> str | None:
        """Find (or make) the request, wait for it if needed, then copy its file."""
        push_no_link_yet(context)
        hook = self.hook
        submitted = self.request_id in (None, "")
        # What needs no network first (destination, request, Fauna connection), then the bucket.
        self.check_destination()
        spec = self.build_spec(context) if submitted else None
        request_id = None if submitted else validate_request_id(self.request_id)
        base_url, link_template = hook.base_url, hook.link_template
        self.check_bucket_exists()
        if spec is not None:
            if not self.replace and (uri := self.landed_before(context, spec)) is not None:
                return uri
            wait_for_export_lag(self, spec)
            # A key naming the request id would put a fresh export of a day beside the old one.
            request = submit_reusing(
                hook,
                spec,
                context,
                self.log,
                export_lag=self.export_lag,
                fresh=self.replace,
                keep_complete=key_names_request(self.key_template),
            )
        else:
            assert request_id is not None
            request = hook.get_log_request(request_id)
        context["ti"].xcom_push(key=LINK_XCOM_KEY, value=log_request_url(link_template, base_url, request))
        request = wait_or_defer(
            self,
            context,
            hook,
            request.request_id,
            current=request,
            poll_interval=self.poll_interval,
            timeout=self.timeout,
            submitted=submitted,
        )
        return self.transfer(context, request)

    def execute_after_lag(self, context: Context, event: Any = None) -> str | None:
        """Resume after the ``export_lag`` wait on the triggerer: check again, then submit."""
        return self.execute(context)

    @property
    def key_template(self) -> str:
        """The key template the task was given, or the default one."""
        return getattr(self, self.key_field) or DEFAULT_KEY_TEMPLATE

    def landed_before(self, context: Context, spec: LogRequestSpec) -> str | None:
        """Look at the destination before submitting: return its URI if it holds this export already.

        :raises AirflowFailException: another object is there (``replace=False``): nothing was exported.
        """
        key = key_before_submission(self.key_field, self.key_template, spec)
        if key is None:  # the key names the request: looked at after the submission
            return None
        destination = Destination(self.scheme, getattr(self, self.bucket_field), key)
        existing = self.stored_object(destination)
        if existing is None:
            return None
        request = stored_export(existing, spec)
        if request is None:
            raise self.occupied(destination)
        # Only verified copies are stored: an earlier try or run landed this export.
        self.log.info(
            "%s already holds the file of %s, stored by an earlier try: nothing to copy, nothing exported.",
            destination.uri,
            describe(request),
        )
        context["ti"].xcom_push(key=LOG_REQUEST_XCOM_KEY, value=request_details(request, context))
        announce(self, context, request, destination.uri, size=existing.size)
        return destination.uri

    def occupied(self, destination: Destination) -> AirflowFailException:
        """Return the error that refuses to overwrite an object with ``replace=False``."""
        return AirflowFailException(
            f"{destination.uri} already exists and replace=False, so nothing was downloaded. "
            f"Pass replace=True to overwrite it, or choose another {self.key_field}."
        )

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> str | None:
        """Resume after the trigger fired; the event carries no URL, so the request is read again."""
        self.check_destination()
        return self.transfer(context, read_trigger_event(event))

    def transfer(self, context: Context, request: LogRequest) -> str | None:
        """Settle the finished request and copy its file; return the destination URI (``None``: no logs).

        :param context: the task's context.
        :param request: the finished request.
        """
        context["ti"].xcom_push(key=LOG_REQUEST_XCOM_KEY, value=request_details(request, context))
        # Given a request_id, this task only waited: a retry could not submit a fresh request.
        settle(
            request,
            self.on_no_logs,
            submitted_by=None if self.request_id in (None, "") else submitter_of(self),
        )
        key = render_key(self.key_field, self.key_template, request)
        destination = Destination(self.scheme, getattr(self, self.bucket_field), key)
        if request.state == LogRequestState.DOES_NOT_EXIST:
            self.log.info(
                "%s has no logs; on_no_logs='succeed': nothing was written to %s.",
                describe(request),
                destination.uri,
            )
            announce(self, context, request, None)
            return None
        existing = None if self.replace else self.stored_object(destination)
        if existing is not None and existing.metadata.get("fauna-request-id") == request.request_id:
            # Only verified copies are stored: an earlier try landed this export, then died.
            self.log.info(
                "%s already holds the file of %s, stored by an earlier try: nothing to copy.",
                destination.uri,
                describe(request),
            )
            # Its MD5 was proven by that try and not stored: the event carries the size only.
            announce(self, context, request, destination.uri, size=existing.size)
            return destination.uri
        if existing is not None:
            raise self.occupied(destination)
        hook = self.hook
        # A trigger event's copy never carries the URL; a status read may not either.
        request = usable_url(hook, request, self.log)
        download = LogFileDownload(
            hook, request, log=self.log, max_resumes=self.max_resumes, verify_gzip=self.verify_gzip
        )
        self.log.info(
            "Copying the log file of %s from %s to %s.", describe(request), download.safe_url, destination.uri
        )
        try:
            self.copy(download, destination, object_metadata(request, uuid.uuid4().hex))
        finally:
            self._abort = None
        stats = download.stats
        assert stats is not None  # copy() returns only after the download ended
        self.log.info(
            "Stored %s: %d bytes, md5 %s, %d resume(s), %d new URL(s) (%s).",
            destination.uri,
            stats.size,
            stats.md5_hex,
            stats.resumes,
            stats.url_refreshes,
            download.progress.summary(),
        )
        summary = {
            "uri": destination.uri,
            "bucket": destination.bucket,
            "key": destination.key,
            "request_id": request.request_id,
            "scope": request.scope,
            "time_start": request.time_start,
            "time_end": request.time_end,
            "size": stats.size,
            "md5": stats.md5_hex,
            "gzip_checked": stats.gzip_checked,
            "resumes": stats.resumes,
            "url_refreshes": stats.url_refreshes,
        }
        context["ti"].xcom_push(key=TRANSFER_XCOM_KEY, value=summary)
        self._lineage = (request, destination)
        announce(self, context, request, destination.uri, size=stats.size, md5=stats.md5_hex)
        return destination.uri

    def stored_object(self, destination: Destination) -> StoredObject | None:
        """Return the object at ``destination``: its user metadata and size (``None``: no object)."""
        raise NotImplementedError

    def copy(self, download: LogFileDownload, destination: Destination, metadata: dict[str, str]) -> None:
        """Stream ``download`` to ``destination`` with ``metadata``, confirmed by the store, or leave none."""
        raise NotImplementedError

    def on_kill(self) -> None:
        """Abort an upload in flight, so a killed task leaves no open upload behind."""
        abort, self._abort = self._abort, None
        if abort is not None:
            try:
                abort()
            except Exception as err:
                self.log.warning("Could not abort the upload in flight: %s", err)

    def get_openlineage_facets_on_complete(self, task_instance: Any) -> Any:
        """Return the OpenLineage view: the export in, the object out (``None`` without the provider)."""
        if self._lineage is None:
            return None
        try:
            from airflow.providers.common.compat.openlineage.facet import Dataset
            from airflow.providers.openlineage.extractors import OperatorLineage
        except ImportError:
            return None
        request, destination = self._lineage
        region = request.region_group or (request.database or "").split("/", 1)[0]
        return OperatorLineage(
            inputs=[Dataset(namespace=f"fauna://{region}", name=request.scope)],
            outputs=[Dataset(namespace=f"{destination.scheme}://{destination.bucket}", name=destination.key)],
        )
