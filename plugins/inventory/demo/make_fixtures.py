"""Write the sample agencies' fixture files (deterministic; the output is committed).

    python -m inventory.demo.make_fixtures            # rewrites plugins/inventory/demo/fixtures/
    python -m inventory.demo.make_fixtures --out DIR  # somewhere else (the tests compare the two)

Every value is made up here, modelled on the shapes of the real extracts in ``../shared/samples``
(data.overheid.nl CKAN packages of 2015 and today's DCAT-AP-DONL 1.1 CKAN schema, the
Algoritmeregister export and publication standard 1.0). No sample record is copied.

Records that are wrong on purpose carry a ``_defect`` object ``{code, severity, detail}``; the
server strips every ``_defect`` (and ``_comment``) key before serving. ``severity`` is the
suggested outcome: ``critical`` (the record should be quarantined) or ``warning`` (it only costs
quality score). ``fixtures/README.md`` lists them all.

Only the standard library is used; each file has its own ``random.Random`` seeded with a fixed
string, so one file's content never depends on another's.
"""

from __future__ import annotations

import argparse
import copy
import json
import random
import re
import unicodedata
import uuid
from datetime import datetime, timedelta
from pathlib import Path

FIXTURES_DIR = Path(__file__).resolve().parent / "fixtures"
SEED = "one-government-inventory/sample-agencies/v1"

OWMS = "http://standaarden.overheid.nl/owms/terms/"
TOOI = "https://identifier.overheid.nl/tooi/id/"
EU_LANG = "http://publications.europa.eu/resource/authority/language/"
EU_FREQ = "http://publications.europa.eu/resource/authority/frequency/"
EU_ACCESS = "http://publications.europa.eu/resource/authority/access-right/"
EU_FILE = "http://publications.europa.eu/resource/authority/file-type/"
CLD_FREQ = "http://purl.org/cld/freq/"
SPATIAL_SCHEME = "http://standaarden.overheid.nl/owms/4.0/doc/spatial-scheme/"
DATASET_STATUS = "http://data.overheid.nl/status/beschikbaar"

LICENCE_URIS = [
    ("http://creativecommons.org/publicdomain/zero/1.0/deed.nl", 60),
    ("http://creativecommons.org/licenses/by/4.0/deed.nl", 18),
    ("http://creativecommons.org/publicdomain/mark/1.0/deed.nl", 6),
    ("http://creativecommons.org/licenses/by-sa/4.0/deed.nl", 3),
]
# Old CKAN licence slugs that data.overheid.nl still serves for some harvested records.
LICENCE_SLUGS = ["cc-0", "cc-by", "publiek-domein"]

FREQUENCIES = ["ANNUAL", "ANNUAL", "QUARTERLY", "MONTHLY", "MONTHLY", "WEEKLY", "DAILY", "IRREG", "CONT", "UNKNOWN"]
OLD_FREQUENCIES = ["annual", "quarterly", "monthly", "irregular", "continuous", "biennial"]

# format key -> (values as publishers write them, media type or None)
FORMATS = {
    "CSV": ([EU_FILE + "CSV", EU_FILE + "CSV", "CSV"], "text/csv"),
    "JSON": ([EU_FILE + "JSON", "JSON"], "application/json"),
    "ATOM": ([EU_FILE + "ATOM"], "application/atom+xml"),
    "ZIP": ([EU_FILE + "ZIP", "ZIP"], "application/zip"),
    "WMS": (["ogc:wms", EU_FILE + "WMS_SRVC"], None),
    "WFS": (["ogc:wfs", EU_FILE + "WFS_SRVC"], None),
    "GEOJSON": ([EU_FILE + "GEOJSON", "GeoJSON"], "application/geo+json"),
    "GPKG": ([EU_FILE + "GPKG"], "application/geopackage+sqlite3"),
    "XLSX": ([EU_FILE + "XLSX", "XLSX"], "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"),
    "PDF": ([EU_FILE + "PDF"], "application/pdf"),
}


# ---------------------------------------------------------------------------------------- helpers


def new_uuid(rng: random.Random) -> str:
    return str(uuid.UUID(int=rng.getrandbits(128), version=4))


def slugify(text: str, max_len: int = 90) -> str:
    text = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode("ascii").lower()
    return re.sub(r"[^a-z0-9]+", "-", text).strip("-")[:max_len].strip("-")


def rand_dt(rng: random.Random, start: datetime, end: datetime) -> datetime:
    span = int((end - start).total_seconds())
    return start + timedelta(seconds=rng.randrange(span), microseconds=rng.randrange(1_000_000))


def ckan_ts(dt: datetime) -> str:
    """CKAN's own timestamps: no zone, microseconds (``2019-05-14T12:01:33.123456``)."""
    return dt.strftime("%Y-%m-%dT%H:%M:%S.%f")


def publisher_ts(rng: random.Random, dt: datetime) -> str:
    """Dates as publishers send them: with or without a time zone, with or without a time."""
    style = rng.choices(["naive", "z", "offset", "date-midnight"], weights=[45, 20, 25, 10])[0]
    if style == "naive":
        return dt.strftime("%Y-%m-%dT%H:%M:%S")
    if style == "z":
        return dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == "offset":
        return dt.strftime("%Y-%m-%dT%H:%M:%S") + rng.choice(["+01:00", "+02:00"])
    return dt.strftime("%Y-%m-%dT00:00:00")


def lars_weighted_sum(digits: str) -> int:
    return sum(int(d) * w for d, w in zip(digits, range(8, 0, -1)))


def lars_is_valid(lars: str) -> bool:
    """8 digits whose weighted sum (weights 8..1) is divisible by 11."""
    return len(lars) == 8 and lars.isdigit() and lars_weighted_sum(lars) % 11 == 0


def new_lars(rng: random.Random, taken: set[str]) -> str:
    while True:
        head = "".join(str(rng.randrange(10)) for _ in range(7))
        if head[0] == "0":
            continue
        check = (-lars_weighted_sum(head + "0")) % 11
        if check == 10:
            continue
        lars = head + str(check)
        if lars not in taken:
            taken.add(lars)
            return lars


def defect(code: str, severity: str, detail: str) -> dict:
    return {"code": code, "severity": severity, "detail": detail}


def sentences(rng: random.Random, pool: list[str], lo: int, hi: int) -> str:
    return " ".join(rng.sample(pool, rng.randint(lo, min(hi, len(pool)))))


# ------------------------------------------------------------------------- national portal (DONL)

GENERIC_NOTES = [
    "De gegevens worden jaarlijks geactualiseerd en zijn vrij te hergebruiken.",
    "Het bestand bevat één regel per waarneming; de kolomnamen zijn beschreven in de bijgevoegde documentatie.",
    "Coördinaten zijn opgenomen in het Rijksdriehoekstelsel (EPSG:28992).",
    "Voorlopige cijfers kunnen bij een volgende publicatie nog worden bijgesteld.",
    "Waarnemingen met minder dan vijf respondenten zijn om privacyredenen weggelaten.",
    "De dataset wordt ook als webservice aangeboden.",
    "Vragen over deze gegevens kunt u stellen via het contactadres hieronder.",
    "Historische reeksen vanaf het beginjaar zijn in een apart bestand beschikbaar.",
    "De indeling volgt de gemeentelijke indeling per 1 januari van het verslagjaar.",
    "Gegevens zijn afkomstig uit de eigen registratie en zijn niet gecontroleerd op volledigheid.",
    "Let op: vanaf het meest recente jaar is de meetmethode gewijzigd.",
    "Bij gebruik van deze gegevens graag de bron vermelden.",
]

CBS_SUBJECTS = [
    "Bevolking", "Huishoudens", "Arbeidsdeelname", "Inkomen van huishoudens", "Woningvoorraad",
    "Nieuwbouwwoningen", "Energieverbruik particuliere woningen", "Logiesaccommodaties", "Onderwijsdeelname",
    "Gebruik van zorg", "Geregistreerde criminaliteit", "Verkeersdoden", "Landbouwtelling", "Bedrijfsvestigingen",
    "Consumentenprijzen", "Faillissementen", "Zonnestroom", "Motorvoertuigenpark", "Uitkeringsontvangers",
    "Kinderopvang",
]
CBS_BREAKDOWNS = [
    "kerncijfers per gemeente", "leeftijd en geslacht", "regio", "migratieachtergrond", "wijken en buurten",
    "bedrijfstak", "maand", "provincie", "opleidingsniveau", "huishoudsamenstelling",
]

RIVM_TEMPLATES = [
    "Luchtkwaliteit {stof} jaargemiddelden {jaar}",
    "Vaccinatiegraad {programma} per gemeente {jaar}",
    "Geluidbelasting {bron} {jaar}",
    "Grondwaterkwaliteit landelijk meetnet {jaar}",
    "Gezondheidsmonitor volwassenen en ouderen {jaar}",
    "Stikstofdepositie per hectare {jaar}",
    "Radioactiviteit in lucht, meetnet {jaar}",
]
RIVM_SLOTS = {
    "stof": ["stikstofdioxide", "fijnstof PM10", "fijnstof PM2,5", "ozon", "ammoniak"],
    "programma": ["Rijksvaccinatieprogramma", "griepvaccinatie", "HPV"],
    "bron": ["wegverkeer", "railverkeer", "luchtvaart", "industrie"],
}

