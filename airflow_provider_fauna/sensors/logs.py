"""Wait until a Fauna log request is finished: in poke, reschedule or deferrable mode."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import (
    AirflowSensorTimeout,
    BaseSensorOperator,
    PokeReturnValue,
    conf,
)

from airflow_provider_fauna.arguments import check_bool, check_templated
from airflow_provider_fauna.hooks.fauna import FaunaAccountHook
from airflow_provider_fauna.log_requests import validate_request_id
from airflow_provider_fauna.outcomes import settle, submitter_of, validate_on_no_logs
from airflow_provider_fauna.tasks import wait_or_defer
from airflow_provider_fauna.waiting import WaitTimeout, fetch_status, read_trigger_event

if TYPE_CHECKING:
    from collections.abc import Sequence

    from airflow.providers.common.compat.sdk import Context

    from airflow_provider_fauna.log_requests import LogRequest


class FaunaLogsSensor(BaseSensorOperator):
    """Wait for a Fauna log request to reach a terminal state.

    ``Complete`` returns the request's details (without the presigned URL); ``Failed`` and
    ``TimedOut`` fail the task; ``DoesNotExist`` (no logs) follows ``on_no_logs``. Deferrable, it
    checks once and defers only if the request is still in progress, its ``timeout`` and the
    task's ``execution_timeout`` the trigger's deadline. ``poke_interval`` spaces status calls in
    every mode.

    :param request_id: the id returned by :class:`FaunaLogsRequestOperator` (templated).
    :param fauna_conn_id: the Fauna connection (templated).
    :param on_no_logs: ``"skip"`` (default), ``"succeed"`` or ``"fail"`` for ``DoesNotExist``.
    :param deferrable: wait on the triggerer; defaults to ``[operators] default_deferrable``.
    """

    template_fields: Sequence[str] = ("request_id", "fauna_conn_id")
    ui_color = "#e8d5ff"

    def __init__(
        self,
        *,
        request_id: str,
        fauna_conn_id: str = FaunaAccountHook.default_conn_name,
        on_no_logs: str = "skip",
        deferrable: bool = conf.getboolean("operators", "default_deferrable", fallback=False),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.request_id = check_templated("request_id", request_id, kinds=(str, int), what="a request id")
        self.fauna_conn_id = check_templated("fauna_conn_id", fauna_conn_id)
        self.on_no_logs = validate_on_no_logs(on_no_logs)
        self.deferrable = check_bool("deferrable", deferrable)

    @property
    def hook(self) -> FaunaAccountHook:
        """Return a hook on the sensor's connection."""
        return FaunaAccountHook(fauna_conn_id=self.fauna_conn_id)

    def poke(self, context: Context) -> bool | PokeReturnValue:
        """Check the status once; done when the request is terminal."""
        request = fetch_status(self.hook, validate_request_id(self.request_id), self.log)
        if request is not None and request.is_terminal:
            return PokeReturnValue(is_done=True, xcom_value=self._settle(request))
        if request is not None:
            self.log.info("Fauna log request %s is %s.", request.request_id, request.state)
        return False

    def execute(self, context: Context) -> Any:
        """Poke/reschedule as any sensor, or check once and defer."""
        if not self.deferrable:
            return super().execute(context)
        hook = self.hook
        request_id = validate_request_id(self.request_id)
        request = wait_or_defer(
            self,
            context,
            hook,
            request_id,
            current=fetch_status(hook, request_id, self.log),
            poll_interval=float(self.poke_interval),
            timeout=self.timeout,
        )
        return self._settle(request)  # already finished: a deferred wait resumes in execute_complete

    def execute_complete(self, context: Context, event: dict[str, Any] | None = None) -> Any:
        """Resume after the trigger fired: settle the request or report the timeout."""
        try:
            request = read_trigger_event(event)
        except WaitTimeout as err:
            raise AirflowSensorTimeout(
                f"{err} (the deadline was the sensor's timeout of {self.timeout:g} s or the task's "
                "execution_timeout, whichever came first)"
            ) from err
        return self._settle(request)

    def _settle(self, request: LogRequest) -> Any:
        return settle(request, self.on_no_logs, submitted_by=submitter_of(self))
