"""The sample agencies' foreign AI registers: the UK ATRS on GOV.UK and the US OMB inventories.

Dispatched from :meth:`inventory.demo.sample_agencies.SampleAgencies.route` for paths under
``/atrs/`` and ``/omb/`` (the ``/faults/<mode>`` prefixes work here too: they are applied before the
route is called). Fixtures: ``fixtures/atrs/records.json`` and ``fixtures/omb/*.csv`` (their README
files say which real formats they imitate).

``GET /atrs/api/search.json?filter_content_store_document_type=algorithmic_transparency_record&count=&start=&order=&fields=``
    The GOV.UK search API: ``{results, total, start, aggregates, suggested_queries, ...}``. Parameters
    are strictly validated like the real API (an unknown parameter, a bad ``count``/``start`` or an
    unknown ``order`` field answers 422 ``{"error": "..."}``); ``count`` is capped at 1500; results are
    sorted by ``order`` (``public_timestamp``, ``-public_timestamp``, ``title``; default: fixture order);
    ``fields`` (repeated) limits each result to those fields, else the API's default set (without the
    finder's facets). ``short-count`` fault: ``total`` says 20 more than there are.
``GET /atrs/api/content/<base_path>``
    The GOV.UK content API: the record's content item, or 404 ``{"error": {"code": 404, "message": ...}}``.
``GET /omb/<file>.csv``
    An inventory CSV as bytes, served as its real host serves it: ``2025_individual_use_cases.csv``
    (UTF-8 with a BOM, ``text/csv``), ``2024_consolidated_inventory.csv`` (Windows-1252, but declared
    ``text/plain; charset=utf-8`` as raw.githubusercontent.com declares every file),
    ``2023_inventory.csv`` (UTF-8).
"""

from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from .sample_agencies import ApiError, Response, json_response, strip_private

FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
PREFIXES = ("atrs", "omb")
ATRS_DOCUMENT_TYPE = "algorithmic_transparency_record"
SEARCH_COUNT_MAX = 1500
SEARCH_PARAMS = ("q", "count", "start", "order", "fields", "c", "debug", "suggest", "ab_tests")
SEARCH_PARAM_PREFIXES = ("filter_", "reject_", "aggregate_", "facet_")
SORTABLE = ("public_timestamp", "title")
DEFAULT_FIELDS = ("title", "description", "link", "public_timestamp", "format", "display_type", "organisations",
                  "content_store_document_type")
ALWAYS_FIELDS = {"index": "govuk", "es_score": None, "model_score": None, "original_rank": None, "combined_score": None}
OMB_FILES = {
    "2025_individual_use_cases.csv": "text/csv",
    "2024_consolidated_inventory.csv": "text/plain; charset=utf-8",
    "2023_inventory.csv": "text/csv; charset=utf-8",
}

_lock = threading.Lock()
_data: dict[str, Any] | None = None


def fixtures() -> dict[str, Any]:
    """The ATRS records (search result and content item of each) and the OMB files, loaded once."""
    global _data
    with _lock:
        if _data is None:
            payload = json.loads((FIXTURES_DIR / "atrs" / "records.json").read_text(encoding="utf-8"))
            records = [strip_private(r) for r in payload["records"]]
            _data = {
                "atrs_search": [r["search"] for r in records],
                "atrs_content": {r["content"]["base_path"]: json.dumps(r["content"], ensure_ascii=False).encode("utf-8") for r in records},
                "omb": {name: (FIXTURES_DIR / "omb" / name).read_bytes() for name in OMB_FILES},
            }
        return _data


def urls(base: str) -> dict[str, str]:
    """The source URL of each sample register here (what ``config/sources.demo.yaml`` points at)."""
    out = {"atrs": f"{base}/atrs"}
    out.update({f"omb-{name.split('_', 1)[0]}": f"{base}/omb/{name}" for name in OMB_FILES})
    return out


def route(app: Any, method: str, segments: list[str], query: str, modes: set[str]) -> Response:
    if method not in ("GET", "HEAD"):
        raise ApiError(405, {"error": "Method Not Allowed"})
    if segments[0] == "atrs":
        if segments[1:] == ["api", "search.json"]:
            return search(query, modes)
        if segments[1:3] == ["api", "content"] and len(segments) > 3:
            return content("/" + "/".join(segments[3:]))
    if segments[0] == "omb" and len(segments) == 2 and segments[1] in OMB_FILES:
        return Response(200, fixtures()["omb"][segments[1]], OMB_FILES[segments[1]])
    return json_response(404, {"error": "Not Found"})


def _integer(params: dict[str, list[str]], name: str, default: int) -> int:
    values = params.get(name)
    if not values:
        return default
    raw = values[-1]
    if not raw.strip().isdigit():
        raise ApiError(422, {"error": f'Invalid value "{raw}" for parameter "{name}" (expected positive integer)'})
    return int(raw)


def search(query: str, modes: set[str]) -> Response:
    params = parse_qs(query, keep_blank_values=True)
    unknown = sorted(p for p in params if p not in SEARCH_PARAMS and not p.startswith(SEARCH_PARAM_PREFIXES))
    if unknown:
        raise ApiError(422, {"error": f"Unexpected parameters: {', '.join(unknown)}"})
    count = min(_integer(params, "count", 10), SEARCH_COUNT_MAX)
    start = _integer(params, "start", 0)
    results = list(fixtures()["atrs_search"])
    wanted_types = params.get("filter_content_store_document_type")
    if wanted_types is not None and ATRS_DOCUMENT_TYPE not in wanted_types:
        results = []
    order = (params.get("order") or [""])[-1]
    if order:
        field = order.lstrip("-")
        if field not in SORTABLE:
            raise ApiError(422, {"error": f'"{field}" is not a valid sort field'})
        results.sort(key=lambda r: str(r.get(field) or ""), reverse=order.startswith("-"))
    fields = [f for value in params.get("fields", []) for f in value.split(",") if f]
    page = [
        {**{f: r[f] for f in (fields or DEFAULT_FIELDS) if f in r}, **ALWAYS_FIELDS, "_id": r["link"],
         "elasticsearch_type": ATRS_DOCUMENT_TYPE, "document_type": ATRS_DOCUMENT_TYPE}
        for r in results[start: start + count]
    ]
    total = len(results) + (20 if "short-count" in modes else 0)
    return json_response(200, {"results": page, "total": total, "start": start, "aggregates": {}, "suggested_queries": [],
                               "suggested_autocomplete": [], "es_cluster": "A", "reranked": False})


def content(base_path: str) -> Response:
    body = fixtures()["atrs_content"].get(base_path)
    if body is None:
        raise ApiError(404, {"error": {"code": 404, "message": f"Could not find content item with base_path {base_path}"}})
    return Response(200, body)
