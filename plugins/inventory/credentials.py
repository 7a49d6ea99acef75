"""Credentials for a source, only ever from its Airflow connection (``conn_id`` in sources.yaml).

Supported: an API key sent in a header (connection password, header name in the extra field
``api_key_header``, default ``X-Api-Key``) and HTTP basic auth (login + password). The values are
handed to the HTTP session only: they are never logged, put in XCom, landed, or published.
"""

from __future__ import annotations

from typing import Any

from .config import SourceConfig


def _connection(conn_id: str) -> Any:
    # Imported here: reading a connection needs Airflow's runtime, never at import time.
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(conn_id)


def headers_for(source: SourceConfig) -> dict[str, str]:
    if not source.conn_id:
        return {}
    conn = _connection(source.conn_id)
    extra = conn.extra_dejson or {}
    header = extra.get("api_key_header")
    if header and conn.password:
        return {header: conn.password}
    if not conn.login and conn.password:
        return {"X-Api-Key": conn.password}
    return {}


def auth_for(source: SourceConfig) -> tuple[str, str] | None:
    if not source.conn_id:
        return None
    conn = _connection(source.conn_id)
    extra = conn.extra_dejson or {}
    if conn.login and conn.password and not extra.get("api_key_header"):
        return (conn.login, conn.password)
    return None