RWS_TEMPLATES = [
    "Waterhoogten {locatie}", "Verkeersintensiteiten {weg}", "Vaarwegkenmerken {vaarweg}",
    "Kunstwerken beheergebied {regio}", "Bodemhoogte {water} (lodingen)", "Beheerareaal wegen {regio}",
    "Oevers en dijken {water}",
]
RWS_SLOTS = {
    "locatie": ["Lobith", "Hoek van Holland", "Vlissingen", "Den Helder", "Harlingen", "Maastricht", "Dordrecht"],
    "weg": ["A2", "A4", "A12", "A15", "A28", "A50", "A58"],
    "vaarweg": ["Amsterdam-Rijnkanaal", "Maas", "Waal", "IJssel", "Twentekanaal", "Noordzeekanaal"],
    "regio": ["Noord-Nederland", "Oost-Nederland", "Zuid-Nederland", "West-Nederland Zuid", "Midden-Nederland"],
    "water": ["Waddenzee", "Westerschelde", "IJsselmeer", "Markermeer", "Haringvliet"],
}

KADASTER_TEMPLATES = [
    "Basisregistratie Adressen en Gebouwen (BAG) extract {provincie}",
    "Bestuurlijke gebieden {jaar}",
    "Kadastrale percelen {provincie}",
    "Topografie TOP10NL {provincie}",
    "Basisregistratie Grootschalige Topografie (BGT) {provincie}",
    "Woningwaarde en transacties {provincie} {jaar}",
]
PROVINCES = [
    "Groningen", "Friesland", "Drenthe", "Overijssel", "Flevoland", "Gelderland", "Utrecht", "Noord-Holland",
    "Zuid-Holland", "Zeeland", "Noord-Brabant", "Limburg",
]

CITY_OBJECTS = [
    "Afvalcontainers", "Bomen", "Parkeervakken", "Laadpalen", "Speelplekken", "Evenementenvergunningen",
    "Monumenten", "Openbare verlichting", "Fietsenstallingen", "Meldingen openbare ruimte", "Bouwprojecten",
    "Terrassen", "Marktplaatsen", "Verkeersborden", "Hondenuitlaatplaatsen",
]

GELDERLAND_TEMPLATES = [
    "Natura 2000-gebieden Gelderland", "Fietsnetwerk {regio}", "Provinciale wegen verkeerstellingen {jaar}",
    "Grondwaterbeschermingsgebieden", "Verleende subsidies {jaar}", "Windturbines en zonneparken {jaar}",
    "Cultuurhistorische waarden {regio}",
]
GELDERLAND_REGIONS = ["Achterhoek", "Veluwe", "Rivierenland", "Arnhem-Nijmegen", "Food Valley", "Noord-Veluwe"]

WATERSCHAP_TEMPLATES = [
    "Peilgebieden", "Gemalen", "Primaire waterkeringen", "Rioolwaterzuiveringsinstallaties",
    "Oppervlaktewaterkwaliteit {jaar}", "Legger watergangen", "Grondwatermeetpunten {jaar}",
]

ORGS = [
    {
        "key": "cbs", "count": 70, "title": "Centraal Bureau voor de Statistiek",
        "uri": OWMS + "Centraal_Bureau_voor_de_Statistiek", "domain": "www.cbs.nl",
        "contact": "CBS Infoservice", "email": "infoservice@cbs.nl",
        "themes": ["Bestuur", "Economie", "Sociale_zekerheid", "Werk_(thema)", "Zorg_en_gezondheid", "Huisvesting_(thema)"],
        "formats": [["ATOM", "JSON"], ["ATOM", "JSON", "CSV"]],
        "spatial": ("epsg28992", "13565 306846 278026 619315"),
        "tags": ["statistiek", "StatLine", "kerncijfers", "regionaal", "bevolking", "economie", "arbeid", "inkomen"],
    },
    {
        "key": "rivm", "count": 35, "title": "Rijksinstituut voor Volksgezondheid en Milieu",
        "uri": OWMS + "Rijksinstituut_voor_Volksgezondheid_en_Milieu", "domain": "www.rivm.nl",
        "contact": "RIVM Open Data", "email": "opendata@rivm.nl",
        "themes": ["Natuur_en_milieu", "Zorg_en_gezondheid", "Lucht", "Geluid"],
        "formats": [["CSV", "WMS"], ["CSV", "JSON"], ["ZIP", "WMS", "WFS"]],
        "spatial": ("epsg28992", "13565 306846 278026 619315"),
        "tags": ["milieu", "luchtkwaliteit", "gezondheid", "monitoring", "meetnet", "geluid"],
    },
    {
        "key": "rws", "count": 45, "title": "Rijkswaterstaat",
        "uri": OWMS + "Rijkswaterstaat", "domain": "www.rijkswaterstaat.nl",
        "contact": "Rijkswaterstaat Servicedesk Data", "email": "servicedesk-data@rws.nl",
        "themes": ["Verkeer_(thema)", "Water_(verkeer-thema)", "Ruimte_en_infrastructuur", "Natuur_en_milieu"],
        "formats": [["WMS", "WFS"], ["WMS", "WFS", "ZIP"], ["CSV", "JSON"], ["ZIP"]],
        "spatial": ("epsg28992", "10000 300000 280000 625000"),
        "tags": ["water", "infrastructuur", "vaarwegen", "wegen", "waterstanden", "verkeer"],
    },
    {
        "key": "kadaster", "count": 30, "title": "Kadaster",
        "uri": OWMS + "Kadaster", "domain": "www.kadaster.nl",
        "contact": "Kadaster Klantcontact", "email": "klantcontact@kadaster.nl",
        "themes": ["Ruimte_en_infrastructuur", "Huisvesting_(thema)", "Bestuur"],
        "formats": [["WMS", "WFS", "GPKG"], ["ZIP", "GPKG"], ["WMS", "WFS"]],
        "spatial": ("provincie", None),
        "tags": ["basisregistratie", "BAG", "BGT", "topografie", "percelen", "adressen", "geo"],
    },
    {
        "key": "amsterdam", "count": 35, "title": "Gemeente Amsterdam",
        "uri": TOOI + "gemeente/gm0363", "domain": "data.amsterdam.nl",
        "contact": "Team Open Data Amsterdam", "email": "opendata@amsterdam.nl",
        "themes": ["Bestuur", "Ruimte_en_infrastructuur", "Verkeer_(thema)", "Natuur_en_milieu", "Cultuur_en_recreatie"],
        "formats": [["CSV", "JSON"], ["CSV", "GEOJSON", "WMS"], ["JSON", "GEOJSON"]],
        "spatial": ("gemeente", TOOI + "gemeente/gm0363"),
        "areas": ["Centrum", "Noord", "Nieuw-West", "Zuidoost", "Oost", "West", "Zuid", "Weesp"],
        "tags": ["stadsdeel", "openbare ruimte", "kaart", "Amsterdam", "wonen", "mobiliteit"],
    },
    {
        "key": "rotterdam", "count": 25, "title": "Gemeente Rotterdam",
        "uri": TOOI + "gemeente/gm0599", "domain": "www.rotterdam.nl",
        "contact": "Gemeente Rotterdam, Open Data", "email": "opendata@rotterdam.nl",
        "themes": ["Bestuur", "Ruimte_en_infrastructuur", "Verkeer_(thema)", "Economie"],
        "formats": [["CSV", "XLSX"], ["CSV", "WMS", "WFS"], ["JSON"]],
        "spatial": ("gemeente", TOOI + "gemeente/gm0599"),
        "areas": ["Centrum", "Delfshaven", "Feijenoord", "Noord", "Kralingen-Crooswijk", "Charlois", "Hoogvliet", "IJsselmonde"],
        "tags": ["Rotterdam", "haven", "openbare ruimte", "wijken", "mobiliteit"],
    },
    {
        "key": "groningen", "count": 20, "title": "Gemeente Groningen",
        "uri": TOOI + "gemeente/gm0014", "domain": "gemeente.groningen.nl",
        "contact": "Gemeente Groningen, Onderzoek en Statistiek", "email": "ois@groningen.nl",
        "themes": ["Bestuur", "Ruimte_en_infrastructuur", "Onderwijs_en_wetenschap"],
        "formats": [["CSV"], ["CSV", "PDF"], ["GEOJSON", "CSV"]],
        "spatial": ("gemeente", TOOI + "gemeente/gm0014"),
        "areas": ["Centrum", "Oosterparkwijk", "Helpman", "Paddepoel", "Beijum", "Haren", "Ten Boer", "Hoogkerk"],
        "tags": ["Groningen", "wijkmonitor", "openbare ruimte", "studenten"],
    },
    {
        "key": "gelderland", "count": 25, "title": "Provincie Gelderland",
        "uri": TOOI + "provincie/pv25", "domain": "www.gelderland.nl",
        "contact": "Provincie Gelderland, Datateam", "email": "data@gelderland.nl",
        "themes": ["Natuur_en_milieu", "Ruimte_en_infrastructuur", "Verkeer_(thema)", "Economie"],
        "formats": [["WMS", "WFS"], ["CSV", "XLSX"], ["ZIP", "WMS"]],
        "spatial": ("provincie", TOOI + "provincie/pv25"),
        "tags": ["Gelderland", "provincie", "natuur", "omgevingsvisie", "verkeer"],
    },
    {
        "key": "waterschap", "count": 14, "title": "Waterschap Vallei en Veluwe",
        "uri": TOOI + "waterschap/ws0662", "domain": "www.vallei-veluwe.nl",
        "contact": "Waterschap Vallei en Veluwe, Informatiebeheer", "email": "geo-informatie@vallei-veluwe.nl",
        "themes": ["Natuur_en_milieu", "Water_(verkeer-thema)", "Ruimte_en_infrastructuur"],
        "formats": [["WMS", "WFS"], ["ZIP", "WMS"], ["CSV"]],
        "spatial": ("waterschap", TOOI + "waterschap/ws0662"),
        "tags": ["waterschap", "waterbeheer", "peil", "dijken", "waterkwaliteit"],
    },
]


