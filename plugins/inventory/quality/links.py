"""Link checks of every distribution's access URL and download URL, cached in ``link_checks``.

* **How**: ``HEAD``; when the server refuses it or fails (any status of 400 or more, or no answer), a
  ``GET`` with ``Range: bytes=0-0`` whose body is never read. Redirects are followed by hand, at most
  ``MAX_REDIRECTS``, and every target's address is checked first: a redirect to a loopback, private or
  link-local address is refused and recorded as such, unless the host is one the sources file trusts
  (a source with ``allow_private_network: true``, such as the local sample agencies).
* **Through** the shared session factory ``inventory.http.make_session`` (its retry policy, User-Agent),
  with short timeouts and statuses returned rather than raised.
* **Polite**: one request at a time per host (``per_host``), at least ``host_interval_s`` between two
  requests to the same host, at most ``workers`` hosts at once.
* **Cached**: a URL checked less than ``ttl_hours`` ago is not checked again; the oldest checks are
  renewed first, so a large inventory is checked over several runs.
* **Bounded**: no new request starts after ``budget_s`` seconds, and at most ``max_urls`` URLs per run.

The MQA score reads the table: a status of 200-399 means "answers".
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import defaultdict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable
from urllib.parse import urljoin, urlsplit

import requests

from .. import http
from ..publish.store import Store
from . import score as mqa

log = logging.getLogger("inventory.quality.links")

MAX_REDIRECTS = 5
ERROR_CHARS = 300


@dataclass(frozen=True)
class LinkCheckSettings:
    enabled: bool = True
    ttl_hours: float = 24 * 7
    budget_s: float = 300.0
    max_urls: int = 20_000
    workers: int = 8
    per_host: int = 1
    host_interval_s: float = 0.5
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    trusted_hosts: frozenset[tuple[str, int]] = field(default_factory=frozenset)

    @classmethod
    def from_env(cls) -> "LinkCheckSettings":
        """``INVENTORY_LINK_CHECKS`` (``off`` disables), ``INVENTORY_LINK_CHECK_TTL_HOURS``,
        ``INVENTORY_LINK_CHECK_BUDGET_S``, ``INVENTORY_LINK_CHECK_MAX_URLS``; trusted hosts from the sources file."""
        env = os.environ
        return cls(
            enabled=(env.get("INVENTORY_LINK_CHECKS") or "on").strip().lower() not in ("off", "false", "0", "no"),
            ttl_hours=float(env.get("INVENTORY_LINK_CHECK_TTL_HOURS") or cls.ttl_hours),
            budget_s=float(env.get("INVENTORY_LINK_CHECK_BUDGET_S") or cls.budget_s),
            max_urls=int(env.get("INVENTORY_LINK_CHECK_MAX_URLS") or cls.max_urls),
            trusted_hosts=trusted_hosts_from_sources(),
        )


def host_key(url: str) -> tuple[str, int]:
    parts = urlsplit(url)
    try:
        port = parts.port
    except ValueError:
        port = None
    return (parts.hostname or "").lower(), port or (443 if parts.scheme == "https" else 80)


def trusted_hosts_from_sources() -> frozenset[tuple[str, int]]:
    """Hosts of the sources that may be on a private network (``allow_private_network: true``)."""
    from ..config import SourcesConfigError, load_sources

    try:
        sources = load_sources(include_disabled=True)
    except (SourcesConfigError, OSError) as exc:
        log.warning("link checks: sources file unreadable (%s); no private hosts are trusted", exc)
        return frozenset()
    return frozenset(host_key(s.url) for s in sources if s.allow_private_network and s.url)


@dataclass
class LinkResult:
    url: str
    status: int | None
    error: str | None
    final_url: str | None
    checked_at: datetime


class LinkChecker:
    """Checks URLs politely within a time budget; ``check_many`` returns one result per URL it reached."""

    def __init__(self, settings: LinkCheckSettings, session: requests.Session | None = None):
        self.settings = settings
        self._local = threading.local()
        self._session = session
        self._deadline = 0.0

    def session(self) -> requests.Session:
        if self._session is not None:
            return self._session
        if not hasattr(self._local, "session"):  # requests sessions are not shared between threads
            self._local.session = http.make_session(http.HttpSettings(
                connect_timeout=self.settings.connect_timeout, read_timeout=self.settings.read_timeout,
                retries=1, backoff_factor=0.2, backoff_max=2.0, retry_after_max=5.0, raise_on_status=False))
        return self._local.session

    def _allowed(self, url: str) -> None:
        http.check_address(url, allow_private_network=host_key(url) in self.settings.trusted_hosts)

    def _request(self, method: str, url: str) -> tuple[int, str]:
        """Status and final URL of ``method url``, following redirects with the address checked."""
        headers = {"Range": "bytes=0-0"} if method == "GET" else {}
        timeout = (self.settings.connect_timeout, self.settings.read_timeout)
        target = url
        for _ in range(MAX_REDIRECTS + 1):
            self._allowed(target)
            response = self.session().request(method, target, headers=headers, timeout=timeout,
                                              allow_redirects=False, stream=True)
            response.close()  # the body is never read
            if not response.is_redirect:
                return response.status_code, target
            target = urljoin(target, response.headers["Location"])
        raise http.HarvestHTTPError(f"more than {MAX_REDIRECTS} redirects")

    def check(self, url: str) -> LinkResult:
        status, final, error = None, None, None
        try:
            self._allowed(url)  # a host that does not resolve or is refused gets no second request
            try:
                status, final = self._request("HEAD", url)
            except http.BlockedAddress:
                raise
            except (requests.RequestException, http.HarvestHTTPError) as exc:
                error = _describe(exc)
            if status is None or status >= 400:  # HEAD refused or failed: a ranged GET
                status, final = self._request("GET", url)
                error = None
        except http.BlockedAddress as exc:
            status, error = None, str(exc)
        except (requests.RequestException, http.HarvestHTTPError) as exc:
            error = _describe(exc)
        return LinkResult(url, status, error[:ERROR_CHARS] if error else None,
                          final if final and final != url else None, datetime.now(timezone.utc))

    def _check_host(self, urls: list[str]) -> list[LinkResult]:
        results: list[LinkResult] = []
        unreachable: str | None = None  # the host's name does not resolve: no use asking again this run
        for url in urls:
            if time.monotonic() >= self._deadline:
                break
            if unreachable:
                results.append(LinkResult(url, None, unreachable, None, datetime.now(timezone.utc)))
                continue
            if results:
                time.sleep(self.settings.host_interval_s)
            result = self.check(url)
            if result.status is None and (result.error or "").startswith("Cannot resolve host"):
                unreachable = result.error
            results.append(result)
        return results

    def check_many(self, urls: Iterable[str]) -> list[LinkResult]:
        self._deadline = time.monotonic() + self.settings.budget_s
        lanes: dict[tuple[tuple[str, int], int], list[str]] = defaultdict(list)
        counts: dict[tuple[str, int], int] = defaultdict(int)
        for url in urls:
            host = host_key(url)
            lanes[(host, counts[host] % max(1, self.settings.per_host))].append(url)
            counts[host] += 1
        results: list[LinkResult] = []
        with ThreadPoolExecutor(max_workers=max(1, self.settings.workers), thread_name_prefix="linkcheck") as pool:
            for lane in pool.map(self._check_host, lanes.values()):
                results.extend(lane)
        return results


def _describe(exc: Exception) -> str:
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return "could not connect in time"
    if isinstance(exc, requests.exceptions.ReadTimeout):
        return "no answer in time"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"connection failed: {http._reason(exc)}"
    return str(exc) or type(exc).__name__


def due_urls(st: Store, settings: LinkCheckSettings, now: datetime) -> list[str]:
    """Access and download URLs never checked or checked before the TTL, oldest check first."""
    cutoff = now - timedelta(hours=settings.ttl_hours)
    rows = st.fetchall(
        "SELECT u.url FROM (SELECT access_url AS url FROM distributions UNION "
        "SELECT download_url FROM distributions) u LEFT JOIN link_checks lc ON lc.url = u.url "
        "WHERE u.url IS NOT NULL AND (u.url LIKE 'http://%' OR u.url LIKE 'https://%') "
        "AND (lc.url IS NULL OR lc.checked_at < ?) "
        "ORDER BY lc.checked_at NULLS FIRST, u.url LIMIT ?", [cutoff, settings.max_urls])
    return [r[0] for r in rows]


def store_results(st: Store, results: list[LinkResult]) -> None:
    st.begin()
    try:
        for start in range(0, len(results), 500):
            chunk = results[start:start + 500]
            marks = ", ".join("?" for _ in chunk)
            st.execute(f"DELETE FROM link_checks WHERE url IN ({marks})", [r.url for r in chunk])
            st.execute("INSERT INTO link_checks (url, status, checked_at, error, final_url) VALUES "
                       + ", ".join("(?, ?, ?, ?, ?)" for _ in chunk),
                       [v for r in chunk for v in (r.url, r.status, r.checked_at, r.error, r.final_url)])
        st.commit()
    except BaseException:
        st.rollback()
        raise


def check_links(st: Store, settings: LinkCheckSettings | None = None,
                checker: LinkChecker | None = None) -> dict[str, Any]:
    """Check the URLs that are due and store the answers. Returns counts (safe for XCom)."""
    settings = settings or LinkCheckSettings.from_env()
    mqa.ensure_tables(st)
    if not settings.enabled:
        return {"enabled": False, "due": 0, "checked": 0, "answering": 0}
    urls = due_urls(st, settings, datetime.now(timezone.utc))
    results = (checker or LinkChecker(settings)).check_many(urls)
    store_results(st, results)
    answering = sum(1 for r in results if r.status is not None and 200 <= r.status < 400)
    summary = {"enabled": True, "due": len(urls), "checked": len(results), "answering": answering,
               "left_for_next_run": len(urls) - len(results)}
    log.info("link checks: %s", summary)
    return summary
