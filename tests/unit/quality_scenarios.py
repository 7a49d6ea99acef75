"""MQA scoring scenarios shared by the DuckDB and PostgreSQL tests (``env`` as in publish_scenarios).

The fixture datasets imitate what the CKAN and DCAT mappers leave from data.overheid.nl packages
(``shared/samples/ckan/data-overheid-nl_2015_package_search.json``): formats as the agencies write
them (``XLS``, ``PDF``, a media type only), licence slugs and URIs, Dutch access-rights words. Their
scores are computed by hand below, metric by metric.
"""

from __future__ import annotations

from datetime import datetime, timezone

import pytest

from inventory import model
from inventory.publish import open_store, publish
from inventory.quality import score as mqa
from tests.unit import publish_scenarios as sc

CHECKED = datetime(2026, 11, 28, 9, 0, tzinfo=timezone.utc)
SRC = "gem-q"


def uid(n: str) -> str:
    return model.stable_uid(SRC, n)


def complete_dataset() -> tuple[dict, list[dict]]:
    """Every metric met: 405 points."""
    ds = sc.dataset(SRC, 0, dataset_uid=uid("full"), source_record_id="full", keyword=["water"],
                    theme=["http://publications.europa.eu/resource/authority/data-theme/ENVI"],
                    spatial="http://sws.geonames.org/2759794", temporal_start="2020-01-01",
                    access_rights="http://publications.europa.eu/resource/authority/access-right/PUBLIC",
                    contact_point="mailto:data@utrecht.nl", publisher="Gemeente Utrecht",
                    issued="2020-01-01", modified="2024-05-01")
    dists = [sc.distribution(SRC, 0, distribution_uid=uid(f"full-{i}"), dataset_uid=uid("full"),
                             access_url=f"https://data.utrecht.nl/full/{i}",
                             download_url=f"https://data.utrecht.nl/full/{i}.csv", format="CSV",
                             media_type="text/csv", license="http://creativecommons.org/licenses/by/4.0/deed.nl",
                             rights="Vrij te gebruiken met bronvermelding", byte_size=1234)
             for i in range(2)]
    return ds, dists


def partial_dataset() -> tuple[dict, list[dict]]:
    """The hand-computed mixed case of EXPECTED_PARTIAL."""
    ds = sc.dataset(SRC, 1, dataset_uid=uid("mixed"), source_record_id="mixed", keyword=["a"], theme=[],
                    spatial=None, temporal_start=None, temporal_end="2021-12-31", access_rights="publiek",
                    contact_point="  ", publisher="Gemeente Utrecht", issued="2019-03-01", modified=None,
                    license="cc-by")
    base = dict(dataset_uid=uid("mixed"), license=None, byte_size=None)
    dists = [
        sc.distribution(SRC, 1, distribution_uid=uid("mixed-xls"), access_url="https://data.utrecht.nl/m.xls",
                        format="XLS", media_type=None, download_url=None, **{**base, "byte_size": 99}),
        sc.distribution(SRC, 1, distribution_uid=uid("mixed-pdf"), access_url="https://data.utrecht.nl/m.pdf",
                        format="PDF", media_type=None, download_url="https://data.utrecht.nl/m-dl.pdf", **base),
        sc.distribution(SRC, 1, distribution_uid=uid("mixed-api"), access_url="https://data.utrecht.nl/api",
                        format="Utrecht API", media_type="application/json",
                        download_url="https://data.utrecht.nl/api/all",
                        **{**base, "license": "https://data.overheid.nl/licenties/onbekend"}),
    ]
    return ds, dists


def bare_dataset() -> tuple[dict, list[dict]]:
    """Nothing but a title: no distributions, no publisher. 0 points."""
    ds = sc.dataset(SRC, 2, dataset_uid=uid("bare"), source_record_id="bare", keyword=[], theme=[],
                    publisher=None, license=None)
    return ds, []


LINKS = [  # (url, status)
    *[(f"https://data.utrecht.nl/full/{i}", 200) for i in range(2)],
    *[(f"https://data.utrecht.nl/full/{i}.csv", 200) for i in range(2)],
    ("https://data.utrecht.nl/m.xls", 200),
    ("https://data.utrecht.nl/m.pdf", 301),  # a redirect counts as answering
    ("https://data.utrecht.nl/m-dl.pdf", 404),
    ("https://data.utrecht.nl/api/all", 500),
    # https://data.utrecht.nl/api was never checked: it earns nothing
]