def _fill(rng: random.Random, template: str, slots: dict[str, list[str]]) -> str:
    values = {k: rng.choice(v) for k, v in slots.items()}
    values.setdefault("jaar", str(rng.randint(2012, 2024)))
    return template.format(**values)


def donl_title(rng: random.Random, org: dict) -> tuple[str, str]:
    """(title, a short code used in identifiers and landing pages)."""
    key = org["key"]
    year = rng.randint(2012, 2024)
    if key == "cbs":
        code = f"{rng.randint(70000, 86999)}NED"
        title = f"{rng.choice(CBS_SUBJECTS)}; {rng.choice(CBS_BREAKDOWNS)}"
        if rng.random() < 0.6:
            y1 = rng.randint(1995, 2018)
            title += f", {y1}-{rng.randint(y1 + 1, 2024)}"
        return title, code
    if key == "rivm":
        return _fill(rng, rng.choice(RIVM_TEMPLATES), RIVM_SLOTS), f"rivm-{rng.randint(1000, 9999)}"
    if key == "rws":
        return _fill(rng, rng.choice(RWS_TEMPLATES), RWS_SLOTS), f"rws-{rng.randint(10000, 99999)}"
    if key == "kadaster":
        return _fill(rng, rng.choice(KADASTER_TEMPLATES), {"provincie": PROVINCES}), f"kad-{rng.randint(100, 999)}"
    if key in ("amsterdam", "rotterdam", "groningen"):
        title = f"{rng.choice(CITY_OBJECTS)} {rng.choice(org['areas'])}"
        if rng.random() < 0.3:
            title += f" {year}"
        return title, f"{key[:3]}-{rng.randint(1000, 9999)}"
    if key == "gelderland":
        return _fill(rng, rng.choice(GELDERLAND_TEMPLATES), {"regio": GELDERLAND_REGIONS}), f"gld-{rng.randint(100, 999)}"
    return _fill(rng, rng.choice(WATERSCHAP_TEMPLATES), {}), f"wvv-{rng.randint(100, 999)}"


def donl_identifier(org: dict, code: str, pkg_id: str) -> str:
    key = org["key"]
    if key == "cbs":
        return f"https://opendata.cbs.nl/statline/#/CBS/nl/dataset/{code}/table"
    if key in ("rws", "kadaster", "waterschap", "rivm"):
        return f"https://www.nationaalgeoregister.nl/geonetwork/srv/dut/catalog.search#/metadata/{pkg_id}"
    return f"https://{org['domain']}/open-data/datasets/{code}"


def donl_landing(org: dict, code: str, name: str) -> str:
    if org["key"] == "cbs":
        return f"https://www.cbs.nl/nl-nl/cijfers/detail/{code}"
    return f"https://{org['domain']}/open-data/{name}"


def donl_spatial(rng: random.Random, org: dict) -> tuple[list[str], list[str]]:
    scheme, value = org["spatial"]
    if scheme == "provincie" and value is None:  # a national organisation publishing per province
        value = TOOI + f"provincie/pv{rng.randint(20, 31)}"
    return [SPATIAL_SCHEME + scheme], [value]


def donl_resource(rng: random.Random, org: dict, pkg_id: str, name: str, code: str, title: str, fmt_key: str,
                  position: int, licence: str, created: datetime) -> dict:
    values, mimetype = FORMATS[fmt_key]
    fmt = rng.choice(values)
    host = org["domain"]
    if fmt_key in ("WMS", "WFS"):
        service = fmt_key.lower()
        url = f"https://service.pdok.nl/{org['key']}/{name[:40]}/{service}/v1_0?request=GetCapabilities&service={fmt_key}"
        download = []
        size = None
        label = f"{title} ({fmt_key})"
    elif fmt_key == "ATOM":
        url = f"https://opendata.cbs.nl/ODataFeed/odata/{code}"
        download = []
        size = None
        label = f"{title} - OData feed"
    else:
        ext = {"GEOJSON": "geojson", "GPKG": "gpkg"}.get(fmt_key, fmt_key.lower())
        url = f"https://{host}/download/{name[:60]}.{ext}"
        download = [url]
        size_kind = rng.random()
        if org["key"] == "cbs" and size_kind < 0.4:
            size = f"{rng.randint(4, 900)} rijen, {rng.randint(3, 120)} kolommen"  # seen in real CBS records
        elif size_kind < 0.25:
            size = None
        else:
            size = rng.randint(2_000, 250_000_000)
        label = f"{title} ({fmt_key})"
    modified = created + timedelta(days=rng.randint(0, 900))
    return {
        "id": new_uuid(rng),
        "package_id": pkg_id,
        "position": position,
        "name": label,
        "description": rng.choice(["", "Volledige download van de dataset.", "Webservice volgens OGC-standaard.",
                                   "Bestand met toelichting in de eerste regels.", "Actuele versie."]),
        "url": url,
        "download_url": download,
        "format": fmt,
        "mimetype": mimetype,
        "size": size,
        "license_id": licence,
        "metadata_language": EU_LANG + "NLD",
        "language": [EU_LANG + "NLD"],
        "release_date": created.strftime("%Y-%m-%dT%H:%M:%S"),
        "modification_date": modified.strftime("%Y-%m-%dT%H:%M:%S"),
        "state": "active",
        "created": ckan_ts(created),
        "last_modified": None,
        "hash": "",
        "url_type": None,
        "resource_type": None,
        "mimetype_inner": None,
        "cache_url": None,
    }


def build_national_portal() -> list[dict]:
    rng = random.Random(SEED + "/national-portal")
    org_objects = {}
    for org in ORGS:
        org_objects[org["key"]] = {
            "id": new_uuid(rng),
            "name": slugify(org["title"]),
            "title": org["title"],
            "type": "organization",
            "description": "",
            "image_url": "",
            "created": ckan_ts(rand_dt(rng, datetime(2016, 1, 1), datetime(2017, 6, 1))),
            "is_organization": True,
            "approval_status": "approved",
            "state": "active",
        }
    creator = new_uuid(rng)

    packages: list[dict] = []
    names: set[str] = set()
    for org in ORGS:
        for _ in range(org["count"]):
            pkg_id = new_uuid(rng)
            title, code = donl_title(rng, org)
            name = slugify(title)
            while name in names:
                name = f"{slugify(title, 80)}-{rng.randint(100, 999)}"
            names.add(name)
            created = rand_dt(rng, datetime(2016, 3, 1), datetime(2024, 6, 1))
            md_modified = created + timedelta(days=rng.randint(0, 1500), seconds=rng.randint(0, 86400))
            if md_modified > datetime(2025, 6, 30):
                md_modified = datetime(2025, 6, 30) - timedelta(seconds=rng.randint(0, 10**7))
            issued = created - timedelta(days=rng.randint(0, 2000))
            modified = issued + (md_modified - issued) * rng.uniform(0.5, 1.0)
            if rng.random() < 0.1:
                licence = rng.choice(LICENCE_SLUGS)
            else:
                licence = rng.choices([u for u, _ in LICENCE_URIS], weights=[w for _, w in LICENCE_URIS])[0]
            themes = [OWMS + t for t in rng.sample(org["themes"], rng.choice([1, 1, 1, 2]))]
            tag_names = rng.sample(org["tags"], rng.randint(2, min(6, len(org["tags"]))))
            scheme, value = donl_spatial(rng, org)
            t_start = datetime(rng.randint(1995, 2020), 1, 1)
            t_end = datetime(rng.randint(t_start.year, 2024), 12, 31, 23, 59, 59)
            intro = f"{title}. Deze dataset wordt gepubliceerd door {org['title']}."
            notes = intro + " " + sentences(rng, GENERIC_NOTES, 2, 6)
            pkg = {
                "id": pkg_id,
                "name": name,
                "title": title,
                "notes": notes,
                "identifier": donl_identifier(org, code, pkg_id),
                "alternate_identifier": [],
                "authority": org["uri"],
                "publisher": org["uri"],
                "contact_point_name": org["contact"],
                "contact_point_email": org["email"],
                "contact_point_website": f"https://{org['domain']}/contact",
                "license_id": licence,
                "access_rights": EU_ACCESS + rng.choices(["PUBLIC", "RESTRICTED", "NON_PUBLIC"], weights=[92, 6, 2])[0],
                "theme": themes,
                "tags": [{"name": t, "display_name": t, "id": new_uuid(rng), "state": "active", "vocabulary_id": None}
                         for t in tag_names],
                "language": [EU_LANG + "NLD"] + ([EU_LANG + "ENG"] if rng.random() < 0.08 else []),
                "metadata_language": EU_LANG + "NLD",
                "issued": publisher_ts(rng, issued),
                "modified": publisher_ts(rng, modified),
                "url": donl_landing(org, code, name),
                "spatial_scheme": scheme,
                "spatial_value": value,
                "temporal_start": t_start.strftime("%Y-%m-%dT%H:%M:%S"),
                "temporal_end": t_end.strftime("%Y-%m-%dT%H:%M:%S"),
                "dataset_status": DATASET_STATUS,
                "high_value": rng.random() < 0.1,
                "basis_register": org["key"] == "kadaster" and rng.random() < 0.5,
                "referentie_data": False,
                "national_coverage": org["key"] in ("cbs", "rivm", "rws", "kadaster"),
                "source_catalog": "https://data.overheid.nl",
                "owner_org": org_objects[org["key"]]["id"],
                "organization": dict(org_objects[org["key"]]),
                "metadata_created": ckan_ts(created),
                "metadata_modified": ckan_ts(md_modified),
                "creator_user_id": creator,
                "groups": [],
                "isopen": True,
                "state": "active",
                "private": False,
                "type": "dataset",
            }
            if rng.random() < 0.08:
                pkg["accrual_periodicity"] = CLD_FREQ + rng.choice(OLD_FREQUENCIES)  # the pre-DONL field
            else:
                pkg["frequency"] = EU_FREQ + rng.choice(FREQUENCIES)
            formats = rng.choice(org["formats"])
            if len(formats) == 1 and rng.random() < 0.5:
                formats = formats + ["PDF"]
            pkg["resources"] = [
                donl_resource(rng, org, pkg_id, name, code, title, f, i, licence, created) for i, f in enumerate(formats)
            ]
            pkg["num_resources"] = len(pkg["resources"])
            pkg["num_tags"] = len(pkg["tags"])
            packages.append(pkg)

    # A batch update: CKAN gives six packages the same metadata_modified (ties for sort stability).
    batch = ckan_ts(datetime(2023, 11, 8, 2, 0, 13, 0))
    for pkg in [p for p in packages if p["organization"]["name"] == "kadaster"][:6]:
        pkg["metadata_modified"] = batch
    # Some resources carry download_url as a bare string (older harvested records).
    for pkg in rng.sample(packages, 4):
        for res in pkg["resources"]:
            if res["download_url"]:
                res["download_url"] = res["download_url"][0]

    inject_national_defects(rng, packages)
    return packages


