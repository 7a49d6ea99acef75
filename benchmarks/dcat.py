"""Benchmark: DCAT harvesting, parse and map to canonical records, the project (pyoxigraph) vs rdflib.

    python benchmarks/dcat.py                         # 20,000 datasets, pages of 1,000
    python benchmarks/dcat.py --datasets 5000 --datasets 20000 --datasets 80000
    python benchmarks/dcat.py --page-size 5000 --json figures.json
    python benchmarks/dcat.py --datasets 5000 --repeat 3 --paired  # best of 3 runs per side, and paired runs

A DCAT-AP-NL 3.0 catalogue of N datasets is generated as Turtle, paged the way a DCAT endpoint
pages it (a ``hydra:PartialCollectionView`` with ``hydra:next`` and ``hydra:totalItems`` on every
page; 2 distributions, a contact point, a period of time and ~45 triples per dataset). Then, each in
its own fresh child process (``spawn``), so that peak RSS is its own:

* **project**: every page through ``inventory.sources.dcat`` exactly as the harvest loop calls it
  (``parse_page`` — decode, format detection, pyoxigraph parse, Hydra — then the page's ``columns()``
  mapping onto ``datasets`` and ``distributions``);
* **rdflib**: every page parsed into an ``rdflib.Graph`` and mapped onto the same columns with the
  usual ``Graph.value``/``Graph.objects`` calls (language preference, publisher name, contact
  e-mail, licence fallback to the distribution, temporal start/end, distributions).

Both see the same bytes; pages are generated inside each child, and only parse-and-map is timed.
Before timing, the first page's mapped rows of both are compared, so that both do the same work.
It prints datasets/s and triples/s of each, the ratio (target: the project ≥ 20× rdflib), and peak
RSS, which stays flat as N grows because pages are processed one at a time. With ``--repeat N`` both
sides are measured N times, alternating, and each keeps its best elapsed and best CPU time; with
``--paired`` a third child also runs both page by page in turn (see :func:`paired`). Nothing
here asserts a time (tests never do); figures go to the README by hand.
"""

from __future__ import annotations

import argparse
import gc
import json
import multiprocessing as mp
import random
import sys
import time
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterator

from child import in_child, peak_rss_mib

BASE = "https://data.example.nl"
CATALOGUE = f"{BASE}/catalogus"
PREFIXES = """@prefix dcat: <http://www.w3.org/ns/dcat#> .
@prefix dct: <http://purl.org/dc/terms/> .
@prefix foaf: <http://xmlns.com/foaf/0.1/> .
@prefix vcard: <http://www.w3.org/2006/vcard/ns#> .
@prefix xsd: <http://www.w3.org/2001/XMLSchema#> .
@prefix hydra: <http://www.w3.org/ns/hydra/core#> .
@prefix eu-theme: <http://publications.europa.eu/resource/authority/data-theme/> .
@prefix eu-file: <http://publications.europa.eu/resource/authority/file-type/> .
"""
PUBLISHERS = [
    ("https://identifier.overheid.nl/tooi/id/ministerie/mnre1130", "Ministerie van Infrastructuur en Waterstaat"),
    ("https://identifier.overheid.nl/tooi/id/gemeente/gm0363", "Gemeente Amsterdam"),
    ("https://identifier.overheid.nl/tooi/id/provincie/pv25", "Provincie Gelderland"),
    ("https://identifier.overheid.nl/tooi/id/waterschap/ws0662", "Waterschap Vallei en Veluwe"),
]
THEMES = ["ENVI", "TRAN", "REGI", "ECON", "GOVE", "HEAL", "SOCI", "EDUC"]
SUBJECTS = ["Waterstanden", "Verkeersintensiteiten", "Bodemkwaliteit", "Luchtkwaliteit", "Bouwvergunningen",
            "Grondwatermeetpunten", "Laadpalen", "Fietsnetwerk", "Peilgebieden", "Geluidskaarten"]
LICENCES = ["http://creativecommons.org/publicdomain/zero/1.0/deed.nl", "http://creativecommons.org/licenses/by/4.0/deed.nl"]
FREQUENCIES = ["ANNUAL", "MONTHLY", "DAILY", "IRREG", "QUARTERLY"]


