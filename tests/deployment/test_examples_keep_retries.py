"""Every task of every example DAG keeps ``retries >= 1`` (docs/deployment.rst, the 3.3.2 race).

On Airflow 3.3.2 a trigger that fires at once can beat the executor's report of the deferral,
and the task goes ``up_for_retry`` once: an example copied with ``retries=0`` would fail then.
"""

from __future__ import annotations

from harness import REPO_ROOT

#: The examples that import on every supported Airflow line (the partition ones need 3.2+).
EVERYWHERE = {
    "example_fauna_logs_to_s3",
    "example_fauna_logs_one_task",
    "example_fauna_logs_to_gcs",
    "example_fauna_request_and_wait",
}


def test_every_example_task_keeps_a_retry() -> None:
    try:
        from airflow.dag_processing.dagbag import DagBag
    except ImportError:  # Airflow 2
        from airflow.models.dagbag import DagBag  # type: ignore[no-redef]

    bag = DagBag(dag_folder=str(REPO_ROOT / "example_dags"))

    assert set(bag.dags) >= EVERYWHERE, (sorted(bag.dags), bag.import_errors)
    without = {
        f"{dag_id}.{task.task_id}": task.retries
        for dag_id, dag in bag.dags.items()
        for task in dag.tasks
        if not task.retries or task.retries < 1
    }
    assert not without, f"example tasks without a retry: {without}"
