"""The raw landing zone: every response body exactly as received, before anything parses it.

``$INVENTORY_DATA_DIR/landing/<source_id>/<batch_id>/<seq>.body`` holds the bytes and
``<seq>.json`` what we asked and what the server said: request, URL, status, headers (without
credentials), the character set the parsers use (see charset.py), time and SHA-256. Files are
immutable once written. A retried task finds its pages here and replays them instead of fetching
again; any run can be re-parsed without the network.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Iterator

from . import settings
from .charset import Charset, detect
from .staging import safe_name, utcnow, write_json_atomic


@dataclass(frozen=True)
class PageRequest:
    """What a source module asks for: one HTTP request of a listing."""

    method: str
    url: str
    params: dict[str, Any] = field(default_factory=dict)
    json_body: Any = None
    # Free-form state a source module wants back with the page (e.g. the offset it asked for).
    context: dict[str, Any] = field(default_factory=dict)
    # Request headers a kind needs (content negotiation: Accept). Never credentials: those are the
    # session's, from the source's Airflow connection, and are not landed.
    headers: dict[str, str] = field(default_factory=dict)
    # A text body (e.g. a CSW GetRecords XML document); json_body is for JSON.
    body: str | None = None
    # Error statuses the module parses itself instead of the loop ending the listing (a detail that
    # answers 404 because the record was withdrawn after it was listed). Not part of the identity.
    tolerate: tuple[int, ...] = ()

    def key(self) -> str:
        """Identity of the request, for loop detection and resume."""
        blob = json.dumps(
            [self.method, self.url, sorted(self.params.items()), self.json_body, sorted(self.headers.items()), self.body],
            sort_keys=True,
            default=str,
        )
        return hashlib.sha256(blob.encode()).hexdigest()


@dataclass(frozen=True)
class LandedPage:
    """A page at rest in the landing zone, as handed to a source module's parser."""

    source_id: str
    seq: int
    request: PageRequest
    url: str
    status: int
    headers: dict[str, str]
    body: bytes
    sha256: str
    received_at: str
    replayed: bool = False
    # The body's character set and how it was decided (declared, sniffed, fallback): see charset.py.
    charset: Charset | None = None

    def header(self, name: str, default: str | None = None) -> str | None:
        return _header(self.headers, name, default)

    def text(self) -> str:
        """The body decoded in its recorded character set."""
        from .charset import decode

        return decode(self.body, self.charset or detect(self.body, self.header("Content-Type")))


def _header(headers: dict[str, str], name: str, default: str | None = None) -> str | None:
    lowered = name.lower()
    for key, value in headers.items():
        if key.lower() == lowered:
            return value
    return default


class LandingZone:
    """The landing folder of one source's batch."""

    def __init__(self, source_id: str, batch_id: str):
        self.source_id = source_id
        self.batch_id = safe_name(batch_id)
        self.path = settings.data_dir() / "landing" / source_id / self.batch_id

    def _files(self, seq: int) -> tuple[Path, Path]:
        return self.path / f"{seq:06d}.body", self.path / f"{seq:06d}.json"

    def land(self, seq: int, request: PageRequest, *, url: str, status: int, headers: dict[str, str], body: bytes) -> LandedPage:
        body_file, meta_file = self._files(seq)
        self.path.mkdir(parents=True, exist_ok=True)
        digest = hashlib.sha256(body).hexdigest()
        received_at = utcnow().isoformat()
        charset = detect(body, _header(headers, "Content-Type"))
        tmp = body_file.with_name(body_file.name + ".tmp")
        tmp.write_bytes(body)
        os.replace(tmp, body_file)
        # Metadata last: a page counts as landed only once its .json exists.
        write_json_atomic(
            meta_file,
            {
                "source_id": self.source_id,
                "batch_id": self.batch_id,
                "seq": seq,
                "request": asdict(request),
                "request_key": request.key(),
                "url": url,
                "status": status,
                "headers": headers,
                "received_at": received_at,
                "bytes": len(body),
                "sha256": digest,
                "charset": charset.as_dict(),
            },
        )
        return LandedPage(self.source_id, seq, request, url, status, headers, body, digest, received_at, charset=charset)

    def replay(self, seq: int, request: PageRequest) -> LandedPage | None:
        """The page landed earlier for this exact request at this position, if any and intact."""
        body_file, meta_file = self._files(seq)
        if not meta_file.exists() or not body_file.exists():
            return None
        meta = json.loads(meta_file.read_text(encoding="utf-8"))
        if meta.get("request_key") != request.key():
            return None
        body = body_file.read_bytes()
        if hashlib.sha256(body).hexdigest() != meta["sha256"]:
            return None  # damaged: fetch again rather than trust it
        charset = Charset.from_dict(meta.get("charset")) or detect(body, _header(meta["headers"], "Content-Type"))
        return LandedPage(
            self.source_id, seq, request, meta["url"], meta["status"], meta["headers"], body, meta["sha256"], meta["received_at"],
            replayed=True, charset=charset,
        )

    def pages(self) -> Iterator[dict[str, Any]]:
        """Metadata of every landed page, in order."""
        if self.path.exists():
            for meta_file in sorted(self.path.glob("*.json")):
                yield json.loads(meta_file.read_text(encoding="utf-8"))
