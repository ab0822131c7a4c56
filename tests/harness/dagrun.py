"""Run a test DAG through Airflow itself (``dag.test()``) and report what happened.

Why ``dag.test()``: it runs the real scheduling loop (dependencies, trigger rules, retries,
sensors in reschedule mode) and the real task runner (templating, XCom, deferral), in this
process, without a scheduler or triggerer: deferrable operators have their trigger run inline on
Airflow 3.3 and 2.11 alike. :func:`run_dag` hides the differences between the two lines:

* Airflow 3 takes ``logical_date=``, Airflow 2.11 ``execution_date=``;
* Airflow 3 only runs DAGs it can serialize from a DAG bundle, so DAGs are loaded from the
  session's ``DAGS_FOLDER`` (``tests/dags``), never built inside a test;
* neither line lets a test read task logs, so :class:`~harness.logcapture.TaskLogCapture` records
  them per task instance (see that module for how).

The first run in a process costs several seconds (Airflow 3 starts its in-process execution API);
later ones take well under a second, so run several logical dates with :func:`run_backfill`, in
one test, rather than many single-run tests.

Nothing here imports Airflow at module level: ``tests/conftest.py`` imports this package before
the session's Airflow settings are in place.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import inspect
import time
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from unittest import mock

from harness.cli import ensure_airflow_db
from harness.env import DAGS_FOLDER
from harness.logcapture import TaskLogCapture, mask

if TYPE_CHECKING:
    from collections.abc import Iterable, Iterator, Mapping


@dataclass(frozen=True)
class TaskResult:
    """The final state of one task instance of a DAG run.

    :param log: the raw text the task instance logged or printed, over all its attempts,
        deferrals and reschedules (not masked: see :mod:`harness.logcapture`).
    :param return_value: its ``return_value`` XCom (``None`` when it pushed none).
    """

    task_id: str
    map_index: int
    state: str | None
    try_number: int
    return_value: Any
    log: str

    @property
    def masked_log(self) -> str:
        """:attr:`log` as Airflow's secrets masker would write it."""
        return mask(self.log)


@dataclass(frozen=True)
class DagRunResult:
    """What one ``dag.test()`` run did.

    ``tasks`` is keyed by task id, or ``"task_id[map_index]"`` for mapped task instances.
    """

    dag_id: str
    run_id: str
    logical_date: dt.datetime
    data_interval_start: dt.datetime | None
    data_interval_end: dt.datetime | None
    state: str
    tasks: dict[str, TaskResult] = field(default_factory=dict)
    seconds: float = 0.0

    def task(self, task_id: str, map_index: int = -1) -> TaskResult:
        """The result of one task instance; ``KeyError`` names the known ones."""
        key = task_id if map_index < 0 else f"{task_id}[{map_index}]"
        try:
            return self.tasks[key]
        except KeyError:
            raise KeyError(f"{key!r} is not in DAG run {self.run_id}; tasks: {sorted(self.tasks)}") from None

    @property
    def succeeded(self) -> bool:
        return self.state == "success"

    @property
    def log(self) -> str:
        """Every task instance's log, each under a ``=== task_id ===`` header."""
        return "".join(f"=== {key} ===\n{result.log}" for key, result in self.tasks.items())

    def summary(self) -> str:
        """One line per task instance: state, try number."""
        lines = [f"DAG run {self.dag_id} {self.run_id} ({self.logical_date.isoformat()}): {self.state}"]
        lines += [f"  {key}: {r.state} (try {r.try_number})" for key, r in self.tasks.items()]
        return "\n".join(lines)

    def assert_success(self) -> DagRunResult:
        """Raise ``AssertionError`` with the summary and the failed tasks' logs unless the run succeeded."""
        if not self.succeeded:
            failed = [r for r in self.tasks.values() if r.state != "success"]
            logs = "".join(f"\n=== log of {r.task_id} [{r.map_index}] ===\n{r.log}" for r in failed)
            raise AssertionError(f"{self.summary()}{logs}")
        return self


# ---------------------------------------------------------------------------------------- loading
_dag_bag: Any = None


def load_dag(dag_id: str, *, reload: bool = False) -> Any:
    """Return DAG ``dag_id`` parsed from the test ``DAGS_FOLDER`` (parsed once per process).

    :raises LookupError: the DAG is not there; the message lists the DAGs found and import errors.
    """
    global _dag_bag
    if _dag_bag is None or reload:
        try:
            from airflow.dag_processing.dagbag import DagBag
        except ImportError:  # Airflow 2
            from airflow.models.dagbag import DagBag  # type: ignore[no-redef]
        _dag_bag = DagBag(dag_folder=str(DAGS_FOLDER))
    dag = _dag_bag.dags.get(dag_id)
    if dag is None:
        errors = "".join(f"\n  {path}: {err}" for path, err in _dag_bag.import_errors.items())
        raise LookupError(
            f"DAG {dag_id!r} not found in {DAGS_FOLDER}; found {sorted(_dag_bag.dags)}."
            + (f" Import errors:{errors}" if errors else "")
        )
    return dag


# ---------------------------------------------------------------------------------------- running
def run_dag(
    dag_id: str,
    logical_date: dt.datetime,
    *,
    conf: Mapping[str, Any] | None = None,
    run_after: dt.datetime | None = None,
) -> DagRunResult:
    """Run DAG ``dag_id`` (from the test ``DAGS_FOLDER``) for ``logical_date`` with ``dag.test()``.

    Runs the whole DAG in this process: triggers of deferrable operators run inline, sensors in
    reschedule mode are poked again once their reschedule date passes. An earlier run of the same
    DAG and logical date is replaced. A failed task does not raise: look at the result's
    ``state``, or call :meth:`DagRunResult.assert_success`.

    :param logical_date: an aware datetime; with a daily interval timetable the run covers
        ``[logical_date - 1 day, logical_date)``.
    :param conf: the DAG run's ``conf`` (``dag_run.conf`` / ``params`` overrides).
    :param run_after: Airflow 3 names a test run after this time, "now" by default; give the
        same one to have several runs share a run id (Airflow 2.11 names it after the date).
    """
    return run_dags(dag_id, [logical_date], conf=conf, run_after=run_after)[0]


