"""The sample agencies' national API register (developer.overheid.nl), served by :mod:`.sample_agencies`.

``sample_agencies.SampleAgencies.route`` hands every ``/api-register/…`` request here (after the
``/faults/<mode>`` prefixes are applied). Fixture: ``fixtures/api_register/register.json`` (its
README says what it imitates). Modelled on the register's OpenAPI document (don-api-register
``api/openapi.json``): JSON arrays of ApiSummary objects, paging in headers, problem JSON errors.

Read access needs credentials, as on the real register: the header ``X-Api-Key: demo-register-key``,
or ``Authorization: Bearer <token>`` from the token endpoint below. No credentials, or an unknown
(expired, revoked) token: 401 (the latter with ``WWW-Authenticate: Bearer error="invalid_token"``, as
RFC 6750 says); a wrong key: 403. Errors are JSON ``{"title", "status", "detail"}``.

``GET /api-register/v1/apis?page=<n>&perPage=<k>``
    ``page`` from 1, ``perPage`` 1..100 (default 20; otherwise 400). Headers ``Link``
    (``<…>; rel='first'``, ``'prev'``, ``'next'``, ``'last'``, single-quoted as the register's
    documentation writes them), ``Total-Count``, ``Total-Pages``, ``Current-Page``, ``Per-Page``,
    ``API-Version``. ``short-count`` fault: ``Total-Count`` says 20 more than there are.
``GET /api-register/v1/apis/<id>``
    The ApiDetail, or 404 (one listed API, ``gm0200WMO``, has no detail: withdrawn while listed).
``POST /api-register/auth/token`` (form: ``grant_type=client_credentials``, ``client_id``,
``client_secret``, ``scope``)
    ``{"access_token", "token_type": "Bearer", "expires_in": 300, "scope"}``; a wrong client answers
    401 ``{"error": "invalid_client"}``, an unknown scope 400 ``{"error": "invalid_scope"}``.
    :func:`revoke_tokens` (tests) makes every issued token unknown, as a key rotation at the
    register would.

Variants of the listing, under their own prefix instead of ``v1`` (same records, same credentials):
``/api-register/no-link/v1`` (no Link header: only ``Total-Pages``), ``/api-register/bare/v1`` (no
paging headers at all), ``/api-register/loop/v1`` (the last page's ``rel='next'`` points back to
page 1), ``/api-register/cp1252/v1`` (bodies in Windows-1252 under a UTF-8 Content-Type),
``/api-register/foreign-link/v1`` (``rel='next'`` points to another host).
"""

from __future__ import annotations

import json
import math
import secrets
import threading
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from .sample_agencies import FIXTURES_DIR, ApiError, Response, dumps, json_response, strip_private

PREFIX = "api-register"
VARIANTS = ("v1", "no-link", "bare", "loop", "cp1252", "foreign-link")
DEFAULT_PER_PAGE = 20
MAX_PER_PAGE = 100
TOKEN_LIFETIME_S = 300
DETAIL_ONLY = ("oasUrl", "oasUri", "auth", "docsUrl", "docsUri", "servers", "type")

_lock = threading.Lock()
_register: dict[str, Any] = {}
_tokens: dict[str, float] = {}  # issued bearer tokens (the value is unused: tokens die only by revoke_tokens)


def register(root: Path = FIXTURES_DIR) -> dict[str, Any]:
    """The fixture, loaded once: the listing (summaries, in order), the details by id, the credentials."""
    with _lock:
        if not _register:
            doc = json.loads((root / "api_register" / "register.json").read_text(encoding="utf-8"))
            without_detail = set(doc.get("listed_without_detail") or [])
            apis = [strip_private(a) for a in doc["apis"]]
            _register.update(
                listing=[{k: v for k, v in a.items() if k not in DETAIL_ONLY} for a in apis],
                details={a["id"]: a for a in apis if a.get("id") and a["id"] not in without_detail},
                api_key=doc["api_key"],
                clients=doc["oauth2_clients"],
            )
        return _register


def revoke_tokens() -> None:
    with _lock:
        _tokens.clear()


def urls(base: str) -> dict[str, str]:
    return {"api-register": f"{base}/{PREFIX}/v1", "api-register-token": f"{base}/{PREFIX}/auth/token"}


def _problem(status: int, title: str, detail: str) -> ApiError:
    return ApiError(status, {"title": title, "status": status, "detail": detail})


