"""A scripted hostile HTTP server on 127.0.0.1 (free port) for the fault suite.

Each test scripts what a path answers, in order: ``server.route("/ckan/api", Reply(500), Reply(200,
body))`` answers 500 to the first request and the body to every later one (the last reply repeats).
A reply may also be a function of the request (``lambda req: ...``) for listings that page on the
query string. Besides plain replies it can hang, reset the connection, stream a body of any size
generated lazily (never held in memory), redirect, or hold a request open to measure concurrency.
The server counts what a client did to it: hits per path, the peak number of requests in flight,
and bytes written, so tests assert behaviour at the server instead of timing the client.

Reusable by every fault test (tests/faults/conftest.py has the fixture ``hostile``).
"""

from __future__ import annotations

import socket
import struct
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Callable, Iterator, Union
from urllib.parse import parse_qs, urlsplit


@dataclass(frozen=True)
class Request:
    """What the server received, as a reply function sees it."""

    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def param(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[0] if values else default


@dataclass(frozen=True)
class Reply:
    """An ordinary answer. ``delay`` holds the request open first (counted as in flight)."""

    status: int = 200
    body: bytes = b""
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0


@dataclass(frozen=True)
class Hang:
    """Accept the request and answer nothing for ``seconds`` (released early when the server stops)."""

    seconds: float = 30.0


@dataclass(frozen=True)
class Reset:
    """Read the request, then drop the connection with a TCP reset (SO_LINGER 0): no status line."""


@dataclass(frozen=True)
class Stream:
    """A body of ``size`` bytes made lazily, chunk by chunk: the server never holds it.

    ``declare_length`` sends an honest Content-Length; without it the body is close-delimited, so
    only counting while reading can stop it.
    """

    size: int
    content_type: str = "application/json"
    declare_length: bool = False
    chunk: bytes = b'{"padding": "' + b"x" * 65_000 + b'"},\n'


@dataclass(frozen=True)
class Redirect:
    location: str
    status: int = 302


Answer = Union[Reply, Hang, Reset, Stream, Redirect]
ReplyFn = Callable[[Request], Answer]


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: "_Server"

    def log_message(self, *args) -> None:  # quiet: the tests read the counters instead
        pass

    def do_GET(self) -> None:
        self._serve()

    def do_POST(self) -> None:
        self._serve()

    def do_HEAD(self) -> None:
        self._serve()

    def _serve(self) -> None:
        hostile: HostileServer = self.server.hostile
        length = int(self.headers.get("Content-Length") or 0)
        body = self.rfile.read(length) if length else b""
        parts = urlsplit(self.path)
        request = Request(self.command, parts.path, parse_qs(parts.query), dict(self.headers.items()), body)
        answer = hostile._next_answer(request)
        hostile._enter()
        self._in_flight = True
        try:
            self._answer(answer, request)
        except (BrokenPipeError, ConnectionResetError, ConnectionAbortedError):
            self.close_connection = True  # the client hung up (as it should past a size cap)
        finally:
            self._answered()

    def _answered(self) -> None:
        """The request stops counting as in flight once its response is handed to the socket, not
        when this thread next runs: by then the client may have read it and sent its next request,
        and on a loaded machine that counted one request too many at the peak."""
        if self._in_flight:
            self._in_flight = False
            self.server.hostile._leave()

    def _answer(self, answer: Answer, request: Request) -> None:
        hostile: HostileServer = self.server.hostile
        if isinstance(answer, Hang):
            hostile._stopping.wait(answer.seconds)
            self.close_connection = True
            return
        if isinstance(answer, Reset):
            self.connection.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
            self.close_connection = True
            self.connection.close()  # closing now, with linger 0, sends RST instead of FIN
            return
        if isinstance(answer, Redirect):
            answer = Reply(answer.status, b"", "text/plain", {"Location": answer.location})
        if isinstance(answer, Stream):
            self.send_response(200)
            self.send_header("Content-Type", answer.content_type)
            if answer.declare_length:
                self.send_header("Content-Length", str(answer.size))
            self.send_header("Connection", "close")
            self.end_headers()
            self.close_connection = True
            for piece in _lazy_body(answer):
                self.wfile.write(piece)
                hostile._sent(len(piece))
            return
        if answer.delay:
            hostile._stopping.wait(answer.delay)
        self.send_response(answer.status)
        self.send_header("Content-Type", answer.content_type)
        self.send_header("Content-Length", str(len(answer.body)))
        for name, value in answer.headers.items():
            self.send_header(name, value)
        self._answered()
        self.end_headers()
        if request.method != "HEAD":
            self.wfile.write(answer.body)
            hostile._sent(len(answer.body))


def _lazy_body(stream: Stream) -> Iterator[bytes]:
    left = stream.size
    while left > 0:
        piece = stream.chunk[: min(left, len(stream.chunk))]
        left -= len(piece)
        yield piece


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64
    hostile: "HostileServer"


class HostileServer:
    """The scripted server. Use as a context manager; ``url`` is ``http://127.0.0.1:<port>``."""

    def __init__(self) -> None:
        self._routes: dict[str, list[Answer | ReplyFn]] = {}
        self._lock = threading.Lock()
        self._stopping = threading.Event()
        self.hits: dict[str, int] = {}
        self.requests: list[Request] = []
        self.in_flight = 0
        self.peak_in_flight = 0
        self.bytes_sent = 0
        self.arrivals: list[float] = []  # monotonic arrival times, for rate checks at the server
        self._httpd = _Server(("127.0.0.1", 0), _Handler)
        self._httpd.hostile = self
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="hostile-server", daemon=True)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self._httpd.server_port}"

    @property
    def port(self) -> int:
        return self._httpd.server_port

    def route(self, path: str, *answers: Answer | ReplyFn) -> "HostileServer":
        """Script ``path``: the answers in order, the last one repeating. Replaces an earlier script."""
        if not answers:
            raise ValueError("a route needs at least one answer")
        with self._lock:
            self._routes[path] = list(answers)
        return self

    def hits_on(self, path: str) -> int:
        return self.hits.get(path, 0)

    def reset_counters(self) -> None:
        with self._lock:
            self.hits.clear()
            self.requests.clear()
            self.arrivals.clear()
            self.peak_in_flight = 0
            self.bytes_sent = 0

    # ------------------------------------------------------------------ called by the handler
    def _next_answer(self, request: Request) -> Answer:
        with self._lock:
            self.hits[request.path] = self.hits.get(request.path, 0) + 1
            self.requests.append(request)
            self.arrivals.append(time.monotonic())
            script = self._routes.get(request.path)
            if script is None:
                return Reply(404, b'{"error": "no such path on the hostile server"}')
            answer = script.pop(0) if len(script) > 1 else script[0]
        return answer(request) if callable(answer) else answer

    def _enter(self) -> None:
        with self._lock:
            self.in_flight += 1
            self.peak_in_flight = max(self.peak_in_flight, self.in_flight)

    def _leave(self) -> None:
        with self._lock:
            self.in_flight -= 1

    def _sent(self, n: int) -> None:
        with self._lock:
            self.bytes_sent += n

    # ------------------------------------------------------------------ lifecycle
    def __enter__(self) -> "HostileServer":
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stopping.set()  # release hanging handlers
        self._httpd.shutdown()
        self._httpd.server_close()
        self._thread.join(timeout=5)
