"""The crosswalk of foreign AI registers onto the Algoritmeregister publication standard 1.0.

The mappings are data, reviewed by a data steward: ``config/crosswalk/foreign_ai_registers.yaml``
(its comments say why each foreign value maps where it does). This module only reads that file and
looks values up in it:

    crosswalk.map_value("atrs", "status", "beta-pilot")                  -> "In gebruik"
    crosswalk.map_value("omb-ai-inventory", "publication_category", "Rights-Impacting\\n")
                                                                         -> "Impactvolle algoritmes"
    crosswalk.map_value("atrs", "status", "private-beta")                -> None (unmapped)

A value the file does not list is never guessed: the lookup answers ``None``, the caller leaves the
canonical field empty and keeps the original (``original_status`` / ``original_category``), a
warning is logged once per value (a harvest-time warning, not a quarantine: the record is fine, the
crosswalk is incomplete), and :func:`unmapped` lists every such value seen in this process, with how
often, so that a steward can add it. Matching ignores case, white space, a trailing full stop, the
kind of dash and a leading enumerator (``"a) "``); a "label – explanation" value falls back to its
label (see the file's header).
"""

from __future__ import annotations

import logging
import os
import re
import threading
import unicodedata
from collections import Counter
from dataclasses import dataclass
from functools import lru_cache
from pathlib import Path
from typing import Any

from . import settings
from .config import read_yaml

log = logging.getLogger(__name__)

FIELDS = ("status", "publication_category", "impact_assessment")

# The publication standard 1.0's value lists: a crosswalk target outside them is a mistake in the file.
STANDARD_VALUES = {
    "status": frozenset({"In ontwikkeling", "In gebruik", "Buiten gebruik"}),
    "publication_category": frozenset({"Hoog-risico AI-systeem", "Impactvolle algoritmes", "Overige algoritmes"}),
}

_DASHES = re.compile(r"[\u2010\u2011\u2012\u2013\u2014\u2015\u2212]")
_ENUMERATOR = re.compile(r"^(?:[a-z]\)\s*)+")
_SPACE = re.compile(r"\s+")


class CrosswalkError(ValueError):
    """The crosswalk file cannot be used; the message names the file, register and value."""


def crosswalk_file() -> Path:
    """``$INVENTORY_CROSSWALK`` when set, else ``config/crosswalk/foreign_ai_registers.yaml``."""
    return Path(os.environ.get("INVENTORY_CROSSWALK") or settings.config_dir() / "crosswalk" / "foreign_ai_registers.yaml").resolve()


def normalise(value: str) -> str:
    """The lookup key of a controlled value: case, spacing, dashes and enumerators do not matter."""
    key = unicodedata.normalize("NFKC", value)
    key = _DASHES.sub("-", key)
    key = _SPACE.sub(" ", key).strip().casefold()
    key = _ENUMERATOR.sub("", key).strip()
    return key[:-1].rstrip() if key.endswith(".") else key


@dataclass(frozen=True)
class Crosswalk:
    path: Path
    tables: dict[tuple[str, str], dict[str, str]]  # (register, field) -> normalised value -> target

    def registers(self) -> set[str]:
        return {register for register, _ in self.tables}

    def lookup(self, register: str, field: str, value: str) -> str | None:
        table = self.tables.get((register, field))
        if not table:
            return None
        key = normalise(value)
        if key in table:
            return table[key]
        label = key.split(" - ", 1)[0].strip()  # "Pilot - the use case has been deployed ..." -> "pilot"
        return table.get(label) if label != key else None


