"""The one HTTP client every source kind uses: timeouts, retries, size caps, address checks.

Built on requests + urllib3's ``Retry`` (exponential backoff with jitter on connection errors, 5xx
and 429, honouring ``Retry-After`` up to a cap) rather than a hand-written retry loop. Bodies are
streamed and aborted past ``max_bytes``. Requests to loopback, link-local or private addresses are
refused unless the source explicitly allows them (the local sample agencies do), including after a
redirect.
"""

from __future__ import annotations

import ipaddress
import socket
import time
from dataclasses import dataclass, field
from typing import Any, Mapping
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.util.retry import Retry

USER_AGENT = "one-government-inventory/0.1 (+https://github.com/; harvester of government metadata)"
DEFAULT_MAX_BYTES = 64 * 1024 * 1024

# Headers never written to the landing zone or logs: they may carry credentials.
SENSITIVE_HEADERS = frozenset({
    "authorization", "proxy-authorization", "x-api-key", "api-key", "apikey", "x-auth-token", "x-access-token",
    "x-amz-security-token", "ocp-apim-subscription-key", "cookie", "set-cookie",
})


class HarvestHTTPError(RuntimeError):
    """A request that failed for good (after retries), said in plain words."""


class ResponseTooLarge(HarvestHTTPError):
    pass


class BlockedAddress(HarvestHTTPError):
    pass


@dataclass(frozen=True)
class HttpSettings:
    connect_timeout: float = 10.0
    read_timeout: float = 60.0
    retries: int = 4
    backoff_factor: float = 0.5
    backoff_max: float = 60.0
    backoff_jitter: float = 0.3
    retry_after_max: float = 120.0
    max_bytes: int = DEFAULT_MAX_BYTES
    allow_private_network: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    # False: a status still failing after the retries is returned, not raised (link checks record it).
    raise_on_status: bool = True

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, allow_private_network: bool = False) -> "HttpSettings":
        known = {k: options[k] for k in ("connect_timeout", "read_timeout", "retries", "backoff_factor", "max_bytes") if k in options}
        return cls(allow_private_network=allow_private_network, **known)


class _CappedRetry(Retry):
    """``Retry`` whose ``Retry-After`` wait is capped, so a server cannot park a worker for hours."""

    retry_after_cap: float = 120.0

    def get_retry_after(self, response):  # type: ignore[override]
        value = super().get_retry_after(response)
        return None if value is None else min(value, self.retry_after_cap)


def make_session(settings: HttpSettings) -> requests.Session:
    """A requests session with the project's retry policy mounted for http and https."""
    retry = _CappedRetry(
        total=settings.retries,
        connect=settings.retries,
        read=settings.retries,
        status=settings.retries,
        backoff_factor=settings.backoff_factor,
        backoff_max=settings.backoff_max,
        backoff_jitter=settings.backoff_jitter,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD", "POST"}),  # listing POSTs are read-only queries
        respect_retry_after_header=True,
        raise_on_status=settings.raise_on_status,  # exhausted retries raise, and are reported as such
    )
    retry.retry_after_cap = settings.retry_after_max
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=4)
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({"User-Agent": USER_AGENT, **settings.headers})
    return session


def check_address(url: str, *, allow_private_network: bool) -> None:
    """Refuse non-http(s) URLs, and private, loopback or link-local targets unless allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BlockedAddress(f"Refused {url!r}: only http and https URLs are harvested.")
    if allow_private_network:
        return
    host = parts.hostname or ""
    try:
        infos = socket.getaddrinfo(host, parts.port or (443 if parts.scheme == "https" else 80), proto=socket.IPPROTO_TCP)
    except socket.gaierror as exc:
        raise HarvestHTTPError(f"Cannot resolve host {host!r} of {url}: {exc}") from None
    for info in infos:
        address = ipaddress.ip_address(info[4][0])
        if address.is_private or address.is_loopback or address.is_link_local or address.is_reserved or address.is_multicast:
            raise BlockedAddress(
                f"Refused {url}: {host} resolves to the non-public address {address}; "
                "set allow_private_network: true on the source only for trusted local endpoints."
            )


@dataclass
class FetchedResponse:
    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    elapsed_s: float
    attempts: int = 1


class HttpClient:
    """Fetches one request at a time for one source, with its settings and credentials."""

    def __init__(self, settings: HttpSettings, session: requests.Session | None = None):
        self.settings = settings
        self.session = session or make_session(settings)

    def close(self) -> None:
        self.session.close()

    def request(
        self,
        method: str,
        url: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
    ) -> FetchedResponse:
        check_address(url, allow_private_network=self.settings.allow_private_network)
        started = time.monotonic()
        try:
            response = self.session.request(
                method,
                url,
                params=params,
                json=json_body,
                data=data,
                headers=dict(headers or {}),
                timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                stream=True,
                allow_redirects=False,
                # Explicit: requests lets REQUESTS_CA_BUNDLE override a session's own CA bundle (a
                # source's ca_bundle, e.g. the PKIoverheid private root for mutual TLS).
                verify=self.session.verify,
            )
            redirects = 0
            while response.is_redirect and redirects < 5:
                target = requests.compat.urljoin(response.url, response.headers["Location"])
                response.close()
                check_address(target, allow_private_network=self.settings.allow_private_network)
                response = self.session.request(
                    "GET" if response.status_code in (301, 302, 303) else method,
                    target,
                    timeout=(self.settings.connect_timeout, self.settings.read_timeout),
                    stream=True,
                    allow_redirects=False,
                    verify=self.session.verify,
                )
                redirects += 1
            body = self._read_capped(response)
        except requests.exceptions.RetryError as exc:
            raise HarvestHTTPError(f"{method} {url} kept failing after {self.settings.retries} retries: {_reason(exc)}") from None
        except requests.exceptions.ConnectTimeout:
            raise HarvestHTTPError(f"{method} {url}: could not connect within {self.settings.connect_timeout:g} s") from None
        except requests.exceptions.ReadTimeout:
            raise HarvestHTTPError(f"{method} {url}: no answer within {self.settings.read_timeout:g} s") from None
        except requests.exceptions.ConnectionError as exc:
            raise HarvestHTTPError(f"{method} {url}: connection failed: {_reason(exc)}") from None
        retries = getattr(getattr(response.raw, "retries", None), "history", ()) or ()
        return FetchedResponse(
            url=response.url,
            status=response.status_code,
            headers={k: v for k, v in response.headers.items() if k.lower() not in SENSITIVE_HEADERS},
            body=body,
            elapsed_s=time.monotonic() - started,
            attempts=len(retries) + 1,
        )

    def _read_capped(self, response: requests.Response) -> bytes:
        cap = self.settings.max_bytes
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > cap:
            response.close()
            raise ResponseTooLarge(f"{response.url}: response of {int(declared):,} bytes exceeds the cap of {cap:,} bytes")
        chunks, size = [], 0
        for chunk in response.iter_content(chunk_size=256 * 1024):
            size += len(chunk)
            if size > cap:
                response.close()
                raise ResponseTooLarge(f"{response.url}: response exceeded the cap of {cap:,} bytes; download aborted")
            chunks.append(chunk)
        return b"".join(chunks)


def _reason(exc: Exception) -> str:
    inner = exc.args[0] if exc.args else exc
    reason = getattr(inner, "reason", None)
    return str(reason or inner)
