"""The sample agencies: one local HTTP server speaking the real protocols over the project's fixtures.

    python -m inventory.demo.sample_agencies --port 8765 [--generated 1000000] [--verbose]
    python -m inventory.demo.sample_agencies --bench 200000      # generated-mode throughput, one process
    python -m inventory.demo.sample_agencies --bench 1000000 --against http://127.0.0.1:8765   # vs a server

    with SampleAgencies() as agencies:          # port 0: a free port
        agencies.url                            # http://127.0.0.1:PORT
        agencies.request_log                    # [(method, path+query, body), ...]

Routes (each agency under its own prefix):

``GET|POST /ckan/<agency>/api/3/action/package_search?q=&fq=&rows=&start=&sort=``
    The CKAN envelope ``{help, success, result: {count, sort, facets, results, search_facets}}``.
    ``rows`` defaults to 10 and is capped at 1000 (as CKAN caps it); ``start`` offsets; ``sort`` is
    a comma-separated list of ``<field> asc|desc`` (id, name, title, metadata_modified,
    metadata_created, score), default ``score desc, metadata_modified desc``; ties keep the fixture
    order, so every sort is stable. ``fq`` takes Solr clauses ``field:[X TO Y]`` (``*`` open,
    ``{}`` exclusive; dates as ``2020-01-01T00:00:00Z`` or ``NOW``/``NOW-7DAYS``) and
    ``field:value``; ``q`` is ``*:*``, ``field:value`` or free text. Bad ``rows``/``start`` answer
    HTTP 409 ``{"success": false, "error": {"__type": "Validation Error", ...}}`` like CKAN.
``GET /ckan/<agency>/api/3/action/package_show?id=<id or name>``
    ``{"success": true, "result": {...}}`` or 404 ``{"error": {"__type": "Not Found Error"}}``.
    Agencies: ``national-portal``, ``gemeente-utrecht`` and, with ``generated_datasets=N``,
    ``generated`` (N synthetic packages, see :mod:`inventory.demo.generated`).
``POST /algoritmeregister/api/algoritme/<NLD|ENG|FRY>`` body ``{"page", "limit", "search", "filters"}``
    ``{"results", "total_count", "page", "limit"}``; ``page`` from 1 and ``limit`` 1..100, else 422
    ``{"detail": [...]}`` (FastAPI's shape). Records whose lars starts with ``C`` are not listed.
``GET /algoritmeregister/api/algoritme/<lang>/<lars>``
    The record, 404, or 403 for a ``C`` id (a harvester must never ask; the request log shows it).
``GET /algoritmeregister/api/downloads/site-data/json``
    ``{"algoritme_versions": [...], "organisation_details": [...]}`` like the real export.

``/dcat/…``, ``/csw/…``: DCAT-AP catalogues and CSW geo registers (:mod:`.routes_geo_dcat`);
``/atrs/…``, ``/omb/…``: the UK and US AI registers (:mod:`.routes_ai_registers`);
``/api-register/…``: the national API register, behind an API key or OAuth2 (:mod:`.routes_api_register`).

Fault modes, by a ``/faults/<mode>`` prefix in front of any route (several may be stacked):
``500-once`` (the first request per path+query answers 500), ``always-500``, ``429`` (the first
request per path+query answers 429 with ``Retry-After: 1``), ``html`` (200 with an HTML error page),
``truncated`` (the JSON body cut in half, Content-Length of the half), ``cut-connection`` (the full
Content-Length is announced, half is sent, the connection closes), ``slow`` (sleeps ``slow_seconds``,
5 s by default, before answering), ``drift`` (after the first page was served, a new record appears
at the head of the listing, so one record shifts across the page boundary; CKAN and the
Algoritmeregister listing), ``short-count`` (``count``/``total_count`` says 20 more than served).
:meth:`SampleAgencies.reset` forgets the request log and all fault state.

Every response is ``application/json; charset=utf-8`` (except the faults that say otherwise) with a
Content-Length, HTTP/1.1 keep-alive, and no per-request log lines unless ``verbose``.
"""

from __future__ import annotations

import argparse
import copy
import email.utils
import http.client
import json
import re
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from . import generated

FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
CKAN_AGENCIES = ("national-portal", "gemeente-utrecht")
GENERATED_AGENCY = "generated"
LANGUAGES = ("NLD", "ENG", "FRY")
FAULT_MODES = ("500-once", "always-500", "429", "html", "truncated", "cut-connection", "slow", "drift", "short-count")
CKAN_ROWS_MAX = 1000
CKAN_ROWS_DEFAULT = 10
REGISTER_LIMIT_MAX = 100
DEFAULT_SORT = "score desc, metadata_modified desc"
SORT_FIELDS = ("id", "name", "title", "metadata_modified", "metadata_created", "score")
JSON_TYPE = "application/json; charset=utf-8"
PRIVATE_KEYS = ("_defect", "_comment")