def _dataset(i: int, rng: random.Random) -> str:
    uri = f"{BASE}/dataset/{i:08d}"
    publisher, name = PUBLISHERS[i % len(PUBLISHERS)]
    subject = SUBJECTS[i % len(SUBJECTS)]
    year = 2010 + i % 15
    theme = THEMES[rng.randrange(len(THEMES))]
    licence = LICENCES[i % 2]
    return f"""
<{uri}> a dcat:Dataset ;
    dct:identifier "{uri}" ;
    dct:title "{subject} {year} ({i})"@nl , "{subject} {year} ({i}), English title"@en ;
    dct:description "Metingen en kenmerken van {subject.lower()} in {year}, bijgehouden door {name}. Gegevens per object, met coördinaten."@nl ;
    dct:publisher <{publisher}> ;
    dcat:contactPoint [ a vcard:Organization ; vcard:fn "{name}, Servicedesk data" ; vcard:hasEmail <mailto:data{i % 97}@example.nl> ] ;
    dcat:theme eu-theme:{theme} ;
    dcat:keyword "{subject.lower()}"@nl , "open data"@nl , "meting {i % 50}"@nl ;
    dct:accessRights <http://publications.europa.eu/resource/authority/access-right/PUBLIC> ;
    dct:issued "{year}-0{1 + i % 9}-1{i % 10}"^^xsd:date ;
    dct:modified "2024-0{1 + i % 9}-1{i % 10}T10:{i % 60:02d}:00Z"^^xsd:dateTime ;
    dcat:landingPage <{uri}/info> ;
    dct:language <http://publications.europa.eu/resource/authority/language/NLD> ;
    dct:spatial <http://publications.europa.eu/resource/authority/country/NLD> ;
    dct:temporal [ a dct:PeriodOfTime ; dcat:startDate "{year}-01-01"^^xsd:date ; dcat:endDate "{year}-12-31"^^xsd:date ] ;
    dct:accrualPeriodicity <http://publications.europa.eu/resource/authority/frequency/{FREQUENCIES[i % len(FREQUENCIES)]}> ;
    dcat:distribution <{uri}/distributie/csv> , <{uri}/distributie/api> .
<{uri}/distributie/csv> a dcat:Distribution ;
    dct:title "{subject} {year} als CSV"@nl ;
    dcat:accessURL <{BASE}/download/{i:08d}.csv> ;
    dcat:downloadURL <{BASE}/download/{i:08d}.csv> ;
    dct:format eu-file:CSV ;
    dcat:mediaType <https://www.iana.org/assignments/media-types/text/csv> ;
    dcat:byteSize "{1000 + rng.randrange(10**7)}"^^xsd:nonNegativeInteger ;
    dct:license <{licence}> .
<{uri}/distributie/api> a dcat:Distribution ;
    dct:title "{subject} API"@nl ;
    dcat:accessURL <https://api.example.nl/v1/{i:08d}> ;
    dct:format eu-file:JSON ;
    dct:license <{licence}> .
"""


def pages(total: int, page_size: int) -> Iterator[tuple[str, bytes]]:
    """(url, Turtle body) of each page of the generated catalogue, built on demand."""
    rng = random.Random(20261128)
    count = (total + page_size - 1) // page_size
    for n in range(1, count + 1):
        url = f"{CATALOGUE}?page={n}"
        first, last = (n - 1) * page_size, min(total, n * page_size)
        parts = [PREFIXES, f"\n<{CATALOGUE}> a dcat:Catalog , hydra:Collection ;\n    dct:title \"Gegenereerde catalogus\"@nl ;\n"
                           f"    hydra:totalItems {total} ;\n    hydra:view <{url}> ;\n    dcat:dataset "]
        parts.append(" , ".join(f"<{BASE}/dataset/{i:08d}>" for i in range(first, last)) + " .\n")
        parts.append(f"<{url}> a hydra:PartialCollectionView ;\n    hydra:first <{CATALOGUE}?page=1> ;\n    hydra:last <{CATALOGUE}?page={count}>")
        parts.append(f" ;\n    hydra:next <{CATALOGUE}?page={n + 1}> .\n" if n < count else " .\n")
        parts.extend(_dataset(i, rng) for i in range(first, last))
        yield url, "".join(parts).encode("utf-8")


# ------------------------------------------------------------------------------- the project


def _project_page(url: str, body: bytes):
    from inventory.config import SourceConfig
    from inventory.landing import LandedPage, PageRequest
    from inventory.sources import dcat
    from inventory.sources.base import ParseContext

    source = SourceConfig(id="bench", kind="dcat", url=CATALOGUE)
    ctx = ParseContext("benchmark", datetime.now(timezone.utc))
    page = LandedPage("bench", 1, PageRequest("GET", url), url, 200, {"Content-Type": "text/turtle; charset=utf-8"}, body, "0" * 64, "")
    parsed = dcat.parse_page(source, page, ctx)
    columns = parsed.columns()
    return parsed, columns


