"""Airflow finds the provider and its ``fauna`` connection type, on Airflow 3 and 2.11.

Why these tests: Airflow discovers providers through the ``apache_airflow_provider`` entry point
and only *logs* what it fails to import, so a typo in ``get_provider_info()`` or a module that no
longer imports would go unnoticed until a user opens the connection form. Both the CLI (a fresh
process, as users run it) and the in-process ``ProvidersManager`` are checked.
"""

from __future__ import annotations

import importlib
import importlib.metadata
import json
from typing import Any

import pytest
from harness import run_airflow_cli

import airflow_provider_fauna
from airflow_provider_fauna.get_provider_info import get_provider_info

DISTRIBUTION = "airflow-provider-fauna"
HOOK_CLASS = "airflow_provider_fauna.hooks.fauna.FaunaAccountHook"


def _import_path(path: str) -> Any:
    """Import ``package.module.Attribute`` (or a plain module path)."""
    try:
        return importlib.import_module(path)
    except ImportError:
        module, _, attribute = path.rpartition(".")
        return getattr(importlib.import_module(module), attribute)


def _fauna_connection_type(info: dict[str, Any]) -> dict[str, Any]:
    [conn_type] = [c for c in info["connection-types"] if c["connection-type"] == "fauna"]
    return conn_type


# --------------------------------------------------------------------------------- entry point
def test_entry_point_resolves_to_get_provider_info() -> None:
    entry_points = [
        ep
        for ep in importlib.metadata.entry_points(group="apache_airflow_provider")
        if ep.dist is not None and ep.dist.name == DISTRIBUTION
    ]
    assert [ep.value for ep in entry_points] == ["airflow_provider_fauna.get_provider_info:get_provider_info"]
    assert entry_points[0].load() is get_provider_info


def test_provider_info_declares_the_fauna_connection_type() -> None:
    info = get_provider_info()
    assert info["package-name"] == DISTRIBUTION
    assert info["versions"][0] == airflow_provider_fauna.__version__
    conn_type = _fauna_connection_type(info)
    assert conn_type["hook-class-name"] == HOOK_CLASS
    behaviour = conn_type["ui-field-behaviour"]
    assert set(behaviour["hidden-fields"]) == {"schema", "login", "port"}
    assert behaviour["relabeling"]["password"]  # the key is entered in the (masked) password field


def test_every_module_and_class_the_provider_info_names_imports() -> None:
    info = get_provider_info()
    paths = [
        module
        for section in ("hooks", "operators", "sensors", "triggers", "transfers")
        for entry in info.get(section, [])
        for module in entry.get("python-modules", [])
    ]
    paths += info.get("extra-links", [])
    paths += [c["hook-class-name"] for c in info["connection-types"]]
    for path in paths:
        assert _import_path(path) is not None, path


def test_ui_field_behaviour_of_provider_info_matches_the_hook() -> None:
    """Airflow 3 reads the form from provider info, Airflow 2.11 from the hook: they must agree."""
    hook_class = _import_path(HOOK_CLASS)
    from_hook = hook_class.get_ui_field_behaviour()
    declared = _fauna_connection_type(get_provider_info())["ui-field-behaviour"]
    assert {key.replace("-", "_"): value for key, value in declared.items()} == from_hook
    assert hook_class.conn_type == "fauna"
    assert hook_class.default_conn_name == "fauna_default"


def _form_defaults() -> dict[str, Any]:
    """The extras' fields as Airflow's connection form offers them, with the values it fills in."""
    try:  # Airflow 3.2+: the form is built from conn-fields, as the UI's API serves it
        from airflow.api_fastapi.core_api.services.ui.connections import HookMetaService
    except ImportError:  # Airflow 2: the hook's widgets
        from airflow.providers_manager import ProvidersManager

        widgets = ProvidersManager().connection_form_widgets
        return {
            w.field_name: w.field.kwargs["default"]
            for k, w in widgets.items()
            if k.startswith("extra__fauna__")
        }
    [meta] = [m for m in HookMetaService.hook_meta_data() if m.connection_type == "fauna"]
    return {name: field["value"] for name, field in (meta.extra_fields or {}).items()}


def _settings(monkeypatch: pytest.MonkeyPatch, extra: dict[str, Any]) -> tuple[float, ...]:
    monkeypatch.setenv(
        "AIRFLOW_CONN_FAUNA_FORM", json.dumps({"conn_type": "fauna", "password": "fnacapi_x", "extra": extra})
    )
    settings = _import_path(HOOK_CLASS)(fauna_conn_id="fauna_form")._settings
    policy = settings.policy
    return settings.timeout, policy.max_attempts - 1, policy.backoff_base, policy.backoff_max


def test_the_connection_form_offers_the_extras_with_the_defaults_the_hook_uses(monkeypatch) -> None:
    shown = _form_defaults()
    assert list(shown) == ["timeout", "max_retries", "backoff_base", "backoff_max"]
    assert tuple(float(value) for value in shown.values()) == _settings(monkeypatch, {})
    # Saved as the form fills it in (numbers on Airflow 3, text on 2.11), or cleared (null).
    assert _settings(monkeypatch, shown) == _settings(monkeypatch, {})
    assert _settings(monkeypatch, dict.fromkeys(shown)) == _settings(monkeypatch, {})


# --------------------------------------------------------------------------------- Airflow itself
def test_providers_manager_registers_hook_and_field_behaviour() -> None:
    from airflow.providers_manager import ProvidersManager

    manager = ProvidersManager()
    provider = manager.providers[DISTRIBUTION]
    assert provider.version == airflow_provider_fauna.__version__
    try:  # Airflow 3: tasks resolve hooks through the Task SDK's own manager
        from airflow.sdk.providers_manager_runtime import ProvidersManagerTaskRuntime

        hook = ProvidersManagerTaskRuntime().hooks["fauna"]
    except ImportError:  # Airflow 2
        hook = manager.hooks["fauna"]
    assert hook is not None, "Airflow could not import the hook (see the log for the import error)"
    assert hook.hook_class_name == HOOK_CLASS
    assert hook.connection_id_attribute_name == "fauna_conn_id"
    assert manager.field_behaviours["fauna"]["hidden_fields"] == ["schema", "login", "port"]


def test_cli_lists_and_gets_the_provider() -> None:
    listed = json.loads(run_airflow_cli("providers", "list", "-o", "json", check=True).stdout)
    assert {"package_name": DISTRIBUTION, "version": airflow_provider_fauna.__version__}.items() <= {
        k: v for p in listed if p["package_name"] == DISTRIBUTION for k, v in p.items()
    }.items()

    full = json.loads(
        run_airflow_cli("providers", "get", DISTRIBUTION, "--full", "-o", "json", check=True).stdout
    )
    assert len(full) == 1
    assert _fauna_connection_type(full[0])["hook-class-name"] == HOOK_CLASS


@pytest.mark.usefixtures("airflow_db")
def test_cli_connections_test_reaches_the_emulator(fauna_connection: str) -> None:
    result = run_airflow_cli("connections", "test", fauna_connection, check=True)
    assert "success" in (result.stdout + result.stderr).lower()
