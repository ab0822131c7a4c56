"""Capture what each task of a ``dag.test()`` run logs, on Airflow 2.11 and Airflow 3 alike.

Why this exists: tests must be able to search task logs for leaked secrets, and ``dag.test()``
writes task logs nowhere a test can read them. On Airflow 2.11 the task logs go to a stdout
handler (and to a file handler that has no file, since no ``set_context`` happens); on Airflow 3
the task runs in-process and its structlog output goes to stdout. Neither masks secrets under
``dag.test()`` (production masks them in the task handler or in the supervisor), so what we
capture is the *raw* text, which is the stricter thing to search: a secret found there was logged.
:func:`mask` turns raw text into what Airflow's masker would write, for tests of masking itself.

How: while one task instance runs (the harness wraps Airflow's private ``_run_task``, see
:mod:`harness.dagrun`), three taps append to that task instance's buffer:

* stdlib ``logging``: a log-record factory sees every record any logger creates, before any
  handler or filter (the masking filter of Airflow 2 rewrites records in place), so nothing
  escapes however the handlers and propagation are configured;
* structlog (the Task SDK's logging on Airflow 3): a processor put first in the configured chain,
  before the renderer and before anything could drop the event;
* ``print`` and other writes to ``sys.stdout``/``sys.stderr`` from the thread that runs the task
  (the thread filter keeps the request lines of in-process emulators out), except writes made by
  a logging handler or a structlog logger, which would repeat, rendered, what the first two taps
  recorded.

Records of the loggers in :data:`EXCLUDED_LOGGERS` are left out: they belong to the in-process
execution API server and to the local servers the tests start (S3, GCS and Fauna emulators), which
log on their own threads while a task runs, and are not task logs in production.
"""

from __future__ import annotations

import contextlib
import logging
import sys
import threading
import traceback
from typing import TYPE_CHECKING, Any, TextIO

if TYPE_CHECKING:
    from collections.abc import Iterator, MutableMapping

#: Logger name prefixes whose records are not task logs (see the module docstring).
EXCLUDED_LOGGERS: tuple[str, ...] = (
    "airflow.api_fastapi",
    "fauna_emulator",
    "aiohttp.access",
    "aiohttp.server",
    "werkzeug",
    "moto",
    "gcp_storage_emulator",
)

_STRUCTLOG_INTERNAL_KEYS = frozenset(
    {"event", "positional_args", "exc_info", "exception", "logger", "logger_name", "timestamp", "level"}
)

TaskKey = tuple[str, int]


class TaskLogCapture:
    """Per-task-instance buffers of raw log text, filled while :meth:`task` is active.

    Use :meth:`installed` once around a whole DAG run (or several), and :meth:`task` around each
    run of one task instance; calls for the same task instance (a deferral resumed, a sensor
    rescheduled, a retry) append to the same buffer.
    """

    def __init__(self, excluded_loggers: tuple[str, ...] = EXCLUDED_LOGGERS) -> None:
        self.excluded_loggers = excluded_loggers
        self._buffers: dict[TaskKey, list[str]] = {}
        self._current: list[str] | None = None
        self._thread: int | None = None

    # ------------------------------------------------------------------ reading
    def text(self, task_id: str, map_index: int = -1) -> str:
        """Everything captured for one task instance, as one string (empty if nothing ran)."""
        return "".join(self._buffers.get((task_id, map_index), ()))

    def keys(self) -> list[TaskKey]:
        """The task instances something was captured for, in the order they first ran."""
        return list(self._buffers)

    # ------------------------------------------------------------------ capturing
    @contextlib.contextmanager
    def installed(self) -> Iterator[TaskLogCapture]:
        """Install the logging taps for the duration of the block (they record only inside
        :meth:`task`)."""
        old_factory = logging.getLogRecordFactory()

        def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
            record = old_factory(*args, **kwargs)
            buffer = self._current
            # A record without a name is a copy being rebuilt by logging.makeLogRecord (structlog's
            # ProcessorFormatter does that); the original was recorded when it was created.
            if buffer is not None and record.name is not None and not self._excluded(record.name):
                buffer.append(_format_record(record))
            return record

        logging.setLogRecordFactory(factory)
        processors = _structlog_processors()
        if processors is not None:
            processors.insert(0, self._structlog_tap)
        try:
            yield self
        finally:
            logging.setLogRecordFactory(old_factory)
            if processors is not None:
                with contextlib.suppress(ValueError):
                    processors.remove(self._structlog_tap)

    @contextlib.contextmanager
    def task(self, task_id: str, map_index: int = -1) -> Iterator[None]:
        """Send everything logged or printed in the block to the buffer of one task instance."""
        buffer = self._buffers.setdefault((task_id, map_index), [])
        previous = (self._current, self._thread)
        self._current, self._thread = buffer, threading.get_ident()
        real_out, real_err = sys.stdout, sys.stderr
        sys.stdout = _Tee(self, real_out)
        sys.stderr = _Tee(self, real_err)
        try:
            yield
        finally:
            sys.stdout, sys.stderr = real_out, real_err
            self._current, self._thread = previous

    def _write(self, text: str) -> None:
        buffer = self._current
        if buffer is not None and threading.get_ident() == self._thread and not _written_by_logging():
            buffer.append(text)

    def _excluded(self, name: str) -> bool:
        return any(name == prefix or name.startswith(prefix + ".") for prefix in self.excluded_loggers)

    def _structlog_tap(self, logger: Any, method_name: str, event_dict: MutableMapping[str, Any]) -> Any:
        buffer = self._current
        if buffer is not None:
            name = str(
                event_dict.get("logger") or event_dict.get("logger_name") or getattr(logger, "name", "")
            )
            if not self._excluded(name):
                buffer.append(_format_event(method_name, name, event_dict))
        return event_dict


