"""Example DAG (Airflow 3.2+): run once per day exported by ``example_fauna_daily_partitions``.

Scheduled on the asset that export announces, with ``PartitionedAssetTimetable``: each event
carries the partition key of the run that emitted it, so this DAG gets one run per exported
day, with the same ``partition_key``. Its task stands for the day's load (a dbt model, a Spark
job): it reads which object to load from the triggering event's extra.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from airflow.sdk import DAG, Asset, PartitionedAssetTimetable, task

DAG_ID = "example_fauna_partitioned_consumer"

# [START howto_fauna_partitioned_consumer]
with DAG(
    dag_id=DAG_ID,
    schedule=PartitionedAssetTimetable(assets=Asset.ref(name="fauna_query_logs_ecommerce")),
    start_date=datetime(2026, 11, 1, tzinfo=timezone.utc),
    catchup=False,
    default_args={"retries": 1},
    tags=["example", "fauna", "partitions"],
) as dag:

    @task
    def load_day(**context: Any) -> dict[str, Any]:
        """Load the day's file: here, only say which partition and which object it is."""
        objects = [
            event.extra["uri"]
            for events in context["triggering_asset_events"].values()
            for event in events
            if event.extra.get("uri")
        ]
        print(f"Loading partition {context['partition_key']}: {objects}")
        return {"partition_key": context["partition_key"], "objects": objects}

    load_day()
# [END howto_fauna_partitioned_consumer]
