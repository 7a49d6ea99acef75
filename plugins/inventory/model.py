"""The canonical model: table names, columns and their Arrow types.

These names are the contract with consumers (see DESIGN.md, "Canonical model"). Every layer uses
the schemas below: source modules fill plain dicts keyed by these column names, the harvest loop
writes them to Parquet with these schemas, validation reads them back, and publish creates the
store tables from them. List-valued columns are Arrow lists of strings.
"""

from __future__ import annotations

import hashlib

import pyarrow as pa

STR = pa.string()
STRS = pa.list_(pa.string())
TS = pa.timestamp("us", tz="UTC")

# Provenance columns carried by every record table.
PROVENANCE: list[tuple[str, pa.DataType]] = [
    ("source_id", STR),
    ("source_record_id", STR),
    ("harvested_at", TS),
    ("run_id", STR),
    ("raw_sha256", STR),
]

DATASETS = pa.schema(
    [
        ("dataset_uid", STR),
        ("identifier", STR),
        ("title", STR),
        ("description", STR),
        ("publisher", STR),
        ("publisher_uri", STR),
        ("contact_point", STR),
        ("theme", STRS),
        ("keyword", STRS),
        ("license", STR),
        ("access_rights", STR),
        ("issued", STR),
        ("modified", STR),
        ("landing_page", STR),
        ("language", STRS),
        ("spatial", STR),
        ("temporal_start", STR),
        ("temporal_end", STR),
        ("frequency", STR),
        # The value exactly as the source wrote it, beside each mapped controlled value.
        ("license_original", STR),
        ("access_rights_original", STR),
        ("frequency_original", STR),
        ("theme_original", STRS),
        # The publisher as the source wrote it; publisher/publisher_uri are the canonical organisation
        # of config/organizations.yaml when it is listed there (see organizations.py).
        ("publisher_original", STR),
        ("publisher_uri_original", STR),
        *PROVENANCE,
    ]
)

DISTRIBUTIONS = pa.schema(
    [
        ("distribution_uid", STR),
        ("dataset_uid", STR),
        ("access_url", STR),
        ("download_url", STR),
        ("format", STR),
        ("media_type", STR),
        ("license", STR),
        # dct:rights: a statement of rights beyond the licence (the MQA "rights" metric).
        ("rights", STR),
        ("byte_size", pa.int64()),
        ("title", STR),
        ("format_original", STR),
        ("license_original", STR),
        *PROVENANCE,
    ]
)

# The APIs of the national API register (developer.overheid.nl), DCAT DataService aligned.
DATA_SERVICES = pa.schema(
    [
        ("service_uid", STR),
        ("title", STR),
        ("description", STR),
        ("publisher", STR),
        ("publisher_uri", STR),  # the organisation's TOOI URI when the register gives one
        ("endpoint_url", STR),  # dcat:endpointURL: the production server of the API
        ("endpoint_description", STR),  # dcat:endpointDescription: the OpenAPI document's URL
        ("api_type", STR),  # rest | graphql | soap | grpc | sparql | odata | ogc
        ("authentication", STRS),  # none | api_key | oauth2 | openid_connect | http_bearer | http_basic | mutual_tls | ip_allow_list
        ("lifecycle_status", STR),  # active | deprecated | sunset | retired
        ("version", STR),
        ("adr_score", pa.float64()),  # API Design Rules compliance as the register publishes it, 0-100
        ("docs_url", STR),
        ("contact", STR),  # e-mail address, else contact URL, else name
        # The value exactly as the source wrote it, beside each mapped controlled value.
        ("api_type_original", STR),
        ("authentication_original", STRS),
        ("lifecycle_status_original", STR),
        # The organisation as the register wrote it (publisher/publisher_uri: the canonical one).
        ("publisher_original", STR),
        ("publisher_uri_original", STR),
        *PROVENANCE,
    ]
)

ALGORITHMS = pa.schema(
    [
        ("algorithm_uid", STR),
        ("name", STR),
        ("description_short", STR),
        ("organization", STR),
        ("status", STR),
        ("publication_category", STR),
        ("goal", STR),
        ("lawful_basis", STR),
        ("impact_assessments", STRS),
        ("source_data", STRS),
        ("human_intervention", STR),
        ("risks", STR),
        ("begin_date", STR),
        ("end_date", STR),
        ("contact_email", STR),
        ("website", STR),
        ("standard_version", STR),
        ("jurisdiction", STR),
        ("language", STR),
        ("original_status", STR),
        ("original_category", STR),
        # The canonical organisation's TOOI URI, and the organisation as the source wrote it.
        ("organization_uri", STR),
        ("organization_original", STR),
        *PROVENANCE,
    ]
)

# Records that failed a critical check: the whole record as JSON, and why.
QUARANTINE = pa.schema(
    [
        ("record_type", STR),  # datasets | distributions | data_services | algorithms
        ("record_uid", STR),
        ("source_id", STR),
        ("source_record_id", STR),
        ("run_id", STR),
        ("suite", STR),  # GX suite name, or "harvest" for records refused while parsing
        ("expectation", STR),  # expectation type (or the parse check that failed)
        ("column", STR),
        ("observed_value", STR),
        ("reason", STR),
        ("record", STR),  # the canonical record (or raw item) as JSON
        ("quarantined_at", TS),
    ]
)

