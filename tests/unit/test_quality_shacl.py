"""DCAT-AP-NL 3.0 conformance with pyshacl: the project's shapes, the stored results feeding the MQA
compliance metric, the cache by content, and sample output against the official shapes."""

from __future__ import annotations

from pathlib import Path

import pytest

from inventory.publish import catalog, open_store
from inventory.quality import score as mqa
from inventory.quality import scorecards, shacl
from tests.unit import quality_scenarios as qs

OFFICIAL = Path("/work/shared/reference/dcat-ap-nl-3.0-shapes")
if not OFFICIAL.exists():  # the folder beside the project, wherever it is checked out
    OFFICIAL = Path(__file__).resolve().parents[3] / "shared" / "reference" / "dcat-ap-nl-3.0-shapes"


def describe(ds: dict, dists: list[dict]) -> dict[str, str]:
    config = catalog.CatalogSettings.from_env()
    return {config.dataset_uri(ds["dataset_uid"]): catalog.dataset_ntriples(ds, dists, config)}


def test_a_complete_description_conforms_and_a_poor_one_says_why():
    complete = shacl.validate(describe(*qs.complete_dataset()))
    (result,) = complete.values()
    assert result.conforms and result.violations == 0

    poor = shacl.validate(describe(*qs.partial_dataset()))
    (result,) = poor.values()
    assert not result.conforms
    assert set(result.violation_messages) == {
        "A dataset has exactly one contact point (dcat:contactPoint), a vcard:Kind.",
        "A dataset needs a theme (dcat:theme), a skos:Concept."}
    # value-list rules are warnings: "publiek" is no EU access-right URI, "XLS" no EU file type
    assert any("access-right list" in m for m in result.warning_messages)
    assert any("file-type list" in m for m in result.warning_messages)


def test_a_violation_on_a_distribution_counts_for_its_dataset():
    ds, dists = qs.complete_dataset()
    dists[1]["access_url"] = None
    dists[1]["download_url"] = None  # the catalogue then has no access URL for it
    (result,) = shacl.validate(describe(ds, dists)).values()
    assert not result.conforms
    assert result.violation_messages == ["A distribution has exactly one access URL (dcat:accessURL), an IRI."]


def test_results_feed_the_compliance_metric_and_unchanged_descriptions_are_not_validated_again(monkeypatch):
    qs.publish_fixtures(other_source=False)
    with open_store() as st:
        first = shacl.check_conformance(st, shacl.ShaclSettings(ttl_hours=0))
        assert (first["due"], first["validated"], first["conforming"]) == (3, 3, 1)
        rows = dict(st.fetchall("SELECT dataset_uid, conforms FROM shacl_results"))
        assert rows == {qs.uid("full"): True, qs.uid("mixed"): False, qs.uid("bare"): False}
        messages = st.scalar("SELECT messages FROM shacl_results WHERE dataset_uid = ?", [qs.uid("bare")])
        assert "A dataset needs a theme (dcat:theme), a skos:Concept." in messages

        calls = []
        monkeypatch.setattr(shacl, "validate", lambda descriptions, shapes=None: calls.append(descriptions) or {})
        again = shacl.check_conformance(st, shacl.ShaclSettings(ttl_hours=0))
        assert (again["checked"], again["validated"]) == (3, 0) and calls == []  # same descriptions
        cached = shacl.check_conformance(st, shacl.ShaclSettings(ttl_hours=24))
        assert cached["due"] == 0  # checked within the TTL

        mqa.score(st, publish_id="p1")
        points = dict(st.fetchall("SELECT dataset_uid, dcat_ap_compliance_points FROM quality_scores"))
        assert points == {qs.uid("full"): 30.0, qs.uid("mixed"): 0.0, qs.uid("bare"): 0.0}
        overview = Path(scorecards.write_scorecards(st)["overview"]).read_text()
    # the scorecard says what the shapes found, beside the points it costs
    assert ("a description that conforms to DCAT-AP-NL 3.0 (SHACL): +30.0 (A dataset has exactly one contact "
            "point (dcat:contactPoint), a vcard:Kind.; A dataset needs a theme (dcat:theme), a skos:Concept.)") in overview


def test_the_time_budget_leaves_the_rest_for_the_next_run():
    qs.publish_fixtures(other_source=False)
    with open_store() as st:
        result = shacl.check_conformance(st, shacl.ShaclSettings(budget_s=0))
        assert result["checked"] == 0 and result["left_for_next_run"] == 3


@pytest.mark.skipif(not OFFICIAL.exists(), reason="the official DCAT-AP-NL 3.0 shapes are not beside the project")
def test_sample_output_against_the_official_dcat_ap_nl_shapes():
    """The catalogue's description of a complete dataset, against the official shapes (DCAT-AP 3 and
    the DCAT-AP-NL 3.0 profile, class ranges and code lists); the recommended-fields file is advice."""
    files = tuple(sorted(p for p in OFFICIAL.glob("*.ttl") if "aanbevolen" not in p.name))
    assert len(files) >= 4
    official = shacl.shapes_graph(files)
    ds, dists = qs.complete_dataset()
    (result,) = shacl.validate(describe(ds, dists), official).values()
    assert result.conforms, result.violation_messages
    # and the official shapes see the same gaps as the project's
    (poor,) = shacl.validate(describe(*qs.bare_dataset()), official).values()
    assert not poor.conforms