def inject_national_defects(rng: random.Random, packages: list[dict]) -> None:
    picks = iter(rng.sample(range(len(packages)), 18))

    def take() -> dict:
        return packages[next(picks)]

    p = take()
    del p["title"]
    p["_defect"] = defect("title-missing", "critical", "the title key is absent")
    p = take()
    p["title"] = "   "
    p["_defect"] = defect("title-empty", "critical", "the title is only white space")
    p = take()
    p["url"] = "www.example nl/data"
    p["_defect"] = defect("landing-page-not-url", "warning", "url (landing page) is not a URL: no scheme, a space in the host")
    p = take()
    p["modified"] = "2031-04-01T09:30:00"
    p["_defect"] = defect("modified-in-future", "critical", "modified is in 2031")
    p = take()
    p["license_id"] = "licentie-onbekend-xyz"
    for res in p["resources"]:
        res["license_id"] = "licentie-onbekend-xyz"
    p["_defect"] = defect("licence-unknown", "warning", "license_id is in no licence list")
    p = take()
    p["resources"][0]["url"] = ""
    p["resources"][0]["download_url"] = []
    p["_defect"] = defect("resource-without-url", "critical", "resources[0] has an empty url and no download_url")
    p = take()
    p["notes"] = None
    p["_defect"] = defect("description-missing", "warning", "notes (description) is null")
    p = take()
    p["title"] = p["title"].replace(" ", " &amp; ", 1) + " &quot;bijgewerkt&quot;"
    p["_defect"] = defect("title-html-escaped", "warning", "the title contains HTML entities (&amp; &quot;)")
    p = take()
    p["contact_point_email"] = p["contact_point_email"].replace("@", "(at)")
    p["_defect"] = defect("contact-email-invalid", "warning", "contact_point_email is not an e-mail address")
    p = take()
    p["issued"], p["modified"] = "2024-12-01T00:00:00", "2019-02-01T00:00:00"
    p["_defect"] = defect("issued-after-modified", "warning", "issued (2024) is later than modified (2019)")
    p = take()
    p["temporal_start"], p["temporal_end"] = "2020-01-01T00:00:00", "2012-12-31T23:59:59"
    p["_defect"] = defect("temporal-end-before-start", "warning", "temporal_end is before temporal_start")
    p = take()
    p["theme"] = ["Milieu"]
    p["_defect"] = defect("theme-not-in-vocabulary", "warning", "theme is a bare word, not a taxonomiebeleidsagenda URI")
    p = take()
    p["identifier"] = f"dataset {rng.randint(1000, 9999)}"
    p["_defect"] = defect("identifier-not-uri", "critical", "identifier is not a URI (DCAT-AP-DONL requires one)")
    p = take()
    del p["authority"]
    del p["publisher"]
    p["_defect"] = defect("publisher-missing", "critical", "authority and publisher are absent")
    p = take()
    p["modified"] = "gisteren"
    p["_defect"] = defect("modified-not-a-date", "critical", "modified is not a date")
    p = take()
    p["access_rights"] = "openbaar"
    p["_defect"] = defect("access-rights-not-in-vocabulary", "warning", "access_rights is not an EU access-right URI")
    p = take()
    p["resources"][-1]["format"] = ""
    p["resources"][-1]["mimetype"] = None
    p["_defect"] = defect("resource-format-missing", "warning", "the last resource has an empty format and no mimetype")

    # The same id served twice: a stale copy of a package with another name and title.
    original = take()
    dup = copy.deepcopy(original)
    dup.pop("_defect", None)
    dup["name"] = original["name"][:80] + "-kopie"
    dup["title"] = (original.get("title") or "Dataset").strip() + " (kopie)"
    dup["metadata_modified"] = ckan_ts(datetime.fromisoformat(original["metadata_modified"]) + timedelta(minutes=7))
    dup["_defect"] = defect("duplicate-id", "critical", f"id {original['id']} appears twice in the listing (see name {original['name']})")
    packages.insert(packages.index(original) + 37 if packages.index(original) + 37 < len(packages) else 0, dup)


# ------------------------------------------------------------------- gemeente Utrecht (2015 style)

UTRECHT_OBJECTS = [
    "Afvalbakken", "Bomenkaart", "Bezetting parkeergarages", "Fietsenstallingen", "Luchtmeetnet", "Wijkprofiel",
    "Verkeerstellingen", "Speeltoestellen", "Evenementen", "Bouwprojecten", "Geluidskaart", "Stemlokalen",
    "Sportaccommodaties", "Kunstwerken in de openbare ruimte", "Begraafplaatsen",
]
UTRECHT_AREAS = ["Binnenstad", "Oost", "Noordoost", "Noordwest", "West", "Zuidwest", "Overvecht", "Zuid",
                 "Leidsche Rijn", "Vleuten-De Meern"]
UTRECHT_THEMES = [
    ("Natuur_en_milieu", "Natuur_en_milieu", "Natuur en milieu"),
    ("Verkeer_(thema)", "Verkeer_(thema)", "Verkeer"),
    ("Organisatie_en_beleid", "Bestuur", "Bestuur | Organisatie en beleid"),
    ("Sport", "Cultuur_en_recreatie", "Cultuur en recreatie | Sport"),
    ("Ruimtelijke_ordening", "Ruimte_en_infrastructuur", "Ruimte en infrastructuur | Ruimtelijke ordening"),
]
UTRECHT_LICENCES = {
    "cc-by3": ("CC-BY 3.0", "http://creativecommons.org/licenses/by/3.0/nl/legalcode"),
    "cc-0": ("CC0 1.0", "http://creativecommons.org/publicdomain/zero/1.0/deed.nl"),
    "publiek-domein": ("Publiek Domein", "http://creativecommons.org/publicdomain/mark/1.0/deed.nl"),
}