def project(total: int, page_size: int, out: mp.Queue) -> None:
    import pyoxigraph

    datasets = distributions = triples = 0
    elapsed = cpu = 0.0
    _project_page(*next(pages(10, 10)))  # warm up untimed: imports, vocabularies
    for url, body in pages(total, page_size):
        t0, c0 = time.perf_counter(), time.process_time()
        parsed, columns = _project_page(url, body)
        elapsed += time.perf_counter() - t0
        cpu += time.process_time() - c0
        datasets += len(columns.record_ids)
        distributions += len(columns.parents["distributions"])
        del parsed, columns
        triples += sum(1 for _ in pyoxigraph.parse(body, pyoxigraph.RdfFormat.TURTLE))  # counted untimed
        del body
    out.put({"datasets": datasets, "distributions": distributions, "triples": triples, "seconds": elapsed,
             "cpu_seconds": cpu, "peak_rss_mib": peak_rss_mib()})


# ---------------------------------------------------------------------------------- rdflib


def rdflib_map(url: str, body: bytes) -> dict[str, list]:
    """Parse one page with rdflib and map it onto the canonical columns (the usual Graph API way)."""
    from rdflib import BNode, Graph, Literal, Namespace, URIRef
    from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF, SKOS

    import rdflib

    rdflib.NORMALIZE_LITERALS = False  # keep lexical forms ("…Z"), as the project does; also saves rdflib work
    VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
    HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")
    SCHEMA = Namespace("http://schema.org/")

    g = Graph()
    g.parse(data=body, format="turtle", publicID=url)

    def preferred(subject, predicate):
        best, best_rank = None, 9
        for value in g.objects(subject, predicate):
            if not isinstance(value, Literal) or not str(value).strip():
                continue
            lang = (value.language or "").lower()
            rank = 0 if lang.startswith("nl") else 1 if lang.startswith("en") else 2 if not lang else 3
            if rank < best_rank:
                best, best_rank = str(value).strip(), rank
        return best

    def first(subject, predicate):
        for value in g.objects(subject, predicate):
            if isinstance(value, (URIRef, Literal)):
                return str(value).strip() or None
        return None

    datasets: dict[str, list] = {k: [] for k in (
        "source_record_id", "identifier", "title", "description", "publisher", "publisher_uri", "contact_point", "theme",
        "keyword", "license", "access_rights", "issued", "modified", "landing_page", "language", "spatial",
        "temporal_start", "temporal_end", "frequency")}
    dists: dict[str, list] = {k: [] for k in ("source_record_id", "access_url", "download_url", "format", "media_type", "license",
                                              "byte_size", "title")}
    for ds in g.subjects(RDF.type, DCAT.Dataset):
        rid = str(ds) if not isinstance(ds, BNode) else preferred(ds, DCTERMS.identifier)
        publisher = g.value(ds, DCTERMS.publisher)
        contact = None
        for card in g.objects(ds, DCAT.contactPoint):
            email = g.value(card, VCARD.hasEmail)
            contact = str(email).removeprefix("mailto:") if email is not None else preferred(card, VCARD.fn)
            if contact:
                break
        start = end = None
        for period in g.objects(ds, DCTERMS.temporal):
            start = preferred(period, DCAT.startDate) or preferred(period, SCHEMA.startDate)
            end = preferred(period, DCAT.endDate) or preferred(period, SCHEMA.endDate)
        licence = first(ds, DCTERMS.license)
        for dist in g.objects(ds, DCAT.distribution):
            own = first(dist, DCTERMS.license)
            licence = licence or own
            size = g.value(dist, DCAT.byteSize)
            media = first(dist, DCAT.mediaType)
            dists["source_record_id"].append(rid)
            dists["access_url"].append(first(dist, DCAT.accessURL))
            dists["download_url"].append(first(dist, DCAT.downloadURL))
            dists["format"].append(first(dist, DCTERMS.format))
            dists["media_type"].append(media.replace("https://www.iana.org/assignments/media-types/", "") if media else None)
            dists["license"].append(own)
            dists["byte_size"].append(int(float(size)) if size is not None else None)
            dists["title"].append(preferred(dist, DCTERMS.title))
        datasets["source_record_id"].append(rid)
        datasets["identifier"].append(preferred(ds, DCTERMS.identifier) or rid)
        datasets["title"].append(preferred(ds, DCTERMS.title))
        datasets["description"].append(preferred(ds, DCTERMS.description))
        datasets["publisher"].append(
            (preferred(publisher, FOAF.name) or preferred(publisher, SKOS.prefLabel)) if publisher is not None else None)
        datasets["publisher_uri"].append(str(publisher) if isinstance(publisher, URIRef) else None)
        datasets["contact_point"].append(contact)
        datasets["theme"].append([str(t) for t in g.objects(ds, DCAT.theme)])
        datasets["keyword"].append([str(k) for k in g.objects(ds, DCAT.keyword)])
        datasets["license"].append(licence)
        datasets["access_rights"].append(first(ds, DCTERMS.accessRights))
        datasets["issued"].append(preferred(ds, DCTERMS.issued))
        datasets["modified"].append(preferred(ds, DCTERMS.modified))
        datasets["landing_page"].append(first(ds, DCAT.landingPage))
        datasets["language"].append([str(x) for x in g.objects(ds, DCTERMS.language)])
        datasets["spatial"].append(first(ds, DCTERMS.spatial))
        datasets["temporal_start"].append(start)
        datasets["temporal_end"].append(end)
        datasets["frequency"].append(first(ds, DCTERMS.accrualPeriodicity))
    view_next = [str(o) for o in g.objects(None, HYDRA.next)]
    total = g.value(None, HYDRA.totalItems)
    return {"datasets": datasets, "distributions": dists, "next": view_next, "total": int(total) if total is not None else None,
            "triples": len(g)}


