"""Controlled vocabularies as data files (``config/vocabularies/*.csv``), and lookups onto them.

A data steward reviews and extends the CSV files; code only reads them. Each file maps every known
spelling (``aliases``, ``|``-separated: CKAN slugs, http/https and ``deed``/``legalcode`` variants) to
one canonical URI. A value that is not known maps to ``None`` and the caller keeps the original,
so that validation can report it instead of this module guessing.
"""

from __future__ import annotations

import csv
from functools import lru_cache

from . import settings


def normalise_key(value: str) -> str:
    """The form every spelling is compared in: trimmed, lower case, without trailing slashes
    (``inventory.quality.score`` compares the same way in SQL: ``rtrim(lower(trim(x)), '/')``)."""
    return value.strip().lower().rstrip("/")


_normalise_key = normalise_key


def _twin(uri: str) -> str | None:
    """The same URI with the other scheme (catalogues write EU and IANA URIs with either)."""
    if uri.startswith("http://"):
        return "https://" + uri[len("http://"):]
    if uri.startswith("https://"):
        return "http://" + uri[len("https://"):]
    return None


@lru_cache(maxsize=None)
def rows(name: str) -> tuple[dict[str, str], ...]:
    """Every row of ``config/vocabularies/<name>.csv`` as read (columns by header), in file order."""
    path = settings.config_dir() / "vocabularies" / f"{name}.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        return tuple({k: (v or "").strip() for k, v in row.items()} for row in csv.DictReader(fh))


def spellings(row: dict[str, str]) -> list[str]:
    """Every normalised spelling of one vocabulary row: its URI (both schemes) and its aliases."""
    uri = row["uri"]
    found = [uri, _twin(uri)] + [a for a in (row.get("aliases") or "").split("|")]
    keys: list[str] = []
    for value in found:
        if value and value.strip() and normalise_key(value) not in keys:
            keys.append(normalise_key(value))
    return keys


@lru_cache(maxsize=None)
def _lookup(name: str) -> dict[str, str]:
    return {key: row["uri"] for row in rows(name) for key in spellings(row)}


def uris(name: str) -> list[str]:
    """Every canonical URI of a vocabulary, in file order."""
    return [row["uri"] for row in rows(name)]


def flag(row: dict[str, str], column: str) -> bool:
    """A true/false column of a vocabulary row."""
    return (row.get(column) or "").lower() in ("true", "yes", "1")


def canonical(name: str, value: str | None) -> str | None:
    """The canonical URI for ``value`` in vocabulary ``name``, or None when unknown or empty."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    return _lookup(name).get(_normalise_key(text))


def memoised(lookup):
    """A cache in front of a vocabulary lookup, for one page: catalogues repeat a handful of values."""
    cache: dict = {}

    def get(value):
        if value is None:
            return None
        try:
            return cache[value]
        except KeyError:
            result = cache[value] = lookup(value)
            return result
        except TypeError:  # a list or object where a string was expected
            return None

    return get


def license_uri(value: str | None) -> str | None:
    return canonical("licenses", value)


def frequency_uri(value: str | None) -> str | None:
    return canonical("frequencies", value)


def access_rights_uri(value: str | None) -> str | None:
    return canonical("access_rights", value)


def theme_uri(value: str | None) -> str | None:
    return canonical("themes", value)


def language_uri(value: str | None) -> str | None:
    return canonical("languages", value)


def file_type_uri(value: str | None) -> str | None:
    """The EU file type of a format as catalogues write it (``CSV``, ``.csv``, the EU URI)."""
    return canonical("file_types", value)


def media_type_uri(value: str | None) -> str | None:
    """The IANA media type URI of ``text/csv`` and the like."""
    return canonical("media_types", value)


@lru_cache(maxsize=None)
def format_flags() -> dict[str, dict[str, object]]:
    """Every spelling of a format or media type -> ``{uri, file_type, machine_readable, non_proprietary}``.

    A media type takes the flags of its EU file type (``media_types.csv`` names it), so the flags
    live in one place, ``file_types.csv``.
    """
    by_code: dict[str, dict[str, object]] = {}
    table: dict[str, dict[str, object]] = {}
    for row in rows("file_types"):
        entry = {"uri": row["uri"], "file_type": row["uri"],
                 "machine_readable": flag(row, "machine_readable"),
                 "non_proprietary": flag(row, "non_proprietary")}
        by_code[row["uri"].rsplit("/", 1)[-1]] = entry
        for key in spellings(row):
            table[key] = entry
    for row in rows("media_types"):
        file_type = by_code.get(row["file_type"])
        if file_type is None:
            raise ValueError(f"config/vocabularies/media_types.csv: {row['uri']} names file type "
                             f"{row['file_type']!r}, which file_types.csv does not have")
        entry = {**file_type, "uri": row["uri"]}
        for key in spellings(row):
            table.setdefault(key, entry)
    return table
