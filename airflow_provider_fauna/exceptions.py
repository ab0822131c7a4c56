"""Typed errors of the Fauna Account API; no message ever holds the account key.

Errors a retry of the task cannot cure are also ``AirflowFailException``, so the task fails
without spending its retries.
"""

from __future__ import annotations

from airflow.providers.common.compat.sdk import AirflowException, AirflowFailException


class FaunaError(AirflowException):
    """Base class of every error this provider raises."""


class FaunaValidationError(FaunaError, ValueError, AirflowFailException):
    """Bad input, refused before any network call; the message names the field and the fix."""


class FaunaApiError(FaunaError):
    """The Account API answered with an error status.

    :param status: the HTTP status code.
    :param reason: the API's own explanation (``reason`` or ``message`` of the error body).
    :param method: the HTTP method of the failed call.
    :param path: the path of the failed call (never a full URL with a query string).
    """

    def __init__(self, status: int, reason: str, *, method: str = "", path: str = "") -> None:
        self.status = status
        self.reason = reason
        self.method = method
        self.path = path
        where = f" on {method} {path}" if method else ""
        super().__init__(f"Fauna Account API answered {status}{where}: {reason}")


class FaunaAuthError(FaunaApiError, AirflowFailException):
    """401 or 403: the account key is wrong, expired, revoked or lacks access. Never retried with that key."""


class FaunaNotFoundError(FaunaApiError, AirflowFailException):
    """404: the log request or OAuth app does not exist for this account."""


class FaunaRateLimitedError(FaunaApiError):
    """429 after every retry was spent.

    :param retry_after: the last ``Retry-After`` the API asked for, in seconds, if any.
    """

    def __init__(
        self, status: int, reason: str, *, method: str = "", path: str = "", retry_after: float | None = None
    ) -> None:
        super().__init__(status, reason, method=method, path=path)
        self.retry_after = retry_after


class FaunaServerError(FaunaApiError):
    """A 5xx answer after every retry was spent."""


class FaunaConnectionError(FaunaError):
    """The host could not be reached or did not answer in time, after every retry was spent."""


class FaunaLogRequestFailed(FaunaError):
    """A log request ended ``Failed`` or ``TimedOut``."""


class FaunaWaitedRequestFailed(FaunaLogRequestFailed, AirflowFailException):
    """A log request this task waited on but did not submit ended: only its submitter's retry can help."""


class FaunaNoLogsError(FaunaError):
    """A log request ended ``DoesNotExist`` (there are no logs for the interval)."""


class FaunaUnknownStateError(FaunaError, AirflowFailException):
    """A log request reports a state the API's pages do not list: a wait on it could only time out."""
