"""One canonical organisation per agency across sources (``config/organizations.yaml``).

Agencies are spelled differently by every source: a CKAN organisation is ``rijkswaterstaat`` or
``Rijkswaterstaat`` with an OWMS URI, a DCAT catalogue names it by a TOOI URI, the Algoritmeregister
writes ``Gemeente Utrecht`` or ``Municipality of Utrecht``. The curated file gives each organisation
its canonical name, the TOOI URI where it is known, the other URIs that identify it and the other
names it goes by. This module reads that file and rewrites the organisation columns of staged
records:

* **matching**: the record's URI first (``publisher_uri``; TOOI or any URI the entry lists,
  ``http``/``https`` and a trailing ``/`` ignored), then its name against the canonical name and the
  aliases, normalised (case, white space, diacritics and punctuation do not matter:
  ``gemeente-amsterdam`` is ``Gemeente Amsterdam``). An entry with ``match_without_prefix: true``
  also answers to its names without the leading kind of organisation (``Amsterdam`` for
  ``Gemeente Amsterdam``); such a bare name shared by two entries (``Utrecht``: the municipality
  and the province) matches neither.
* **columns**: the canonical name and TOOI URI go into the canonical columns (``publisher`` /
  ``publisher_uri`` of datasets and data services, ``organization`` / ``organization_uri`` of
  algorithms); the source's own spelling stays beside them in ``*_original``, as for every other
  mapped value. An unmatched record keeps the source's name and URI.
* **unmatched**: every name (and URI) that matched no entry is counted per source, so that the run
  report can list them for a steward (harvest_runs, ``reports/unmatched_organizations.csv``).

It works on Arrow tables at the staging write (:class:`OrganizationMatcher.canonicalise`): the
distinct (name, URI) pairs of a batch of rows are resolved once each (and memoised for the run), the
result is spread back over the rows with a ``take``: no Python work per row.
"""

from __future__ import annotations

import csv
import fcntl
import os
import re
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import settings
from .config import describe_error, read_yaml


class OrganizationsConfigError(ValueError):
    """The organisations file cannot be used; the message names the file, the entry and the field."""


# Record table -> (name column, URI column, original name column, original URI column or None).
ORGANIZATION_COLUMNS: dict[str, tuple[str, str, str, str | None]] = {
    "datasets": ("publisher", "publisher_uri", "publisher_original", "publisher_uri_original"),
    "data_services": ("publisher", "publisher_uri", "publisher_original", "publisher_uri_original"),
    "algorithms": ("organization", "organization_uri", "organization_original", None),
}

# The leading kind of organisation an entry with ``match_without_prefix`` may be written without.
PREFIXES = ("gemeente", "provincie", "waterschap", "hoogheemraadschap", "ministerie van", "municipality of",
            "province of")
TOOI_PREFIX = "https://identifier.overheid.nl/tooi/id/"
_TOOI = re.compile(r"^https://identifier\.overheid\.nl/tooi/id/[a-z_]+/[a-z0-9_]+$")
_NOT_ALNUM = re.compile(r"[^0-9a-z]+")


def organizations_file() -> Path:
    """``$INVENTORY_ORGANIZATIONS`` when set, else ``config/organizations.yaml``."""
    return Path(os.environ.get("INVENTORY_ORGANIZATIONS") or settings.config_dir() / "organizations.yaml").resolve()


def normalise_name(value: str) -> str:
    """The matching key of a name: case, white space, diacritics and punctuation do not matter."""
    decomposed = unicodedata.normalize("NFKD", value)
    plain = "".join(c for c in decomposed if not unicodedata.combining(c)).casefold()
    return _NOT_ALNUM.sub(" ", plain).strip()


def normalise_uri(value: str) -> str:
    """The matching key of a URI: the scheme (http/https), case and a trailing ``/`` or ``#`` do not matter."""
    return re.sub(r"^https?://", "", value.strip(), flags=re.IGNORECASE).rstrip("/#").casefold()


def _without_prefix(key: str) -> str | None:
    for prefix in PREFIXES:
        if key.startswith(prefix + " ") and len(key) > len(prefix) + 1:
            return key[len(prefix) + 1:]
    return None


class OrganizationEntry(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1)
    tooi: str | None = None
    uris: list[str] = Field(default_factory=list)
    aliases: list[str] = Field(default_factory=list)
    match_without_prefix: bool = False

    @field_validator("name")
    @classmethod
    def _name_has_letters(cls, name: str) -> str:
        if not normalise_name(name):
            raise ValueError("must contain letters or digits")
        return name.strip()

    @field_validator("tooi")
    @classmethod
    def _tooi_uri(cls, tooi: str | None) -> str | None:
        if tooi in (None, ""):
            return None
        if not _TOOI.match(tooi.strip()):
            raise ValueError(f"must be a TOOI URI like {TOOI_PREFIX}gemeente/gm0363, not {tooi!r} (leave it empty when unknown)")
        return tooi.strip()

    @field_validator("aliases", "uris")
    @classmethod
    def _texts(cls, values: list[str]) -> list[str]:
        for value in values:
            if not normalise_name(value):
                raise ValueError(f"{value!r} contains no letters or digits")
        return [v.strip() for v in values]


