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


DEFAULT_MAX_REMOVED_SHARE = 0.10


def parse_share(value: object, where: str) -> float:
    """A share of records: a fraction (``0.25``) or a percentage text (``"25%"``), 0 to 1."""
    text = str(value).strip()
    try:
        share = float(text[:-1]) / 100 if text.endswith("%") else float(text)
    except ValueError:
        raise ValueError(f"{where}: {value!r} is not a share (write 0.25 or '25%')") from None
    if not 0 <= share <= 1:
        raise ValueError(f"{where}: {value!r} is not between 0 and 1 (0 % and 100 %)")
    return share


def max_removed_share() -> float:
    """``$INVENTORY_MAX_REMOVED_SHARE`` (default 10 %): the largest share of a source's published records
    one complete listing may withdraw before the source is held for review; a source's
    ``options.max_removed_share`` in the sources file overrides it."""
    raw = os.environ.get("INVENTORY_MAX_REMOVED_SHARE")
    return parse_share(raw, "INVENTORY_MAX_REMOVED_SHARE") if raw else DEFAULT_MAX_REMOVED_SHARE
