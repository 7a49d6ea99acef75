"""Link checks against a server of the test's own on 127.0.0.1: HEAD, the ranged-GET fallback,
redirects (never to a private address), politeness per host, the cache and the time budget."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from inventory.publish import open_store, publish
from inventory.quality import links
from inventory.quality import score as mqa
from tests.unit import publish_scenarios as sc


class Agency(BaseHTTPRequestHandler):
    """Answers like the servers behind catalogue links: some refuse HEAD, some redirect, some are gone."""

    requests: list[tuple[str, str, str | None]] = []
    active = 0
    max_active = 0
    lock = threading.Lock()

    def log_message(self, *args):  # keep test output clean
        pass

    def _answer(self, method: str) -> None:
        cls = type(self)
        with cls.lock:
            cls.requests.append((method, self.path, self.headers.get("Range")))
            cls.active += 1
            cls.max_active = max(cls.max_active, cls.active)
        try:
            time.sleep(0.02)  # long enough for two requests to the same host to overlap if allowed
            path = self.path
            if path.startswith("/ok"):
                self._send(200)
            elif path == "/no-head":  # like many CMSs: HEAD not allowed, GET fine
                self._send(405 if method == "HEAD" else 206)
            elif path == "/moved":
                self._send(301, location="/ok/after-move")
            elif path == "/to-private":
                self._send(302, location="http://192.168.12.7/data.csv")
            elif path == "/loop":
                self._send(302, location="/loop")
            else:
                self._send(404)
        finally:
            with cls.lock:
                cls.active -= 1

    def _send(self, status: int, location: str | None = None) -> None:
        self.send_response(status)
        if location:
            self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def do_HEAD(self):
        self._answer("HEAD")

    def do_GET(self):
        self._answer("GET")


@pytest.fixture
def agency():
    Agency.requests, Agency.active, Agency.max_active = [], 0, 0
    server = ThreadingHTTPServer(("127.0.0.1", 0), Agency)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()


def settings_for(base: str, **over) -> links.LinkCheckSettings:
    defaults = dict(trusted_hosts=frozenset({links.host_key(base)}), host_interval_s=0.0, budget_s=60.0,
                    connect_timeout=10.0, read_timeout=10.0)  # generous: the test machine may be busy
    return links.LinkCheckSettings(**{**defaults, **over})


def test_head_ranged_get_redirects_and_refusals(agency):
    checker = links.LinkChecker(settings_for(agency))
    ok = checker.check(f"{agency}/ok/a")
    assert (ok.status, ok.error, ok.final_url) == (200, None, None)
    assert Agency.requests[-1] == ("HEAD", "/ok/a", None)

    no_head = checker.check(f"{agency}/no-head")
    assert no_head.status == 206
    assert Agency.requests[-2:] == [("HEAD", "/no-head", None), ("GET", "/no-head", "bytes=0-0")]

    moved = checker.check(f"{agency}/moved")
    assert moved.status == 200 and moved.final_url == f"{agency}/ok/after-move"

    gone = checker.check(f"{agency}/gone")
    assert gone.status == 404  # after HEAD and the ranged GET both said so

    private = checker.check(f"{agency}/to-private")
    assert private.status is None and "192.168.12.7" in private.error
    assert not any(p == "/data.csv" for _, p, _ in Agency.requests)

    loop = checker.check(f"{agency}/loop")
    assert loop.status is None and "redirects" in loop.error


def test_private_hosts_are_refused_unless_the_sources_trust_them(agency):
    untrusted = links.LinkChecker(settings_for(agency, trusted_hosts=frozenset()))
    result = untrusted.check(f"{agency}/ok/x")
    assert result.status is None and "non-public address" in result.error
    assert Agency.requests == []


def test_one_request_at_a_time_per_host(agency):
    checker = links.LinkChecker(settings_for(agency, workers=8))
    results = checker.check_many([f"{agency}/ok/{i}" for i in range(12)])
    assert len(results) == 12 and all(r.status == 200 for r in results)
    assert Agency.max_active == 1


def _publish_links(base: str) -> None:
    sc.make_batch("gem-l", "run1", datasets=[sc.dataset("gem-l", i) for i in range(3)],
                  distributions=[
                      sc.distribution("gem-l", 0, access_url=f"{base}/ok/0", download_url=f"{base}/no-head"),
                      sc.distribution("gem-l", 1, access_url=f"{base}/gone"),
                      sc.distribution("gem-l", 2, access_url=f"{base}/ok/0", download_url="ftp://old.example/x"),
                  ])
    publish()


def test_results_are_cached_until_the_ttl_and_feed_the_score(agency):
    _publish_links(agency)
    with open_store() as st:
        first = links.check_links(st, settings_for(agency))
        # three distinct http(s) URLs; the ftp one is not checked
        assert (first["due"], first["checked"], first["answering"]) == (3, 3, 2)
        stored = dict(st.fetchall("SELECT url, status FROM link_checks"))
        assert stored == {f"{agency}/ok/0": 200, f"{agency}/no-head": 206, f"{agency}/gone": 404}
        seen = len(Agency.requests)
        again = links.check_links(st, settings_for(agency))
        assert again["due"] == 0 and len(Agency.requests) == seen  # cached
        expired = links.check_links(st, settings_for(agency, ttl_hours=0))
        assert expired["checked"] == 3 and len(Agency.requests) > seen

        mqa.score(st, publish_id="p1")
        points = dict(st.fetchall('SELECT "source_id" || \':\' || "title", "access_url_reachable_points" '
                                  "FROM quality_scores"))
    assert points == {"gem-l:Dataset 0": 50.0, "gem-l:Dataset 1": 0.0, "gem-l:Dataset 2": 50.0}


def test_the_time_budget_leaves_the_rest_for_the_next_run(agency):
    _publish_links(agency)
    with open_store() as st:
        result = links.check_links(st, settings_for(agency, budget_s=0.0))
        assert result["checked"] == 0 and result["left_for_next_run"] == 3
        assert st.scalar("SELECT count(*) FROM link_checks") == 0


def test_link_checks_can_be_switched_off(agency, monkeypatch):
    monkeypatch.setenv("INVENTORY_LINK_CHECKS", "off")
    _publish_links(agency)
    with open_store() as st:
        assert links.check_links(st)["enabled"] is False
    assert Agency.requests == []


def test_a_host_that_does_not_resolve_is_asked_once_per_run(monkeypatch):
    import socket

    from inventory import http

    lookups = []

    def no_such_host(host, *args, **kwargs):
        lookups.append(host)
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(http.socket, "getaddrinfo", no_such_host)
    checker = links.LinkChecker(links.LinkCheckSettings(host_interval_s=0.0))
    results = checker.check_many([f"https://gone.example.nl/{i}" for i in range(5)])
    assert len(results) == 5 and all(r.status is None and "Cannot resolve host" in r.error for r in results)
    assert lookups == ["gone.example.nl"]
