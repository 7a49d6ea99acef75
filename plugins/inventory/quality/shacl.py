"""DCAT-AP-NL 3.0 conformance of every dataset's description, with pyshacl (the MQA compliance metric).

Each dataset is described as the consolidated catalogue describes it
(``inventory.publish.catalog.dataset_ntriples``: the dataset and its distributions) and validated
against the shapes the project maintains in ``config/shapes/*.ttl``. A dataset conforms when no shape
reports a ``sh:Violation`` (warnings, the value-list rules, are counted but do not fail it). Results
go to ``shacl_results`` with the number of violations and their messages, which the scorecards show.

Bounded like the link checks: datasets never checked or checked more than ``ttl_hours`` ago are
taken oldest first, at most ``max_datasets`` per run and no new batch after ``budget_s`` seconds. A
dataset whose description did not change since its last check (same SHA-256 of its N-Triples) keeps
its result without running pyshacl again, so a re-run of an unchanged inventory costs one
serialisation per dataset. Datasets are validated ``batch`` at a time in one graph (pyshacl's cost
is mostly per run, not per node).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import time
from dataclasses import dataclass, field
from datetime import datetime, timedelta, timezone
from functools import lru_cache
from pathlib import Path
from typing import Any, Sequence

from .. import model, settings
from ..publish.store import Store, q
from . import score as mqa

log = logging.getLogger("inventory.quality.shacl")

MESSAGE_CHARS = 2000
SH = "http://www.w3.org/ns/shacl#"
DCAT_DISTRIBUTION = "http://www.w3.org/ns/dcat#distribution"


@dataclass(frozen=True)
class ShaclSettings:
    enabled: bool = True
    ttl_hours: float = 24.0
    budget_s: float = 300.0
    max_datasets: int = 100_000
    batch: int = 200

    @classmethod
    def from_env(cls) -> "ShaclSettings":
        """``INVENTORY_SHACL`` (``off`` disables), ``INVENTORY_SHACL_TTL_HOURS``, ``INVENTORY_SHACL_BUDGET_S``,
        ``INVENTORY_SHACL_MAX_DATASETS``."""
        env = os.environ
        return cls(
            enabled=(env.get("INVENTORY_SHACL") or "on").strip().lower() not in ("off", "false", "0", "no"),
            ttl_hours=float(env.get("INVENTORY_SHACL_TTL_HOURS") or cls.ttl_hours),
            budget_s=float(env.get("INVENTORY_SHACL_BUDGET_S") or cls.budget_s),
            max_datasets=int(env.get("INVENTORY_SHACL_MAX_DATASETS") or cls.max_datasets),
        )


def shapes_dir() -> Path:
    return settings.config_dir() / "shapes"


@lru_cache(maxsize=4)
def shapes_graph(paths: tuple[Path, ...] | None = None):
    """The shapes as one rdflib graph (the project's ``config/shapes/*.ttl`` unless ``paths`` given)."""
    import rdflib

    graph = rdflib.Graph()
    for path in paths or tuple(sorted(shapes_dir().glob("*.ttl"))):
        graph.parse(str(path), format="turtle")
    if len(graph) == 0:
        raise FileNotFoundError(f"no SHACL shapes in {shapes_dir()}")
    return graph


@dataclass
class Conformance:
    conforms: bool = True
    violations: int = 0
    warnings: int = 0
    violation_messages: list[str] = field(default_factory=list)
    warning_messages: list[str] = field(default_factory=list)

    @property
    def messages(self) -> list[str]:
        """Each distinct message once, violations first."""
        return self.violation_messages + [f"(warning) {m}" for m in self.warning_messages]


def validate(descriptions: dict[str, str], shapes=None) -> dict[str, Conformance]:
    """Validate dataset descriptions (``{dataset URI: N-Triples}``) in one pyshacl run; per dataset URI
    its conformance. A result on a distribution or a node inside the description counts for its dataset."""
    import pyshacl
    import rdflib

    data = rdflib.Graph()
    data.parse(data="\n".join(descriptions.values()), format="nt")
    _, report, _ = pyshacl.validate(data, shacl_graph=shapes if shapes is not None else shapes_graph(),
                                    inference="none", allow_warnings=True, advanced=False)
    owner: dict[Any, str] = {}
    for uri in descriptions:
        node = rdflib.URIRef(uri)
        owner[node] = uri
        for dist in data.objects(node, rdflib.URIRef(DCAT_DISTRIBUTION)):
            owner[dist] = uri

    def dataset_of(focus) -> str | None:
        seen = set()
        while focus is not None and focus not in owner and focus not in seen:
            seen.add(focus)
            focus = next(iter(data.subjects(None, focus)), None)  # up to the node that refers to it
        return owner.get(focus) if focus is not None else None

    out = {uri: Conformance() for uri in descriptions}
    sh = rdflib.Namespace(SH)
    for result in report.subjects(rdflib.RDF.type, sh.ValidationResult):
        uri = dataset_of(report.value(result, sh.focusNode))
        if uri is None:
            continue
        entry = out[uri]
        severity = report.value(result, sh.resultSeverity)
        message = str(report.value(result, sh.resultMessage) or report.value(result, sh.resultPath) or "")
        if severity == sh.Violation:
            entry.conforms = False
            entry.violations += 1
            seen = entry.violation_messages
        else:
            entry.warnings += 1
            seen = entry.warning_messages
        if message not in seen:
            seen.append(message)
    return out


def _serialiser():
    """The consolidated catalogue's description of one dataset (owned by ``inventory.publish.catalog``)."""
    from ..publish import catalog

    config = catalog.CatalogSettings.from_env()

    def describe(row: dict[str, Any], distributions: Sequence[dict[str, Any]]) -> tuple[str, str]:
        return config.dataset_uri(row["dataset_uid"]), catalog.dataset_ntriples(row, distributions, config)

    return describe


_BLANK = re.compile(r"_:[A-Za-z0-9]+")


def content_hash(ntriples: str) -> str:
    """SHA-256 of a description with its blank nodes renamed in order of appearance, so that the same
    description hashes the same whatever labels the serialiser's counter gave its blank nodes."""
    names: dict[str, str] = {}
    stable = _BLANK.sub(lambda m: names.setdefault(m.group(0), f"_:n{len(names)}"), ntriples)
    return hashlib.sha256(stable.encode("utf-8")).hexdigest()


def due_datasets(st: Store, config: ShaclSettings, now: datetime) -> list[tuple[str, str | None]]:
    """(dataset_uid, stored content hash) of the datasets to check now, never or longest ago checked first."""
    cutoff = now - timedelta(hours=config.ttl_hours)
    return [(r[0], r[1]) for r in st.fetchall(
        "SELECT d.dataset_uid, s.content_hash FROM datasets d LEFT JOIN shacl_results s ON s.dataset_uid = d.dataset_uid "
        "WHERE s.dataset_uid IS NULL OR s.checked_at < ? ORDER BY s.checked_at NULLS FIRST, d.dataset_uid LIMIT ?",
        [cutoff, config.max_datasets])]


def _records(st: Store, uids: list[str]) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    marks = ", ".join("?" for _ in uids)
    ds_names, dist_names = model.DATASETS.names, model.DISTRIBUTIONS.names
    datasets = [dict(zip(ds_names, r)) for r in st.fetchall(
        f"SELECT {', '.join(q(n) for n in ds_names)} FROM datasets WHERE dataset_uid IN ({marks})", uids)]
    by_dataset: dict[str, list[dict[str, Any]]] = {}
    for r in st.fetchall(f"SELECT {', '.join(q(n) for n in dist_names)} FROM distributions "
                         f"WHERE dataset_uid IN ({marks}) ORDER BY distribution_uid", uids):
        row = dict(zip(dist_names, r))
        by_dataset.setdefault(row["dataset_uid"], []).append(row)
    return [(d, by_dataset.get(d["dataset_uid"], [])) for d in datasets]


def _store(st: Store, rows: list[tuple]) -> None:
    names = ["dataset_uid", "conforms", "violations", "messages", "checked_at", "content_hash"]
    st.begin()
    try:
        for start in range(0, len(rows), 500):
            chunk = rows[start:start + 500]
            st.execute(f"DELETE FROM shacl_results WHERE dataset_uid IN ({', '.join('?' for _ in chunk)})",
                       [r[0] for r in chunk])
            st.execute(f"INSERT INTO shacl_results ({', '.join(names)}) VALUES "
                       + ", ".join("(" + ", ".join("?" for _ in names) + ")" for _ in chunk),
                       [v for r in chunk for v in r])
        st.commit()
    except BaseException:
        st.rollback()
        raise


def check_conformance(st: Store, config: ShaclSettings | None = None) -> dict[str, Any]:
    """Validate the datasets that are due; returns counts (safe for XCom)."""
    config = config or ShaclSettings.from_env()
    mqa.ensure_tables(st)
    if not config.enabled:
        return {"enabled": False, "due": 0, "checked": 0, "validated": 0, "conforming": 0}
    now = datetime.now(timezone.utc)
    due = due_datasets(st, config, now)
    describe = _serialiser()
    shapes = shapes_graph()
    deadline = time.monotonic() + config.budget_s
    checked = validated = conforming = 0
    for start in range(0, len(due), config.batch):
        if time.monotonic() >= deadline:
            break
        chunk = due[start:start + config.batch]
        stored_hash = dict(chunk)
        descriptions: dict[str, str] = {}
        uid_of: dict[str, str] = {}
        unchanged: list[str] = []
        for row, distributions in _records(st, [uid for uid, _ in chunk]):
            uri, text = describe(row, distributions)
            digest = content_hash(text)
            if digest == stored_hash.get(row["dataset_uid"]):
                unchanged.append(row["dataset_uid"])
                continue
            descriptions[uri] = text
            uid_of[uri] = row["dataset_uid"]
        results = validate(descriptions, shapes) if descriptions else {}
        checked_at = datetime.now(timezone.utc)
        rows = []
        for uri, result in results.items():
            text = "\n".join(result.messages)[:MESSAGE_CHARS] or None
            rows.append((uid_of[uri], result.conforms, result.violations, text, checked_at,
                         content_hash(descriptions[uri])))
            conforming += result.conforms
        _store(st, rows)
        if unchanged:  # same description as last time: the result stands, only the time moves on
            st.execute(f"UPDATE shacl_results SET checked_at = ? WHERE dataset_uid IN ({', '.join('?' for _ in unchanged)})",
                       [checked_at, *unchanged])
        checked += len(chunk)
        validated += len(results)
    summary = {"enabled": True, "due": len(due), "checked": checked, "validated": validated,
               "conforming": conforming, "left_for_next_run": len(due) - checked}
    log.info("SHACL conformance: %s", summary)
    return summary
