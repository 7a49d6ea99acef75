"""Synthetic CKAN packages for the benchmark: package ``i`` is a pure function of ``i``.

Shaped and sized like data.overheid.nl's DCAT-AP-DONL 1.1 packages (2-4 resources, a notes text of
a few hundred characters, tags, themes, licence and frequency URIs; 3.6-5.1 KB of JSON, 4.2 KB on
average), but nothing is held in memory per package: 24 JSON templates (organisation x resource
count) are serialised once and compiled into functions that join their fixed pieces with the
package's 18 slot values (id, name, title, dates, resource ids, sizes), all cheap string operations
on lookup tables. ASCII JSON with ``\\u`` escapes, as CKAN itself serialises.

Order: ids, names and ``metadata_modified`` all increase with ``i`` (``metadata_modified`` is
``BASE_MODIFIED + i * STEP_SECONDS``), so ``id asc``, ``name asc`` and ``metadata_modified asc``
are index order, ``… desc`` the reverse, and a ``metadata_modified`` range is an index range.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Iterable

BASE_MODIFIED = datetime(2018, 1, 1, 0, 0, 0)
BASE_CREATED = datetime(2016, 6, 1, 0, 0, 0)
STEP_SECONDS = 30

OWMS = "http://standaarden.overheid.nl/owms/terms/"
TOOI = "https://identifier.overheid.nl/tooi/id/"
EU = "http://publications.europa.eu/resource/authority/"

# (slug, title, authority URI, web domain, contact, themes, tag words, resource format sets)
_ORGS = [
    ("centraal-bureau-voor-de-statistiek", "Centraal Bureau voor de Statistiek", OWMS + "Centraal_Bureau_voor_de_Statistiek",
     "www.cbs.nl", "infoservice@cbs.nl", ["Bestuur", "Economie"], ["statistiek", "kerncijfers", "regionaal"]),
    ("rijksinstituut-voor-volksgezondheid-en-milieu", "Rijksinstituut voor Volksgezondheid en Milieu",
     OWMS + "Rijksinstituut_voor_Volksgezondheid_en_Milieu", "www.rivm.nl", "opendata@rivm.nl",
     ["Natuur_en_milieu", "Zorg_en_gezondheid"], ["milieu", "gezondheid", "meetnet"]),
    ("rijkswaterstaat", "Rijkswaterstaat", OWMS + "Rijkswaterstaat", "www.rijkswaterstaat.nl", "servicedesk-data@rws.nl",
     ["Verkeer_(thema)", "Ruimte_en_infrastructuur"], ["water", "wegen", "vaarwegen"]),
    ("kadaster", "Kadaster", OWMS + "Kadaster", "www.kadaster.nl", "klantcontact@kadaster.nl",
     ["Ruimte_en_infrastructuur"], ["basisregistratie", "topografie", "percelen"]),
    ("gemeente-amsterdam", "Gemeente Amsterdam", TOOI + "gemeente/gm0363", "data.amsterdam.nl", "opendata@amsterdam.nl",
     ["Bestuur", "Ruimte_en_infrastructuur"], ["stadsdeel", "openbare ruimte", "kaart"]),
    ("gemeente-rotterdam", "Gemeente Rotterdam", TOOI + "gemeente/gm0599", "www.rotterdam.nl", "opendata@rotterdam.nl",
     ["Verkeer_(thema)", "Economie"], ["haven", "mobiliteit", "wijken"]),
    ("provincie-gelderland", "Provincie Gelderland", TOOI + "provincie/pv25", "www.gelderland.nl", "data@gelderland.nl",
     ["Natuur_en_milieu", "Verkeer_(thema)"], ["provincie", "natuur", "verkeer"]),
    ("waterschap-vallei-en-veluwe", "Waterschap Vallei en Veluwe", TOOI + "waterschap/ws0662", "www.vallei-veluwe.nl",
     "geo-informatie@vallei-veluwe.nl", ["Natuur_en_milieu"], ["waterschap", "peil", "dijken"]),
]
_FORMATS = [
    (EU + "file-type/CSV", "text/csv", "csv"),
    (EU + "file-type/JSON", "application/json", "json"),
    ("ogc:wms", None, None),
    (EU + "file-type/ZIP", "application/zip", "zip"),
]
_SUBJECTS = [
    "Bevolking", "Huishoudens", "Woningvoorraad", "Luchtkwaliteit", "Verkeersintensiteiten", "Waterstanden",
    "Bomen", "Laadpalen", "Parkeervakken", "Energieverbruik", "Bedrijfsvestigingen", "Grondwaterstanden",
    "Geluidbelasting", "Fietsroutes", "Monumenten", "Afvalinzameling", "Onderwijsdeelname", "Zorggebruik",
    "Natuurgebieden", "Bouwvergunningen", "Kadastrale percelen", "Peilgebieden", "Verkeersongevallen",
]
_BREAKDOWNS = ["per gemeente", "per wijk", "per maand", "naar leeftijd", "per provincie", "per meetpunt",
               "per stadsdeel", "naar bedrijfstak", "per postcode"]
_SLUGS = [s.lower().replace(" ", "-") for s in _SUBJECTS]
_REGIONS = ["Noord", "Oost", "Zuid", "West", "Centrum", "Randstad", "Veluwe", "Achterhoek", "Twente", "Zeeland", "Delta"]
_NOTES = (
    "%(title)s. Deze dataset wordt gepubliceerd door {org}. De gegevens worden periodiek geactualiseerd en zijn "
    "vrij te hergebruiken onder de vermelde licentie. Het bestand bevat één regel per waarneming; de kolomnamen "
    "zijn beschreven in de bijgevoegde documentatie. Coördinaten zijn opgenomen in het Rijksdriehoekstelsel "
    "(EPSG:28992). Volgnummer %(i)d."
)


def _template(org: tuple, n_resources: int, variant: int) -> str:
    slug, title, uri, domain, email, themes, tags = org
    org_id = "%08x-0000-4000-8000-%012x" % (sum(map(ord, slug)) * 2654435761 % (1 << 32), len(slug))
    licence = [
        "http://creativecommons.org/publicdomain/zero/1.0/deed.nl",
        "http://creativecommons.org/licenses/by/4.0/deed.nl",
        "http://creativecommons.org/publicdomain/mark/1.0/deed.nl",
    ][variant % 3]
    resources = []
    for j in range(n_resources):
        fmt, mime, ext = _FORMATS[(variant + j) % len(_FORMATS)]
        if ext is None:
            url = f"https://service.pdok.nl/{slug[:20]}/@@name@@/wms/v1_0?request=GetCapabilities&service=WMS"
            download, size = [], None
        else:
            url = f"https://{domain}/download/@@name@@-{j}.{ext}"
            download, size = [url], f"@@size{j}@@"
        resources.append({
            "id": f"@@rid{j}@@",
            "package_id": "@@id@@",
            "position": j,
            "name": f"@@title@@ ({fmt.rsplit('/', 1)[-1].upper()})",
            "description": "Volledige download van de dataset." if ext else "Webservice volgens OGC-standaard.",
            "url": url,
            "download_url": download,
            "format": fmt,
            "mimetype": mime,
            "size": size,
            "license_id": licence,
            "release_date": "@@issued@@",
        })
    pkg: dict[str, Any] = {
        "id": "@@id@@",
        "name": "@@name@@",
        "title": "@@title@@",
        "notes": _NOTES.format(org=title).replace("%(title)s", "@@title@@").replace("%(i)d", "@@i@@"),
        "identifier": f"https://{domain}/id/dataset/@@i@@",
        "authority": uri,
        "publisher": uri,
        "contact_point_name": f"{title}, open data",
        "contact_point_email": email,
        "license_id": licence,
        "access_rights": EU + "access-right/PUBLIC",
        "theme": [OWMS + t for t in themes],
        "tags": [{"name": t, "display_name": t} for t in tags],
        "language": [EU + "language/NLD"],
        "metadata_language": EU + "language/NLD",
        "frequency": EU + "frequency/" + ["ANNUAL", "MONTHLY", "QUARTERLY", "IRREG"][variant % 4],
        "issued": "@@issued@@",
        "modified": "@@modified@@",
        "url": f"https://{domain}/open-data/@@name@@",
        "spatial_scheme": ["http://standaarden.overheid.nl/owms/4.0/doc/spatial-scheme/epsg28992"],
        "spatial_value": ["13565 306846 278026 619315"],
        "temporal_start": "@@tstart@@",
        "temporal_end": "@@tend@@",
        "dataset_status": "http://data.overheid.nl/status/beschikbaar",
        "high_value": False,
        "owner_org": org_id,
        "organization": {"id": org_id, "name": slug, "title": title, "type": "organization", "is_organization": True,
                         "state": "active", "approval_status": "approved"},
        "metadata_created": "@@created@@",
        "metadata_modified": "@@mdmodified@@",
        "num_resources": n_resources,
        "num_tags": len(tags),
        "resources": resources,
        "groups": [],
        "isopen": True,
        "state": "active",
        "private": False,
        "type": "dataset",
    }
    text = json.dumps(pkg)  # ASCII, with \u escapes, as CKAN itself serialises
    for j in range(n_resources):
        text = text.replace(f'"@@size{j}@@"', f"@@size{j}@@")  # a number, not a string
    return text


# The slots of every template, in the order the compiled render functions take them.
_KEYS = ("id", "name", "title", "issued", "modified", "created", "mdmodified", "tstart", "tend", "i",
         "rid0", "rid1", "rid2", "rid3", "size0", "size1", "size2", "size3")


def _compile(text: str):
    """Turn a template with ``@@key@@`` slots into a function of ``_KEYS`` that joins the pieces."""
    pieces = re.split(r"@@(\w+)@@", text)
    literals, keys = pieces[0::2], pieces[1::2]
    assert set(keys) <= set(_KEYS), set(keys) - set(_KEYS)
    order = []
    for n, key in enumerate(keys):
        order += [f"L{n}", key]
    order.append(f"L{len(keys)}")
    src = f"def render({', '.join(_KEYS)}):\n    return ''.join(({', '.join(order)},))\n"
    namespace: dict[str, Any] = {f"L{n}": lit for n, lit in enumerate(literals)}
    exec(compile(src, "<generated template>", "exec"), namespace)
    return namespace["render"]


# 24 templates: 8 organisations x resource counts 2, 3, 2, 4 (2.75 resources on average).
_TEMPLATES = [_compile(_template(_ORGS[v % len(_ORGS)], (2, 3, 2, 4)[v % 4], v)) for v in range(24)]
_N_TEMPLATES = len(_TEMPLATES)

# Lookup tables so that one package costs a handful of string operations.
_MD_PER_DAY = 86400 // STEP_SECONDS
_CR_STEP = STEP_SECONDS // 2
_CR_PER_DAY = 86400 // _CR_STEP
_TOD_MD = ["T%02d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60) for s in range(0, 86400, STEP_SECONDS)]
_TOD_CR = ["T%02d:%02d:%02d" % (s // 3600, s // 60 % 60, s % 60) for s in range(0, 86400, _CR_STEP)]
_TSTART = [f"{2000 + y - 5}-01-01T00:00:00" for y in range(25)]
_TEND = [f"{2000 + y}-12-31T23:59:59" for y in range(25)]
_TITLE_HEAD = [f"{_SUBJECTS[k % 23]} {_BREAKDOWNS[(k // 23) % 9]}, " for k in range(207)]
_ID_MID = ["-%04x-4%03x-8%03x-" % ((k * 7919) & 0xFFFF, (k * 31) & 0xFFF, (k * 131) & 0xFFF) for k in range(4099)]
_SIZES = [[str(lo + (k * mul * 7_919) % span) for k in range(m)]
          for lo, mul, span, m in ((10_000, 7, 9_000_000, 997), (20_000, 13, 50_000_000, 991),
                                   (5_000, 17, 800_000, 983), (1_000, 19, 2_000_000, 977))]
_TITLE_TAIL = [f"{_REGIONS[r]} {2000 + y}" for r in range(len(_REGIONS)) for y in range(25)]
_DAYS_MD: dict[int, str] = {}
_DAYS_CR: dict[int, str] = {}


def _day(cache: dict[int, str], base: datetime, days: int) -> str:
    out = cache.get(days)
    if out is None:
        out = cache[days] = (base + timedelta(days=days)).strftime("%Y-%m-%d")
    return out


def _args(i: int) -> tuple[str, ...]:
    """The slot values of package ``i``, in ``_KEYS`` order."""
    d, k = divmod(i, _MD_PER_DAY)
    md = (_DAYS_MD.get(d) or _day(_DAYS_MD, BASE_MODIFIED, d)) + _TOD_MD[k]
    d, k = divmod(i, _CR_PER_DAY)
    cr = (_DAYS_CR.get(d) or _day(_DAYS_CR, BASE_CREATED, d)) + _TOD_CR[k]
    head = "%08x" % i
    hx = "%012x" % ((i * 2654435761) & 0xFFFFFFFFFFFF)
    tail = "-4000-8000-" + hx
    y = i % 25
    return (
        head + _ID_MID[i % 4099] + hx,
        "dataset-%08d-" % i + _SLUGS[i % 23],
        _TITLE_HEAD[i % 207] + _TITLE_TAIL[(i // 207) % 11 * 25 + y],
        cr,
        md + "Z",
        cr + ".000000",
        md + ".000000",
        _TSTART[y],
        _TEND[y],
        str(i),
        head + "-0000" + tail,
        head + "-0001" + tail,
        head + "-0002" + tail,
        head + "-0003" + tail,
        _SIZES[0][i % 997],
        _SIZES[1][i % 991],
        _SIZES[2][i % 983],
        _SIZES[3][i % 977],
    )


def render_package(i: int) -> str:
    """Package ``i`` as JSON text (exactly what the server sends)."""
    return _TEMPLATES[i % _N_TEMPLATES](*_args(i))


def package_for(i: int) -> dict[str, Any]:
    """Package ``i`` as a dict (the parsed form of :func:`render_package`)."""
    return json.loads(render_package(i))


def render_many(indices: Iterable[int]) -> list[str]:
    templates, n, args = _TEMPLATES, _N_TEMPLATES, _args
    return [templates[i % n](*args(i)) for i in indices]


def index_of_id(package_id: str) -> int | None:
    """The index of a generated package id (its first 8 hex digits), or None."""
    try:
        i = int(package_id[:8], 16)
    except (TypeError, ValueError):
        return None
    return i if i >= 0 and _args(i)[0] == package_id else None


def modified_of(i: int) -> datetime:
    return BASE_MODIFIED + timedelta(seconds=i * STEP_SECONDS)


def index_range_for_modified(n: int, lo: datetime | None, hi: datetime | None, lo_incl: bool = True,
                             hi_incl: bool = True) -> tuple[int, int]:
    """``[first, last)`` of the indices in ``0..n`` whose metadata_modified lies in the range (naive UTC)."""
    def to_naive(d: datetime) -> datetime:
        return d.astimezone(timezone.utc).replace(tzinfo=None) if d.tzinfo else d

    first, last = 0, n
    if lo is not None:
        secs = (to_naive(lo) - BASE_MODIFIED).total_seconds()
        k = -(-secs // STEP_SECONDS)  # ceil
        k = int(k)
        if not lo_incl and k * STEP_SECONDS == secs:
            k += 1
        first = max(first, k)
    if hi is not None:
        secs = (to_naive(hi) - BASE_MODIFIED).total_seconds()
        k = int(secs // STEP_SECONDS)
        if not hi_incl and k * STEP_SECONDS == secs:
            k -= 1
        last = min(last, k + 1)
    return first, max(first, last)
