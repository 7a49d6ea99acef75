"""Where things are: every path and switch the library reads from the environment, in one place.

Read at call time, never at import, so tests and DAG runs can point the same code elsewhere.
"""

from __future__ import annotations

import os
from pathlib import Path

# The project root: plugins/inventory/settings.py -> two levels up from plugins/.
PROJECT_ROOT = Path(__file__).resolve().parents[2]


def data_dir() -> Path:
    """``$INVENTORY_DATA_DIR`` (default ``./data`` under the project): landing, staging, store, exports."""
    return Path(os.environ.get("INVENTORY_DATA_DIR") or PROJECT_ROOT / "data").resolve()


def sources_file() -> Path:
    """``$INVENTORY_SOURCES`` when set, else the production ``config/sources.yaml``."""
    return Path(os.environ.get("INVENTORY_SOURCES") or PROJECT_ROOT / "config" / "sources.yaml").resolve()


def expectations_dir() -> Path:
    return Path(os.environ.get("INVENTORY_EXPECTATIONS_DIR") or PROJECT_ROOT / "expectations").resolve()


def config_dir() -> Path:
    return PROJECT_ROOT / "config"


def store_kind() -> str:
    """``duckdb`` (embedded default) or ``postgres`` (``$INVENTORY_STORE``)."""
    kind = (os.environ.get("INVENTORY_STORE") or "duckdb").strip().lower()
    if kind not in ("duckdb", "postgres"):
        raise ValueError(f"INVENTORY_STORE must be 'duckdb' or 'postgres', not {kind!r}")
    return kind


def duckdb_path() -> Path:
    return data_dir() / "inventory.duckdb"


def exports_dir() -> Path:
    return data_dir() / "exports"


def reports_dir() -> Path:
    return data_dir() / "reports"


def data_docs_dir() -> Path:
    return reports_dir() / "data_docs"
