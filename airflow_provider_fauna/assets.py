"""Asset events for the objects the transfers write (datasets on Airflow 2.11).

A transfer announces its object through the assets the user declares as ``outlets``, else through
an alias of the task (``fauna-logs:{dag_id}.{task_id}``) that resolves to the object's own asset.
Each event's extra names the export, never its presigned URL (see the daily-partitions guide).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from airflow.providers.common.compat.sdk import Asset, AssetAlias

try:
    from airflow.sdk.definitions.asset import AssetRef
except ImportError:  # Airflow 2: no references to assets by name or URI
    _ASSETS: tuple[type, ...] = (Asset,)
else:
    _ASSETS = (Asset, AssetRef)

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow.providers.common.compat.sdk import BaseOperator

    from airflow_provider_fauna.log_requests import LogRequest


def add_default_outlet(operator: BaseOperator) -> None:
    """Give a transfer the default alias outlet, unless the user declared an asset, a reference or an alias."""
    outlets = list(operator.outlets or [])
    if not any(isinstance(outlet, (*_ASSETS, AssetAlias)) for outlet in outlets):
        operator.outlets = [*outlets, AssetAlias(name=f"fauna-logs:{operator.dag_id}.{operator.task_id}")]


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

    Airflow emits the events of declared assets when the task succeeds; this gives them their
    extra. An alias gets the object's own asset, only when an object was written.
    """
    outlet_events = context.get("outlet_events")
    if outlet_events is None:  # a context built by hand, without Airflow's accessors
        return
    extra = {
        "uri": uri,
        "request_id": request.request_id,
        "scope": request.scope,
        "time_start": request.time_start,
        "time_end": request.time_end,
        "bytes": size,
        "md5": md5,
    }
    for outlet in operator.outlets or []:
        if isinstance(outlet, AssetAlias):
            if uri is not None and _alias_registered(outlet.name, operator):
                outlet_events[outlet].add(Asset(uri=uri), extra=extra)
        elif isinstance(outlet, _ASSETS):
            outlet_events[outlet].extra.update(extra)


def _alias_registered(name: str, operator: BaseOperator) -> bool:
    # Airflow 2.11 fails the finished task over an alias missing from the metadata DB (a DAG no
    # DAG processor has parsed yet): then the event is left out rather than the copy failed.
    try:
        from airflow.models.dataset import DatasetAliasModel
    except ImportError:  # Airflow 3 records it either way
        return True
    from airflow.utils.session import create_session
    from sqlalchemy import select

    try:
        with create_session() as session:
            known = session.scalar(select(DatasetAliasModel.id).where(DatasetAliasModel.name == name))
    except Exception:  # no DB access from tasks (database isolation): let Airflow decide
        return True
    if known is None:
        operator.log.warning(
            "Dataset alias %r is not in the metadata DB (its DAG was never parsed by the DAG processor): "
            "no dataset event for the object.",
            name,
        )
    return known is not None
