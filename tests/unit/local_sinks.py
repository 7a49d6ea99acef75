"""Local stand-ins for an operator's mail server and webhook endpoint, on 127.0.0.1 (free ports).

``SmtpSink`` speaks just enough SMTP (EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT) for smtplib and
Airflow's SmtpHook, and keeps every message it receives; ``WebhookSink`` keeps every POST (headers
and JSON body). Both run in a thread; use them as context managers.
"""

from __future__ import annotations

import email
import email.policy
import json
import socketserver
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


class _SmtpHandler(socketserver.StreamRequestHandler):
    def reply(self, line: str) -> None:
        self.wfile.write(line.encode("ascii") + b"\r\n")

    def handle(self) -> None:
        self.reply("220 sink.local ESMTP ready")
        envelope: dict[str, Any] = {"from": None, "to": []}
        while True:
            line = self.rfile.readline()
            if not line:
                return
            verb = line.strip().split(b" ", 1)[0].upper()
            if verb == b"EHLO":
                self.wfile.write(b"250-sink.local\r\n250 8BITMIME\r\n")
            elif verb == b"HELO":
                self.reply("250 sink.local")
            elif verb == b"MAIL":
                envelope = {"from": line.decode().split(":", 1)[1].strip(), "to": []}
                self.reply("250 OK")
            elif verb == b"RCPT":
                envelope["to"].append(line.decode().split(":", 1)[1].strip().strip("<>"))
                self.reply("250 OK")
            elif verb == b"DATA":
                self.reply("354 End data with <CR><LF>.<CR><LF>")
                body = []
                while True:
                    data = self.rfile.readline()
                    if data in (b".\r\n", b".\n", b""):
                        break
                    body.append(data[1:] if data.startswith(b"..") else data)
                message = email.message_from_bytes(b"".join(body), policy=email.policy.default)
                self.server.messages.append({**envelope, "message": message})  # type: ignore[attr-defined]
                self.reply("250 OK: queued")
            elif verb in (b"RSET", b"NOOP"):
                self.reply("250 OK")
            elif verb == b"QUIT":
                self.reply("221 Bye")
                return
            else:
                self.reply("502 Command not implemented")


class SmtpSink:
    def __init__(self) -> None:
        self.server = socketserver.ThreadingTCPServer(("127.0.0.1", 0), _SmtpHandler)
        self.server.daemon_threads = True
        self.server.messages = []  # type: ignore[attr-defined]
        self.port = self.server.server_address[1]

    @property
    def messages(self) -> list[dict[str, Any]]:
        return self.server.messages  # type: ignore[attr-defined]

    def __enter__(self) -> "SmtpSink":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()


class _WebhookHandler(BaseHTTPRequestHandler):
    def do_POST(self) -> None:  # noqa: N802 - http.server's naming
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        self.server.requests.append({"path": self.path, "headers": dict(self.headers),  # type: ignore[attr-defined]
                                     "json": json.loads(body)})
        status = self.server.status  # type: ignore[attr-defined]
        self.send_response(status)
        self.send_header("Content-Length", "0")
        self.end_headers()

    def log_message(self, *args: Any) -> None:  # keep test output clean
        pass


class WebhookSink:
    def __init__(self, status: int = 204) -> None:
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), _WebhookHandler)
        self.server.requests = []  # type: ignore[attr-defined]
        self.server.status = status  # type: ignore[attr-defined]
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hooks/inventory"

    @property
    def requests(self) -> list[dict[str, Any]]:
        return self.server.requests  # type: ignore[attr-defined]

    def __enter__(self) -> "WebhookSink":
        threading.Thread(target=self.server.serve_forever, daemon=True).start()
        return self

    def __exit__(self, *exc: Any) -> None:
        self.server.shutdown()
        self.server.server_close()