THIRD = 1 / 3
EXPECTED_PARTIAL = {
    "keyword": 30, "theme": 0, "spatial": 0, "temporal": 20,
    "access_url_reachable": 50 * 2 * THIRD,  # 200 and 301 of three
    "download_url": 20 * 2 * THIRD, "download_url_reachable": 0,  # 404 and 500
    "format": 20, "media_type": 10 * THIRD,
    "format_vocabulary": 10,  # XLS, PDF, and the third by its media type
    "non_proprietary": 20 * 2 * THIRD,  # PDF and JSON (by media type); XLS is proprietary
    "machine_readable": 20 * 2 * THIRD,  # XLS and JSON; PDF is not
    "dcat_ap_compliance": 0,  # not checked
    "license": 20,  # two inherit the dataset's cc-by, one has its own
    "license_vocabulary": 10 * 2 * THIRD,  # "licentie onbekend" is in the list but is no licence
    "access_rights": 10, "access_rights_vocabulary": 5,  # "publiek" is PUBLIC
    "contact_point": 0,  # blank
    "publisher": 10, "rights": 0, "byte_size": 5 * THIRD, "issued": 5, "modified": 0,
}
EXPECTED_PARTIAL_DIMENSIONS = {"findability": 50, "accessibility": 50 * 2 * THIRD + 20 * 2 * THIRD,
                               "interoperability": 60, "reusability": 20 + 10 * 2 * THIRD + 25,
                               "contextuality": 5 + 5 * THIRD}


def publish_fixtures(other_source: bool = True) -> None:
    datasets, distributions = [], []
    for ds, dists in (complete_dataset(), partial_dataset(), bare_dataset()):
        datasets.append(ds)
        distributions.extend(dists)
    sc.make_batch(SRC, "run1", datasets=datasets, distributions=distributions)
    if other_source:
        sc.make_batch("prov-x", "run1", datasets=[sc.dataset("prov-x", 1, publisher="Provincie X")],
                      distributions=[sc.distribution("prov-x", 1)])
    publish()


def add_checks(kind: str) -> None:
    with open_store(kind) as st:
        mqa.ensure_tables(st)
        for url, status in LINKS:
            st.execute("INSERT INTO link_checks (url, status, checked_at, error, final_url) VALUES (?, ?, ?, NULL, NULL)",
                       [url, status, CHECKED])
        st.execute("INSERT INTO shacl_results (dataset_uid, conforms, violations, messages, checked_at) "
                   "VALUES (?, TRUE, 0, NULL, ?)", [uid("full"), CHECKED])


def scores(kind: str) -> dict[str, dict]:
    names = mqa.QUALITY_SCORES.names
    with open_store(kind) as st:
        rows = st.fetchall(f"SELECT {', '.join(chr(34) + n + chr(34) for n in names)} FROM quality_scores")
    return {r[0]: dict(zip(names, r)) for r in rows}


# ------------------------------------------------------------------------------------ scenarios
def scenario_hand_computed_scores_metric_by_metric(env: sc.StoreEnv) -> None:
    publish_fixtures()
    add_checks(env.kind)
    with open_store(env.kind) as st:
        result = mqa.score(st, publish_id="p1")
    got = scores(env.kind)

    full = got[uid("full")]
    for m in mqa.METRICS:
        assert full[m.column] == pytest.approx(m.points), m.name
    assert full["total_points"] == pytest.approx(405) and full["rating"] == "Excellent"
    assert full["distributions"] == 2

    mixed = got[uid("mixed")]
    assert set(EXPECTED_PARTIAL) == set(mqa.METRIC_BY_NAME)
    for name, expected in EXPECTED_PARTIAL.items():
        assert mixed[f"{name}_points"] == pytest.approx(expected), name
    for dim, expected in EXPECTED_PARTIAL_DIMENSIONS.items():
        assert mixed[f"{dim}_points"] == pytest.approx(expected), dim
    assert mixed["total_points"] == pytest.approx(215.0)
    assert mixed["rating"] == "Sufficient"

    bare = got[uid("bare")]
    assert bare["total_points"] == 0 and bare["rating"] == "Bad" and bare["distributions"] == 0
    assert result["sources"][SRC]["datasets"] == 3
    assert result["sources"][SRC]["average"] == pytest.approx(round((405 + 215) / 3, 1))


def scenario_aggregates_per_source_publisher_and_run(env: sc.StoreEnv) -> None:
    publish_fixtures()
    add_checks(env.kind)
    with open_store(env.kind) as st:
        mqa.score(st, publish_id="p1", scored_at=CHECKED)
        # a later run: the link to the API answers now
        st.execute("UPDATE link_checks SET status = 200 WHERE url = ?", ["https://data.utrecht.nl/api/all"])
        mqa.score(st, publish_id="p2", scored_at=CHECKED.replace(hour=10))
        mqa.score(st, publish_id="p2", scored_at=CHECKED.replace(hour=11))  # a re-score replaces its run
        rows = st.fetchall("SELECT publish_id, level, name, datasets, avg_total_points, rating, excellent_datasets, "
                           "good_datasets, sufficient_datasets, bad_datasets FROM quality_aggregates "
                           "ORDER BY publish_id, level, name")
    by = {(r[0], r[1], r[2]): r[3:] for r in rows}
    assert {k[0] for k in by} == {"p1", "p2"}
    n, avg, band, exc, good, suff, bad = by[("p1", "source", SRC)]
    assert (n, exc, good, suff, bad) == (3, 1, 0, 1, 1)
    assert avg == pytest.approx(620 / 3) and band == "Sufficient"
    assert by[("p1", "inventory", "*")][0] == 4
    assert by[("p1", "publisher", "Gemeente Utrecht")][0] == 2
    assert by[("p1", "publisher", "(no publisher)")][0] == 1
    assert by[("p1", "publisher", "Provincie X")][0] == 1
    # the API's download now answers: +30 x 1/3 on the mixed dataset, seen in the trend
    assert by[("p2", "source", SRC)][1] == pytest.approx((620 + 10) / 3)
    with open_store(env.kind) as st:
        assert mqa.summary(st)["publish_id"] == "p2"


