"""The inventory API: a read-only FastAPI app over the published store, mounted by Airflow under
``/inventory`` (``plugins/inventory_plugin.py``) and testable on its own (``create_app()``).

Routes (relative to the mount point):

``GET /datasets``, ``/data-services``, ``/algorithms``
    Search and filter: ``q`` (text in title/name and description), ``publisher`` (name or URI,
    case-insensitive; an algorithm's organisation), ``theme`` (a theme URI), ``rating`` (the quality
    rating: Excellent, Good, Sufficient, Bad), ``status`` (an algorithm's status, a data service's
    lifecycle status), ``changed_since`` (ISO date or date-time: a version of the record was published
    in the inventory since then, from the history), ``modified_since`` (a dataset's own ``modified``
    at the source), ``source`` (a source id); ``page`` (from 1) and ``per_page`` (1-500). ``format=csv``
    downloads every matching record as CSV instead (lists as JSON arrays).
``GET /datasets/{uid}`` (and the others)
    One record with its history, quality, distributions, the same dataset in other catalogues
    (cluster) and linked algorithms. Unknown uid: 404 with a sentence saying so.
``GET /catalog`` and ``/catalog/{file}``
    The DCAT-AP-NL 3.0 catalogue of the latest export (Turtle, JSON-LD, RDF/XML; Hydra-paged).
``GET /summary``
    What the Inventory page shows, as JSON.
``GET /ui/``
    The Inventory page (linked into Airflow's navigation as an external view).
``GET /reports/...``
    The Data Docs and scorecards under ``$INVENTORY_DATA_DIR/reports``.
``GET /openapi.json``, ``/docs``
    The OpenAPI description and its browsable form.

Bad parameters answer 422 naming the parameter; a store that is being published or was never
published answers 503 saying so. Records marked non-public are left out, as in the public exports.
"""

from __future__ import annotations

import contextlib
from datetime import date, datetime
from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Iterator

from fastapi import Depends, FastAPI, HTTPException, Query, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import FileResponse, HTMLResponse, JSONResponse, RedirectResponse, StreamingResponse
from fastapi.staticfiles import StaticFiles

from .. import settings
from ..publish import catalog as dcat_catalog
from ..publish import exports
from . import page
from .reader import KINDS, Kind, Reader, StoreUnavailable, open_read_only

MAX_PER_PAGE = 500


class Rating(str, Enum):
    Excellent = "Excellent"
    Good = "Good"
    Sufficient = "Sufficient"
    Bad = "Bad"


class Format(str, Enum):
    json = "json"
    csv = "csv"


def reader() -> Iterator[Reader]:
    """A read-only store for one request (FastAPI dependency)."""
    try:
        store = open_read_only()
    except StoreUnavailable as exc:
        raise HTTPException(503, str(exc)) from None
    with contextlib.closing(store):
        yield Reader(store)


def _iso(name: str, value: str | None) -> str | None:
    if value is None:
        return None
    try:
        parsed: date = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        try:
            parsed = date.fromisoformat(value)
        except ValueError:
            raise HTTPException(422, {"parameter": name, "message": f"{name} must be an ISO date "
                                      f"or date-time such as 2026-01-31, not {value!r}"}) from None
    return parsed.isoformat()


def filters(
    q: Annotated[str | None, Query(max_length=200, description="Text in the title or name and the description")] = None,
    publisher: Annotated[str | None, Query(max_length=500, description="Publisher (or organisation) name or URI")] = None,
    theme: Annotated[str | None, Query(max_length=500, description="A theme URI, e.g. http://publications.europa.eu/resource/authority/data-theme/ENVI")] = None,
    rating: Annotated[Rating | None, Query(description="The quality rating of a dataset")] = None,
    status: Annotated[str | None, Query(max_length=100, description="An algorithm's status or a data service's lifecycle status")] = None,
    changed_since: Annotated[str | None, Query(description="ISO date or date-time: a version published in the inventory since then")] = None,
    modified_since: Annotated[str | None, Query(description="ISO date or date-time: modified at the source since then (datasets)")] = None,
    source: Annotated[str | None, Query(max_length=100, description="A source id from the sources file")] = None,
) -> dict[str, Any]:
    return {"q_text": q, "publisher": publisher, "theme": theme, "rating": rating.value if rating else None,
            "status": status, "changed_since": _iso("changed_since", changed_since),
            "modified_since": _iso("modified_since", modified_since), "source": source}


