"""The period a partitioned DAG run covers (Airflow 3.2+), and its partition key in XCom.

A ``CronPartitionTimetable`` run covers ``[partition_date, the timetable's next tick)``, the tick
asked of the timetable itself so that the period matches the partitions the scheduler makes, and
consecutive partitions tile time across daylight-saving changes.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

import pendulum

from airflow_provider_fauna.exceptions import FaunaValidationError
from airflow_provider_fauna.log_requests import MAX_INTERVAL

if TYPE_CHECKING:
    from collections.abc import Mapping

    from airflow_provider_fauna.log_requests import LogRequest

#: How far past ``partition_date`` the next tick is looked for: a yearly cron's period.
TICK_HORIZON = timedelta(days=367)

#: More than any daylight-saving shift (at most two hours anywhere): a tick that far back is unmoved.
DST_MARGIN = timedelta(hours=3)

EXPLICIT_FIX = "or pass time_start and time_end explicitly"


@dataclass(frozen=True)
class PartitionPeriod:
    """The half-open period ``[start, end)`` one partition of a run covers."""

    key: str
    start: pendulum.DateTime
    end: pendulum.DateTime


def partition_key(context: Mapping[str, Any]) -> str | None:
    """Return the run's partition key, or ``None`` (not partitioned, or Airflow before 3.2)."""
    key = context.get("partition_key")
    return str(key) if key not in (None, "") else None


def partition_period(context: Mapping[str, Any]) -> PartitionPeriod | None:
    """Return the period of a partitioned run, ``None`` for a run without a partition key.

    Refuse a partitioned run whose period cannot be known, or is over 90 days, naming the fix.

    :param context: the task's context; reads ``partition_key``, ``partition_date`` and ``dag``.
    """
    key = partition_key(context)
    if key is None:
        start, end = context.get("data_interval_start"), context.get("data_interval_end")
        # Only a run without a data interval can be a partitioned DAG's: others skip the timetable.
        if (start is None or start == end) and getattr(core_timetable(context), "partitioned", False):
            raise FaunaValidationError(
                "This run of a partitioned DAG has no partition key, so the period to export is unknown "
                "(airflow dags test, and a trigger without a partition key, set none): let the scheduler "
                f"run it, or make past partitions with airflow backfill create, {EXPLICIT_FIX}."
            )
        return None
    date = context.get("partition_date")
    if not isinstance(date, datetime):
        raise FaunaValidationError(
            f"This run has partition_key={key!r} but no partition_date, so the period to export is "
            f"unknown (a key set by hand, or by an asset-triggered DAG whose partition mappers do not "
            f"give a date): schedule the DAG with CronPartitionTimetable, {EXPLICIT_FIX}."
        )
    timetable = core_timetable(context)
    if timetable is None:
        raise FaunaValidationError(
            f"This run has partition_key={key!r} but its DAG's timetable is not in the task's context, "
            f"so the period to export is unknown: {EXPLICIT_FIX.removeprefix('or ')}."
        )
    start = pendulum.instance(date).in_timezone("UTC")
    ticks = _ticks_from(timetable, start, key)
    if len(ticks) < 2 or ticks[0] != start:
        summary = getattr(timetable, "summary", type(timetable).__name__)
        where = "is not a tick of" if ticks and ticks[0] != start else "has no next tick within a year in"
        raise FaunaValidationError(
            f"partition_date {start.isoformat()} (partition_key={key!r}) {where} the DAG's schedule "
            f"{summary!r}, so the period to export is unknown: give the DAG a CronPartitionTimetable "
            f"whose key_format names each tick (for example '%Y-%m-%d' for a daily cron), {EXPLICIT_FIX}."
        )
    end = ticks[1]
    if end - start > MAX_INTERVAL:
        raise FaunaValidationError(
            f"Partition {key!r} covers {start.isoformat()} to {end.isoformat()}, "
            f"{(end - start).days} days; the Account API exports at most 90 days per request. "
            "Partition by month or shorter, for example CronPartitionTimetable('0 0 1 * *', ...), "
            f"{EXPLICIT_FIX}."
        )
    return PartitionPeriod(key=key, start=start, end=end)


def core_timetable(context: Mapping[str, Any]) -> Any:
    """The scheduler's form of the DAG's timetable, the one that computes ticks (``None``: no DAG).

    :param context: a task's context, or any mapping whose ``dag`` is the task's DAG.
    """
    timetable = getattr(context.get("dag"), "timetable", None)
    if timetable is None:
        return None
    try:
        # How Airflow itself turns the authoring timetable a task sees into the core one.
        from airflow.serialization.encoders import coerce_to_core_timetable

        return coerce_to_core_timetable(timetable)
    except Exception:  # no airflow-core on this worker, or a custom timetable that does not serialize
        return timetable


def _ticks_from(timetable: Any, start: pendulum.DateTime, key: str) -> list[pendulum.DateTime]:
    """The first two partition dates at or after ``start``, as the timetable steps from one to the next."""
    if not getattr(timetable, "partitioned", False):
        raise _no_period(key, timetable, "it is not partitioned")
    step, back = getattr(timetable, "_get_next", None), getattr(timetable, "_get_prev", None)
    if step is not None and back is not None:
        # A cron timetable's own steps, the ones its scheduler and backfill walk. Its alignment
        # (iter_partition_dagrun_infos' first tick) skips a tick just before a DST gap, and a tick
        # moved by a gap or a fold is no wall-clock tick, so the walk starts from a tick before it.
        tick = pendulum.instance(back(start - DST_MARGIN)).in_timezone("UTC")
        while tick < start:
            following = pendulum.instance(step(tick)).in_timezone("UTC")
            if following <= tick:  # a step that does not advance would walk for ever
                raise _no_period(key, timetable, f"its tick after {tick.isoformat()} does not advance")
            tick = following
        return [tick, pendulum.instance(step(tick)).in_timezone("UTC")]
    iterate = getattr(timetable, "iter_partition_dagrun_infos", None)
    if iterate is None:
        raise _no_period(key, timetable, "it is not partitioned")
    # The bounds are read as wall-clock times in the timetable's zone, so they are given in it.
    zone = getattr(timetable, "_timezone", None) or getattr(timetable, "timezone", None) or "UTC"
    local = start.in_timezone(zone)
    try:
        infos = iterate(earliest=local, latest=local + TICK_HORIZON)
        return [
            pendulum.instance(info.partition_date).in_timezone("UTC") for info in itertools.islice(infos, 2)
        ]
    except NotImplementedError as err:
        raise _no_period(key, timetable, str(err)) from None


def _no_period(key: str, timetable: Any, why: str) -> FaunaValidationError:
    return FaunaValidationError(
        f"This run has partition_key={key!r} but its DAG's schedule ({type(timetable).__name__}) does not "
        f"say which period a partition covers ({why}): schedule the DAG with CronPartitionTimetable, "
        f"{EXPLICIT_FIX}."
    )


def request_details(request: LogRequest, context: Mapping[str, Any]) -> dict[str, Any]:
    """Return the ``log_request`` XCom: the request's details, and the run's partition key if it has one."""
    details = request.to_xcom()
    if (key := partition_key(context)) is not None:
        details["partition_key"] = key
    return details