def scenario_rescoring_follows_the_published_inventory(env: sc.StoreEnv) -> None:
    sc.allow_withdrawals(env, "100%")  # two of three datasets go: more than the 10 % held by default
    publish_fixtures(other_source=False)
    with open_store(env.kind) as st:
        mqa.score(st, publish_id="p1")
    assert len(scores(env.kind)) == 3
    # the next complete harvest lists only the complete dataset: the others are gone from the scores
    ds, dists = complete_dataset()
    sc.make_batch(SRC, "run2", datasets=[ds], distributions=dists)
    publish()
    with open_store(env.kind) as st:
        mqa.score(st)
    assert list(scores(env.kind)) == [uid("full")]


def scenario_algorithm_completeness_against_standard_1_0(env: sc.StoreEnv) -> None:
    """Entries shaped like the register's 1.0 exports (shared/samples/algoritmeregister/algorithm_*_v1_0.json)."""
    from inventory.quality import algorithms as alg

    full = sc.algorithm("alg-reg", 1, organization="Gemeente Utrecht", name="Parkeervergunningen toekennen",
                        description_short="Beoordeelt aanvragen voor een parkeervergunning.", status="In gebruik",
                        publication_category="Impactvolle algoritmes", contact_email="algoritmes@utrecht.nl",
                        source_data=["BRP"], begin_date="2021-04", goal="Snellere afhandeling",
                        human_intervention="Een medewerker beslist", risks="Onjuiste gegevens",
                        lawful_basis="Wegenverkeerswet", impact_assessments=["DPIA"], website="https://utrecht.nl")
    risky = sc.algorithm("alg-reg", 2, **{**{k: full[k] for k in full if k not in (
        "algorithm_uid", "source_record_id", "raw_sha256")}, "publication_category": "Hoog-risico AI-systeem",
        "impact_assessments": [], "website": None, "begin_date": "2023"})
    bare = sc.algorithm("alg-reg", 3, name="X", organization=None, status="active", publication_category=None,
                        contact_email="not an email", description_short=None, source_data=[], impact_assessments=[])
    sc.make_batch("alg-reg", "run1", kind="algoritmeregister", algorithms=[full, risky, bare])
    publish()
    with open_store(env.kind) as st:
        result = alg.score_algorithms(st, publish_id="p1")
        cols = ("algorithm_uid", "completeness", "missing_mandatory", "missing_recommended", "invalid_values",
                "impact_assessment_missing")
        rows = {r[0]: dict(zip(cols, r)) for r in st.fetchall(
            f"SELECT {', '.join(cols)} FROM algorithm_completeness")}
    got_full, got_risky, got_bare = (rows[a["algorithm_uid"]] for a in (full, risky, bare))
    assert got_full["completeness"] == pytest.approx(100.0)
    assert (got_full["missing_mandatory"], got_full["invalid_values"], got_full["impact_assessment_missing"]) == \
        (None, None, False)
    # mandatory 7 x 2, recommended 5 of 7 (no impact assessment, no website), valid 5 of 6 (begin date "2023")
    assert got_risky["completeness"] == pytest.approx(100 * (14 + 5 + 5) / 27)
    assert got_risky["missing_recommended"] == "impact_assessments, website"
    assert got_risky["invalid_values"] == "begin_date"
    assert got_risky["impact_assessment_missing"] is True
    # mandatory 3 of 7, nothing recommended, valid 3 of 6 (status, category, e-mail fail)
    assert got_bare["completeness"] == pytest.approx(100 * (6 + 0 + 3) / 27)
    assert got_bare["missing_mandatory"] == "description_short, organization, publication_category, source_data"
    assert got_bare["invalid_values"] == "status, publication_category, contact_email"
    assert got_bare["impact_assessment_missing"] is False  # not impactful as far as anyone said
    utrecht = result["organizations"]["Gemeente Utrecht"]
    assert utrecht["algorithms"] == 2 and utrecht["impact_assessment_missing"] == 1
    assert utrecht["average"] == pytest.approx(round((100 + 100 * 24 / 27) / 2, 1))
    assert result["organizations"]["(no organisation)"]["algorithms"] == 1


SCENARIOS = [
    scenario_algorithm_completeness_against_standard_1_0,
    scenario_hand_computed_scores_metric_by_metric,
    scenario_aggregates_per_source_publisher_and_run,
    scenario_rescoring_follows_the_published_inventory,
]