def build_gemeente_utrecht() -> list[dict]:
    rng = random.Random(SEED + "/gemeente-utrecht")
    maintainer = OWMS + "Utrecht_(gemeente)"
    org = {
        "description": "",
        "title": "Gemeente Utrecht",
        "created": ckan_ts(datetime(2014, 9, 12, 10, 3, 44, 512301)),
        "approval_status": "approved",
        "revision_timestamp": ckan_ts(datetime(2014, 9, 12, 8, 3, 44, 498112)),
        "is_organization": True,
        "state": "active",
        "image_url": "20140912-100344.utrecht-logo.png",
        "revision_id": new_uuid(rng),
        "type": "organization",
        "id": new_uuid(rng),
        "name": "gemeente-utrecht",
    }
    creator = new_uuid(rng)
    packages = []
    names: set[str] = set()
    for n in range(60):
        title = f"{rng.choice(UTRECHT_OBJECTS)} {rng.choice(UTRECHT_AREAS)}"
        if rng.random() < 0.4:
            title += f" {rng.randint(2008, 2015)}"
        name = slugify(title)
        while name in names:
            name = f"{slugify(title, 80)}-{rng.randint(10, 99)}"
        names.add(name)
        created = rand_dt(rng, datetime(2014, 10, 1), datetime(2015, 3, 1))
        md_modified = created + timedelta(days=rng.randint(0, 60), seconds=rng.randint(0, 86400))
        licence = rng.choices(list(UTRECHT_LICENCES), weights=[5, 8, 3])[0]
        lic_title, lic_url = UTRECHT_LICENCES[licence]
        theme, facet, display = rng.choice(UTRECHT_THEMES)
        revision = new_uuid(rng)
        group = new_uuid(rng)
        resources = []
        for pos, fmt in enumerate(rng.choice([["CSV"], ["CSV", "JSON"], ["ZIP", "ogc:wms"], ["JSON"], ["CSV", "ZIP"]])):
            ext = {"ogc:wms": "wms"}.get(fmt, fmt.lower())
            url = (f"http://geodata.utrecht.nl/geoserver/wms?layers={name[:30]}" if fmt == "ogc:wms"
                   else f"http://www.utrecht.nl/fileadmin/uploads/open-data/{name[:50]}.{ext}")
            res = {
                "resource_group_id": group,
                "cache_last_updated": None,
                "revision_timestamp": ckan_ts(md_modified),
                "webstore_last_updated": None,
                "id": new_uuid(rng),
                "size": None,
                "state": "active",
                "hash": "",
                "description": "",
                "format": fmt,
                "tracking_summary": {"total": rng.randint(0, 300), "recent": rng.randint(0, 12)},
                "mimetype_inner": None,
                "url_type": None,
                "mimetype": None,
                "cache_url": None,
                "name": title,
                "created": ckan_ts(md_modified + timedelta(hours=2)),
                "url": url,
                "webstore_url": None,
                "last_modified": None,
                "position": pos,
                "revision_id": revision,
                "resource_type": None,
            }
            if fmt != "ogc:wms" and rng.random() < 0.5:
                res["bytesize"] = str(rng.randint(1_000, 9_000_000))
            resources.append(res)
        tag_names = rng.sample(["Utrecht", "wijken", "openbare ruimte", "milieu", "verkeer", "sport", "kaart",
                                "statistiek", "bevolking"], rng.randint(0, 4))
        tags = [{"vocabulary_id": None, "display_name": t, "name": t, "revision_timestamp": ckan_ts(created),
                 "state": "active", "id": new_uuid(rng)} for t in tag_names]
        t_from = datetime(rng.randint(2005, 2014), 1, 1)
        has_temporal = rng.random() < 0.6
        pkg = {
            "owner_org": org["id"],
            "maintainer": maintainer,
            "relationships_as_object": [],
            "lod_stars": rng.choice(["0", "2", "3"]),
            "private": False,
            "maintainer_email": None,
            "num_tags": len(tags),
            "id": new_uuid(rng),
            "metadata_created": ckan_ts(created),
            "metadata_modified": ckan_ts(md_modified),
            "author": None,
            "author_email": None,
            "isopen": True,
            "source": "utrecht",
            "state": "active",
            "version": None,
            "maintainer_facet": maintainer,
            "md_soortwijziging": rng.choice([":updated", ":new"]),
            "license_id": licence,
            "contact_point": "opendata@utrecht.nl",
            "type": "dataset",
            "resources": resources,
            "num_resources": len(resources),
            "tags": tags,
            "title": title,
            "maintainer_displayname": "Gemeente | Utrecht",
            "tracking_summary": {"total": rng.randint(0, 800), "recent": rng.randint(0, 40)},
            "groups": [],
            "creator_user_id": creator,
            "relationships_as_subject": [],
            "revision_timestamp": ckan_ts(md_modified),
            "identifier": f"utrecht-{n + 1:04d}",
            "name": name,
            "language": "nl-NL",
            "accrual_periodicity": rng.choice([CLD_FREQ + "annual", CLD_FREQ + "irregular", CLD_FREQ + "monthly",
                                               CLD_FREQ + "continuous", "notPlanned", None]),
            "notes": f"{title}. " + sentences(rng, GENERIC_NOTES, 1, 4),
            "license_title": lic_title,
            "modified": (created - timedelta(days=rng.randint(0, 400))).strftime("%Y-%m-%dT%H:%M:%S"),
            "url": None,
            "license_url": lic_url,
            "organization": dict(org),
            "revision_id": revision,
            "landingpage": f"http://www.utrecht.nl/open-data/{name}" if rng.random() < 0.8 else "",
            "theme": OWMS + theme,
            "theme_facet": OWMS + facet,
            "theme_displayname": display,
            "spatial": rng.choice(["Utrecht", "Gemeente Utrecht", None]),
        }
        if has_temporal:
            pkg["temporal_from"] = t_from.strftime("%Y-%m-%d")
            pkg["temporal_to"] = datetime(rng.randint(t_from.year, 2015), 12, 31).strftime("%Y-%m-%d")
        packages.append(pkg)

    picks = iter(rng.sample(range(len(packages)), 5))
    p = packages[next(picks)]
    p["landingpage"] = f"www.utrecht.nl/{p['name']}"
    p["_defect"] = defect("landing-page-not-url", "warning", "landingpage has no scheme")
    p = packages[next(picks)]
    p["temporal_from"], p["temporal_to"] = "9999-09-09", "9999-09-09"
    p["_defect"] = defect("temporal-placeholder", "warning", "temporal_from/temporal_to are the placeholder 9999-09-09")
    p = packages[next(picks)]
    p["notes"] = ""
    p["_defect"] = defect("description-missing", "warning", "notes is empty")
    p = packages[next(picks)]
    p["title"] = ""
    p["_defect"] = defect("title-empty", "critical", "the title is empty")
    p = packages[next(picks)]
    p["resources"] = []
    p["num_resources"] = 0
    p["_defect"] = defect("no-resources", "warning", "the package has no resources")
    return packages


# ---------------------------------------------------------------------------- algoritmeregister

ALGO_ORGS = [
    ("gemeente-utrecht", "Gemeente Utrecht", "Municipality of Utrecht", "gemeente", "algoritmes@utrecht.nl", "www.utrecht.nl"),
    ("gemeente-rotterdam", "Gemeente Rotterdam", "Municipality of Rotterdam", "gemeente", "algoritmeregister@rotterdam.nl", "www.rotterdam.nl"),
    ("gemeente-eindhoven", "Gemeente Eindhoven", "Municipality of Eindhoven", "gemeente", "algoritmes@eindhoven.nl", "www.eindhoven.nl"),
    ("gemeente-zwolle", "Gemeente Zwolle", "Municipality of Zwolle", "gemeente", "privacy@zwolle.nl", "www.zwolle.nl"),
    ("provincie-gelderland", "Provincie Gelderland", "Province of Gelderland", "provincie", "algoritmes@gelderland.nl", "www.gelderland.nl"),
    ("rijkswaterstaat", "Rijkswaterstaat", "Rijkswaterstaat", "uitvoeringsorganisatie", "algoritmes@rws.nl", "www.rijkswaterstaat.nl"),
    ("dienst-uitvoering-onderwijs", "Dienst Uitvoering Onderwijs", "Education Executive Agency", "uitvoeringsorganisatie", "algoritmes@duo.nl", "duo.nl"),
    ("uwv", "Uitvoeringsinstituut Werknemersverzekeringen", "Employee Insurance Agency", "zbo", "algoritmeregister@uwv.nl", "www.uwv.nl"),
    ("waterschap-vallei-en-veluwe", "Waterschap Vallei en Veluwe", "Water Authority Vallei en Veluwe", "waterschap", "info@vallei-veluwe.nl", "www.vallei-veluwe.nl"),
    ("centraal-bureau-voor-de-statistiek", "Centraal Bureau voor de Statistiek", "Statistics Netherlands", "zbo", "algoritmes@cbs.nl", "www.cbs.nl"),
]