class _OrganizationsFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    organizations: list[OrganizationEntry]


@dataclass(frozen=True)
class Organization:
    name: str
    tooi: str | None


@dataclass(frozen=True)
class Directory:
    """The organisations file, indexed for matching."""

    path: Path
    organizations: tuple[Organization, ...]
    by_uri: dict[str, Organization]
    by_name: dict[str, Organization]

    def match(self, name: str | None, uri: str | None) -> Organization | None:
        """The organisation a record names: by its URI first, else by its name."""
        if uri:
            found = self.by_uri.get(normalise_uri(uri))
            if found is not None:
                return found
        if name:
            return self.by_name.get(normalise_name(name))
        return None


def load(path: str | os.PathLike | None = None) -> Directory:
    """Read and check an organisations file (default: :func:`organizations_file`)."""
    file = Path(path) if path else organizations_file()
    raw = read_yaml(file, "Organisations file", OrganizationsConfigError, " (set INVENTORY_ORGANIZATIONS or create it)")
    if not isinstance(raw, dict) or not isinstance(raw.get("organizations"), list):
        raise OrganizationsConfigError(f"Organisations file {file} must have a top-level 'organizations:' list.")
    entries = raw["organizations"]
    try:
        parsed = _OrganizationsFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(describe_error(e, entries, "organizations", "organisation", "name") for e in exc.errors())
        raise OrganizationsConfigError(f"Organisations file {file}: {problems}") from None

    by_uri: dict[str, Organization] = {}
    by_name: dict[str, Organization] = {}
    owner: dict[tuple[str, str], int] = {}  # (index, key) -> entry number, to name both sides of a clash
    bare: dict[str, set[int]] = {}
    organizations = []

    def claim(index: dict[str, Organization], kind: str, key: str, number: int, org: Organization, field: str, value: str) -> None:
        other = owner.get((kind, key))
        if other is not None and other != number:
            raise OrganizationsConfigError(
                f"Organisations file {file}: organisation #{number + 1} ({org.name!r}), field {field!r}: {value!r} "
                f"already identifies organisation #{other + 1} ({organizations[other].name!r}); a name or URI may "
                "belong to one organisation only")
        owner[(kind, key)] = number
        index[key] = org

    for number, entry in enumerate(parsed.organizations):
        org = Organization(entry.name, entry.tooi)
        organizations.append(org)
        for field, value in ([("tooi", entry.tooi)] if entry.tooi else []) + [("uris", u) for u in entry.uris]:
            claim(by_uri, "uri", normalise_uri(value), number, org, field, value)
        for field, value in [("name", entry.name)] + [("aliases", a) for a in entry.aliases]:
            key = normalise_name(value)
            claim(by_name, "name", key, number, org, field, value)
            stripped = _without_prefix(key) if entry.match_without_prefix else None
            if stripped:
                bare.setdefault(stripped, set()).add(number)
    for key, numbers in bare.items():
        # A bare name is only a curated convenience: it never overrides a written name or alias, and
        # one that two organisations share ("utrecht") is ambiguous, so it matches neither.
        if len(numbers) == 1 and ("name", key) not in owner:
            by_name[key] = organizations[next(iter(numbers))]
    return Directory(file, tuple(organizations), by_uri, by_name)


@lru_cache(maxsize=4)
def _cached(path: Path, mtime_ns: int) -> Directory:
    return load(path)


def directory(path: str | os.PathLike | None = None) -> Directory:
    """The organisations file, read once per process (again when it changes on disk)."""
    file = Path(path).resolve() if path else organizations_file()
    try:
        mtime = file.stat().st_mtime_ns
    except FileNotFoundError:
        mtime = 0
    return _cached(file, mtime)


# ------------------------------------------------------------------------------ the staging write


def _codes(column: pa.ChunkedArray | pa.Array) -> tuple[np.ndarray, list[Any]]:
    """Dictionary codes of a string column (nulls get the last code) and the distinct values + None."""
    if isinstance(column, pa.ChunkedArray):
        column = column.combine_chunks()
    encoded = pc.dictionary_encode(column)
    values = encoded.dictionary.to_pylist()
    codes = encoded.indices.fill_null(len(values)).to_numpy(zero_copy_only=False).astype(np.int64)
    return codes, values + [None]


