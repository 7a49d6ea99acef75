"""The one HTTP client every source kind uses: timeouts, retries, politeness, size caps, address checks.

Built on requests + urllib3's ``Retry`` (exponential backoff with jitter on connection errors, 5xx
and 429, honouring ``Retry-After`` as seconds or an HTTP date up to ``retry_after_max``) rather than
a hand-written retry loop. Bodies are streamed and aborted past ``max_bytes``. Requests to loopback,
link-local or private addresses are refused unless the source explicitly allows them (the local
sample agencies do), including after a redirect.

Per host (``host:port``), shared by every client in the process:

* a **gate**: at most ``max_connections_per_host`` requests in flight and at most
  ``requests_per_second`` request starts (each source's own settings apply to its requests; across
  Airflow workers the harvest pools bound how many sources run at once);
* a **circuit breaker**: after ``circuit_failures`` consecutive failed attempts (connection errors,
  timeouts, 5xx; a 429 is the host being polite, not failing) the host is not asked again for
  ``circuit_cooldown`` seconds, retries included; then one probe goes through, and the breaker
  closes when it succeeds.
"""

from __future__ import annotations

import ipaddress
import socket
import sys
import threading
import time
from dataclasses import dataclass, field
from time import monotonic  # a module-level name: tests move the breaker's clock instead of sleeping
from time import monotonic as _gate_clock  # the rate limit's own, real clock
from typing import Any, Mapping
from urllib.parse import urlsplit

import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import ConnectTimeoutError, MaxRetryError, NewConnectionError, ProtocolError, ReadTimeoutError
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


class CircuitOpen(HarvestHTTPError):
    """The host failed too often in a row; it is left alone until its cool-down is over."""


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
    max_connections_per_host: int = 2
    requests_per_second: float | None = 20.0
    circuit_failures: int = 5
    circuit_cooldown: float = 120.0
    allow_private_network: bool = False
    headers: Mapping[str, str] = field(default_factory=dict)
    # False: a status still failing after the retries is returned, not raised (link checks record it).
    raise_on_status: bool = True

    # The transport options every source kind accepts in sources.yaml.
    OPTIONS = ("connect_timeout", "read_timeout", "retries", "backoff_factor", "backoff_max", "backoff_jitter",
               "retry_after_max", "max_bytes", "max_connections_per_host", "requests_per_second",
               "circuit_failures", "circuit_cooldown")

    @classmethod
    def from_options(cls, options: Mapping[str, Any], *, allow_private_network: bool = False) -> "HttpSettings":
        known = {k: options[k] for k in cls.OPTIONS if k in options}
        return cls(allow_private_network=allow_private_network, **known)


# ------------------------------------------------------------------------------ per-host state
class HostState:
    """The gate and the circuit breaker of one ``host:port``, shared by all clients in the process."""

    def __init__(self, key: str):
        self.key = key
        self._cond = threading.Condition()
        self.in_flight = 0
        self._holders: dict[int, int] = {}  # thread -> slots it holds (re-entrant, see enter)
        self._next_start = 0.0
        self.failures = 0  # consecutive failed attempts
        self._last_failure = ""
        self._opened_at: float | None = None

    def enter(self, settings: HttpSettings) -> None:
        """Wait for a free connection slot and for the request's turn under the rate limit.

        Re-entrant per thread: a request made while the thread's own request to this host is in
        flight (an OAuth2 token fetched from requests' auth hook) uses the slot it already holds,
        so it can never wait for itself."""
        limit = max(1, int(settings.max_connections_per_host))
        interval = 1.0 / settings.requests_per_second if settings.requests_per_second else 0.0
        me = threading.get_ident()
        with self._cond:
            if me in self._holders:
                self._holders[me] += 1
                return
            while self.in_flight >= limit:
                self._cond.wait()
            self.in_flight += 1
            self._holders[me] = 1
            now = _gate_clock()
            # At most `limit` requests wait for their turn, so no turn is further ahead than that
            # (this also forgets a turn booked under a clock a test had moved).
            start = max(now, min(self._next_start, now + interval * limit))
            self._next_start = start + interval
        if start > now:
            time.sleep(start - now)

    def leave(self) -> None:
        me = threading.get_ident()
        with self._cond:
            self._holders[me] -= 1
            if self._holders[me]:
                return
            del self._holders[me]
            self.in_flight -= 1
            self._cond.notify()

    def check(self, settings: HttpSettings) -> None:
        """Raise CircuitOpen while the breaker is open; after the cool-down, let a probe through."""
        with self._cond:
            if self._opened_at is None:
                return
            left = self._opened_at + settings.circuit_cooldown - monotonic()
            if left > 0:
                raise CircuitOpen(
                    f"the circuit breaker for {self.key} is open after {self.failures} consecutive failures "
                    f"(last: {self._last_failure}), so the host is not asked again for another {left:.0f} s"
                )

    def failed(self, settings: HttpSettings, what: str) -> str | None:
        """Count a failed attempt; return the breaker's message when that opens (or re-opens) it."""
        with self._cond:
            self.failures += 1
            self._last_failure = what
            if self.failures < max(1, int(settings.circuit_failures)):
                return None
            self._opened_at = monotonic()
            return (f"the circuit breaker for {self.key} opened after {self.failures} consecutive failures "
                    f"(last: {what}), so the host is not asked again for {settings.circuit_cooldown:g} s")

    def succeeded(self) -> None:
        with self._cond:
            self.failures = 0
            self._opened_at = None