HTML_ERROR_PAGE = (
    "<!DOCTYPE html>\n<html lang=\"nl\"><head><title>Onderhoud</title></head>\n<body><h1>Tijdelijk niet "
    "beschikbaar</h1><p>Deze website is wegens onderhoud tijdelijk niet beschikbaar. Probeer het later "
    "opnieuw.</p><p><small>Reference #18.2f3c1402.1718000000.5a1d2e</small></p></body></html>\n"
)


def strip_private(value: Any) -> Any:
    """A copy without any ``_defect``/``_comment`` key, at any depth."""
    if isinstance(value, dict):
        return {k: strip_private(v) for k, v in value.items() if k not in PRIVATE_KEYS}
    if isinstance(value, list):
        return [strip_private(v) for v in value]
    return value


def dumps(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class ApiError(Exception):
    """An answer that is an error (status and JSON body), raised from deep inside a route."""

    def __init__(self, status: int, body: Any, headers: dict[str, str] | None = None):
        super().__init__(status)
        self.status, self.body, self.headers = status, body, headers or {}


@dataclass
class Response:
    status: int
    body: bytes
    content_type: str = JSON_TYPE
    headers: dict[str, str] = field(default_factory=dict)


def json_response(status: int, value: Any, headers: dict[str, str] | None = None) -> Response:
    return Response(status, dumps(value).encode("utf-8"), JSON_TYPE, headers or {})


# ------------------------------------------------------------------------------------ Solr bits


def parse_solr_date(text: str, now: datetime) -> datetime | None:
    """A Solr date (``2020-01-01T00:00:00Z``, ``…00.000Z``, ``NOW``, ``NOW-7DAYS``), naive UTC; None for ``*``."""
    text = text.strip()
    if text == "*":
        return None
    m = re.fullmatch(r"NOW(?:([+-])(\d+)(SECOND|MINUTE|HOUR|DAY|MONTH|YEAR)S?)?(?:/DAY)?", text)
    if m:
        if not m.group(1):
            return now
        n = int(m.group(2)) * (-1 if m.group(1) == "-" else 1)
        unit = {"SECOND": 1, "MINUTE": 60, "HOUR": 3600, "DAY": 86400, "MONTH": 30 * 86400, "YEAR": 365 * 86400}[m.group(3)]
        return now + timedelta(seconds=n * unit)
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z", text):
        raise ApiError(409, ckan_error("Search Query Error", f'Search Query is invalid: "Invalid Date String:\'{text}\'"'))
    return datetime.fromisoformat(text[:-1]).replace(tzinfo=None)


def to_naive_utc(value: Any) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        dt = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return dt.astimezone(timezone.utc).replace(tzinfo=None) if dt.tzinfo else dt


_RANGE = re.compile(r"([\w.]+):([\[{])(\S+) TO (\S+)([\]}])")
_TERM = re.compile(r'([\w.]+):("(?:[^"\\]|\\.)*"|\S+)')


def parse_fq(fq: str, now: datetime) -> list[tuple]:
    """Solr filter clauses: ``("range", field, lo, hi, lo_incl, hi_incl)`` or ``("term", field, value)``."""
    clauses: list[tuple] = []
    rest = fq
    for m in _RANGE.finditer(fq):
        fieldname, lo, hi = m.group(1), m.group(3), m.group(4)
        if fieldname in ("metadata_modified", "metadata_created"):
            lo_v: Any = parse_solr_date(lo, now)
            hi_v: Any = parse_solr_date(hi, now)
        else:
            lo_v, hi_v = (None if lo == "*" else lo), (None if hi == "*" else hi)
        clauses.append(("range", fieldname, lo_v, hi_v, m.group(2) == "[", m.group(5) == "]"))
        rest = rest.replace(m.group(0), " ")
    for m in _TERM.finditer(rest):
        value = m.group(2)
        if value.startswith('"'):
            value = value[1:-1].replace('\\"', '"')
        clauses.append(("term", m.group(1).lstrip("+"), value))
        rest = rest.replace(m.group(0), " ", 1)
    leftover = [w for w in rest.split() if w.upper() not in ("AND", "+")]
    if leftover:
        raise ApiError(409, ckan_error("Search Query Error", f'Search Query is invalid: "cannot parse fq {fq!r}"'))
    return clauses


def parse_sort(sort: str) -> list[tuple[str, bool]]:
    out = []
    for part in sort.split(","):
        words = part.split()
        if not words:
            continue
        if len(words) != 2 or words[1].lower() not in ("asc", "desc"):
            raise ApiError(409, ckan_error(
                "Search Query Error", f'Search Query is invalid: "Can\'t determine a Sort Order (asc or desc) in sort spec \'{part.strip()}\'"'))
        if words[0] not in SORT_FIELDS:
            raise ApiError(409, ckan_error("Search Query Error", f'Search Query is invalid: "sort param field can\'t be found: {words[0]}"'))
        out.append((words[0], words[1].lower() == "desc"))
    return out


def ckan_error(kind: str, message: str | None = None, **fields: Any) -> dict:
    error: dict[str, Any] = {"__type": kind}
    if message is not None:
        error["message"] = message
    error.update(fields)
    return {"success": False, "error": error}


def natural(params: dict[str, Any], name: str, default: int) -> int:
    """CKAN's natural_number_validator, with its messages."""
    value = params.get(name)
    if value is None or value == "":
        return default
    if isinstance(value, bool):
        raise ApiError(409, ckan_error("Validation Error", **{name: ["Invalid integer"]}))
    try:
        number = int(str(value).strip())
    except ValueError:
        raise ApiError(409, ckan_error("Validation Error", **{name: ["Invalid integer"]})) from None
    if number < 0:
        raise ApiError(409, ckan_error("Validation Error", **{name: ["Must be a natural number"]}))
    return number


# --------------------------------------------------------------------------------- CKAN agencies


@dataclass
class Listing:
    """A result list that may be virtual: ``count`` entries, ``take(a, b)`` gives their JSON texts."""

    count: int
    take: Callable[[int, int], list[str]]
    sort: str

    def with_head(self, head: str) -> "Listing":
        def take(a: int, b: int) -> list[str]:
            if b <= 0:
                return []
            if a == 0:
                return [head] + self.take(0, b - 1)
            return self.take(a - 1, b - 1)

        return Listing(self.count + 1, take, self.sort)


class CkanFixtureAgency:
    def __init__(self, name: str, packages: list[dict], help_style: str):
        self.name = name
        self.help_style = help_style
        self.packages = [strip_private(p) for p in packages]
        self.texts = [dumps(p) for p in self.packages]
        self.by_id: dict[str, int] = {}
        for n, p in enumerate(self.packages):
            for key in (p.get("id"), p.get("name")):
                if isinstance(key, str) and key not in self.by_id:
                    self.by_id[key] = n
        self.modified = [to_naive_utc(p.get("metadata_modified")) for p in self.packages]
        self.created = [to_naive_utc(p.get("metadata_created")) for p in self.packages]
        # The record that "drift" inserts: new, valid, and first under every ascending and the default sort.
        head = copy.deepcopy(self.packages[0])
        head.update(
            id="00000000-0000-4000-8000-00000000d71f",
            name="aaa-nieuw-toegevoegd-tijdens-het-ophalen",
            title="Nieuw toegevoegd tijdens het ophalen",
            metadata_modified=datetime.now(timezone.utc).replace(tzinfo=None).isoformat(timespec="microseconds"),
        )
        self.drift_text = dumps(head)

    def help(self, base: str, action: str) -> str:
        if self.help_style == "2015":
            return action
        return f"{base}/ckan/{self.name}/api/3/action/help_show?name={action}"

    def _field(self, n: int, name: str) -> Any:
        p = self.packages[n]
        if name == "organization":
            org = p.get("organization")
            return org.get("name") if isinstance(org, dict) else None
        if name == "tags":
            return [t.get("name") for t in p.get("tags") or [] if isinstance(t, dict)]
        if name == "res_format":
            return [r.get("format") for r in p.get("resources") or [] if isinstance(r, dict)]
        return p.get(name)

    def _matches_term(self, n: int, fieldname: str, value: str) -> bool:
        have = self._field(n, fieldname)
        if isinstance(have, list):
            return value in [str(v) for v in have]
        return have is not None and (str(have) == value or (value == "*" and have != ""))

    def _matches(self, n: int, clause: tuple) -> bool:
        if clause[0] == "term":
            return self._matches_term(n, clause[1], clause[2])
        _, fieldname, lo, hi, lo_incl, hi_incl = clause
        if fieldname in ("metadata_modified", "metadata_created"):
            have: Any = (self.modified if fieldname == "metadata_modified" else self.created)[n]
        else:
            have = self._field(n, fieldname)
            have = None if have is None else str(have)
        if have is None:
            return False
        if lo is not None and (have < lo or (not lo_incl and have == lo)):
            return False
        if hi is not None and (have > hi or (not hi_incl and have == hi)):
            return False
        return True

    def _matches_q(self, n: int, q: str) -> bool:
        q = q.strip()
        if q in ("", "*:*", "*"):
            return True
        m = re.fullmatch(r'([\w.]+):("[^"]*"|\S+)', q)
        if m and m.group(1) != "http" and not m.group(2).startswith("//"):
            return self._matches_term(n, m.group(1), m.group(2).strip('"'))
        p = self.packages[n]
        hay = " ".join(
            [str(p.get("title") or ""), str(p.get("notes") or ""), str(p.get("name") or "")]
            + [str(t.get("name")) for t in p.get("tags") or [] if isinstance(t, dict)]
        ).lower()
        return all(word.lower() in hay for word in q.split())

    def search(self, params: dict[str, Any], now: datetime) -> Listing:
        sort = str(params.get("sort") or DEFAULT_SORT)
        order = parse_sort(sort)
        clauses = parse_fq(str(params.get("fq") or ""), now)
        q = str(params.get("q") or "")
        hits = [n for n in range(len(self.packages)) if self._matches_q(n, q) and all(self._matches(n, c) for c in clauses)]
        for fieldname, desc in reversed(order):  # stable multi-key sort: the last key first
            if fieldname == "score":
                continue  # every hit scores the same here
            hits.sort(key=self._sort_key(fieldname), reverse=desc)
        texts = [self.texts[n] for n in hits]
        return Listing(len(texts), lambda a, b: texts[a:b], sort)

    def _sort_key(self, fieldname: str) -> Callable[[int], Any]:
        if fieldname in ("metadata_modified", "metadata_created"):
            values = self.modified if fieldname == "metadata_modified" else self.created
            return lambda n: values[n] or datetime.min
        return lambda n: str(self.packages[n].get(fieldname) or "")

    def show(self, ident: str) -> str | None:
        n = self.by_id.get(ident)
        return None if n is None else self.texts[n]


class CkanGeneratedAgency:
    """N synthetic packages (see :mod:`inventory.demo.generated`), computed per page."""

    name = GENERATED_AGENCY

    def __init__(self, n: int):
        self.n = n
        self.drift_text = generated.render_package(n)  # the package that would come next

    def help(self, base: str, action: str) -> str:
        return f"{base}/ckan/{self.name}/api/3/action/help_show?name={action}"

    def search(self, params: dict[str, Any], now: datetime) -> Listing:
        sort = str(params.get("sort") or DEFAULT_SORT)
        order = [(f, d) for f, d in parse_sort(sort) if f != "score"]
        if order and order[0][0] == "title":
            raise ApiError(409, ckan_error("Search Query Error", 'Search Query is invalid: "the generated agency sorts by id, name, metadata_modified or metadata_created"'))
        desc = order[0][1] if order else False
        q = str(params.get("q") or "").strip()
        if q not in ("", "*:*", "*"):
            raise ApiError(409, ckan_error("Search Query Error", 'Search Query is invalid: "the generated agency only answers q=*:*"'))
        first, last = 0, self.n
        for clause in parse_fq(str(params.get("fq") or ""), now):
            if clause[0] != "range" or clause[1] not in ("metadata_modified", "metadata_created"):
                raise ApiError(409, ckan_error("Search Query Error", 'Search Query is invalid: "the generated agency filters on metadata_modified only"'))
            if clause[1] == "metadata_modified":
                a, b = generated.index_range_for_modified(self.n, clause[2], clause[3], clause[4], clause[5])
                first, last = max(first, a), min(last, b)
        count = max(0, last - first)

        def take(a: int, b: int) -> list[str]:
            a, b = max(0, a), min(count, b)
            if a >= b:
                return []
            if desc:
                return generated.render_many(range(last - 1 - a, last - 1 - b, -1))
            return generated.render_many(range(first + a, first + b))

        return Listing(count, take, sort)

    def show(self, ident: str) -> str | None:
        i = generated.index_of_id(ident)
        if i is None:
            m = re.fullmatch(r"dataset-(\d{8})-.*", ident or "")
            i = int(m.group(1)) if m else None
            if i is not None and generated.package_for(i)["name"] != ident:
                i = None
        return generated.render_package(i) if i is not None and i < self.n else None


# ---------------------------------------------------------------------------- Algoritmeregister


class Register:
    def __init__(self, payload: dict):
        self.records = [strip_private(r) for r in payload["algoritme_versions"]]
        self.orgs = strip_private(payload.get("organisation_details") or [])
        self.listed: dict[str, list[dict]] = {lang: [] for lang in LANGUAGES}
        self.detail: dict[tuple[str, str], dict] = {}
        for r in self.records:
            lars = str(r.get("lars") or "")
            lang = str(r.get("language") or "NLD").upper()
            if lars.upper().startswith("C"):
                continue  # concept records are hidden from every listing and the export
            self.listed.setdefault(lang, []).append(r)
            self.detail.setdefault((lang, lars), r)
        self.bulk = dumps({"algoritme_versions": [r for lang in LANGUAGES for r in self.listed[lang]],
                           "organisation_details": self.orgs}).encode("utf-8")
        first = next((r for r in self.listed["NLD"]), {})
        self.drift_record = dict(first, lars="10000003", name="Nieuw gepubliceerd tijdens het ophalen")  # a valid lars

    @staticmethod
    def validation_error(loc: list, msg: str, value: Any, kind: str) -> ApiError:
        return ApiError(422, {"detail": [{"type": kind, "loc": loc, "msg": msg, "input": value}]})

    def check_lang(self, lang: str) -> str:
        if lang not in LANGUAGES:
            raise self.validation_error(["path", "lang"], "Input should be 'NLD', 'ENG' or 'FRY'", lang, "enum")
        return lang

    def listing_params(self, raw: bytes) -> tuple[int, int, str, dict]:
        try:
            body = json.loads(raw.decode("utf-8")) if raw.strip() else None
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise self.validation_error(["body"], f"JSON decode error: {exc}", None, "json_invalid") from None
        if not isinstance(body, dict):
            raise self.validation_error(["body"], "Input should be a valid dictionary or object", body, "model_attributes_type")
        values = []
        for name, default, lo, hi in (("page", 1, 1, None), ("limit", 10, 1, REGISTER_LIMIT_MAX)):
            v = body.get(name, default)
            if isinstance(v, bool) or not isinstance(v, int):
                if isinstance(v, str) and v.strip().lstrip("-").isdigit():
                    v = int(v)
                else:
                    raise self.validation_error(["body", name], "Input should be a valid integer", v, "int_type")
            if v < lo:
                raise self.validation_error(["body", name], f"Input should be greater than or equal to {lo}", v, "greater_than_equal")
            if hi is not None and v > hi:
                raise self.validation_error(["body", name], f"Input should be less than or equal to {hi}", v, "less_than_equal")
            values.append(v)
        search = body.get("search") or ""
        filters = body.get("filters") or {}
        if not isinstance(search, str):
            raise self.validation_error(["body", "search"], "Input should be a valid string", search, "string_type")
        if not isinstance(filters, dict):
            raise self.validation_error(["body", "filters"], "Input should be a valid dictionary", filters, "dict_type")
        return values[0], values[1], search, filters

    def select(self, lang: str, search: str, filters: dict) -> list[dict]:
        out = []
        words = search.lower().split()
        for r in self.listed.get(lang, []):
            if words:
                hay = " ".join(str(r.get(k) or "") for k in ("name", "description_short", "organization", "tags")).lower()
                if not all(w in hay for w in words):
                    continue
            ok = True
            for key, wanted in filters.items():
                if wanted in (None, "", []):
                    continue
                wanted_list = [str(w) for w in (wanted if isinstance(wanted, list) else [wanted])]
                have = r.get(key)
                have_list = [str(h) for h in (have if isinstance(have, list) else [have])]
                if not set(wanted_list) & set(have_list):
                    ok = False
                    break
            if ok:
                out.append(r)
        return out


# ------------------------------------------------------------------------------------ the server


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 128


class SampleAgencies:
    """The sample agencies on ``host:port`` (port 0: a free one). ``start()`` returns the base URL."""

    def __init__(self, port: int = 0, host: str = "127.0.0.1", *, generated_datasets: int = 0,
                 slow_seconds: float = 5.0, verbose: bool = False, fixtures_dir: Path | str | None = None):
        self.host, self.port = host, port
        self.slow_seconds = slow_seconds
        self.verbose = verbose
        self.url: str | None = None
        self.request_log: list[tuple[str, str, str]] = []
        self._lock = threading.Lock()
        self._fault_seen: set[tuple[str, str]] = set()
        self._drifted: set[str] = set()
        self._stopping = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None

        root = Path(fixtures_dir) if fixtures_dir else FIXTURES_DIR
        self.ckan: dict[str, Any] = {}
        for name in CKAN_AGENCIES:
            payload = json.loads((root / "ckan" / f"{name}.json").read_text(encoding="utf-8"))
            self.ckan[name] = CkanFixtureAgency(name, payload["packages"], "2015" if name == "gemeente-utrecht" else "donl")
        if generated_datasets:
            self.ckan[GENERATED_AGENCY] = CkanGeneratedAgency(int(generated_datasets))
        self.register = Register(json.loads((root / "algoritmeregister" / "register.json").read_text(encoding="utf-8")))

    # -- life cycle

    def start(self) -> str:
        if self._server is not None:
            return self.url  # type: ignore[return-value]
        self._stopping.clear()
        handler = type("SampleAgenciesHandler", (_Handler,), {"app": self})
        self._server = _Server((self.host, self.port), handler)
        self.port = self._server.server_address[1]
        self.url = f"http://{self.host}:{self.port}"
        self._thread = threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.1},
                                        name=f"sample-agencies-{self.port}", daemon=True)
        self._thread.start()
        return self.url

    def stop(self) -> None:
        if self._server is None:
            return
        self._stopping.set()  # wakes "slow" handlers
        self._server.shutdown()
        self._server.server_close()
        if self._thread:
            self._thread.join(timeout=5)
        self._server = self._thread = None

    def __enter__(self) -> "SampleAgencies":
        self.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    def reset(self) -> None:
        """Forget the request log, which paths have had their one-off fault, and any drift."""
        with self._lock:
            self.request_log.clear()
            self._fault_seen.clear()
            self._drifted.clear()

    def urls(self) -> dict[str, str]:
        """The base URL of each agency (what ``config/sources.demo.yaml`` points at)."""
        base = self.url or f"http://{self.host}:{self.port}"
        out = {name: f"{base}/ckan/{name}/api/3/action/" for name in self.ckan}
        out["algoritmeregister"] = f"{base}/algoritmeregister"
        from . import routes_api_register

        out.update(routes_api_register.urls(base))
        return out

    # -- request handling (called from handler threads)

    def _log(self, method: str, target: str, body: bytes) -> None:
        with self._lock:
            self.request_log.append((method, target, body.decode("utf-8", "replace")))

    def _first_time(self, mode: str, target: str) -> bool:
        with self._lock:
            if (mode, target) in self._fault_seen:
                return False
            self._fault_seen.add((mode, target))
            return True

    def handle(self, method: str, target: str, body: bytes, headers: dict[str, str] | None = None) -> tuple[Response, set[str]]:
        self._log(method, target, body)
        parts = urlsplit(target)
        path = parts.path
        modes: set[str] = set()
        while path.startswith("/faults/"):
            mode, _, rest = path[len("/faults/"):].partition("/")
            if mode not in FAULT_MODES:
                return json_response(404, {"detail": f"unknown fault mode {mode!r}", "modes": list(FAULT_MODES)}), set()
            modes.add(mode)
            path = "/" + rest
        if "slow" in modes:
            self._stopping.wait(self.slow_seconds)
        if "always-500" in modes or ("500-once" in modes and self._first_time("500-once", target)):
            return Response(500, b"<html><body><h1>500 Internal Server Error</h1></body></html>\n", "text/html; charset=utf-8"), modes
        if "429" in modes and self._first_time("429", target):
            return Response(429, dumps({"detail": "Too Many Requests"}).encode(), JSON_TYPE, {"Retry-After": "1"}), modes
        try:
            response = self.route(method, path, parts.query, body, modes, headers or {})
        except ApiError as exc:
            response = json_response(exc.status, exc.body, exc.headers)
        if "html" in modes:
            response = Response(200, HTML_ERROR_PAGE.encode("utf-8"), "text/html; charset=utf-8")
        if "truncated" in modes:
            response = Response(response.status, response.body[: len(response.body) // 2], response.content_type, response.headers)
        return response, modes

    def route(self, method: str, path: str, query: str, body: bytes, modes: set[str], headers: dict[str, str] | None = None) -> Response:
        segments = [s for s in path.split("/") if s]
        if not segments:
            return json_response(200, {"agencies": self.urls(), "fault_modes": list(FAULT_MODES)})
        if segments[0] == "ckan" and len(segments) >= 4 and segments[2] == "api":
            agency = self.ckan.get(segments[1])
            tail = segments[3:]
            if tail and tail[0] == "3":
                tail = tail[1:]
            if agency is None or len(tail) != 2 or tail[0] != "action":
                return json_response(404, ckan_error("Not Found Error", "Not found"))
            return self.ckan_action(agency, tail[1], method, query, body, modes)
        if segments[0] == "algoritmeregister" and segments[1:2] == ["api"]:
            return self.register_route(method, segments[2:], body, modes)
        if segments[0] in ("dcat", "csw"):  # DCAT-AP catalogues and the CSW geo registers: routes_geo_dcat.py
            from . import routes_geo_dcat

            return routes_geo_dcat.route(self, method, segments, query, body, modes, headers=headers)
        if segments[0] == "api-register":  # the national API register (developer.overheid.nl): routes_api_register.py
            from . import routes_api_register

            return routes_api_register.route(self, method, segments, query, body, modes, headers=headers)
        if segments[0] in ("atrs", "omb"):  # the UK ATRS and the US OMB inventories: routes_ai_registers.py
            from . import routes_ai_registers

            return routes_ai_registers.route(self, method, segments, query, modes)
        return json_response(404, {"detail": "Not Found"})

    # -- CKAN

    def ckan_params(self, method: str, query: str, body: bytes) -> dict[str, Any]:
        params: dict[str, Any] = {k: v[-1] for k, v in parse_qs(query, keep_blank_values=True).items()}
        if method == "POST" and body.strip():
            try:
                data = json.loads(body.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                raise ApiError(400, ckan_error("Bad Request", "Bad request - JSON Error: Could not read request body")) from None
            if isinstance(data, dict):
                params.update(data)
        return params

    def ckan_action(self, agency: Any, action: str, method: str, query: str, body: bytes, modes: set[str]) -> Response:
        base = self.url or ""
        if method not in ("GET", "POST", "HEAD"):
            raise ApiError(405, ckan_error("Bad Request", "Method not allowed"))
        params = self.ckan_params(method, query, body)

        def err(exc: ApiError) -> ApiError:
            if isinstance(exc.body, dict):
                exc.body = {"help": agency.help(base, action), **exc.body}
            return exc

        if action == "package_search":
            try:
                rows = min(natural(params, "rows", CKAN_ROWS_DEFAULT), CKAN_ROWS_MAX)
                start = natural(params, "start", 0)
                listing = agency.search(params, datetime.now(timezone.utc).replace(tzinfo=None))
            except ApiError as exc:
                raise err(exc) from None
            if "drift" in modes:
                key = f"ckan/{agency.name}"
                if key in self._drifted:
                    listing = listing.with_head(agency.drift_text)
                elif start == 0:
                    with self._lock:
                        self._drifted.add(key)  # the next page sees the new record
            count = listing.count + (20 if "short-count" in modes else 0)
            texts = listing.take(start, start + rows)
            text = "".join((
                '{"help": ', dumps(agency.help(base, action)), ', "success": true, "result": {"count": ', str(count),
                ', "sort": ', dumps(listing.sort), ', "facets": {}, "results": [', ", ".join(texts),
                '], "search_facets": {}}}',
            ))
            return Response(200, text.encode("utf-8"))
        if action == "package_show":
            ident = params.get("id") or params.get("name_or_id")
            if not ident:
                raise err(ApiError(409, ckan_error("Validation Error", id=["Missing value"])))
            text = agency.show(str(ident))
            if text is None:
                raise err(ApiError(404, ckan_error("Not Found Error", "Not found")))
            return Response(200, ('{"help": ' + dumps(agency.help(base, action)) + ', "success": true, "result": '
                                  + text + "}").encode("utf-8"))
        if action == "status_show":
            return json_response(200, {"help": agency.help(base, action), "success": True,
                                       "result": {"ckan_version": "2.9.11" if agency.name != "gemeente-utrecht" else "2.2.3",
                                                  "site_title": f"Sample agency {agency.name}", "extensions": []}})
        raise ApiError(400, ckan_error("Bad Request", f"Bad request - Action name not known: {action}"))

    # -- Algoritmeregister

    def register_route(self, method: str, segments: list[str], body: bytes, modes: set[str]) -> Response:
        reg = self.register
        if segments == ["downloads", "site-data", "json"]:
            if method not in ("GET", "HEAD"):
                raise ApiError(405, {"detail": "Method Not Allowed"})
            return Response(200, reg.bulk)
        if len(segments) == 2 and segments[0] == "algoritme":
            if method != "POST":
                raise ApiError(405, {"detail": "Method Not Allowed"})
            lang = reg.check_lang(segments[1])
            page, limit, search, filters = reg.listing_params(body)
            records = reg.select(lang, search, filters)
            if "drift" in modes:
                key = f"register/{lang}"
                if key in self._drifted:
                    records = [reg.drift_record] + records
                elif page == 1:
                    with self._lock:
                        self._drifted.add(key)
            total = len(records) + (20 if "short-count" in modes else 0)
            chunk = records[(page - 1) * limit: page * limit]
            return json_response(200, {"results": chunk, "total_count": total, "page": page, "limit": limit})
        if len(segments) == 3 and segments[0] == "algoritme":
            if method not in ("GET", "HEAD"):
                raise ApiError(405, {"detail": "Method Not Allowed"})
            lang = reg.check_lang(segments[1])
            lars = segments[2]
            if lars.upper().startswith("C"):
                raise ApiError(403, {"detail": "Forbidden: this algorithm description is not published"})
            record = reg.detail.get((lang, lars))
            if record is None:
                raise ApiError(404, {"detail": "Algorithm not found"})
            return json_response(200, record)
        return json_response(404, {"detail": "Not Found"})


class _Handler(BaseHTTPRequestHandler):
    app: SampleAgencies
    protocol_version = "HTTP/1.1"
    server_version = "SampleAgencies/1.0"
    sys_version = ""
    timeout = 120  # an idle keep-alive connection is closed after this

    def setup(self) -> None:
        super().setup()
        try:
            self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        except OSError:
            pass

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (the stdlib's name)
        if self.app.verbose:
            sys.stderr.write("%s - [%s] %s\n" % (self.address_string(), self.log_date_time_string(), format % args))

    def _body(self) -> bytes:
        length = self.headers.get("Content-Length")
        if length:
            return self.rfile.read(int(length))
        if "chunked" in (self.headers.get("Transfer-Encoding") or "").lower():
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip() or b"0", 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass
                    break
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
            return b"".join(chunks)
        return b""

    def _serve(self, method: str) -> None:
        try:
            body = self._body() if method in ("POST", "PUT", "PATCH") else b""
            response, modes = self.app.handle(method, self.path, body, dict(self.headers))
        except Exception as exc:  # a bug here must not kill the connection silently
            response, modes = json_response(500, {"detail": f"sample agencies: {type(exc).__name__}: {exc}"}), set()
        payload = b"" if method == "HEAD" else response.body
        cut = "cut-connection" in modes and method != "HEAD"
        head = [
            f"HTTP/1.1 {response.status} {http.client.responses.get(response.status, 'Unknown')}",
            f"Server: {self.server_version}",
            f"Date: {email.utils.formatdate(usegmt=True)}",
            f"Content-Type: {response.content_type}",
            f"Content-Length: {len(response.body)}",
        ]
        head += [f"{k}: {v}" for k, v in response.headers.items()]
        if cut:
            head.append("Connection: close")
            self.close_connection = True
            payload = payload[: len(payload) // 2]
        self.log_request(response.status, len(response.body))
        try:
            self.wfile.write(("\r\n".join(head) + "\r\n\r\n").encode("latin-1"))
            if payload:
                self.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            self.close_connection = True
        if cut:
            try:
                self.connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass

    def do_GET(self) -> None:
        self._serve("GET")

    def do_POST(self) -> None:
        self._serve("POST")

    def do_HEAD(self) -> None:
        self._serve("HEAD")


# ----------------------------------------------------------------------------------- benchmark


def bench(url: str, total: int, rows: int = CKAN_ROWS_MAX, parse: bool = False) -> dict[str, float]:
    """Fetch ``total`` generated packages over one keep-alive connection; packages per second."""
    parts = urlsplit(url)
    conn = http.client.HTTPConnection(parts.hostname, parts.port, timeout=60)
    received = bytes_in = 0
    t0 = time.perf_counter()
    start = 0
    while start < total:
        conn.request("GET", f"/ckan/{GENERATED_AGENCY}/api/3/action/package_search?q=*:*&sort=id%20asc"
                            f"&rows={min(rows, total - start)}&start={start}")
        resp = conn.getresponse()
        data = resp.read()
        if resp.status != 200:
            raise RuntimeError(f"HTTP {resp.status}: {data[:200]!r}")
        bytes_in += len(data)
        if parse:
            n = len(json.loads(data)["result"]["results"])
        else:
            n = min(rows, total - start)
        received += n
        start += n
        if n == 0:
            break
    elapsed = time.perf_counter() - t0
    conn.close()
    return {"packages": received, "seconds": elapsed, "packages_per_second": received / elapsed,
            "mb_per_second": bytes_in / elapsed / 1e6, "bytes_per_package": bytes_in / max(received, 1)}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m inventory.demo.sample_agencies",
                                     description="Serve the sample agencies (CKAN, Algoritmeregister) locally.")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765, help="0 picks a free port (default 8765)")
    parser.add_argument("--generated", type=int, default=0, metavar="N",
                        help="also serve /ckan/generated/ with N synthetic packages")
    parser.add_argument("--slow-seconds", type=float, default=5.0, help="delay of the 'slow' fault (default 5)")
    parser.add_argument("--verbose", action="store_true", help="log every request to stderr")
    parser.add_argument("--bench", type=int, metavar="N", default=0,
                        help="start on a free port, fetch N generated packages (rows=1000), print the throughput, exit")
    parser.add_argument("--parse", action="store_true", help="with --bench: also json-parse each page on the client")
    parser.add_argument("--against", metavar="URL", help="with --bench: a server already running (with --generated >= N) "
                        "in another process, so client and server do not share one interpreter")
    args = parser.parse_args(argv)

    if args.bench and args.against:
        result = bench(args.against.rstrip("/"), args.bench, parse=args.parse)
        print(json.dumps({k: round(v, 2) for k, v in result.items()}))
        return 0
    if args.bench:
        with SampleAgencies(0, args.host, generated_datasets=args.bench) as agencies:
            result = bench(agencies.url, args.bench, parse=args.parse)  # type: ignore[arg-type]
        print(json.dumps({k: round(v, 2) for k, v in result.items()}))
        return 0

    agencies = SampleAgencies(args.port, args.host, generated_datasets=args.generated, slow_seconds=args.slow_seconds,
                              verbose=args.verbose)
    url = agencies.start()
    print(url, flush=True)
    for name, agency_url in agencies.urls().items():
        print(f"  {name}: {agency_url}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        agencies.stop()
    return 0


if __name__ == "__main__":
    # Run the module's importable copy: the route modules import ApiError and friends from
    # inventory.demo.sample_agencies, and the handler must catch those classes, not __main__'s twins.
    from inventory.demo.sample_agencies import main as _main

    raise SystemExit(_main())