# (name, organisation index, categories (1.0 list), publication category, one-line description)
ALGORITHMS = [
    ("Verkeerslichtenregeling Ring Noord", 2, ["Verkeer"], "Overige algoritmes", "regelt de groentijden van verkeerslichten op basis van detectielussen in het wegdek"),
    ("Parkeerscanauto met kentekenherkenning", 1, ["Verkeer", "Openbare orde en veiligheid"], "Impactvolle algoritmes", "leest kentekens van geparkeerde auto's en controleert of er parkeergeld is betaald"),
    ("Prioritering meldingen openbare ruimte", 0, ["Organisatie en bedrijfsvoering"], "Overige algoritmes", "sorteert binnenkomende meldingen over de openbare ruimte op urgentie"),
    ("Voorspelmodel Wmo-gebruik", 3, ["Zorg en gezondheid"], "Overige algoritmes", "voorspelt het aantal gebruikers en de kosten van Wmo-voorzieningen voor de komende jaren"),
    ("Risicoscore aanvragen bijzondere bijstand", 1, ["Sociale zekerheid"], "Impactvolle algoritmes", "geeft aan welke aanvragen een extra controle door een medewerker krijgen"),
    ("Controle uitwonendenbeurs", 6, ["Onderwijs en wetenschap"], "Impactvolle algoritmes", "selecteert studenten voor een huisbezoek bij twijfel over het woonadres"),
    ("Detectie illegale vakantieverhuur", 0, ["Wonen", "Openbare orde en veiligheid"], "Impactvolle algoritmes", "vergelijkt advertenties met registraties om mogelijke illegale verhuur te signaleren"),
    ("Schade-inschatting na hoogwater", 8, ["Natuur en milieu"], "Overige algoritmes", "schat de schade aan waterkeringen na een periode van hoogwater"),
    ("Dijkinspectie met beeldherkenning", 5, ["Ruimte en infrastructuur"], "Overige algoritmes", "herkent scheuren en verzakkingen op dronebeelden van dijken"),
    ("Slim onderhoud wegdek", 4, ["Ruimte en infrastructuur", "Verkeer"], "Overige algoritmes", "plant onderhoud aan provinciale wegen op basis van schademetingen"),
    ("Chatbot gemeentelijke dienstverlening", 2, ["Organisatie en bedrijfsvoering"], "Overige algoritmes", "beantwoordt veelgestelde vragen van inwoners via de website"),
    ("Anonimiseren van documenten bij Woo-verzoeken", 3, ["Organisatie en bedrijfsvoering", "Recht"], "Overige algoritmes", "stelt voor welke persoonsgegevens in documenten moeten worden weggelakt"),
    ("Herkennen van zwerfafval op camerabeelden", 1, ["Natuur en milieu"], "Overige algoritmes", "telt zwerfafval op beelden van veegwagens om de schoonmaak te plannen"),
    ("Matching werkzoekenden en vacatures", 7, ["Werk"], "Impactvolle algoritmes", "zoekt passende vacatures bij het profiel van een werkzoekende"),
    ("Selectie heronderzoek WW-uitkering", 7, ["Sociale zekerheid", "Werk"], "Hoog-risico AI-systeem", "bepaalt welke uitkeringen als eerste opnieuw worden beoordeeld"),
    ("Voorspellen van bezoekersdrukte binnenstad", 0, ["Openbare orde en veiligheid", "Economie"], "Overige algoritmes", "voorspelt de drukte in winkelstraten op basis van tellingen en het weer"),
    ("Schatting energielabel woningen", 2, ["Wonen", "Natuur en milieu"], "Overige algoritmes", "schat het energielabel van woningen zonder geregistreerd label"),
    ("Toewijzing sociale huurwoningen", 3, ["Wonen"], "Impactvolle algoritmes", "rangschikt woningzoekenden op inschrijfduur en urgentie"),
    ("Berekening WOZ-waarde", 1, ["Overheidsfinanciën", "Wonen"], "Impactvolle algoritmes", "berekent de WOZ-waarde van woningen met een modelmatige waardering"),
    ("Route-optimalisatie afvalinzameling", 2, ["Natuur en milieu", "Organisatie en bedrijfsvoering"], "Overige algoritmes", "berekent de kortste route langs volle ondergrondse containers"),
    ("Classificatie van binnenkomende post", 6, ["Organisatie en bedrijfsvoering"], "Overige algoritmes", "leidt gescande brieven door naar de juiste afdeling"),
    ("Vroegsignalering schulden", 0, ["Sociale zekerheid"], "Impactvolle algoritmes", "bundelt signalen over betalingsachterstanden zodat schuldhulp eerder contact kan opnemen"),
    ("Subsidiecheck energiebesparing", 4, ["Economie", "Natuur en milieu"], "Overige algoritmes", "controleert subsidieaanvragen automatisch op volledigheid"),
    ("Monitoring grondwaterstanden", 8, ["Natuur en milieu"], "Overige algoritmes", "signaleert afwijkende grondwaterstanden in meetreeksen"),
    ("Fraudesignalering parkeervergunningen", 1, ["Verkeer", "Recht"], "Impactvolle algoritmes", "signaleert vergunningen die mogelijk onterecht zijn aangevraagd"),
    ("Volledigheidstoets omgevingsvergunning", 3, ["Ruimte en infrastructuur", "Recht"], "Overige algoritmes", "controleert of een aanvraag omgevingsvergunning alle verplichte stukken bevat"),
    ("Drones voor natuurbeheer", 4, ["Natuur en milieu"], "Overige algoritmes", "herkent plantensoorten op luchtfoto's van natuurgebieden"),
    ("Spraakherkenning telefonische dienstverlening", 0, ["Organisatie en bedrijfsvoering"], "Overige algoritmes", "zet telefoongesprekken om in tekst om vragen sneller door te verbinden"),
    ("Herkenning verkeersborden in beeldmateriaal", 5, ["Verkeer"], "Overige algoritmes", "inventariseert verkeersborden langs rijkswegen met beeldherkenning"),
    ("Planning groenonderhoud", 2, ["Natuur en milieu"], "Overige algoritmes", "plant maaien en snoeien op basis van groeimodellen"),
    ("Prognose leerlingaantallen", 6, ["Onderwijs en wetenschap"], "Overige algoritmes", "voorspelt leerlingaantallen per school voor de komende tien jaar"),
    ("Detectie afwijkende declaraties", 7, ["Overheidsfinanciën"], "Impactvolle algoritmes", "markeert declaraties die sterk afwijken van vergelijkbare declaraties"),
    ("Risicogestuurde horeca-inspecties", 1, ["Openbare orde en veiligheid"], "Impactvolle algoritmes", "bepaalt de volgorde waarin horecazaken worden geïnspecteerd"),
    ("Voorspelling waterstanden in polders", 8, ["Natuur en milieu"], "Overige algoritmes", "voorspelt waterstanden om gemalen tijdig in te zetten"),
    ("Berekening bijzondere bijstand", 3, ["Sociale zekerheid"], "Impactvolle algoritmes", "berekent de hoogte van bijzondere bijstand volgens de beleidsregels"),
    ("Samenvatten van raadsstukken", 2, ["Organisatie en bedrijfsvoering"], "Overige algoritmes", "maakt met een taalmodel conceptsamenvattingen van raadsstukken"),
    ("Signalering ondermijning bedrijventerreinen", 0, ["Openbare orde en veiligheid", "Economie"], "Hoog-risico AI-systeem", "combineert registraties om signalen van ondermijning op bedrijventerreinen te vinden"),
    ("Koppeling adresgegevens", 9, ["Organisatie en bedrijfsvoering"], "Overige algoritmes", "koppelt adressen uit verschillende bronnen aan de Basisregistratie Adressen en Gebouwen"),
    ("Imputatie ontbrekende enquêtegegevens", 9, ["Economie"], "Overige algoritmes", "vult ontbrekende antwoorden in enquêtes aan met een statistisch model"),
    ("Toewijzing schuldhulptrajecten", 1, ["Sociale zekerheid"], "Impactvolle algoritmes", "stelt een passend schuldhulptraject voor op basis van de intake"),
]

LAWS = [
    ("Wegenverkeerswet 1994", "https://wetten.overheid.nl/BWBR0006622"),
    ("Participatiewet", "https://wetten.overheid.nl/BWBR0015703"),
    ("Wet maatschappelijke ondersteuning 2015", "https://wetten.overheid.nl/BWBR0035362"),
    ("Wet studiefinanciering 2000", "https://wetten.overheid.nl/BWBR0011453"),
    ("Waterwet", "https://wetten.overheid.nl/BWBR0025458"),
    ("Wet open overheid", "https://wetten.overheid.nl/BWBR0045754"),
    ("Wet waardering onroerende zaken", "https://wetten.overheid.nl/BWBR0007119"),
    ("Huisvestingswet 2014", "https://wetten.overheid.nl/BWBR0035303"),
    ("Werkloosheidswet", "https://wetten.overheid.nl/BWBR0004045"),
    ("Gemeentewet", "https://wetten.overheid.nl/BWBR0005416"),
]
ASSESSMENTS = [
    "Data Protection Impact Assessment (DPIA)", "Impact Assessment Mensenrechten en Algoritmes (IAMA)",
    "Pre-scan DPIA", "De Ethische Data Assistant (DEDA)", "Privacy Quickscan",
]
DATA_SOURCES = [
    ("Basisregistratie Personen (BRP)", "https://www.rvig.nl/brp"),
    ("Basisregistratie Adressen en Gebouwen (BAG)", "https://www.kadaster.nl/zakelijk/registraties/basisregistraties/bag"),
    ("Meldingen openbare ruimte", None),
    ("Kerncijfers wijken en buurten (CBS)", "https://www.cbs.nl/nl-nl/reeksen/kerncijfers-wijken-en-buurten"),
    ("Sensordata verkeerslussen", None),
    ("Eigen klantregistratie", None),
    ("Luchtfoto's (PDOK)", "https://www.pdok.nl/"),
]
PROVIDERS = ["Eigen ontwikkeling", "Centric", "Haaks Software", "Eigen ontwikkeling met open source componenten",
             "Leverancier via aanbesteding", None]
METHODS = [
    "Een beslisboom met vaste regels die door medewerkers zijn opgesteld.",
    "Een regressiemodel dat jaarlijks opnieuw wordt getraind op gegevens van de afgelopen vijf jaar.",
    "Een neuraal netwerk voor beeldherkenning, getraind op handmatig gelabelde beelden.",
    "Een rekenregel op basis van de beleidsregels; er wordt niet geleerd van gegevens.",
    "Een gradient boosting-model; de belangrijkste kenmerken worden per uitkomst getoond aan de medewerker.",
    "Een groot taalmodel dat conceptteksten maakt; een medewerker controleert elke tekst.",
]
OLD_STATUS = ["Actief", "Active", "In gebruik", "Gepland", "In ontwikkeling", "Buiten gebruik", ""]


def _goal(desc: str, org: str) -> str:
    return (f"{org} gebruikt dit algoritme omdat het {desc}. Daarmee kunnen medewerkers hun tijd besteden aan "
            f"de gevallen die aandacht nodig hebben. Inwoners en bedrijven merken dit doordat zij sneller een reactie krijgen.")


