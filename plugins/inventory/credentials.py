"""Credentials for a source, only ever from its Airflow connection (``conn_id`` in sources.yaml).

What the connection holds, and what is sent (extra field ``auth_type`` chooses; without it the
kind is inferred as shown):

``api_key`` (password only, or ``api_key_header`` in the extra)
    the password in the header named by the extra ``api_key_header`` (default ``X-Api-Key``).
``basic`` (login and password)
    HTTP basic auth.
``oauth2`` (or a ``token_url`` in the extra)
    OAuth2 client credentials: login = client id (or extra ``client_id``), password = client secret,
    extra ``token_url`` and ``scope`` (space-separated, e.g. ``apis:read``), optional ``audience``.
    The token is requested (``grant_type=client_credentials``, credentials in the form body) through
    the source's own shared HTTP client (retries, address checks, size cap), cached until shortly
    before ``expires_in`` runs out, and sent as ``Authorization: Bearer``. A 401 answer fetches a
    new token once and repeats the request (a token revoked before its time); a second 401 is the
    source's answer.
``none``
    nothing (e.g. a connection that only carries a client certificate).

Mutual TLS, with any of the above: extra ``client_cert`` and ``client_key`` (PEM file paths; the key
unencrypted, as requests needs it), optional ``ca_bundle`` (the CA that signed the server's
certificate, e.g. the PKIoverheid private root for agency APIs behind the federated service
connectivity). The files are checked before the first request.

The values are handed to the HTTP session only: they are never logged, put in XCom, landed (the
landing zone stores the page request's own headers and the response headers minus
``http.SENSITIVE_HEADERS``), or published. Error messages name the connection and the field, never
a value.

Why not requests-oauthlib or Authlib for the token: both bring a session of their own, which would
bypass the shared client's retries and private-address checks, and neither re-fetches a
client-credentials token on a 401. The grant is one form POST; the rest is the small class below.
"""

from __future__ import annotations

import json
import logging
import os
import threading
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

import requests

from .config import SourceConfig
from .http import HarvestHTTPError, HttpClient

log = logging.getLogger(__name__)

AUTH_TYPES = ("api_key", "basic", "oauth2", "none")
DEFAULT_API_KEY_HEADER = "X-Api-Key"
# Renew this long before the token's stated expiry (at most a tenth of its lifetime).
EXPIRY_MARGIN_S = 30.0
DEFAULT_TOKEN_LIFETIME_S = 300.0


class CredentialsError(HarvestHTTPError):
    """The source's credentials cannot be used (missing connection or field, a refused token)."""


def _connection(conn_id: str) -> Any:
    # Imported here: reading a connection needs Airflow's runtime, never at import time.
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(conn_id)


def connection_for(source: SourceConfig) -> Any:
    try:
        return _connection(source.conn_id)
    except Exception as exc:  # AirflowNotFoundException, no metadata DB, ...
        env = "AIRFLOW_CONN_" + source.conn_id.upper()
        raise CredentialsError(
            f"Source {source.id}: its Airflow connection {source.conn_id!r} is not available "
            f"({type(exc).__name__}); add it in Airflow or set {env}") from None


def _extra(conn: Any) -> dict[str, Any]:
    try:
        extra = conn.extra_dejson or {}
    except (ValueError, TypeError):
        extra = {}
    return extra if isinstance(extra, dict) else {}


def auth_type(conn: Any, extra: dict[str, Any]) -> str:
    chosen = str(extra.get("auth_type") or "").strip().lower().replace("-", "_")
    if chosen:
        return chosen
    if extra.get("token_url"):
        return "oauth2"
    if extra.get("api_key_header") or (conn.password and not conn.login):
        return "api_key"
    if conn.login and conn.password:
        return "basic"
    return "none"


