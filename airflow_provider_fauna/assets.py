"""Asset events for the objects the transfers write (datasets on Airflow 2.11).

A transfer announces the object it stored, so that other DAGs can be scheduled on it:

- **by default** through an asset alias of the task (``fauna-logs:{dag_id}.{task_id}``), which
  resolves to the object's own asset (``s3://bucket/key``, ``gs://bucket/object``) when the task
  runs: every object gets its own asset and event, whatever its key turns out to be;
- **or through the assets the user declares** as ``outlets`` (for example one asset for all of
  a database's days, to schedule a downstream DAG on): their events carry the object's URI in
  their extra; an alias the user declares resolves to the object's asset as the default does.

Every event's extra says which export it holds: ``uri``, ``request_id``, ``scope``,
``time_start``, ``time_end``, ``bytes``, ``md5``. On a partitioned run (Airflow 3.2+) Airflow
gives each event the run's partition key, so a DAG scheduled on ``PartitionedAssetTimetable``
runs once per exported partition. No presigned URL is ever part of an event.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import Asset, AssetAlias

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow.providers.common.compat.sdk import BaseOperator

    from airflow_provider_fauna.log_requests import LogRequest

#: The prefix of the alias a transfer announces its object through when given no outlet.
DEFAULT_ALIAS_PREFIX = "fauna-logs"


def default_alias(dag_id: str, task_id: str) -> Any:
    """The alias a transfer announces its object through when the user declares no asset."""
    return AssetAlias(name=f"{DEFAULT_ALIAS_PREFIX}:{dag_id}.{task_id}")


def add_default_outlet(operator: BaseOperator) -> None:
    """Give a transfer the default alias outlet, unless the user declared an asset or alias."""
    outlets = list(operator.outlets or [])
    if not any(isinstance(outlet, Asset | AssetAlias) for outlet in outlets):
        operator.outlets = [*outlets, default_alias(operator.dag_id, operator.task_id)]


def event_extra(request: LogRequest, uri: str | None, size: int | None, md5: str | None) -> dict[str, Any]:
    """What an event says about the export: where it landed (``None``: no logs, nothing written)."""
    return {
        "uri": uri,
        "request_id": request.request_id,
        "scope": request.scope,
        "time_start": request.time_start,
        "time_end": request.time_end,
        "bytes": size,
        "md5": md5,
    }


def announce(
    operator: BaseOperator,
    context: Mapping[str, Any],
    request: LogRequest,
    uri: str | None,
    *,
    size: int | None = None,
    md5: str | None = None,
) -> None:
    """Fill the outlet events of a transfer that ended: the object at ``uri``, or none.

    Airflow emits the events of declared assets itself when the task succeeds (with the run's
    partition key on Airflow 3.2+); this gives them their extra. Aliases get the object's own
    asset, only when an object was written.
    """
    outlet_events = context.get("outlet_events")
    if outlet_events is None:  # a context built by hand, without Airflow's accessors
        return
    extra = event_extra(request, uri, size, md5)
    for outlet in operator.outlets or []:
        if isinstance(outlet, AssetAlias):
            if uri is not None and _alias_registered(outlet.name, operator):
                outlet_events[outlet].add(Asset(uri=uri), extra=extra)
        elif isinstance(outlet, Asset):
            outlet_events[outlet].extra.update(extra)


def _alias_registered(name: str, operator: BaseOperator) -> bool:
    """Whether Airflow 2.11 can record an event through alias ``name`` (always on Airflow 3).

    Airflow 2.11 fails the finished task when an alias is missing from the metadata DB, as it is
    for a DAG no DAG processor has parsed yet (``airflow dags test`` of a new DAG): then the
    event is left out rather than the copy failed.
    """
    try:
        from airflow.models.dataset import DatasetAliasModel
    except ImportError:  # Airflow 3 records it either way
        return True
    from airflow.utils.session import create_session
    from sqlalchemy import select

    with create_session() as session:
        known = session.scalar(select(DatasetAliasModel.id).where(DatasetAliasModel.name == name))
    if known is None:
        operator.log.warning(
            "Dataset alias %r is not in the metadata DB (its DAG was never parsed by the DAG processor): "
            "no dataset event for the object.",
            name,
        )
    return known is not None