def algo_1_0(rng: random.Random, algo: tuple, lars: str, created: datetime) -> dict:
    name, org_i, categories, pub_cat, desc = algo
    code, org_nl, _, _, email, domain = ALGO_ORGS[org_i]
    begin = datetime(rng.randint(2016, 2024), rng.randint(1, 12), 1)
    status = rng.choices(["In gebruik", "In ontwikkeling", "Buiten gebruik"], weights=[7, 2, 1])[0]
    end = f"{rng.randint(begin.year, 2025)}-{rng.randint(1, 12):02d}" if status == "Buiten gebruik" else ""
    laws = rng.sample(LAWS, rng.randint(1, 2))
    assessments = rng.sample(ASSESSMENTS, rng.randint(0, 2))
    sources = rng.sample(DATA_SOURCES, rng.randint(1, 3))
    slug = slugify(name)
    return {
        "name": name,
        "organization": org_nl,
        "description_short": f"Dit algoritme {desc}.",
        "category": categories,
        "website": f"https://{domain}/algoritmes/{slug}",
        "status": status,
        "goal": _goal(desc, org_nl),
        "proportionality": "De voordelen wegen op tegen de nadelen: zonder het algoritme kost het werk veel meer tijd "
                           "en is de kans op fouten groter. Alternatieven zijn onderzocht.",
        "lawful_basis": "Het algoritme ondersteunt taken uit " + " en ".join(t for t, _ in laws) + ".",
        "lawful_basis_grouping": [{"title": t, "link": u} for t, u in laws],
        "impacttoetsen": ", ".join(assessments),
        "impacttoetsen_grouping": [{"title": a, "link": f"https://{domain}/documenten/{slugify(a)[:30]}-{slug[:20]}.pdf"
                                    if rng.random() < 0.5 else None} for a in assessments],
        "source_data": "; ".join(t for t, _ in sources),
        "source_data_grouping": [{"title": t, "link": u} for t, u in sources],
        "methods_and_models": rng.choice(METHODS),
        "human_intervention": "Een medewerker beoordeelt de uitkomst voordat er een besluit wordt genomen.",
        "risks": "Het risico bestaat dat het algoritme voor bepaalde groepen minder goed werkt. Daarom wordt de "
                 "uitkomst periodiek gecontroleerd op ongewenste verschillen.",
        "provider": rng.choice(PROVIDERS),
        "publiccode": "",
        "process_index_url": "",
        "url": "",
        "contact_email": email,
        "lang": "nld",
        "standard_version": "1.0",
        "tags": ", ".join(rng.sample(["algoritme", "dienstverlening", "toezicht", "data", "AI", "automatisering",
                                      "privacy", "mobiliteit"], 3)),
        "source_id": "",
        "begin_date": begin.strftime("%Y-%m"),
        "end_date": end,
        "publication_category": pub_cat,
        "lars": lars,
        "publication_dt": (created + timedelta(days=rng.randint(0, 20))).strftime("%Y-%m-%dT%H:%M:%S.%f"),
        "language": "NLD",
        "owner": code,
        "create_dt": created.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00",
        "state": "PUBLISHED",
        "published": True,
    }


def algo_0_1(rng: random.Random, algo: tuple, lars: str, created: datetime) -> dict:
    """The free-text form of the first registrations (like the register's site-data export)."""
    name, org_i, categories, _, desc = algo
    code, org_nl, _, _, email, domain = ALGO_ORGS[org_i]
    return {
        "name": name,
        "organization": org_nl,
        "department": rng.choice(["Stadsbeheer", "Werk en Inkomen", "Informatievoorziening", "Dienstverlening", ""]),
        "description_short": f"Dit algoritme {desc}.",
        "type": rng.choice(["Regelgebaseerd", "Zelflerend", "", "Rule based"]),
        "category": rng.choice([categories[0], "", None]),
        "website": rng.choice([f"https://{domain}/algoritmes", "", None]),
        "status": rng.choice(OLD_STATUS),
        "goal": _goal(desc, org_nl),
        "impact": "Inwoners merken vooral dat hun vraag sneller wordt behandeld.",
        "proportionality": "",
        "decision_making_process": "Het algoritme geeft een advies; een medewerker neemt het besluit.",
        "documentation": rng.choice([f"https://{domain}/documenten/{slugify(name)[:40]}", ""]),
        "competent_authority": "College van burgemeester en wethouders" if org_i < 4 else "Directie",
        "lawful_basis": rng.choice(LAWS)[0],
        "iama": rng.choice(["Ja", "Nee", "", None]),
        "iama_description": "",
        "dpia": rng.choice(["Ja", "Nee", "", "Er is een DPIA uitgevoerd in 2021."]),
        "dpia_description": "",
        "objection_procedure": "Bezwaar maken tegen een besluit kan volgens de Algemene wet bestuursrecht.",
        "standard_version": "0.1",
        "uuid": "",
        "url": "",
        "contact_email": email,
        "area": ALGO_ORGS[org_i][1].replace("Gemeente ", ""),
        "lang": "Nederlands",
        "revision_date": "",
        "description": f"{name}. Dit algoritme {desc}. " + rng.choice(METHODS),
        "application_url": "",
        "publiccode": "",
        "mprd": rng.choice(["Ja", "Nee", ""]),
        "source_data": "; ".join(t for t, _ in rng.sample(DATA_SOURCES, 2)),
        "methods_and_models": rng.choice(METHODS),
        "monitoring": "De uitkomsten worden elk kwartaal besproken.",
        "human_intervention": "Een medewerker controleert de uitkomst.",
        "risks": "Onjuiste gegevens in de bron kunnen tot een verkeerde uitkomst leiden.",
        "performance_standard": "",
        "provider": rng.choice(PROVIDERS),
        "process_index_url": None,
        "tags": None,
        "source_id": None,
        "begin_date": None,
        "end_date": None,
        "lawful_basis_link": None,
        "impacttoetsen": None,
        "source_data_link": None,
        "publication_category": None,
        "lawful_basis_grouping": None,
        "impacttoetsen_grouping": None,
        "source_data_grouping": None,
        "language": "NLD",
        "owner": code,
        "lars": lars,
        "create_dt": created.strftime("%Y-%m-%dT%H:%M:%S.%f") + "+00:00",
        "state": "PUBLISHED",
        "published": True,
    }


def algo_transitional(rng: random.Random, algo: tuple, lars: str, created: datetime, version: str) -> dict:
    """0.3.1 / 0.4.0: the transitional shape (the samples hold no record of these versions; modelled
    as 0.1 field names plus the first structured fields: begin_date as a full date, single
    ``*_link`` fields instead of ``*_grouping`` lists, a controlled status, no publication_category)."""
    rec = algo_0_1(rng, algo, lars, created)
    name, org_i, categories, _, desc = algo
    domain = ALGO_ORGS[org_i][5]
    law = rng.choice(LAWS)
    rec.update(
        standard_version=version,
        lang="nld",
        status=rng.choice(["In gebruik", "In gebruik", "In ontwikkeling", "Buiten gebruik"]),
        category=", ".join(categories),
        begin_date=datetime(rng.randint(2017, 2023), rng.randint(1, 12), 1).strftime("%Y-%m-%d"),
        end_date="",
        lawful_basis=f"{law[0]}",
        lawful_basis_link=law[1],
        impacttoetsen=rng.choice(ASSESSMENTS),
        source_data_link=rng.choice([u for _, u in DATA_SOURCES if u]),
        website=f"https://{domain}/algoritmes/{slugify(name)[:40]}",
        publication_category=None,
    )
    for gone in ("iama", "iama_description", "dpia_description", "mprd", "uuid"):
        rec.pop(gone, None)
    return rec


ENGLISH = {
    "In gebruik": "In use", "In ontwikkeling": "In development", "Buiten gebruik": "Out of use",
    "Actief": "Active", "Gepland": "Planned",
}


def english_twin(rec: dict) -> dict:
    """The ENG version of a record (same lars), as the register keeps per language."""
    org_en = next(o[2] for o in ALGO_ORGS if o[0] == rec["owner"])
    twin = copy.deepcopy(rec)
    twin.update(
        organization=org_en,
        description_short=f"English summary: {rec['name']} ({org_en}).",
        language="ENG",
        lang="eng" if rec["standard_version"] != "0.1" else "English",
        status=ENGLISH.get(rec["status"], rec["status"]),
    )
    return twin


def build_algoritmeregister() -> dict:
    rng = random.Random(SEED + "/algoritmeregister")
    taken: set[str] = set()
    versions = ["1.0"] * 23 + ["0.1"] * 10 + ["0.4.0"] * 4 + ["0.3.1"] * 3
    records = []
    for algo, version in zip(ALGORITHMS, versions):
        lars = new_lars(rng, taken)
        if version == "1.0":
            created = rand_dt(rng, datetime(2024, 1, 10), datetime(2025, 5, 1))
            rec = algo_1_0(rng, algo, lars, created)
        elif version == "0.1":
            created = rand_dt(rng, datetime(2022, 12, 1), datetime(2023, 6, 1))
            rec = algo_0_1(rng, algo, lars, created)
        else:
            created = rand_dt(rng, datetime(2023, 3, 1), datetime(2023, 12, 1))
            rec = algo_transitional(rng, algo, lars, created, version)
        records.append(rec)

    one_0 = [r for r in records if r["standard_version"] == "1.0"]
    # Defects on 1.0 records (the last eight of them; the first fifteen stay clean).
    bad = one_0[15:]
    r = bad[0]
    r["lars"] = r["lars"][:7] + str((int(r["lars"][7]) + 3) % 10)
    assert not lars_is_valid(r["lars"])
    r["_defect"] = defect("lars-check-digit", "critical", "the lars check digit is wrong (weighted sum not divisible by 11)")
    r = bad[1]
    r["status"] = "Actief"
    r["_defect"] = defect("status-not-in-list", "critical", "status 'Actief' is not in the 1.0 list for a 1.0 record")
    r = bad[2]
    r["name"] = None
    r["_defect"] = defect("name-missing", "critical", "name is null (required in 1.0)")
    r = bad[3]
    r["lars"] = "C" + "".join(str(rng.randrange(10)) for _ in range(7))
    r["state"] = "CONCEPT"
    r["_defect"] = defect("concept-id", "critical", "a hidden concept record (lars starts with C): never listed, detail answers 403")
    r = bad[4]
    r["lars"] = one_0[2]["lars"]
    r["_defect"] = defect("duplicate-lars", "critical", f"lars {one_0[2]['lars']} is also used by '{one_0[2]['name']}'")
    r = bad[5]
    r["publication_category"] = "Categorie B"
    r["_defect"] = defect("publication-category-not-in-list", "critical", "publication_category is not in the 1.0 list")
    r = bad[6]
    r["begin_date"] = "mei 2023"
    r["_defect"] = defect("begin-date-format", "warning", "begin_date is not YYYY-MM")
    r = bad[7]
    r["contact_email"] = ""
    r["_defect"] = defect("contact-email-missing", "critical", "contact_email is empty (required in 1.0)")
    # A 0.4.0 record with a 7-digit lars.
    r = next(x for x in records if x["standard_version"] == "0.4.0")
    r["lars"] = r["lars"][:7]
    r["_defect"] = defect("lars-seven-digits", "critical", "the lars has 7 digits, not 8")

    # English versions of four clean records (two 1.0, two 0.1).
    twins = [english_twin(one_0[0]), english_twin(one_0[5])]
    twins += [english_twin(x) for x in [x for x in records if x["standard_version"] == "0.1"][:2]]
    records.extend(twins)

    orgs = []
    for code, nl, en, kind, email, domain in ALGO_ORGS:
        show = rng.random() < 0.6
        orgs.append({"about": None, "contact_info": None, "name": en, "language": "ENG", "code": code, "type": kind,
                     "show_page": False})
        orgs.append({"about": f"Algoritmes van {nl}." if show else None, "contact_info": email if show else None,
                     "name": nl, "language": "NLD", "code": code, "type": kind, "show_page": show})
    return {"algoritme_versions": records, "organisation_details": orgs}