def apply(source: SourceConfig, client: HttpClient) -> str | None:
    """Give ``client``'s session the source's credentials; returns what is sent, in words (no secret)."""
    if not source.conn_id:
        return None
    conn = connection_for(source)
    extra = _extra(conn)
    kind = auth_type(conn, extra)
    where = f"Source {source.id}, Airflow connection {source.conn_id!r}"
    session = client.session
    used: list[str] = []
    if kind == "api_key":
        header = str(extra.get("api_key_header") or DEFAULT_API_KEY_HEADER)
        if not conn.password:
            raise CredentialsError(f"{where}: the API key (the connection's password) is empty")
        session.headers[header] = conn.password
        client.sensitive_headers.add(header.lower())  # should the server echo it, it is not landed
        used.append(f"an API key in the {header} header")
    elif kind == "basic":
        if not (conn.login and conn.password):
            raise CredentialsError(f"{where}: HTTP basic auth needs a login and a password")
        session.auth = (conn.login, conn.password)
        used.append("HTTP basic auth")
    elif kind == "oauth2":
        session.auth = OAuth2ClientCredentials.from_connection(conn, extra, client, where)
        used.append(f"an OAuth2 client-credentials token from {session.auth.token_url}")
    elif kind != "none":
        raise CredentialsError(f"{where}: extra auth_type {kind!r} is not one of {', '.join(AUTH_TYPES)}")
    if _apply_tls(extra, session, where):
        used.append("a client certificate (mutual TLS)")
    return " and ".join(used) or None


def _existing_file(extra: dict[str, Any], name: str, where: str) -> str | None:
    value = extra.get(name)
    if not value:
        return None
    path = Path(os.path.expanduser(str(value)))
    if not path.is_file():
        raise CredentialsError(f"{where}: the file {path} of extra {name!r} does not exist or is not a file")
    if not os.access(path, os.R_OK):
        raise CredentialsError(f"{where}: the file {path} of extra {name!r} cannot be read by this worker")
    return str(path)


def _apply_tls(extra: dict[str, Any], session: requests.Session, where: str) -> bool:
    cert = _existing_file(extra, "client_cert", where)
    key = _existing_file(extra, "client_key", where)
    ca_bundle = _existing_file(extra, "ca_bundle", where)
    if key and not cert:
        raise CredentialsError(f"{where}: extra client_key is given without client_cert")
    if cert:
        session.cert = (cert, key) if key else cert
    if ca_bundle:
        session.verify = ca_bundle
    return bool(cert)


def refused(source: SourceConfig, used: str | None, url: str, status: int, seq: int) -> str:
    """The one sentence for a 401/403 answer: whose credentials, and what to check."""
    if not source.conn_id or not used:
        return (f"{url} answered HTTP {status} on page {seq}: the source requires credentials and none were sent; "
                f"give source {source.id} a conn_id whose Airflow connection holds an API key or OAuth2 client credentials")
    return (f"{url} answered HTTP {status} on page {seq}: the source refused the credentials of Airflow connection "
            f"{source.conn_id!r} ({used}); check that they are current and allowed to read this source")


