"""Telling apart values known when the DAG is parsed from those only known once rendered."""

from __future__ import annotations

from typing import Any


def is_templated(value: Any) -> bool:
    """Tell whether a value will only be known once Jinja renders it or an XCom resolves it (not ``None``).

    Such a value is checked in ``execute``; a constructor can only check the others.
    """
    if value is None:
        return False
    return not isinstance(value, str) or "{{" in value or "{%" in value