HARVEST_RUNS = pa.schema(
    [
        ("run_id", STR),
        ("source_id", STR),
        ("kind", STR),
        ("status", STR),  # complete | partial | failed | held (a mass withdrawal waiting for review)
        ("started_at", TS),
        ("finished_at", TS),
        ("duration_s", pa.float64()),
        ("pages", pa.int64()),
        ("records_reported", pa.int64()),  # what the server said it had
        ("records_received", pa.int64()),  # distinct records actually received
        ("records_valid", pa.int64()),
        ("records_quarantined", pa.int64()),
        ("added", pa.int64()),
        ("changed", pa.int64()),
        ("removed", pa.int64()),
        ("message", STR),  # what happened, in plain words
        ("error", STR),
        # Publisher/organisation names of this run that config/organizations.yaml does not list
        # (distinct names, and which ones, for a steward); reports/unmatched_organizations.csv has all.
        ("unmatched_organizations", pa.int64()),
        ("unmatched_organizations_summary", STR),
    ]
)

# The record tables a source kind can produce, by name.
RECORD_TABLES: dict[str, pa.Schema] = {
    "datasets": DATASETS,
    "distributions": DISTRIBUTIONS,
    "data_services": DATA_SERVICES,
    "algorithms": ALGORITHMS,
}
# child table -> (parent table, column of the child holding the parent's uid)
PARENTS = {"distributions": ("datasets", "dataset_uid")}
# Tables whose rows are the records a source lists (datasets, APIs, algorithms); a distribution is a
# part of its dataset, counted per table only, and comes and goes with the dataset's own updates.
TOP_LEVEL_TABLES = ("datasets", "data_services", "algorithms")

# What each publish changed, one row per record: added, changed (with the columns that changed) or
# withdrawn (gone from a complete listing; its last version stays in the history as a tombstone).
CHANGES = pa.schema(
    [
        ("run_id", STR),  # the harvest run whose batch made the change
        ("source_id", STR),
        ("record_type", STR),  # the record table: datasets | distributions | algorithms | ...
        ("record_uid", STR),
        ("source_record_id", STR),
        ("change", STR),  # added | changed | withdrawn
        ("fields", STRS),  # changed: the columns whose value changed (provenance left out)
        ("publish_id", STR),
        ("changed_at", TS),  # when the change was published (= valid_from / valid_to in the history)
    ]
)

ALL_TABLES: dict[str, pa.Schema] = {
    **RECORD_TABLES,
    "quarantine": QUARANTINE,
    "harvest_runs": HARVEST_RUNS,
    "changes": CHANGES,
}

# Every record table T has a history table T_history in the store: every published version of each
# record, with T's columns plus these. The current version has valid_to NULL; a record withdrawn from
# a complete listing keeps its last version, closed, with the run that saw it gone (a tombstone).
HISTORY_COLUMNS: list[tuple[str, pa.DataType]] = [
    ("valid_from", TS),  # when this version was published
    ("valid_to", TS),  # when the next version or the withdrawal was published; NULL: current
    ("publish_id", STR),  # the publish that wrote this version
    ("withdrawn_run_id", STR),  # set on a tombstone: the run whose complete listing no longer had it
]


def history_table(table: str) -> str:
    """The name of a record table's history table."""
    return f"{table}_history"


def history_schema(table: str) -> pa.Schema:
    return pa.schema(list(RECORD_TABLES[table]) + HISTORY_COLUMNS)


# Derived at every publish from the record tables (``publish.links``): cross-source links.
DATASET_CLUSTERS = pa.schema(
    [
        ("dataset_uid", STR),
        ("source_id", STR),
        ("cluster_id", STR),  # the same dataset harvested through several catalogues shares one
        ("matched_by", STR),  # identifier | uri | landing_page | title_publisher | None (matched nothing)
        ("cluster_size", pa.int64()),
    ]
)

ALGORITHM_DATASETS = pa.schema(
    [
        ("algorithm_uid", STR),
        ("dataset_uid", STR),
        ("matched_by", STR),  # link | title
        ("source_data_entry", STR),  # the algorithm's source_data entry, as the register wrote it
    ]
)

DERIVED_TABLES: dict[str, pa.Schema] = {
    "dataset_clusters": DATASET_CLUSTERS,
    "algorithm_datasets": ALGORITHM_DATASETS,
}
DERIVED_KEYS: dict[str, tuple[str, ...]] = {
    "dataset_clusters": ("dataset_uid",),
    "algorithm_datasets": ("algorithm_uid", "dataset_uid"),
}

# The stable key column of each record table.
UID_COLUMN = {
    "datasets": "dataset_uid",
    "distributions": "distribution_uid",
    "data_services": "service_uid",
    "algorithms": "algorithm_uid",
}


def stable_uid(*parts: str | None) -> str:
    """A stable key from the parts that identify a record (source id first, then its own id).

    SHA-256 truncated to 32 hex characters: the same source record gets the same key in every run,
    records of different sources never collide.
    """
    joined = "\x1f".join("" if p is None else str(p) for p in parts)
    return hashlib.sha256(joined.encode("utf-8")).hexdigest()[:32]


def empty_row(table: str) -> dict:
    """A row of ``table`` with every column present and None."""
    return dict.fromkeys(RECORD_TABLES[table].names)
