"""Apache Airflow provider for the Fauna Account API.

Airflow imports every provider's package while it starts, so this module only states the version.
"""

from __future__ import annotations

__version__ = "0.1.0"

__all__ = ["__version__"]
