"""The harness's own DAGs: prove that ``dag.test()`` runs, logs and defers the way tests expect.

``harness_smoke`` has a plain task that returns its data interval (so a test can check that
logical date ``D`` covers ``[D - 1 day, D)``) and a deferrable task that defers on a core trigger
and resumes (so a test can check that triggers run inline). ``harness_reschedule`` has a sensor in
reschedule mode that succeeds on its third poke. ``harness_failures`` has a task that succeeds on
its second try and one that always fails. Each task logs and prints marker strings the
tests look for in the captured task logs.
"""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any, ClassVar

from airflow.providers.common.compat.sdk import DAG, BaseOperator, BaseSensorOperator, task
from airflow.providers.common.compat.standard.triggers import TimeDeltaTrigger
from harness.timetables import daily_dag_args


class DeferOnceOperator(BaseOperator):
    """Defer on a short ``TimeDeltaTrigger``, then resume and return what the trigger sent."""

    def __init__(self, *, delay: dt.timedelta = dt.timedelta(milliseconds=100), **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.delay = delay

    def execute(self, context: Any) -> None:
        self.log.info("smoke-marker: deferring")
        self.defer(trigger=TimeDeltaTrigger(self.delay), method_name="resume")

    def resume(self, context: Any, event: Any = None) -> str:
        self.log.info("smoke-marker: resumed after the trigger fired")
        logging.getLogger("smoke.thirdparty").warning("smoke-marker: stdlib logger line")
        print("smoke-marker: printed line")
        return "resumed"


class ThirdPokeSensor(BaseSensorOperator):
    """Succeed on the third poke of a DAG run (counted per run, in this process)."""

    pokes: ClassVar[dict[str, int]] = {}

    def poke(self, context: Any) -> bool:
        run_id = context["run_id"]
        self.pokes[run_id] = self.pokes.get(run_id, 0) + 1
        self.log.info("smoke-marker: poke %d", self.pokes[run_id])
        return self.pokes[run_id] >= 3


with DAG("harness_smoke", **daily_dag_args(tags=["harness"])) as smoke_dag:

    @task
    def data_interval(data_interval_start: Any = None, data_interval_end: Any = None) -> list[str]:
        """Return the run's data interval as ISO strings."""
        logging.getLogger("airflow.task").info("smoke-marker: computing the interval")
        return [data_interval_start.isoformat(), data_interval_end.isoformat()]

    data_interval() >> DeferOnceOperator(task_id="defer_once")


with DAG("harness_reschedule", **daily_dag_args(tags=["harness"])) as reschedule_dag:
    ThirdPokeSensor(
        task_id="third_poke",
        mode="reschedule",
        poke_interval=dt.timedelta(milliseconds=200),
        timeout=dt.timedelta(minutes=2),
    )


with DAG("harness_failures", **daily_dag_args(tags=["harness"])) as failures_dag:

    @task(retries=1, retry_delay=dt.timedelta(seconds=0))
    def flaky(ti: Any = None) -> int:
        """Fail on the first try, succeed on the second."""
        if ti.try_number < 2:
            raise RuntimeError("smoke-marker: first try fails")
        return int(ti.try_number)

    @task
    def broken() -> None:
        """Always fail."""
        raise ValueError("smoke-marker: broken on purpose")

    flaky()
    broken()
