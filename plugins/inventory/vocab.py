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


def _normalise_key(value: str) -> str:
    key = value.strip().lower()
    return key[:-1] if key.endswith("/") else key


@lru_cache(maxsize=None)
def _lookup(name: str) -> dict[str, str]:
    path = settings.config_dir() / "vocabularies" / f"{name}.csv"
    table: dict[str, str] = {}
    with path.open(encoding="utf-8", newline="") as fh:
        for row in csv.DictReader(fh):
            uri = row["uri"].strip()
            table[_normalise_key(uri)] = uri
            for alias in (row.get("aliases") or "").split("|"):
                if alias.strip():
                    table[_normalise_key(alias)] = uri
    return table


def uris(name: str) -> list[str]:
    """Every canonical URI of a vocabulary, in file order."""
    path = settings.config_dir() / "vocabularies" / f"{name}.csv"
    with path.open(encoding="utf-8", newline="") as fh:
        return [row["uri"].strip() for row in csv.DictReader(fh)]


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
