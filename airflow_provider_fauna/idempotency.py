"""Idempotency tokens derived from the task instance, so retries reuse their log request.

The Account API resolves the same ``idempotency_token`` within 24 hours to the same request.
A token that is a pure function of the task instance (DAG, task, run, map index) and the
request (scope, interval) therefore makes a retried or cleared task find the export it
already started instead of exporting twice. ``generation`` moves past requests that
ended ``Failed`` or ``TimedOut``: those must not be reused, so the next generation's token
starts a fresh one.
"""

from __future__ import annotations

import uuid

#: Fixed namespace of this provider's tokens (uuid5 of the distribution name).
TOKEN_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_DNS, "airflow-provider-fauna")


def derive_token(
    *,
    dag_id: str,
    task_id: str,
    run_id: str,
    map_index: int,
    scope: str,
    time_start: str,
    time_end: str,
    generation: int = 0,
) -> str:
    """Derive a UUID that is the same for the same task instance, request and generation."""
    name = "\x1f".join(
        (dag_id, task_id, run_id, str(map_index), scope, time_start, time_end, str(generation))
    )
    return str(uuid.uuid5(TOKEN_NAMESPACE, name))