def load(path: str | os.PathLike | None = None) -> Crosswalk:
    """Read and check a crosswalk file (default: :func:`crosswalk_file`)."""
    file = Path(path) if path else crosswalk_file()
    raw = read_yaml(file, "Crosswalk file", CrosswalkError)
    registers = raw.get("registers") if isinstance(raw, dict) else None
    if not isinstance(registers, dict):
        raise CrosswalkError(f"Crosswalk file {file} must have a top-level 'registers:' mapping.")
    tables: dict[tuple[str, str], dict[str, str]] = {}
    for register, spec in registers.items():
        if not isinstance(spec, dict):
            raise CrosswalkError(f"Crosswalk file {file}, register {register!r}: must be a mapping of fields.")
        for field, mapping in spec.items():
            if field == "name":
                continue
            if field not in FIELDS:
                raise CrosswalkError(f"Crosswalk file {file}, register {register!r}: unknown field {field!r} (known: {', '.join(FIELDS)}).")
            if not isinstance(mapping, dict):
                raise CrosswalkError(f"Crosswalk file {file}, register {register!r}, field {field!r}: must map source values to targets.")
            table: dict[str, str] = {}
            for source_value, target in mapping.items():
                where = f"Crosswalk file {file}, register {register!r}, field {field!r}, value {source_value!r}"
                if not isinstance(source_value, str) or not isinstance(target, str) or not target.strip():
                    raise CrosswalkError(f"{where}: source value and target must both be text (quote values like yes/no).")
                allowed = STANDARD_VALUES.get(field)
                if allowed is not None and target not in allowed:
                    raise CrosswalkError(f"{where}: target {target!r} is not a value of the publication standard 1.0 ({', '.join(sorted(allowed))}).")
                key = normalise(source_value)
                if key in table and table[key] != target:
                    raise CrosswalkError(f"{where}: the same value (ignoring case and spacing) is already mapped to {table[key]!r}.")
                table[key] = target.strip()
            tables[(str(register), field)] = table
    return Crosswalk(file, tables)


@lru_cache(maxsize=4)
def _cached(path: str, mtime_ns: int) -> Crosswalk:
    return load(path)


def current() -> Crosswalk:
    """The crosswalk file as it is now (re-read when it changes)."""
    file = crosswalk_file()
    try:
        mtime = file.stat().st_mtime_ns
    except FileNotFoundError:
        raise CrosswalkError(f"Crosswalk file {file} does not exist.") from None
    return _cached(str(file), mtime)


# --------------------------------------------------------------------------------- unmapped values

_lock = threading.Lock()
_unmapped: Counter[tuple[str, str, str]] = Counter()


def _report_unmapped(register: str, field: str, value: str, source_id: str | None) -> None:
    with _lock:
        first = (register, field, value) not in _unmapped
        _unmapped[(register, field, value)] += 1
    if first:
        outcome = (
            "it is kept under its own name" if field == "impact_assessment"
            else f"the canonical {field} is left empty and the original is kept"
        )
        log.warning(
            "crosswalk: %s value %r of register %s%s is not in %s; %s (add it to the crosswalk to map it)",
            field, value, register, f" (source {source_id})" if source_id else "", crosswalk_file().name, outcome,
        )


def unmapped() -> list[dict[str, Any]]:
    """Every value seen in this process that the crosswalk does not map, most frequent first."""
    with _lock:
        items = sorted(_unmapped.items(), key=lambda kv: (-kv[1], kv[0]))
    return [{"register": r, "field": f, "value": v, "count": n} for (r, f, v), n in items]


def reset_unmapped() -> None:
    with _lock:
        _unmapped.clear()


def map_value(register: str, field: str, value: Any, *, source_id: str | None = None) -> str | None:
    """The publication standard 1.0 value for a register's ``value``, or None (reported) when unmapped.

    An empty value maps to None without being reported: there is nothing to map.
    """
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return None
    mapped = current().lookup(register, field, text)
    if mapped is None:
        _report_unmapped(register, field, text, source_id)
    return mapped


def map_assessment(register: str, title: str, *, source_id: str | None = None) -> str:
    """An impact assessment's title for ``impact_assessments``: the standard's title where the crosswalk
    has one, else the title as the register wrote it (the standard's list is open), reported."""
    return map_value(register, "impact_assessment", title, source_id=source_id) or title.strip()