class OAuth2ClientCredentials(requests.auth.AuthBase):
    """``Authorization: Bearer`` from an OAuth2 client-credentials grant, fetched through the shared client.

    Thread-safe (the harvest loop fetches the next page in a thread of its own). The token request
    itself passes through unchanged (it carries the client credentials in its form body).
    """

    def __init__(self, client: HttpClient, *, token_url: str, client_id: str, client_secret: str,
                 scope: str | None = None, audience: str | None = None, where: str = "OAuth2"):
        self.client = client
        self.token_url = token_url
        self._token_endpoint = _endpoint_of(token_url)
        self._form = {"grant_type": "client_credentials", "client_id": client_id, "client_secret": client_secret}
        if scope:
            self._form["scope"] = scope
        if audience:
            self._form["audience"] = audience
        self._where = where
        self._lock = threading.Lock()
        self._token: str | None = None
        self._expires_at = 0.0
        self.tokens_fetched = 0  # for the operator's log line and for tests; never the token itself

    @classmethod
    def from_connection(cls, conn: Any, extra: dict[str, Any], client: HttpClient, where: str) -> "OAuth2ClientCredentials":
        token_url = str(extra.get("token_url") or "").strip()
        client_id = str(extra.get("client_id") or conn.login or "").strip()
        missing = [name for name, value in (("extra token_url", token_url), ("the client id (login or extra client_id)", client_id),
                                            ("the client secret (password)", conn.password)) if not value]
        if missing:
            raise CredentialsError(f"{where}: OAuth2 client credentials need {', '.join(missing)}")
        if urlsplit(token_url).scheme not in ("http", "https"):
            raise CredentialsError(f"{where}: extra token_url must be an http(s) URL")
        scope = extra.get("scope")
        if isinstance(scope, list):
            scope = " ".join(str(s) for s in scope)
        return cls(client, token_url=token_url, client_id=client_id, client_secret=conn.password,
                   scope=str(scope).strip() if scope else None, audience=extra.get("audience"), where=where)

    # -- the token

    def token(self, *, renew: bool = False, refused: str | None = None) -> str:
        with self._lock:
            if renew and refused is not None and self._token != refused:
                return self._token  # another thread renewed it meanwhile
            if renew or self._token is None or time.monotonic() >= self._expires_at:
                self._fetch()
            return self._token  # type: ignore[return-value]

    def _fetch(self) -> None:
        response = self.client.request(
            "POST", self.token_url, data=urlencode(self._form).encode("ascii"),
            headers={"Content-Type": "application/x-www-form-urlencoded", "Accept": "application/json"},
        )
        try:
            body = json.loads(response.body)
        except ValueError:
            body = None
        if response.status >= 400:
            code = body.get("error") if isinstance(body, dict) and isinstance(body.get("error"), str) else None
            raise CredentialsError(
                f"{self._where}: the token endpoint {self.token_url} refused the client credentials "
                f"(HTTP {response.status}{': ' + code[:80] if code else ''}); check the client id, secret and scope")
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise CredentialsError(f"{self._where}: the token endpoint {self.token_url} answered without an access_token")
        token_type = str(body.get("token_type") or "bearer")
        if token_type.lower() != "bearer":
            raise CredentialsError(f"{self._where}: the token endpoint issued a {token_type!r} token; only bearer tokens are supported")
        try:
            lifetime = float(body.get("expires_in") or DEFAULT_TOKEN_LIFETIME_S)
        except (TypeError, ValueError):
            lifetime = DEFAULT_TOKEN_LIFETIME_S
        self._token = token
        self._expires_at = time.monotonic() + max(0.0, lifetime - min(EXPIRY_MARGIN_S, lifetime / 10))
        self.tokens_fetched += 1
        log.info("%s: fetched an OAuth2 token from %s (valid %.0f s)", self._where, self.token_url, lifetime)

    # -- requests' auth hook

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        if _endpoint_of(request.url or "") == self._token_endpoint:
            return request
        token = self.token()
        request.headers["Authorization"] = f"Bearer {token}"
        request.register_hook("response", self._renew_once_on_401)
        return request

    def _renew_once_on_401(self, response: requests.Response, **kwargs: Any) -> requests.Response:
        if response.status_code != 401 or getattr(response.request, "_inventory_token_renewed", False):
            return response
        refused = (response.request.headers.get("Authorization") or "").removeprefix("Bearer ")
        response.content  # read and release the connection before the retry  # noqa: B018
        response.close()
        retry = response.request.copy()
        retry.headers["Authorization"] = f"Bearer {self.token(renew=True, refused=refused)}"
        retry._inventory_token_renewed = True  # type: ignore[attr-defined]
        log.info("%s: %s answered 401; fetched a new token and repeated the request once", self._where, _endpoint_of(response.url))
        again = response.connection.send(retry, **kwargs)
        again.history.append(response)
        again.request = retry
        return again


def _endpoint_of(url: str) -> str:
    parts = urlsplit(url)
    return f"{parts.scheme}://{parts.netloc}{parts.path}"
