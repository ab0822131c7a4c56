"""What Airflow learns about this provider through the ``apache_airflow_provider`` entry point.

Airflow calls it while it discovers providers: it imports nothing but the version, to stay cheap.
"""

from __future__ import annotations

from typing import Any

from airflow_provider_fauna import __version__

DEFAULT_HOST = "https://account.fauna.com"


def _number_field(label: str, description: str, default: int, *, kind: str = "number", **bounds: int) -> dict:
    return {
        "label": label,
        "description": description,
        "schema": {"type": [kind, "null"], "default": default, **bounds},
    }


#: The extras as form fields: Airflow 3 reads them here, Airflow 2 through the hook's widgets.
CONNECTION_FIELDS: dict[str, dict[str, Any]] = {
    "timeout": _number_field(
        "Timeout (seconds)", "Seconds one HTTP call may take, more than 0.", 30, exclusiveMinimum=0
    ),
    "max_retries": _number_field(
        "Max retries", "Retries after the first attempt of a call (0: none).", 4, kind="integer", minimum=0
    ),
    "backoff_base": _number_field(
        "Backoff base (seconds)",
        "Wait before the first retry, doubled for each retry after it.",
        1,
        minimum=0,
    ),
    "backoff_max": _number_field(
        "Backoff max (seconds)",
        "The longest single wait between two attempts, Retry-After included.",
        60,
        minimum=0,
    ),
}
UI_FIELD_BEHAVIOUR: dict[str, Any] = {
    "hidden-fields": ["schema", "login", "port"],
    "relabeling": {"host": "Account API URL", "password": "Account key secret"},
    "placeholders": {"host": DEFAULT_HOST, "password": "fnacapi..."},
}


def get_provider_info() -> dict[str, Any]:
    """Describe the provider's integration, modules and connection type to Airflow."""
    return {
        "package-name": "airflow-provider-fauna",
        "name": "Fauna",
        "description": "`Fauna <https://fauna.com/>`__: export query logs through the Fauna Account API.\n",
        "versions": [__version__],
        "integrations": [
            {
                "integration-name": "Fauna",
                "external-doc-url": "https://docs.fauna.com/fauna/current/reference/http/reference/account-api/",
                "tags": ["service"],
            }
        ],
        "operators": [
            {"integration-name": "Fauna", "python-modules": ["airflow_provider_fauna.operators.logs"]},
        ],
        "sensors": [
            {"integration-name": "Fauna", "python-modules": ["airflow_provider_fauna.sensors.logs"]},
        ],
        "triggers": [
            {"integration-name": "Fauna", "python-modules": ["airflow_provider_fauna.triggers.logs"]},
        ],
        "transfers": [
            {
                "source-integration-name": "Fauna",
                "target-integration-name": "Amazon Simple Storage Service (S3)",
                "python-module": "airflow_provider_fauna.transfers.fauna_to_s3",
            },
            {
                "source-integration-name": "Fauna",
                "target-integration-name": "Google Cloud Storage (GCS)",
                "python-module": "airflow_provider_fauna.transfers.fauna_to_gcs",
            },
        ],
        "extra-links": ["airflow_provider_fauna.links.FaunaLogRequestLink"],
        "hooks": [
            {"integration-name": "Fauna", "python-modules": ["airflow_provider_fauna.hooks.fauna"]},
        ],
        "connection-types": [
            {
                "hook-class-name": "airflow_provider_fauna.hooks.fauna.FaunaAccountHook",
                "hook-name": "Fauna",
                "connection-type": "fauna",
                "conn-fields": CONNECTION_FIELDS,
                "ui-field-behaviour": UI_FIELD_BEHAVIOUR,
            }
        ],
    }