class OrganizationMatcher:
    """Canonicalises the organisation columns of one source's staged tables and counts the unmatched."""

    def __init__(self, directory_: Directory | None = None):
        self.directory = directory_ or directory()
        self._memo: dict[tuple[str | None, str | None], Organization | None] = {}
        # (name, uri) as the source wrote them -> records that matched no organisation
        self.unmatched: Counter[tuple[str | None, str | None]] = Counter()
        self.matched_records = 0

    def _resolve(self, name: str | None, uri: str | None) -> Organization | None:
        key = (name, uri)
        if key not in self._memo:
            self._memo[key] = self.directory.match(name, uri)
        return self._memo[key]

    def canonicalise(self, table: pa.Table, record_table: str) -> pa.Table:
        """``table`` with canonical organisation columns and the source's spelling in ``*_original``."""
        columns = ORGANIZATION_COLUMNS.get(record_table)
        if columns is None or not table.num_rows:
            return table
        name_col, uri_col, name_original_col, uri_original_col = columns
        if name_col not in table.column_names:
            return table
        n = table.num_rows
        names = table.column(name_col)
        uris = table.column(uri_col) if uri_col in table.column_names else pa.nulls(n, pa.string())
        name_codes, name_values = _codes(names)
        uri_codes, uri_values = _codes(uris)
        # One code per distinct (name, URI) pair; each pair is resolved once.
        pairs, inverse, counts = np.unique(name_codes * len(uri_values) + uri_codes, return_inverse=True, return_counts=True)
        out_names: list[str | None] = []
        out_uris: list[str | None] = []
        for pair, count in zip(pairs.tolist(), counts.tolist()):
            name, uri = name_values[pair // len(uri_values)], uri_values[pair % len(uri_values)]
            org = self._resolve(name, uri)
            if org is None:
                if name is not None or uri is not None:
                    self.unmatched[(name, uri)] += count
                out_names.append(name)
                out_uris.append(uri)
            else:
                self.matched_records += count
                out_names.append(org.name)
                out_uris.append(org.tooi or uri)
        take = pa.array(inverse.reshape(-1))
        replaced = {
            name_col: pc.take(pa.array(out_names, pa.string()), take),
            uri_col: pc.take(pa.array(out_uris, pa.string()), take),
            name_original_col: names,
        }
        if uri_original_col:
            replaced[uri_original_col] = uris
        for column, values in replaced.items():
            if column in table.column_names:
                table = table.set_column(table.column_names.index(column), column, values)
            else:
                table = table.append_column(column, values)
        return table

    # -------------------------------------------------------------------------- the run report

    def unmatched_rows(self, source_id: str) -> list[dict[str, Any]]:
        """The unmatched names of this source, most records first."""
        return [{"source_id": source_id, "name": name, "uri": uri, "records": count}
                for (name, uri), count in sorted(self.unmatched.items(), key=lambda kv: (-kv[1], kv[0][0] or "", kv[0][1] or ""))]

    def summary(self, shown: int = 5) -> str | None:
        """One readable sentence for harvest_runs, or None when everything matched."""
        rows = self.unmatched_rows("")
        if not rows:
            return None
        listed = ", ".join(f"{r['name'] or r['uri']!r} ({r['records']:,} record{'s' if r['records'] != 1 else ''})" for r in rows[:shown])
        more = f" and {len(rows) - shown} more" if len(rows) > shown else ""
        return (f"{len(rows)} organisation name(s) not in {self.directory.path.name}: {listed}{more}; "
                f"a steward can add them (see reports/{REPORT_NAME})")


REPORT_NAME = "unmatched_organizations.csv"
REPORT_FIELDS = ("source_id", "name", "uri", "records")


def report_path() -> Path:
    return settings.reports_dir() / REPORT_NAME


def _source_report(source_id: str) -> Path:
    return settings.reports_dir() / "unmatched_organizations" / f"{source_id}.csv"


def _write_csv(path: Path, rows: list[dict[str, Any]]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    with tmp.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=REPORT_FIELDS)
        writer.writeheader()
        writer.writerows(rows)
    os.replace(tmp, path)


def write_report(source_id: str, rows: list[dict[str, Any]]) -> Path:
    """Record this source's unmatched names of its latest harvest and rewrite the combined report.

    Each source keeps its own file (``reports/unmatched_organizations/<source>.csv``); the combined
    ``reports/unmatched_organizations.csv`` is rebuilt from them under a file lock, because sources
    are harvested in parallel tasks.
    """
    _write_csv(_source_report(source_id), rows)
    combined = report_path()
    combined.parent.mkdir(parents=True, exist_ok=True)
    with open(combined.with_name(".unmatched_organizations.lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        everything: list[dict[str, Any]] = []
        for file in sorted(_source_report(source_id).parent.glob("*.csv")):
            with file.open(encoding="utf-8", newline="") as handle:
                everything.extend(csv.DictReader(handle))
        _write_csv(combined, everything)
    return combined


def read_report() -> list[dict[str, Any]]:
    """The combined report's rows (records as int); empty when there is none."""
    path = report_path()
    if not path.exists():
        return []
    with path.open(encoding="utf-8", newline="") as handle:
        return [{**row, "records": int(row["records"] or 0)} for row in csv.DictReader(handle)]
