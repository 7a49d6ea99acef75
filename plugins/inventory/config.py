"""The sources configuration: who to harvest, where, and how (``config/sources.yaml``).

Each entry: ``id``, ``kind``, ``url``, ``publisher`` (optional), ``conn_id`` (optional Airflow
connection holding credentials), ``allow_private_network`` (optional, for local sample agencies),
``enabled`` (optional) and ``options`` (kind-specific). A malformed file raises one
:class:`SourcesConfigError` whose message names the file, the entry and the field, so that the
Airflow UI shows that sentence as the DAG's import error instead of a traceback.
"""

from __future__ import annotations

import os
import re
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from . import settings


class SourcesConfigError(ValueError):
    """The sources file cannot be used; the message says where and why, in plain words."""


class SourceConfig(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]{1,62}$")
    kind: str
    url: str
    publisher: str | None = None
    conn_id: str | None = None
    enabled: bool = True
    allow_private_network: bool = False
    options: dict[str, Any] = Field(default_factory=dict)

    @field_validator("kind")
    @classmethod
    def _known_kind(cls, kind: str) -> str:
        from .sources import KINDS  # late: the registry imports source modules

        if kind not in KINDS:
            raise ValueError(f"unknown kind {kind!r}; known kinds: {', '.join(sorted(KINDS))}")
        return kind

    @field_validator("options")
    @classmethod
    def _removal_share(cls, options: dict[str, Any]) -> dict[str, Any]:
        # Checked here, not at publish time, so a typo stops nothing but this file's load.
        if options.get("max_removed_share") is not None:
            from .settings import parse_share

            parse_share(options["max_removed_share"], "max_removed_share")
        return options

    @field_validator("url")
    @classmethod
    def _http_url(cls, url: str) -> str:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError(f"must be an http:// or https:// URL, not {url!r}")
        return url

    def option(self, name: str, default: Any = None) -> Any:
        return self.options.get(name, default)


def describe_error(error: dict, entries: list, list_key: str = "sources", noun: str = "source", ident_key: str = "id") -> str:
    """One pydantic error of a YAML list of entries as "<noun> #N ('<ident>'), field 'f': what is wrong"."""
    loc = list(error["loc"])
    where = "the file"
    if loc and loc[0] == list_key and len(loc) > 1 and isinstance(loc[1], int):
        index = loc[1]
        entry = entries[index] if index < len(entries) else None
        ident = entry.get(ident_key) if isinstance(entry, dict) else None
        where = f"{noun} #{index + 1}" + (f" ({ident!r})" if ident else "")
        loc = loc[2:]
    field = ".".join(str(p) for p in loc) or "(entry)"
    message = error["msg"]
    if error["type"] == "missing":
        message = "is required but missing"
    elif error["type"] == "extra_forbidden":
        message = "is not a known field (check the spelling)"
    elif error["type"] == "string_pattern_mismatch":
        message = "must be lower-case letters, digits, '-' or '_' (2 to 63 characters)"
    return f"{where}, field {field!r}: {message}"


class _SourcesFile(BaseModel):
    model_config = ConfigDict(extra="forbid")
    sources: list[SourceConfig]


_ENV_REF = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)(?::-([^}]*))?\}")


def _expand_env(value: Any, file: Path) -> Any:
    """Expand ``${NAME}`` and ``${NAME:-default}`` in string values (e.g. where the sample agencies run).

    Secrets do not belong here: credentials come from Airflow connections (``conn_id``).
    """
    if isinstance(value, dict):
        return {k: _expand_env(v, file) for k, v in value.items()}
    if isinstance(value, list):
        return [_expand_env(v, file) for v in value]
    if not isinstance(value, str):
        return value

    def substitute(match: re.Match) -> str:
        name, default = match.group(1), match.group(2)
        if name in os.environ:
            return os.environ[name]
        if default is not None:
            return default
        raise SourcesConfigError(f"Sources file {file}: environment variable {name} is used in the file but not set.")

    return _ENV_REF.sub(substitute, value)


def read_yaml(file: Path, what: str, error: type[Exception], hint: str = "") -> Any:
    """A YAML file's content, or ``error`` saying in one sentence which file and where it broke."""
    try:
        return yaml.safe_load(file.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise error(f"{what} {file} does not exist{hint}.") from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        at = f" at line {mark.line + 1}, column {mark.column + 1}" if mark else ""
        raise error(f"{what} {file} is not valid YAML{at}: {getattr(exc, 'problem', exc)}") from None


def load_sources(path: str | os.PathLike | None = None, *, include_disabled: bool = False) -> list[SourceConfig]:
    """Read and check the sources file (``$INVENTORY_SOURCES`` or ``config/sources.yaml``)."""
    file = Path(path) if path else settings.sources_file()
    raw = read_yaml(file, "Sources file", SourcesConfigError, " (set INVENTORY_SOURCES or create it)")
    if not isinstance(raw, dict) or not isinstance(raw.get("sources"), list):
        raise SourcesConfigError(f"Sources file {file} must have a top-level 'sources:' list.")
    raw = _expand_env(raw, file)
    entries = raw["sources"]
    try:
        parsed = _SourcesFile.model_validate(raw)
    except ValidationError as exc:
        problems = "; ".join(describe_error(e, entries) for e in exc.errors())
        raise SourcesConfigError(f"Sources file {file}: {problems}") from None
    seen: set[str] = set()
    for source in parsed.sources:
        if source.id in seen:
            raise SourcesConfigError(f"Sources file {file}: source id {source.id!r} is listed twice; ids must be unique.")
        seen.add(source.id)
    return [s for s in parsed.sources if include_disabled or s.enabled]


def sources_of_kinds(kinds: set[str] | frozenset[str], path: str | os.PathLike | None = None) -> list[SourceConfig]:
    return [s for s in load_sources(path) if s.kind in kinds]


def get_source(source_id: str, path: str | os.PathLike | None = None) -> SourceConfig:
    for source in load_sources(path, include_disabled=True):
        if source.id == source_id:
            return source
    known = ", ".join(s.id for s in load_sources(path, include_disabled=True))
    raise SourcesConfigError(f"No source with id {source_id!r} in {Path(path) if path else settings.sources_file()}; known: {known}")