def with_rdflib(total: int, page_size: int, out: mp.Queue) -> None:
    datasets = distributions = triples = 0
    elapsed = 0.0
    cpu = 0.0
    rdflib_map(*next(pages(10, 10)))  # warm up untimed: imports, parser plugins
    for url, body in pages(total, page_size):
        t0, c0 = time.perf_counter(), time.process_time()
        mapped = rdflib_map(url, body)
        elapsed += time.perf_counter() - t0
        cpu += time.process_time() - c0
        datasets += len(mapped["datasets"]["source_record_id"])
        distributions += len(mapped["distributions"]["source_record_id"])
        triples += mapped["triples"]
        del mapped, body
    out.put({"datasets": datasets, "distributions": distributions, "triples": triples, "seconds": elapsed,
             "cpu_seconds": cpu, "peak_rss_mib": peak_rss_mib()})


def paired(total: int, page_size: int, out: mp.Queue) -> None:
    """Both, page by page in one process, each page first by the project and then by rdflib.

    On a machine shared with other work, the load changes from one minute to the next; taking turns
    page by page exposes both sides to the same load, so their ratio is steadier than that of two
    separate runs (whose absolute figures and peak RSS the separate children give).
    """
    import pyoxigraph

    totals = {"project": [0.0, 0.0], "rdflib": [0.0, 0.0]}  # [elapsed, CPU]
    datasets = triples = 0
    _project_page(*next(pages(10, 10)))
    rdflib_map(*next(pages(10, 10)))
    for url, body in pages(total, page_size):
        for name in ("project", "rdflib"):
            t0, c0 = time.perf_counter(), time.process_time()
            result = _project_page(url, body) if name == "project" else rdflib_map(url, body)
            totals[name][0] += time.perf_counter() - t0
            totals[name][1] += time.process_time() - c0
            if name == "project":
                datasets += len(result[1].record_ids)
            del result
        triples += sum(1 for _ in pyoxigraph.parse(body, pyoxigraph.RdfFormat.TURTLE))
    out.put({"datasets": datasets, "triples": triples, "seconds": {k: v[0] for k, v in totals.items()},
             "cpu_seconds": {k: v[1] for k, v in totals.items()}})


# ------------------------------------------------------------------------------------ driver


def same_work(page_size: int) -> None:
    """Both map the first page to the same values (sorted, as the two orders differ)."""
    url, body = next(pages(page_size, page_size))
    _, columns = _project_page(url, body)
    theirs = rdflib_map(url, body)
    ours = columns.tables["datasets"]
    for name, values in theirs["datasets"].items():
        mine = ours[name]
        key = (lambda v: json.dumps(v, sort_keys=True))
        if sorted(map(key, mine)) != sorted(map(key, values)):
            raise SystemExit(f"the two mappings differ in datasets.{name}: {mine[:2]} vs {values[:2]}")
    dist_ours = columns.tables["distributions"]
    for name in ("access_url", "download_url", "format", "media_type", "byte_size", "title"):
        if sorted(map(str, dist_ours[name])) != sorted(map(str, theirs["distributions"][name])):
            raise SystemExit(f"the two mappings differ in distributions.{name}")


