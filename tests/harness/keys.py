"""The default object key, spelled out independently of the provider's code that renders it."""

from __future__ import annotations

import datetime as dt


def default_key(scope: str, start: dt.datetime, end: dt.datetime) -> str:
    """Where an export of ``scope`` (a database path or a region group) for ``[start, end)`` lands.

    ``fauna/query_logs/<region group>/<database in it, or _all_databases>/date=<start's UTC
    day>/<start>_<end>.ndjson.gz`` with compact UTC times.
    """
    region, _, database = scope.partition("/")
    start, end = start.astimezone(dt.timezone.utc), end.astimezone(dt.timezone.utc)
    return (
        f"fauna/query_logs/{region}/{database or '_all_databases'}/date={start:%Y-%m-%d}/"
        f"{start:%Y%m%dT%H%M%SZ}_{end:%Y%m%dT%H%M%SZ}.ndjson.gz"
    )


def day_key(scope: str, logical_date: dt.datetime) -> str:
    """The default key of the export a daily run of ``logical_date`` makes: the day before it."""
    return default_key(scope, logical_date - dt.timedelta(days=1), logical_date)
