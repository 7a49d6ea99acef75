"""The shared HTTP client against a local server: retries, Retry-After, size cap, address checks."""

from __future__ import annotations

import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from inventory.http import BlockedAddress, HarvestHTTPError, HttpClient, HttpSettings, ResponseTooLarge


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    hits: dict[str, int] = {}
    stamps: dict[str, list[float]] = {}

    def log_message(self, *args):
        pass

    def _send(self, status: int, body: bytes, headers: dict | None = None):
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        self.end_headers()
        self.wfile.write(body)

    def do_GET(self):
        n = Handler.hits[self.path] = Handler.hits.get(self.path, 0) + 1
        Handler.stamps.setdefault(self.path, []).append(time.monotonic())
        if self.path == "/500-once":
            return self._send(500 if n == 1 else 200, b'{"ok": true}')
        if self.path == "/429":
            return self._send(429 if n == 1 else 200, b'{"ok": true}', {"Retry-After": "1"})
        if self.path == "/always-503":
            return self._send(503, b"{}")
        if self.path == "/big":
            return self._send(200, b"x" * 300_000)
        if self.path == "/redirect-home":
            return self._send(302, b"", {"Location": "http://127.0.0.1:1/secret"})
        if self.path == "/api-key":
            return self._send(200, b"{}", {"X-Echo": self.headers.get("X-Api-Key", "")})
        return self._send(404, b"{}")


@pytest.fixture(scope="module")
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_port}"
    httpd.shutdown()


def client(**kw) -> HttpClient:
    return HttpClient(HttpSettings(allow_private_network=kw.pop("allow", True), backoff_factor=0.01, backoff_jitter=0.0, **kw))


def test_500_then_success_is_retried(server):
    response = client().request("GET", f"{server}/500-once")
    assert response.status == 200 and response.attempts == 2


def test_429_honours_retry_after(server):
    response = client().request("GET", f"{server}/429")
    assert response.status == 200
    first, second = Handler.stamps["/429"][:2]
    assert second - first >= 0.9, "the client must wait what Retry-After asked"


def test_persistent_5xx_gives_up_with_a_clear_message(server):
    with pytest.raises(HarvestHTTPError, match=r"kept failing after 2 retries"):
        client(retries=2).request("GET", f"{server}/always-503")


def test_response_over_the_cap_is_aborted(server):
    with pytest.raises(ResponseTooLarge, match="exceeds the cap of 100,000 bytes"):
        client(max_bytes=100_000).request("GET", f"{server}/big")


def test_loopback_is_refused_unless_allowed(server):
    with pytest.raises(BlockedAddress, match="non-public address 127.0.0.1"):
        client(allow=False).request("GET", f"{server}/500-once")


def test_only_http_and_https(server):
    with pytest.raises(BlockedAddress, match="only http and https"):
        client().request("GET", "file:///etc/passwd")


def test_redirect_target_is_checked_too(server, monkeypatch):
    import inventory.http as http

    checked = []
    real = http.check_address

    def spy(url, *, allow_private_network):
        checked.append(url)
        if url.endswith("/secret"):
            raise BlockedAddress(f"Refused {url}")
        return real(url, allow_private_network=allow_private_network)

    monkeypatch.setattr(http, "check_address", spy)
    with pytest.raises(BlockedAddress, match="/secret"):
        client().request("GET", f"{server}/redirect-home")
    assert checked[-1] == "http://127.0.0.1:1/secret"


def test_sensitive_headers_are_not_returned(server):
    c = client()
    c.session.headers["X-Api-Key"] = "s3cret-key"
    response = c.request("GET", f"{server}/api-key")
    assert response.headers["X-Echo"] == "s3cret-key"  # sent to the server ...
    assert all(k.lower() != "x-api-key" for k in response.headers)  # ... but never kept