def _authorise(headers: dict[str, str]) -> None:
    lowered = {k.lower(): v for k, v in headers.items()}
    key = lowered.get("x-api-key")
    bearer = lowered.get("authorization", "")
    if key is None and not bearer:
        raise _problem(401, "Unauthorized", "Geef een API key mee in de X-Api-Key header of een client credentials token.")
    if key is not None and secrets.compare_digest(key, register()["api_key"]):
        return
    if bearer.lower().startswith("bearer ") and key is None:
        with _lock:
            if bearer[7:].strip() in _tokens:
                return
        # RFC 6750: an expired or revoked token is a 401, so the client fetches a new one
        error = _problem(401, "Unauthorized", "Het token is verlopen of ingetrokken.")
        error.headers["WWW-Authenticate"] = 'Bearer error="invalid_token"'
        raise error
    raise _problem(403, "Forbidden", "De API key is ongeldig.")


def _token(body: bytes) -> Response:
    form = {k: v[-1] for k, v in parse_qs(body.decode("utf-8", "replace")).items()}
    if form.get("grant_type") != "client_credentials":
        raise ApiError(400, {"error": "unsupported_grant_type"})
    client = register()["clients"].get(form.get("client_id", ""))
    if client is None or not secrets.compare_digest(form.get("client_secret", ""), client["secret"]):
        raise ApiError(401, {"error": "invalid_client", "error_description": "Invalid client or Invalid client credentials"})
    scopes = (form.get("scope") or "").split()
    if any(s not in client["scopes"] for s in scopes):
        raise ApiError(400, {"error": "invalid_scope", "error_description": "Invalid scopes: " + " ".join(scopes)})
    token = secrets.token_urlsafe(24)
    with _lock:
        _tokens[token] = 0.0
    return json_response(200, {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_LIFETIME_S,
                               "scope": " ".join(scopes), "not-before-policy": 0})


def _int_param(params: dict[str, list[str]], name: str, default: int, lo: int, hi: int | None) -> int:
    raw = (params.get(name) or [str(default)])[-1]
    if not raw.strip().isdigit() or int(raw) < lo or (hi is not None and int(raw) > hi):
        limit = f"between {lo} and {hi}" if hi is not None else f"at least {lo}"
        raise _problem(400, "Bad Request", f"Parameter {name} moet een geheel getal {limit} zijn.")
    return int(raw)


def _encode(value: Any, variant: str) -> bytes:
    text = dumps(value)
    return text.encode("cp1252", "replace") if variant == "cp1252" else text.encode("utf-8")


def route(app: Any, method: str, segments: list[str], query: str, body: bytes, modes: set[str],
          headers: dict[str, str] | None = None) -> Response:
    base = app.url or ""
    if segments[1:] == ["auth", "token"]:
        if method != "POST":
            raise ApiError(405, {"error": "method_not_allowed"})
        return _token(body)
    if len(segments) < 3 or segments[1] not in VARIANTS or segments[2] != "apis":
        return json_response(404, {"title": "Not Found", "status": 404, "detail": "Onbekend pad"})
    variant = segments[1]
    if method not in ("GET", "HEAD"):
        raise ApiError(405, {"title": "Method Not Allowed", "status": 405})
    _authorise(headers or {})
    reg = register()
    common = {"API-Version": "1.0.0"}
    if len(segments) == 4:
        detail = reg["details"].get(segments[3])
        if detail is None:
            raise _problem(404, "Not Found", f"API met id {segments[3]} niet gevonden")
        return Response(200, _encode(detail, variant), "application/json; charset=utf-8", common)
    if len(segments) != 3:
        return json_response(404, {"title": "Not Found", "status": 404})
    params = parse_qs(query, keep_blank_values=True)
    page = _int_param(params, "page", 1, 1, None)
    per_page = _int_param(params, "perPage", DEFAULT_PER_PAGE, 1, MAX_PER_PAGE)
    listing = reg["listing"]
    total = len(listing)
    pages = max(1, math.ceil(total / per_page))
    chunk = listing[(page - 1) * per_page: page * per_page]
    here = f"{base}/{PREFIX}/{variant}/apis"

    def link(n: int) -> str:
        return f"{here}?page={n}&perPage={per_page}"

    out = dict(common)
    if variant != "bare":
        out.update({"Total-Count": str(total + (20 if "short-count" in modes else 0)), "Total-Pages": str(pages),
                    "Current-Page": str(page), "Per-Page": str(per_page)})
    if variant not in ("bare", "no-link"):
        links = [f"<{link(1)}>; rel='first'"]
        if page > 1:
            links.append(f"<{link(page - 1)}>; rel='prev'")
        if page < pages:
            target = link(page + 1)
            if variant == "foreign-link":
                target = target.replace("127.0.0.1", "localhost")
            links.append(f"<{target}>; rel='next'")
        elif variant == "loop":
            links.append(f"<{link(1)}>; rel='next'")
        links.append(f"<{link(pages)}>; rel='last'")
        out["Link"] = ", ".join(links)
    return Response(200, _encode(chunk, variant), "application/json; charset=utf-8", out)