def _best(runs: list[dict] | None) -> dict:
    """One side's figures over its repeated runs: the least elapsed and the least CPU time, the most RSS."""
    if not runs:
        return {}
    best = dict(runs[0])
    best["seconds"] = min(r["seconds"] for r in runs)
    best["cpu_seconds"] = min(r["cpu_seconds"] for r in runs)
    best["peak_rss_mib"] = max(r["peak_rss_mib"] for r in runs)
    best["runs"] = len(runs)
    return best


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--datasets", type=int, action="append", help="catalogue size (repeatable); default 20000")
    parser.add_argument("--page-size", type=int, default=1000, help="datasets per Hydra page (default 1000)")
    parser.add_argument("--json", type=Path, help="also write the figures as JSON here")
    parser.add_argument("--repeat", type=int, default=1,
                        help="measure each side this many times, alternating, and keep each side's best elapsed and "
                             "best CPU time (on a shared machine the least disturbed run is the closest to the real cost)")
    parser.add_argument("--paired", action="store_true",
                        help="also measure both in one process, page by page in turn (a steadier ratio on a busy machine)")
    args = parser.parse_args()
    sizes = args.datasets or [20_000]
    same_work(min(args.page_size, 200))
    gc.collect()
    results = []
    print(f"{'datasets':>9} {'':>8} {'datasets/s':>11} {'triples/s':>11} {'wall s':>7} {'CPU s':>7} {'CPU ds/s':>9} {'peak RSS':>9}")
    for n in sizes:
        runs: dict[str, list[dict]] = {"project": [], "rdflib": []}
        pairs: list[dict] = []
        for _ in range(max(1, args.repeat)):
            runs["project"].append(in_child(project, n, args.page_size))
            runs["rdflib"].append(in_child(with_rdflib, n, args.page_size))
            if args.paired:
                pairs.append(in_child(paired, n, args.page_size))
        ours, theirs = _best(runs["project"]), _best(runs["rdflib"])
        for name, r in (("project", ours), ("rdflib", theirs)):
            print(f"{n:>9,} {name:>8} {r['datasets'] / r['seconds']:>11,.0f} {r['triples'] / r['seconds']:>11,.0f} "
                  f"{r['seconds']:>7.2f} {r['cpu_seconds']:>7.2f} {r['datasets'] / r['cpu_seconds']:>9,.0f} "
                  f"{r['peak_rss_mib']:>5.0f} MiB", flush=True)
        ratio = (ours["datasets"] / ours["seconds"]) / (theirs["datasets"] / theirs["seconds"])
        cpu_ratio = theirs["cpu_seconds"] / ours["cpu_seconds"] * ours["datasets"] / max(theirs["datasets"], 1)
        verdict = "meets" if min(ratio, cpu_ratio) >= 20 else "misses"
        print(f"{'':>9} {'ratio':>8} {ratio:>10.1f}x wall, {cpu_ratio:.1f}x CPU  ({verdict} the target of 20x rdflib; "
              f"{ours['triples'] // max(ours['datasets'], 1)} triples per dataset)", flush=True)
        for i, pair in enumerate(pairs, 1):
            wall = pair["seconds"]["rdflib"] / pair["seconds"]["project"]
            cpu = pair["cpu_seconds"]["rdflib"] / pair["cpu_seconds"]["project"]
            print(f"{'':>9} {'paired':>8} {wall:>10.1f}x wall, {cpu:.1f}x CPU  (run {i}: both in one process, page by "
                  f"page; project {pair['datasets'] / pair['cpu_seconds']['project']:,.0f} CPU ds/s, rdflib "
                  f"{pair['datasets'] / pair['cpu_seconds']['rdflib']:,.0f})", flush=True)
        if ours["datasets"] != n or theirs["datasets"] != n:
            print(f"  warning: the project mapped {ours['datasets']:,} and rdflib {theirs['datasets']:,} of {n:,} datasets")
        results.append({"datasets": n, "page_size": args.page_size, "project": ours, "rdflib": theirs, "ratio": ratio,
                        "cpu_ratio": cpu_ratio, "paired": pairs})
    if args.json:
        args.json.write_text(json.dumps(results, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
