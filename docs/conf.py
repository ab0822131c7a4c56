"""Sphinx configuration of the airflow-provider-fauna documentation.

The build is meant to run strictly (``scripts/build-docs.sh``: ``-W --keep-going -n``), so a
broken cross-reference, a missing ``literalinclude`` marker or a docstring that autodoc cannot
read fails it. Intersphinx stays off because the build must not need the network; references to
other projects' objects (Airflow, requests, the standard library) therefore cannot resolve, and
``nitpick_ignore_regex`` lists exactly those namespaces (and private names, which are never
documented), so that a broken reference to this provider's public objects still fails the build.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path
from typing import Any

DOCS_DIR = Path(__file__).resolve().parent
REPO_ROOT = DOCS_DIR.parent
# The package is normally installed (editable) in the build's environment; this only helps a
# bare checkout. The example DAGs are included as text and never imported by the build.
sys.path.insert(0, str(REPO_ROOT))

# Importing the provider imports Airflow, which wants a home and would otherwise create
# ~/airflow and a SQLite file there. A throwaway home under the build directory keeps the
# build free of side effects on the developer's machine.
os.environ.setdefault("AIRFLOW_HOME", str(DOCS_DIR / "_build" / "airflow-home"))
os.environ.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
os.environ.setdefault("AIRFLOW__CORE__UNIT_TEST_MODE", "False")
os.environ.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "WARNING")

from airflow_provider_fauna import __version__  # noqa: E402

project = "airflow-provider-fauna"
author = "airflow-provider-fauna developers"
copyright = "the airflow-provider-fauna developers, Apache License 2.0"
version = __version__
release = __version__

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.viewcode",
]

exclude_patterns = ["_build", ".gitignore"]
root_doc = "index"
nitpicky = True
default_role = "any"

# -- autodoc ---------------------------------------------------------------------------------
autodoc_default_options = {
    "members": True,
    "show-inheritance": True,
    "member-order": "bysource",
}
autodoc_typehints = "signature"
autodoc_class_signature = "mixed"
autodoc_preserve_defaults = True

# Objects of other projects: with intersphinx off these cannot resolve, and that is expected.
# The bare names are the ones the provider's modules import under TYPE_CHECKING only.
nitpick_ignore_regex = [
    (
        r"py:(class|exc|func|meth|obj)",
        r"(airflow|aiohttp|web|asyncio|datetime|enum|pendulum|random|requests|tenacity|threading|time)\..+",
    ),
    (
        r"py:(class|exc)",
        r"Context|PokeReturnValue|TaskInstanceKey|TriggerEvent|AirflowSkipException|AirflowFailException|datetime|timedelta"
        r"|ModuleType|S3Hook|GCSHook|BaseOperator",
    ),
    # Private names (``_read_answer``, ``FaunaAccountHook._send``) are never documented, so a
    # docstring that points a maintainer at one cannot resolve here; that is not a broken link.
    (r"py:.*", r"(.+\.)?_[A-Za-z0-9]\w*"),
]


def _resolve_short_names(app: Any, env: Any, node: Any, contnode: Any) -> Any:
    """Resolve a bare name in a docstring (``:class:`LogRequestSpec```) to this package's object.

    The docstrings name classes of sibling modules without their module, as a reader would.
    Sphinx only looks such a name up in the current module, so this handler looks for the one
    object of ``airflow_provider_fauna`` whose dotted name ends with it. A name that matches
    nothing, or more than one object, stays unresolved and fails the strict build.
    """
    if node.get("refdomain") != "py":
        return None
    target = node.get("reftarget", "").lstrip(".~")
    if not target or target.startswith("airflow_provider_fauna."):
        return None
    domain = env.get_domain("py")
    matches = [
        name
        for name in domain.objects
        if name.startswith("airflow_provider_fauna.") and name.endswith("." + target)
    ]
    if len(matches) != 1:
        return None
    return domain.resolve_xref(env, node["refdoc"], app.builder, node["reftype"], matches[0], node, contnode)


def _plain_factory_defaults(
    app: Any, what: str, name: str, obj: Any, options: Any, signature: str | None, annotation: str | None
) -> tuple[str | None, str | None] | None:
    """Show dataclass ``default_factory`` fields as ``...`` instead of ``<factory>``.

    ``<factory>`` is not Python, so Sphinx falls back to splitting the signature on commas and
    breaks annotations such as ``dict[str, str]`` into two bogus references.
    """
    if signature and "<factory>" in signature:
        return signature.replace("<factory>", "..."), annotation
    return None


def setup(app: Any) -> dict[str, Any]:
    app.connect("missing-reference", _resolve_short_names)
    app.connect("autodoc-process-signature", _plain_factory_defaults)
    return {"parallel_read_safe": True}


# -- HTML --------------------------------------------------------------------------------------
html_theme = "furo"
html_title = f"airflow-provider-fauna {release}"
html_show_sourcelink = False
html_static_path: list[str] = []
html_theme_options = {
    "navigation_with_keys": True,
}
