"""Which character set a landed body is in, decided once, recorded, and used by every parser.

The order: a byte-order mark (unambiguous); the charset declared in the ``Content-Type`` when the
body decodes with it; what the body says of itself (an XML declaration's ``encoding``, an HTML
``<meta charset>``); valid UTF-8 (JSON's only encoding, RFC 8259); and finally Windows-1252, which
reads any byte. One exception to "declared first": a body declared as ISO-8859-1 (or Windows-1252,
or ASCII) that is valid UTF-8 with multi-byte characters is UTF-8, because that mislabel is common
and valid UTF-8 is never an accident. The decision and why are stored with the page in the landing
zone and counted in the run's report, so a steward can see which pages were guessed.
"""

from __future__ import annotations

import codecs
import re
from dataclasses import dataclass

_CHARSET_PARAM = re.compile(r"charset\s*=\s*[\"']?([A-Za-z0-9._:-]+)", re.IGNORECASE)
_XML_ENCODING = re.compile(rb"""^\s*<\?xml[^>]*?encoding\s*=\s*["']([A-Za-z0-9._:-]+)["']""")
_HTML_META = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?([A-Za-z0-9._:-]+)""", re.IGNORECASE)
_SINGLE_BYTE_LATIN = frozenset({"iso8859-1", "cp1252", "ascii"})
_BOMS = ((codecs.BOM_UTF8, "utf-8-sig"), (codecs.BOM_UTF16_LE, "utf-16"), (codecs.BOM_UTF16_BE, "utf-16"))


@dataclass(frozen=True)
class Charset:
    codec: str  # a Python codec name: utf-8, utf-8-sig, utf-16, cp1252, iso8859-15, ...
    how: str  # bom | declared | xml-declaration | html-meta | utf-8-sniffed | windows-1252-fallback
    declared: str | None = None  # what the Content-Type said, if anything
    note: str | None = None  # why the declared charset was not used, when it was not

    @property
    def guessed(self) -> bool:
        """True when nothing the server said decided it: worth telling the operator."""
        return self.how == "windows-1252-fallback" or self.note is not None

    def describe(self) -> str:
        text = f"{self.codec} ({self.how.replace('-', ' ')})"
        return f"{text}: {self.note}" if self.note else text

    def as_dict(self) -> dict[str, str | None]:
        return {"codec": self.codec, "how": self.how, "declared": self.declared, "note": self.note}

    @classmethod
    def from_dict(cls, value: dict | None) -> "Charset | None":
        return cls(**value) if value else None


def _codec(name: str | None) -> str | None:
    try:
        return codecs.lookup(name).name if name else None
    except LookupError:
        return None


def _decodes(body: bytes, codec: str) -> bool:
    try:
        body.decode(codec)
        return True
    except UnicodeDecodeError:
        return False


def _is_utf8(body: bytes) -> bool:
    return body.isascii() or _decodes(body, "utf-8")


def detect(body: bytes, content_type: str | None) -> Charset:
    """The character set of ``body`` and how it was decided (see the module docstring)."""
    for bom, codec in _BOMS:
        if body.startswith(bom):
            return Charset(codec, "bom")
    match = _CHARSET_PARAM.search(content_type or "")
    declared_name = match.group(1) if match else None
    declared = _codec(declared_name)
    note = None
    if declared_name and declared is None:
        note = f"the declared charset {declared_name!r} is unknown"
    elif declared:
        if declared in _SINGLE_BYTE_LATIN and not body.isascii() and _decodes(body, "utf-8"):
            return Charset("utf-8", "utf-8-sniffed", declared_name,
                           f"declared {declared_name}, but the body is valid UTF-8 with multi-byte characters")
        if _decodes(body, declared):
            return Charset(declared, "declared", declared_name)
        note = f"the body does not decode as the declared {declared_name}"
    head = body[:1024]
    for how, pattern in (("xml-declaration", _XML_ENCODING), ("html-meta", _HTML_META)):
        found = pattern.search(head) if how == "html-meta" else pattern.match(head)
        codec = _codec(found.group(1).decode("ascii")) if found else None
        if codec and codec not in ("utf-16", "utf-32") and _decodes(body, codec):
            if codec == "utf-8" or codec not in _SINGLE_BYTE_LATIN or not _is_utf8(body) or body.isascii():
                return Charset(codec, how, declared_name, note)
    if _is_utf8(body):
        return Charset("utf-8", "utf-8-sniffed", declared_name, note)
    return Charset("cp1252", "windows-1252-fallback", declared_name, note or "no charset declared and the body is not UTF-8")


def decode(body: bytes, charset: Charset) -> str:
    """The body as text in ``charset``; Windows-1252's five unassigned bytes become U+FFFD."""
    return body.decode(charset.codec, errors="replace" if charset.how == "windows-1252-fallback" else "strict")