def _csv(kind: Kind, found: dict[str, Any]) -> Iterator[str]:
    """Every matching record as CSV, on a store connection of its own that lives as long as the download."""
    with contextlib.closing(open_read_only()) as store:
        yield from Reader(store).stream_csv(kind, **found)


def _list_route(app: FastAPI, kind: Kind) -> None:
    label = kind.table.replace("_", " ")

    @app.get(f"/{kind.path}", name=f"list_{kind.table}", summary=f"Search and filter {label}", tags=[label])
    def listing(
        request: Request,
        found: Annotated[dict[str, Any], Depends(filters)],
        db: Annotated[Reader, Depends(reader)],
        page_no: Annotated[int, Query(alias="page", ge=1, le=1_000_000, description="Page number, from 1")] = 1,
        per_page: Annotated[int, Query(ge=1, le=MAX_PER_PAGE, description=f"Records per page (at most {MAX_PER_PAGE})")] = 50,
        format: Annotated[Format, Query(description="json (paged) or csv (every matching record)")] = Format.json,
    ) -> Any:
        if format is Format.csv:
            return StreamingResponse(_csv(kind, found), media_type="text/csv; charset=utf-8", headers={
                "Content-Disposition": f'attachment; filename="{kind.table}.csv"'})
        result = db.search(kind, page_no, per_page, **found)
        pages = max(1, -(-result["total"] // per_page))
        links = {"self": str(request.url)}
        if page_no < pages:
            links["next"] = str(request.url.include_query_params(page=page_no + 1))
        if page_no > 1:
            links["previous"] = str(request.url.include_query_params(page=min(page_no - 1, pages)))
        return {"page": page_no, "per_page": per_page, "total": result["total"], "pages": pages,
                "links": links, "items": result["items"]}


def _record_route(app: FastAPI, kind: Kind) -> None:
    label = kind.table.replace("_", " ").removesuffix("s")

    @app.get(f"/{kind.path}/{{uid}}", name=f"get_{kind.table}", summary=f"One {label} with its history", tags=[kind.table.replace("_", " ")])
    def one(uid: str, db: Annotated[Reader, Depends(reader)]) -> Any:
        found = db.record(kind, uid)
        if found is None:
            raise HTTPException(404, f"No {label} with {kind.uid} {uid!r} in the published inventory "
                                     f"(it may never have been harvested, have been withdrawn, or be non-public).")
        return found


def create_app() -> FastAPI:
    app = FastAPI(
        title="One Government Inventory API",
        version="1.0",
        description="Read-only access to the published inventory of Dutch government datasets, data services "
                    "and algorithms: search, one record with its history and quality, CSV downloads, and the "
                    "DCAT-AP-NL 3.0 catalogue.",
    )

    @app.exception_handler(RequestValidationError)
    async def bad_parameter(request: Request, exc: RequestValidationError) -> JSONResponse:
        problems = []
        for error in exc.errors():
            where = [str(p) for p in error.get("loc", ()) if p not in ("query", "path", "body")]
            name = ".".join(where) or "request"
            problems.append({"parameter": name, "message": f"{name}: {error.get('msg')}",
                             "value": error.get("input") if not isinstance(error.get("input"), dict) else None})
        return JSONResponse(status_code=422, content={
            "detail": "; ".join(p["message"] for p in problems), "errors": problems})

    @app.exception_handler(HTTPException)
    async def http_error(request: Request, exc: HTTPException) -> JSONResponse:
        detail = exc.detail
        if isinstance(detail, dict) and "parameter" in detail:
            body = {"detail": detail["message"], "errors": [detail]}
        else:
            body = {"detail": detail}
        return JSONResponse(status_code=exc.status_code, content=body, headers=exc.headers)

    @app.get("/", include_in_schema=False)
    def index(request: Request) -> Any:
        return {"name": "One Government Inventory API", "ui": "ui/", "openapi": "openapi.json", "docs": "docs",
                "datasets": "datasets", "data_services": "data-services", "algorithms": "algorithms",
                "catalog": "catalog", "summary": "summary"}

    for kind in KINDS.values():
        _list_route(app, kind)
        _record_route(app, kind)

    @app.get("/summary", tags=["overview"], summary="Counts per source and type, last runs, quality, latest changes")
    def summary(db: Annotated[Reader, Depends(reader)]) -> Any:
        return db.summary()

    @app.get("/catalog", tags=["catalogue"], summary="The DCAT-AP-NL 3.0 catalogue (first page)")
    def catalog_entry(request: Request) -> Any:
        accept = request.headers.get("accept", "")
        ext = "jsonld" if "ld+json" in accept else "rdf" if "rdf+xml" in accept else "ttl"
        return RedirectResponse(url=str(request.url_for("catalog_file", name=f"catalog.{ext}")), status_code=303)

    @app.get("/catalog/{name}", name="catalog_file", tags=["catalogue"], summary="One page of the DCAT-AP-NL catalogue")
    def catalog_file(name: str) -> Any:
        release = exports.current_release()
        folder = (release / "catalog") if release else None
        ext = Path(name).suffix.lstrip(".")
        if ext not in dcat_catalog.MEDIA_TYPES or "/" in name or name.startswith("."):
            raise HTTPException(404, f"No catalogue file {name!r}: the pages are catalog.ttl, catalog.jsonld, "
                                     "catalog.rdf and page-NNNNNN.<ttl|jsonld|rdf>.")
        if folder is None or not (folder / name).is_file():
            raise HTTPException(404, f"No catalogue file {name!r} in the latest export"
                                     + ("" if folder else " (nothing has been exported yet)") + ".")
        return FileResponse(folder / name, media_type=dcat_catalog.MEDIA_TYPES[ext])

    @app.get("/ui/", response_class=HTMLResponse, include_in_schema=False)
    def ui(request: Request) -> Any:
        try:
            store = open_read_only()
        except StoreUnavailable as exc:
            return HTMLResponse(page.unavailable(str(exc)), status_code=503)
        with contextlib.closing(store):
            data = Reader(store).summary()
        return HTMLResponse(page.render(data, reports=_reports()))

    @app.get("/ui", include_in_schema=False)
    def ui_slash(request: Request) -> Any:
        return RedirectResponse(url=str(request.url_for("ui")), status_code=307)

    # check_dir=False: the folder may not exist until the first validation writes it.
    app.mount("/reports", StaticFiles(directory=str(settings.reports_dir()), html=True, check_dir=False), name="reports")
    return app


def _reports() -> dict[str, str]:
    """Links to the reports that exist, relative to the page (``../reports/...``)."""
    root = settings.reports_dir()
    found = {}
    if (settings.data_docs_dir() / "index.html").exists():
        found["Data Docs (Great Expectations)"] = "../reports/" + settings.data_docs_dir().relative_to(root).as_posix() + "/index.html"
    scorecards = root / "scorecards"
    if (scorecards / "index.html").exists():
        found["Scorecards: overview"] = "../reports/scorecards/index.html"
    for path in sorted((scorecards / "publishers").glob("*.html"))[:100]:
        found[f"Scorecard: {path.stem}"] = "../reports/" + path.relative_to(root).as_posix()
    return found