# --------------------------------------------------------------------------------------- output


def write_json(path: Path, payload: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(payload, ensure_ascii=False, indent=1) + "\n"
    path.write_text(text, encoding="utf-8")


def defect_summary(records: list[dict]) -> dict[str, int]:
    out: dict[str, int] = {}
    for r in records:
        if "_defect" in r:
            out[r["_defect"]["code"]] = out.get(r["_defect"]["code"], 0) + 1
    return out


def build_all() -> dict[str, dict]:
    national = build_national_portal()
    utrecht = build_gemeente_utrecht()
    register = build_algoritmeregister()
    return {
        "ckan/national-portal.json": {
            "_comment": "Sample agency 'national-portal': imitates data.overheid.nl's CKAN package_search results "
                        "in today's DCAT-AP-DONL 1.1 CKAN schema (authority/publisher URIs, theme and language "
                        "lists, licence URIs with some old slugs, EU frequency and access-right URIs, resources "
                        "with download_url lists). Made-up values, written by inventory.demo.make_fixtures. "
                        "Records with a '_defect' are wrong on purpose; the server strips '_defect' and '_comment'.",
            "agency": "national-portal",
            "imitates": "https://data.overheid.nl/data/api/3/action/package_search (DCAT-AP-DONL 1.1)",
            "packages": national,
        },
        "ckan/gemeente-utrecht.json": {
            "_comment": "Sample agency 'gemeente-utrecht': imitates a 2015 data.overheid.nl CKAN catalogue "
                        "(maintainer OWMS URIs, licence slugs cc-by3/cc-0/publiek-domein, accrual_periodicity, "
                        "landingpage, temporal_from/temporal_to, language 'nl-NL', timestamps without zone). "
                        "Made-up values, written by inventory.demo.make_fixtures.",
            "agency": "gemeente-utrecht",
            "imitates": "data.overheid.nl CKAN 2.2 package_search, April 2015",
            "packages": utrecht,
        },
        "algoritmeregister/register.json": {
            "_comment": "Sample agency 'algoritmeregister': imitates the Algoritmeregister (algoritmes.overheid.nl) "
                        "site-data export {algoritme_versions, organisation_details}, mixed publication standard "
                        "versions 1.0 / 0.4.0 / 0.3.1 / 0.1, NLD and ENG versions. Made-up values, written by "
                        "inventory.demo.make_fixtures. Records with a '_defect' are wrong on purpose.",
            "agency": "algoritmeregister",
            "imitates": "https://algoritmes.overheid.nl/api/downloads/site-data/json and /api/algoritme/{lang}",
            **register,
        },
    }


def readme(files: dict[str, dict]) -> str:
    """fixtures/README.md, from the data itself (so it never disagrees with the files)."""
    national = files["ckan/national-portal.json"]["packages"]
    utrecht = files["ckan/gemeente-utrecht.json"]["packages"]
    register = files["algoritmeregister/register.json"]["algoritme_versions"]

    def counts(values) -> str:
        c: dict[str, int] = {}
        for v in values:
            c[v] = c.get(v, 0) + 1
        return ", ".join(f"{k} {n}" for k, n in sorted(c.items(), key=lambda kv: (-kv[1], kv[0])))

    def defect_rows(records: list[dict], key) -> list[str]:
        rows = []
        for r in records:
            d = r.get("_defect")
            if d:
                rows.append(f"| `{d['code']}` | {d['severity']} | `{key(r)}` | {d['detail']} |")
        return sorted(rows)

    listed = [r for r in register if not str(r.get("lars", "")).upper().startswith("C")]
    versions = [f"{r['language']} {r['standard_version']}" for r in register]
    lines = [
        "# Sample agency fixtures",
        "",
        "Written by `python -m inventory.demo.make_fixtures` (fixed seeds, standard library only); do not edit by",
        "hand, change the generator and run it again. Every value is made up, modelled on the shapes of the real",
        "extracts in `../shared/samples/`; no sample record is copied. Organisation URIs follow the real OWMS/TOOI",
        "patterns (gemeente and provincie codes are the CBS codes; the waterschap code and the spatial values are",
        "illustrative). Served by `inventory.demo.sample_agencies`, which strips every `_defect` and `_comment` key.",
        "",
        "| file | imitates | records |",
        "|---|---|---|",
        f"| `ckan/national-portal.json` | data.overheid.nl CKAN `package_search` today: the DCAT-AP-DONL 1.1 CKAN schema "
        f"(`authority`/`publisher` OWMS or TOOI URIs, `theme`/`language` lists of URIs, licence URIs and some old "
        f"slugs, EU `frequency` (some old `accrual_periodicity`), `access_rights`, `spatial_scheme`/`spatial_value` "
        f"lists, resources with `download_url` lists) | {len(national)} packages, {len({p['id'] for p in national})} "
        f"distinct ids |",
        f"| `ckan/gemeente-utrecht.json` | a 2015 data.overheid.nl CKAN 2.2 catalogue (`maintainer` OWMS URI, licence "
        f"slugs, `accrual_periodicity`, `landingpage`, `temporal_from`/`temporal_to`, `language` \"nl-NL\", no zones) "
        f"| {len(utrecht)} packages |",
        f"| `algoritmeregister/register.json` | the Algoritmeregister export `{{algoritme_versions, organisation_details}}`"
        f" and its `/api/algoritme/{{lang}}` records, mixed publication standard versions | {len(register)} records "
        f"({len(listed)} listed) |",
        "",
        "## national-portal",
        "",
        f"Organisations: {counts(p['organization']['title'] for p in national)}.",
        "",
        f"Licences: {counts(p.get('license_id') for p in national)}.",
        "",
        "Shape variants that are not defects: some `issued`/`modified` with `Z` or `+01:00`, some without a zone;",
        "CBS resources with `size` like \"15 rijen, 62 kolommen\"; formats as EU file-type URIs or bare (`CSV`,",
        "`ogc:wms`); a few resources with `download_url` as a bare string instead of a list; six Kadaster",
        "packages share one `metadata_modified` (a batch update: ties for sort stability).",
        "",
        "| defect | severity | id | detail |",
        "|---|---|---|---|",
        *defect_rows(national, lambda r: r["id"]),
        "",
        "## gemeente-utrecht",
        "",
        "| defect | severity | id | detail |",
        "|---|---|---|---|",
        *defect_rows(utrecht, lambda r: r["id"]),
        "",
        "## algoritmeregister",
        "",
        f"Versions (language, standard_version): {counts(versions)}.",
        "",
        "1.0 records use the 1.0 field names and value lists (`status`, `publication_category`, `category[]`,",
        "`*_grouping` lists of `{title, link}`, `begin_date` as YYYY-MM, `lang` \"nld\"). 0.1 records are the free-text",
        "form of the export (`status` such as \"Actief\"/\"Active\"/\"\", `iama`, `dpia`, `impact`, no",
        "`publication_category`, `lang` \"Nederlands\"). The samples hold no 0.3.1/0.4.0 record: those are modelled",
        "as the transitional shape (0.1 names plus `begin_date` as a full date, single `lawful_basis_link` /",
        "`source_data_link`, controlled `status`, `category` as one string). ENG versions share the lars of their NLD",
        "record and write `status` in English. Every `lars` except the defects below passes the check digit",
        "(weights 8..1, sum divisible by 11).",
        "",
        "| defect | severity | lars | detail |",
        "|---|---|---|---|",
        *defect_rows(register, lambda r: r["lars"]),
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=FIXTURES_DIR, help="output folder (default: the committed fixtures)")
    args = parser.parse_args(argv)
    files = build_all()
    (args.out).mkdir(parents=True, exist_ok=True)
    (args.out / "README.md").write_text(readme(files), encoding="utf-8")
    for rel, payload in files.items():
        write_json(args.out / rel, payload)
        records = payload.get("packages") or payload.get("algoritme_versions")
        print(f"{rel}: {len(records)} records, defects {defect_summary(records)}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