class _Tee:
    """A text stream that passes writes through and copies the task thread's writes to a capture."""

    def __init__(self, capture: TaskLogCapture, stream: TextIO) -> None:
        self._capture = capture
        self._stream = stream

    def write(self, text: str) -> int:
        self._capture._write(text)
        return self._stream.write(text)

    def writelines(self, lines: list[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        self._stream.flush()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._stream, name)


def _structlog_processors() -> list[Any] | None:
    """The live processor list of structlog's configuration (mutating it affects every logger)."""
    try:
        import structlog
    except ImportError:
        return None
    processors = structlog.get_config()["processors"]
    return processors if isinstance(processors, list) else None


def _written_by_logging(depth: int = 8) -> bool:
    """Whether the write in progress comes from a logging handler or a structlog logger.

    Those lines were already recorded, raw, by the record factory or the structlog tap; Airflow 2's
    console handler looks ``sys.stdout`` up at every write, so it would write them into the tee
    again, rendered.
    """
    frame = sys._getframe(2)  # skip _write and _Tee.write
    while frame is not None and depth > 0:
        module = frame.f_globals.get("__name__", "")
        if module == "logging" or module.startswith(("logging.", "structlog")):
            return True
        frame, depth = frame.f_back, depth - 1  # type: ignore[assignment]
    return False


def _format_record(record: logging.LogRecord) -> str:
    try:
        message = record.getMessage()
    except Exception:  # a bad format string must not break the task under test
        message = f"{record.msg!s} {record.args!r}"
    line = f"{record.levelname} {record.name}: {message}\n"
    if record.exc_info and record.exc_info[0] is not None:
        line += "".join(traceback.format_exception(*record.exc_info))
    return line


def _format_event(method_name: str, name: str, event_dict: MutableMapping[str, Any]) -> str:
    event = event_dict.get("event", "")
    args = event_dict.get("positional_args")
    message = str(event)
    if args:
        try:
            message = message % tuple(args)
        except (TypeError, ValueError):
            message = f"{message} {args!r}"
    extras = " ".join(
        f"{key}={value}" for key, value in event_dict.items() if key not in _STRUCTLOG_INTERNAL_KEYS
    )
    level = "ERROR" if method_name == "exception" else method_name.upper()
    line = f"{level} {name}: {message}{' ' + extras if extras else ''}\n"
    exc = event_dict.get("exc_info")
    if exc is True or (method_name == "exception" and exc is None):
        exc = sys.exc_info()
    if isinstance(exc, BaseException):
        line += "".join(traceback.format_exception(exc))
    elif isinstance(exc, tuple) and exc and exc[0] is not None:
        line += "".join(traceback.format_exception(*exc))
    return line


def mask(text: str) -> str:
    """Redact ``text`` with Airflow's secrets masker, as production task logs would be.

    Only secrets registered so far (``mask_secret``, connection passwords fetched through a hook,
    sensitive variable and field names) are masked, exactly like Airflow does it.
    """
    from airflow.providers.common.compat.sdk import redact

    return "\n".join(str(redact(line)) for line in text.split("\n"))