_hosts: dict[str, HostState] = {}
_hosts_lock = threading.Lock()


def host_state(url: str) -> HostState:
    parts = urlsplit(url)
    key = f"{parts.hostname}:{parts.port or (443 if parts.scheme == 'https' else 80)}"
    with _hosts_lock:
        return _hosts.setdefault(key, HostState(key))


class _BreakerOpened(Exception):
    """Carried as a MaxRetryError's reason to stop urllib3's retries when the breaker opens."""


class _ObservedRetry(Retry):
    """urllib3's ``Retry`` that tells the host's circuit breaker about every failed attempt and
    records the ``Retry-After`` waits, so the run can say what the server asked for."""

    def __init__(self, *args: Any, client: "HttpClient | None" = None, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self.client = client

    def new(self, **kw: Any) -> "_ObservedRetry":
        kw.setdefault("client", self.client)
        return super().new(**kw)

    def increment(self, method=None, url=None, response=None, error=None, _pool=None, _stacktrace=None):  # type: ignore[override]
        client = self.client
        if client is not None and _pool is not None:
            if error is not None:
                what = describe_error(error, client.settings)
            elif response is not None and response.status >= 500:
                what = f"HTTP {response.status}"
            else:
                what = None
            if what:
                default_port = 443 if _pool.scheme == "https" else 80
                opened = host_state(f"{_pool.scheme}://{_pool.host}:{_pool.port or default_port}").failed(client.settings, what)
                if opened:
                    raise MaxRetryError(_pool, url, _BreakerOpened(opened))
        return super().increment(method, url, response, error, _pool, _stacktrace)

    def sleep_for_retry(self, response) -> bool:  # type: ignore[override]
        waited = self.get_retry_after(response)
        if waited and self.client is not None:
            asked = self.new(retry_after_max=sys.float_info.max).get_retry_after(response)
            self.client._current_waits().append(
                {"status": response.status, "asked_s": round(asked or 0.0, 3), "waited_s": round(waited, 3)})
        return super().sleep_for_retry(response)


def make_session(settings: HttpSettings, client: "HttpClient | None" = None) -> requests.Session:
    """A requests session with the project's retry policy mounted for http and https."""
    retry = _ObservedRetry(
        total=settings.retries,
        connect=settings.retries,
        read=settings.retries,
        status=settings.retries,
        backoff_factor=settings.backoff_factor,
        backoff_max=settings.backoff_max,
        backoff_jitter=settings.backoff_jitter,
        retry_after_max=settings.retry_after_max,
        status_forcelist=(429, 500, 502, 503, 504),
        allowed_methods=frozenset({"GET", "HEAD", "POST"}),  # listing POSTs are read-only queries
        respect_retry_after_header=True,
        raise_on_status=settings.raise_on_status,  # exhausted retries raise, and are reported as such
        client=client,
    )
    adapter = HTTPAdapter(max_retries=retry, pool_connections=4, pool_maxsize=4)
    session = requests.Session()
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    session.headers.update({"User-Agent": USER_AGENT, **settings.headers})
    return session


def describe_error(error: BaseException, settings: HttpSettings) -> str:
    """A transport error in plain words (for the run's message and the circuit breaker)."""
    if isinstance(error, MaxRetryError) and error.reason is not None:
        error = error.reason
    if isinstance(error, requests.exceptions.RequestException) and error.args and isinstance(error.args[0], BaseException):
        return describe_error(error.args[0], settings)
    if isinstance(error, (ConnectTimeoutError, requests.exceptions.ConnectTimeout)):
        return f"could not connect within {settings.connect_timeout:g} s"
    if isinstance(error, (ReadTimeoutError, requests.exceptions.ReadTimeout, TimeoutError, socket.timeout)):
        return f"no answer within {settings.read_timeout:g} s"
    if isinstance(error, NewConnectionError):
        return f"could not connect ({_root(error)})"
    if isinstance(error, ProtocolError):
        root = _root(error)
        if isinstance(root, ConnectionResetError) or "reset" in str(root).lower():
            return "the connection was reset by the server"
        return f"the connection broke off ({root})"
    return str(_root(error))


def _root(error: BaseException) -> BaseException:
    """The innermost cause of a wrapped urllib3/requests error."""
    for _ in range(10):
        inner = getattr(error, "reason", None)
        if not isinstance(inner, BaseException):
            inner = next((a for a in getattr(error, "args", ()) if isinstance(a, BaseException)), None)
        if inner is None or inner is error:
            break
        error = inner
    return error


def resolve(host: str, port: int) -> list[str]:
    """The addresses ``host`` resolves to (a function of its own so tests can stage DNS answers)."""
    return [info[4][0] for info in socket.getaddrinfo(host, port, proto=socket.IPPROTO_TCP)]


def check_address(url: str, *, allow_private_network: bool) -> None:
    """Refuse non-http(s) URLs, and private, loopback or link-local targets unless allowed."""
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https"):
        raise BlockedAddress(f"Refused {url!r}: only http and https URLs are harvested.")
    if allow_private_network:
        return
    host = parts.hostname or ""
    try:
        addresses = resolve(host, parts.port or (443 if parts.scheme == "https" else 80))
    except socket.gaierror as exc:
        raise HarvestHTTPError(f"Cannot resolve host {host!r} of {url}: {exc}") from None
    for text in addresses:
        address = ipaddress.ip_address(text)
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
    # The Retry-After waits of this request: what the server asked and what was waited (capped).
    retry_after: list[dict[str, Any]] = field(default_factory=list)


class HttpClient:
    """Fetches for one source, with its settings and credentials, through the per-host gate and breaker."""

    def __init__(self, settings: HttpSettings, session: requests.Session | None = None):
        self.settings = settings
        self.session = session or make_session(settings, self)
        self._local = threading.local()
        # Response headers kept out of the landing zone: the usual ones, plus the header a source's
        # API key travels in when its connection names another (credentials.apply adds it).
        self.sensitive_headers = set(SENSITIVE_HEADERS)

    def close(self) -> None:
        self.session.close()

    def _current_waits(self) -> list[dict[str, Any]]:
        if not hasattr(self._local, "waits"):
            self._local.waits = []
        return self._local.waits

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
        self._local.waits = []
        started = time.monotonic()
        host = host_state(url)
        host.check(self.settings)
        host.enter(self.settings)
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
        except requests.exceptions.RequestException as exc:
            root = _root(exc)
            if isinstance(root, _BreakerOpened):
                raise CircuitOpen(f"{method} {url}: {root}") from None
            retried = bool(exc.args) and isinstance(exc.args[0], MaxRetryError) and self.settings.retries > 0
            tried = f" (tried {self.settings.retries + 1} times)" if retried else ""
            what = describe_error(exc, self.settings)
            if isinstance(exc, requests.exceptions.ConnectionError) and not isinstance(_root(exc), (ReadTimeoutError, ConnectTimeoutError)):
                what = f"connection failed: {what}"
            raise HarvestHTTPError(f"{method} {url}: {what}{tried}") from None
        finally:
            host.leave()
        if response.status_code < 500:
            host.succeeded()
        retries = getattr(getattr(response.raw, "retries", None), "history", ()) or ()
        return FetchedResponse(
            url=response.url,
            status=response.status_code,
            headers={k: v for k, v in response.headers.items() if k.lower() not in self.sensitive_headers},
            body=body,
            elapsed_s=time.monotonic() - started,
            attempts=len(retries) + 1,
            retry_after=list(self._current_waits()),
        )

    def _read_capped(self, response: requests.Response) -> bytes:
        """The body, read in chunks and abandoned (connection closed) as soon as it passes the cap."""
        cap = self.settings.max_bytes
        declared = response.headers.get("Content-Length")
        if declared and declared.isdigit() and int(declared) > cap:
            response.close()
            raise ResponseTooLarge(f"{response.url}: response of {int(declared):,} bytes exceeds the cap of {cap:,} bytes; not downloaded")
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
