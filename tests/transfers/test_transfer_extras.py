"""What the transfers need of other packages: the optional extras, OpenLineage, the kill switch."""

from __future__ import annotations

import subprocess
import sys
import types
from dataclasses import dataclass, field
from typing import Any

import pytest
from harness import REPO_ROOT, airflow_cli_env

from airflow_provider_fauna.log_requests import LogRequest
from airflow_provider_fauna.transfers.base import Destination
from airflow_provider_fauna.transfers.fauna_to_s3 import FaunaLogsToS3Operator

pytest.importorskip("airflow.providers.amazon.aws.hooks.s3")

WITHOUT_PROVIDERS = """
import importlib.abc, sys

class Missing(importlib.abc.MetaPathFinder):
    def find_spec(self, name, path=None, target=None):
        # Everything but the providers' get_provider_info, which Airflow's discovery reads.
        if name.startswith(("airflow.providers.amazon.aws", "airflow.providers.google.cloud", "boto3", "google.cloud.storage")):
            raise ModuleNotFoundError(f"No module named {name!r}", name=name)
        return None

sys.meta_path.insert(0, Missing())

import airflow_provider_fauna
import airflow_provider_fauna.get_provider_info
import airflow_provider_fauna.operators.logs
import airflow_provider_fauna.transfers.download
from airflow_provider_fauna.transfers.fauna_to_gcs import FaunaLogsToGCSOperator
from airflow_provider_fauna.transfers.fauna_to_s3 import FaunaLogsToS3Operator

for cls, kwargs, extra in (
    (FaunaLogsToS3Operator, {"s3_bucket": "fauna-logs"}, "amazon"),
    (FaunaLogsToGCSOperator, {"bucket_name": "fauna-logs"}, "google"),
):
    try:
        cls(task_id="t", request_id="1", **kwargs)
    except Exception as err:
        assert type(err).__name__ == "AirflowOptionalProviderFeatureException", type(err)
        assert f"pip install 'airflow-provider-fauna[{extra}]'" in str(err), str(err)
    else:
        raise AssertionError(f"{cls.__name__} was built without its provider")
print("ok")
"""


def python_prints(script: str) -> str:
    """Run ``script`` in a fresh interpreter (its imports are its own); what it printed."""
    done = subprocess.run(
        [sys.executable, "-c", script],
        env=airflow_cli_env({"PYTHONPATH": str(REPO_ROOT)}),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return done.stdout.strip()


def test_modules_import_without_the_amazon_and_google_providers_and_say_what_to_install() -> None:
    assert python_prints(WITHOUT_PROVIDERS).endswith("ok")


BUILT_AT_PARSE_TIME = """
import sys

from airflow_provider_fauna.transfers.fauna_to_gcs import FaunaLogsToGCSOperator
from airflow_provider_fauna.transfers.fauna_to_s3 import FaunaLogsToS3Operator

FaunaLogsToS3Operator(task_id="s3", request_id="1", s3_bucket="fauna-logs")
FaunaLogsToGCSOperator(task_id="gcs", request_id="1", bucket_name="fauna-logs")
heavy = [m for m in ("airflow.providers.amazon.aws.hooks.s3", "airflow.providers.google.cloud.hooks.gcs",
                     "boto3", "google.cloud.storage") if m in sys.modules]
print("imported:", heavy)
"""


def test_building_the_transfers_when_a_dag_is_parsed_imports_no_store_client() -> None:
    """The DAG processor builds every operator of every file again and again: no boto3, no Google."""
    printed = python_prints(BUILT_AT_PARSE_TIME)
    assert printed.endswith("imported: []"), printed


def copied(operator: FaunaLogsToS3Operator) -> FaunaLogsToS3Operator:
    request = LogRequest.from_api(
        {
            "request_id": "7",
            "state": "Complete",
            "database": "us-std/production/customers",
            "region_group": None,
        }
    )
    operator._lineage = (request, Destination("s3", "fauna-logs", "fauna/query/x.ndjson.gz"))
    return operator


def test_openlineage_facets_are_none_without_the_openlineage_provider() -> None:
    operator = FaunaLogsToS3Operator(task_id="t", request_id="7", s3_bucket="fauna-logs")
    assert operator.get_openlineage_facets_on_complete(None) is None, "nothing copied yet"
    try:
        import airflow.providers.openlineage.extractors  # noqa: F401
    except ImportError:
        assert copied(operator).get_openlineage_facets_on_complete(None) is None
    else:  # pragma: no cover - the test venvs have no OpenLineage provider
        pytest.skip("the OpenLineage provider is installed")


@dataclass
class FakeDataset:
    namespace: str
    name: str


@dataclass
class FakeOperatorLineage:
    inputs: list[Any] = field(default_factory=list)
    outputs: list[Any] = field(default_factory=list)


def test_openlineage_facets_name_the_fauna_export_and_the_object(monkeypatch: pytest.MonkeyPatch) -> None:
    facet = types.ModuleType("facet")
    facet.Dataset = FakeDataset  # type: ignore[attr-defined]
    extractors = types.ModuleType("extractors")
    extractors.OperatorLineage = FakeOperatorLineage  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "airflow.providers.common.compat.openlineage.facet", facet)
    monkeypatch.setitem(sys.modules, "airflow.providers.openlineage.extractors", extractors)
    operator = copied(FaunaLogsToS3Operator(task_id="t", request_id="7", s3_bucket="fauna-logs"))

    lineage = operator.get_openlineage_facets_on_complete(None)

    assert lineage.inputs == [FakeDataset("fauna://us-std", "us-std/production/customers")]
    assert lineage.outputs == [FakeDataset("s3://fauna-logs", "fauna/query/x.ndjson.gz")]


def test_on_kill_aborts_the_upload_in_flight_once() -> None:
    operator = FaunaLogsToS3Operator(task_id="t", request_id="7", s3_bucket="fauna-logs")
    aborted: list[bool] = []
    operator._abort = lambda: aborted.append(True)

    operator.on_kill()
    operator.on_kill()

    assert aborted == [True]