def run_backfill(
    dag_id: str,
    first: dt.datetime,
    last: dt.datetime,
    *,
    step: dt.timedelta = dt.timedelta(days=1),
    conf: Mapping[str, Any] | None = None,
) -> list[DagRunResult]:
    """Run ``dag_id`` for every logical date from ``first`` to ``last`` (both included), in order."""
    if last < first:
        raise ValueError(f"last ({last}) is before first ({first})")
    dates = []
    current = first
    while current <= last:
        dates.append(current)
        current += step
    return run_dags(dag_id, dates, conf=conf)


def run_dags(
    dag_id: str,
    logical_dates: Iterable[dt.datetime],
    *,
    conf: Mapping[str, Any] | None = None,
    run_after: dt.datetime | None = None,
) -> list[DagRunResult]:
    """Run ``dag_id`` once per logical date, in order, in this process (one parse, one DB)."""
    ensure_airflow_db()
    dag = load_dag(dag_id)
    results = []
    for logical_date in logical_dates:
        if logical_date.tzinfo is None:
            raise ValueError(f"logical_date must be timezone-aware, got {logical_date!r}")
        capture = TaskLogCapture()
        started = time.monotonic()
        with capture.installed(), _capture_each_task(dag, capture):
            dag_run = _dag_test(dag, logical_date, dict(conf) if conf is not None else None, run_after)
        results.append(_collect(dag_run, capture, time.monotonic() - started))
    return results


def _dag_test(
    dag: Any, logical_date: dt.datetime, conf: dict[str, Any] | None, run_after: dt.datetime | None = None
) -> Any:
    """Call ``dag.test()`` with the keyword this Airflow line uses for the logical date."""
    parameters = inspect.signature(dag.test).parameters
    if "logical_date" in parameters:
        if run_after is not None:
            return dag.test(logical_date=logical_date, run_conf=conf, run_after=run_after)
        return dag.test(logical_date=logical_date, run_conf=conf)
    # Airflow 2.11 deletes an earlier run of the same date before it runs again; the delete
    # cascades to dag_run_note, whose foreign key names the FAB user table, which SQLAlchemy only
    # knows once the FAB models are imported (the CLI and webserver import them, tests do not).
    with contextlib.suppress(ImportError):
        import airflow.providers.fab.auth_manager.models  # noqa: F401
    return dag.test(execution_date=logical_date, run_conf=conf)


@contextlib.contextmanager
def _capture_each_task(dag: Any, capture: TaskLogCapture) -> Iterator[None]:
    """Wrap the private ``_run_task`` that ``dag.test()`` calls once per task instance run.

    Both lines define it in the module that defines ``DAG.test`` (``airflow.sdk.definitions.dag``
    on 3, ``airflow.models.dag`` on 2.11) and call it with ``ti=`` as a keyword, once per attempt,
    resumption after a deferral and sensor poke.
    """
    module = inspect.getmodule(type(dag).test)
    original = getattr(module, "_run_task", None)
    if original is None:
        raise RuntimeError(
            f"{module!r} has no _run_task: dag.test() changed in this Airflow version, "
            "and tests/harness/dagrun.py must learn where task instances run now"
        )

    def run_task(*args: Any, **kwargs: Any) -> Any:
        ti = kwargs["ti"] if "ti" in kwargs else args[0]
        with capture.task(ti.task_id, ti.map_index):
            return original(*args, **kwargs)

    with mock.patch.object(module, "_run_task", run_task):
        yield


def _collect(dag_run: Any, capture: TaskLogCapture, seconds: float) -> DagRunResult:
    """Read the run, its task instances and their return values back from the metadata DB."""
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        run = session.scalars(
            select(DagRun).where(DagRun.dag_id == dag_run.dag_id, DagRun.run_id == dag_run.run_id)
        ).one()
        tasks: dict[str, TaskResult] = {}
        for ti in sorted(run.get_task_instances(session=session), key=lambda t: (t.task_id, t.map_index)):
            pull: dict[str, Any] = {"task_ids": ti.task_id, "session": session}
            if ti.map_index >= 0:
                pull["map_indexes"] = ti.map_index
            key = ti.task_id if ti.map_index < 0 else f"{ti.task_id}[{ti.map_index}]"
            tasks[key] = TaskResult(
                task_id=ti.task_id,
                map_index=ti.map_index,
                state=_state(ti.state),
                try_number=ti.try_number,
                return_value=ti.xcom_pull(**pull),
                log=capture.text(ti.task_id, ti.map_index),
            )
        return DagRunResult(
            dag_id=run.dag_id,
            run_id=run.run_id,
            logical_date=_logical_date(run),
            data_interval_start=run.data_interval_start,
            data_interval_end=run.data_interval_end,
            state=_state(run.state) or "",
            tasks=tasks,
            seconds=seconds,
        )


def _logical_date(run: Any) -> dt.datetime:
    """The run's logical date (``execution_date`` on Airflow 2, ``logical_date`` on 3)."""
    value = getattr(run, "logical_date", None) or getattr(run, "execution_date", None)
    if not isinstance(value, dt.datetime):
        raise TypeError(f"DAG run {run.run_id} has no logical date")
    return value


def _state(value: Any) -> str | None:
    """A state enum (or plain string) as its plain string value."""
    if value is None:
        return None
    return str(getattr(value, "value", value))
