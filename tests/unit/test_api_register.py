"""The ``api-register`` kind: the national API register of developer.overheid.nl, as ``data_services``.

Served by the sample agencies (``/api-register/…``, fixture ``demo/fixtures/api_register/register.json``,
modelled on the register's OpenAPI document: ApiSummary/ApiDetail, paging in headers). Credentials
come from an Airflow connection given as an ``AIRFLOW_CONN_…`` variable, as in production.
"""

from __future__ import annotations

import json
import logging
import ssl
import threading
from datetime import datetime, timedelta, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pyarrow.parquet as pq
import pytest

from inventory import credentials, model
from inventory.config import SourceConfig
from inventory.demo import routes_api_register
from inventory.harvest import HarvestFailed, harvest_source
from inventory.http import HttpClient, HttpSettings
from inventory.landing import LandedPage, PageRequest
from inventory.sources import api_register
from inventory.sources.base import PageError, ParseContext
from inventory.staging import Batch

API_KEY = "demo-register-key"
CLIENT_SECRET = "demo-client-secret"
RUN = "run-1"


def connect(monkeypatch, conn_id: str, **fields) -> str:
    """An Airflow connection from the environment, in Airflow's JSON form."""
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({"conn_type": "http", **fields}))
    return conn_id


def source(base: str, *, variant: str = "v1", conn_id: str | None = "reg_key", **options) -> SourceConfig:
    return SourceConfig(id="developer-overheid-nl", kind="api-register", url=f"{base}/api-register/{variant}",
                        conn_id=conn_id, allow_private_network=True, options={"per_page": 10, **options})


@pytest.fixture
def agencies(sample_agencies, monkeypatch):
    sample_agencies.reset()
    connect(monkeypatch, "reg_key", password=API_KEY)
    return sample_agencies


def staged(source_id: str = "developer-overheid-nl") -> dict[str, dict]:
    rows = pq.read_table(Batch.for_run(source_id, RUN).harvested("data_services")).to_pylist()
    return {r["source_record_id"]: r for r in rows}


def parse_quarantine(source_id: str = "developer-overheid-nl") -> list[dict]:
    return pq.read_table(Batch.for_run(source_id, RUN).parse_quarantine).to_pylist()


def requests_to(agencies, part: str) -> list[str]:
    return [target for method, target, _ in agencies.request_log if part in target]


# ------------------------------------------------------------------------------------------- paging


def test_pages_by_the_link_header_and_fetches_every_detail(agencies):
    report = harvest_source(source(agencies.url), RUN)
    assert report["status"] == "complete", report["message"]
    assert report["records_reported"] == 26  # Total-Count
    assert report["records_received"] == 25  # 24 details + the API whose detail is gone (quarantined)
    listing = [t for t in requests_to(agencies, "/apis?")]
    assert listing == [f"/api-register/v1/apis?page={n}&perPage=10" for n in (1, 2, 3)]
    details = requests_to(agencies, "/apis/")
    assert len(details) == 25 and len(set(details)) == 25  # every listed id once (the entry without id is not asked for)
    assert report["pages"] == 3 + 25
    rows = staged()
    assert len(rows) == 24 and "gm0200WMO" not in rows
    # A listing page and then the details of its APIs, in listing order
    order = [t for _, t, _ in agencies.request_log if "/api-register/" in t]
    assert order[0].endswith("page=1&perPage=10") and order[1] == "/api-register/v1/apis/dicF0B3HR"
    assert order[11].endswith("page=2&perPage=10")


def test_total_pages_header_pages_when_there_is_no_link(agencies):
    report = harvest_source(source(agencies.url, variant="no-link"), RUN)
    assert report["status"] == "complete" and report["records_reported"] == 26
    assert requests_to(agencies, "/apis?") == [f"/api-register/no-link/apis?page={n}&perPage=10" for n in (1, 2, 3)]
    assert len(staged()) == 24


def test_without_paging_headers_full_pages_are_followed(agencies):
    report = harvest_source(source(agencies.url, variant="bare"), RUN)
    assert report["status"] == "complete" and report["records_reported"] is None
    # 26 entries, 10 a page: pages 1 and 2 are full, page 3 (6 entries) is the last
    assert requests_to(agencies, "/apis?") == [f"/api-register/bare/apis?page={n}&perPage=10" for n in (1, 2, 3)]


def test_a_link_that_loops_back_ends_the_listing_as_partial(agencies):
    report = harvest_source(source(agencies.url, variant="loop"), RUN)  # partial: reported, not raised
    assert report["status"] == "partial"
    assert "same page twice" in report["message"] and "Nothing is deleted" in report["message"]
    assert len(requests_to(agencies, "/apis?")) == 3  # page 1 is not asked for again
    assert len(staged()) == 24


def test_total_count_higher_than_received_is_partial(agencies):
    src = SourceConfig(id="developer-overheid-nl", kind="api-register", url=f"{agencies.url}/faults/short-count/api-register/no-link",
                       conn_id="reg_key", allow_private_network=True, options={"per_page": 10})
    report = harvest_source(src, RUN)
    assert report["status"] == "partial"
    assert "reported 46 records but 26 were received" in report["message"]


def test_a_next_link_to_another_server_is_not_followed(agencies):
    with pytest.raises(HarvestFailed) as failed:
        harvest_source(source(agencies.url, variant="foreign-link"), RUN)
    report = failed.value.report
    assert report["status"] == "failed"  # the first page already names the foreign server
    assert "another server than the source" in report["message"] and "credentials stay with it" in report["message"]
    assert not any("localhost" in t for t in requests_to(agencies, "/api-register/"))


def test_windows_1252_bodies_under_a_utf8_header_are_read_right(agencies):
    report = harvest_source(source(agencies.url, variant="cp1252"), RUN)
    assert report["status"] == "complete"
    rows = staged()
    assert "temperatuur in °C" in rows["knmiEDR01"]["description"]
    assert "coördinatie" in rows["gm0518OBJ"]["description"]


def test_an_html_maintenance_page_fails_the_source_in_one_sentence(agencies):
    src = SourceConfig(id="developer-overheid-nl", kind="api-register", url=f"{agencies.url}/faults/html/api-register/v1",
                       conn_id="reg_key", allow_private_network=True)
    with pytest.raises(HarvestFailed) as failed:
        harvest_source(src, RUN)
    report = failed.value.report
    assert report["status"] == "failed" and "HTML page where JSON was expected" in report["message"]
    assert report["records_received"] == 0


def test_a_listing_that_is_not_an_array_is_refused(tmp_path):
    page = _page("https://api.example.nl/api-register/v1/apis", {"message": "Internal error"}, params={"page": "1", "perPage": "10"})
    with pytest.raises(PageError, match="not an API register listing"):
        api_register.parse_page(_src("https://api.example.nl/api-register/v1"), page, _ctx())


def test_a_page_cut_in_half_fails_the_source_with_where_it_broke(agencies):
    src = SourceConfig(id="developer-overheid-nl", kind="api-register", url=f"{agencies.url}/faults/truncated/api-register/v1",
                       conn_id="reg_key", allow_private_network=True, options={"per_page": 10})
    with pytest.raises(HarvestFailed) as failed:
        harvest_source(src, RUN)
    assert failed.value.report["status"] == "failed"
    assert "body is not valid JSON" in failed.value.report["message"] and "byte" in failed.value.report["message"]


# ------------------------------------------------------------------------------------------ mapping


def test_every_canonical_field_is_mapped_from_the_detail(agencies):
    harvest_source(source(agencies.url), RUN)
    rows = staged()
    brp = rows["rvig0BRP1"]
    assert brp == {
        **{k: brp[k] for k in ("harvested_at", "raw_sha256")},
        "service_uid": model.stable_uid("developer-overheid-nl", "rvig0BRP1"),
        "title": "Haal Centraal BRP Personen Bevragen",
        "description": "Personen bevragen uit de Basisregistratie Personen voor binnengemeentelijke afnemers.",
        "publisher": "Rijksdienst voor Identiteitsgegevens",
        "publisher_uri": "https://identifier.overheid.nl/tooi/id/oorg/oorg10028",
        "endpoint_url": "https://proefomgeving.haalcentraal.nl/haalcentraal/api/brp",
        "endpoint_description": "https://raw.githubusercontent.com/BRP-API/Haal-Centraal-BRP-bevragen/master/specificatie/genereervariant/openapi.yaml",
        "api_type": "rest",
        "authentication": ["oauth2", "mutual_tls"],
        "lifecycle_status": "active",
        "version": "2.5.0",
        "adr_score": 92.0,
        "docs_url": "https://brp-api.github.io/Haal-Centraal-BRP-bevragen/",
        "contact": "haalcentraal@rvig.nl",
        "api_type_original": None,
        "authentication_original": ["OAuth2", "PKIoverheid"],
        "lifecycle_status_original": "ACTIEF",
        "publisher_original": "Rijksdienst voor Identiteitsgegevens",
        "publisher_uri_original": "https://identifier.overheid.nl/tooi/id/oorg/oorg10028",
        "source_id": "developer-overheid-nl",
        "source_record_id": "rvig0BRP1",
        "run_id": RUN,
    }
    assert len(brp["raw_sha256"]) == 64 and brp["harvested_at"].tzinfo is not None
    assert set(brp) == set(model.DATA_SERVICES.names)
    # the production server, not the acceptance one listed first
    assert rows["k4d5t8BAG"]["endpoint_url"] == "https://api.bag.kadaster.nl/lvbag/individuelebevragingen/v2"
    # a string score, the register's first field names, an old type, a SOAP service, no lifecycle at all
    assert rows["knmiEDR01"]["adr_score"] == 78.0
    assert rows["ienwOBS01"]["endpoint_description"] == "https://www.bodemloket.nl/api/v1/openapi.json"
    assert rows["ienwOBS01"]["docs_url"] == "https://www.bodemloket.nl/api/docs"
    assert (rows["rwsWINFO2"]["api_type"], rows["rwsWINFO2"]["api_type_original"]) == ("rest", "rest_json")
    assert (rows["logiusDK1"]["api_type"], rows["logiusDK1"]["authentication"]) == ("soap", ["mutual_tls", "ip_allow_list"])
    assert (rows["pdokBGTOA"]["api_type"], rows["pdokBGTOA"]["authentication"]) == ("ogc", [])
    assert rows["rdwOPEN01"]["lifecycle_status"] is None and rows["rdwOPEN01"]["version"] is None
    assert rows["cbsODATA4"]["adr_score"] is None and rows["cbsODATA4"]["api_type"] == "odata"
    assert rows["gm0344AFV"]["contact"] == "https://www.utrecht.nl/contact"  # no e-mail: the contact page
    assert rows["gm0599MOR"]["contact"] == "Gemeente Rotterdam"  # only a name


def test_lifecycle_spellings_map_and_keep_the_original(agencies):
    harvest_source(source(agencies.url), RUN)
    got = {k: (r["lifecycle_status"], r["lifecycle_status_original"]) for k, r in staged().items()}
    assert got["k4d5t8BRK"] == ("active", "Active")
    assert got["gm0363PAR"] == ("active", "in productie")
    assert got["gm0344AFV"] == ("deprecated", "Deprecated")  # the trailing space is trimmed
    assert got["gm0518OBJ"] == ("sunset", "Uitgefaseerd")
    assert got["vngNRC100"] == ("retired", "retired")
    assert got["gm0599MOR"] == (None, "Experimental")  # unknown: reported by the suite, not guessed


@pytest.mark.parametrize("written, expected", [
    (["API Key"], ["api_key"]), (["apiKey", "X-API-Key"], ["api_key"]), ("OAuth2, mutualTLS", ["oauth2", "mutual_tls"]),
    (["OpenID Connect"], ["openid_connect"]), (["JWT", "Bearer"], ["http_bearer"]), (["Basic"], ["http_basic"]),
    (["PKIoverheid", "IP-whitelisting"], ["mutual_tls", "ip_allow_list"]), (["none"], ["none"]),
    ([{"type": "oauth2"}], ["oauth2"]), (["DigiD Machtigen", "http"], []), ([], []), (None, []),
])
def test_authentication_methods_map_onto_the_controlled_list(written, expected):
    mapped, original = api_register.map_authentication(written)
    assert mapped == expected
    if isinstance(written, list) and all(isinstance(w, str) for w in written):
        assert original == written  # always kept as written


@pytest.mark.parametrize("written, expected", [(85, 85.0), (87.5, 87.5), ("78", 78.0), ("78,5 %", 78.5), (None, None),
                                               ("unknown", None), (True, None), (145, 145.0)])
def test_adr_score_is_read_as_published(written, expected):
    assert api_register.adr_score(written) == expected


def test_details_off_maps_the_listing_summaries_only(agencies):
    report = harvest_source(source(agencies.url, details=False), RUN)
    assert report["status"] == "complete" and report["pages"] == 3
    assert requests_to(agencies, "/apis/") == []
    rows = staged()
    assert len(rows) == 25  # the API without a detail is listed too
    assert rows["rvig0BRP1"]["lifecycle_status"] == "active" and rows["rvig0BRP1"]["endpoint_description"] is None


def test_the_mess_is_quarantined_with_its_reason(agencies):
    harvest_source(source(agencies.url), RUN)
    refused = {(r["source_record_id"], r["expectation"]): r for r in parse_quarantine()}
    gone = refused[("gm0200WMO", "detail_available")]
    assert "answered HTTP 404" in gone["reason"] and gone["record_type"] == "data_services"
    assert gone["record_uid"] == model.stable_uid("developer-overheid-nl", "gm0200WMO")
    assert (None, "record_has_id") in refused


def test_the_suite_quarantines_bad_records_and_counts_warnings(agencies):
    from inventory.quality.validate import validate_batch

    harvest_source(source(agencies.url), RUN)
    summary = validate_batch(Batch.for_run("developer-overheid-nl", RUN), build_docs=False)
    assert summary["records_valid"] == 22
    assert summary["critical"]["data_services.adr_score.expect_column_values_to_be_between"] == 1
    assert summary["critical"]["data_services.endpoint_url.expect_column_values_to_match_regex"] == 1
    assert summary["critical"]["data_services.authentication.expect_column_list_values_to_be_in_set"] == 0
    assert summary["warnings"]["data_services.lifecycle_status.expect_column_values_to_not_be_null"] == 2
    valid = {r["source_record_id"] for r in pq.read_table(Batch.for_run("developer-overheid-nl", RUN).validated("data_services")).to_pylist()}
    assert "pv26GEOJS" not in valid and "rivmLUCHT" not in valid and "gm0599MOR" in valid


def test_the_list_check_fails_a_row_with_an_unknown_method():
    import pandas as pd

    from inventory.quality.expectations import list_values_in_set_mask

    values = pd.Series([["api_key"], [], None, ["api_key", "smoke-signals"]], dtype=object)
    assert list_values_in_set_mask(values, ["api_key", "oauth2"]).tolist() == [True, True, True, False]


# ---------------------------------------------------------------------------------------- credentials


def test_missing_api_key_fails_the_source_in_one_sentence(agencies):
    with pytest.raises(HarvestFailed) as failed:
        harvest_source(source(agencies.url, conn_id=None), RUN)
    message = failed.value.report["message"]
    assert failed.value.report["status"] == "failed"
    assert "answered HTTP 401 on page 1" in message and "none were sent" in message and "conn_id" in message


def test_wrong_api_key_names_the_connection_and_not_the_key(agencies, monkeypatch):
    connect(monkeypatch, "reg_wrong", password="not-the-key-0451")
    with pytest.raises(HarvestFailed) as failed:
        harvest_source(source(agencies.url, conn_id="reg_wrong"), RUN)
    report = failed.value.report
    assert report["status"] == "failed"
    assert "HTTP 403" in report["message"] and "'reg_wrong'" in report["message"] and "X-Api-Key" in report["message"]
    assert "not-the-key-0451" not in json.dumps(report, default=str)


def test_a_missing_connection_fails_the_source_and_says_how_to_add_it(agencies, monkeypatch):
    monkeypatch.delenv("AIRFLOW_CONN_NO_SUCH_CONN", raising=False)
    with pytest.raises(HarvestFailed) as failed:
        harvest_source(source(agencies.url, conn_id="no_such_conn"), RUN)
    message = failed.value.report["message"]
    assert "'no_such_conn' is not available" in message and "AIRFLOW_CONN_NO_SUCH_CONN" in message
    assert agencies.request_log == []


def test_secrets_stay_out_of_landing_staging_reports_and_logs(agencies, monkeypatch, data_dir, caplog):
    caplog.set_level(logging.DEBUG)
    harvest_source(source(agencies.url), RUN)
    connect(monkeypatch, "reg_oauth", login="inventory-harvester", password=CLIENT_SECRET,
            extra={"token_url": f"{agencies.url}/api-register/auth/token", "scope": "apis:read"})
    harvest_source(SourceConfig(**{**source(agencies.url).model_dump(), "id": "register-oauth", "conn_id": "reg_oauth"}), RUN)
    tokens = list(routes_api_register._tokens)
    assert tokens
    for secret in (API_KEY, CLIENT_SECRET, *tokens):
        for path in data_dir.rglob("*"):
            if path.is_file():
                assert secret.encode() not in path.read_bytes(), (secret, path)
        assert secret not in caplog.text
    meta = json.loads(next((data_dir / "landing" / "developer-overheid-nl").rglob("000001.json")).read_text())
    assert meta["request"]["headers"] == {"Accept": "application/json"}


def test_oauth2_client_credentials_fetch_one_token_for_the_whole_harvest(agencies, monkeypatch):
    connect(monkeypatch, "reg_oauth", login="inventory-harvester", password=CLIENT_SECRET,
            extra={"token_url": f"{agencies.url}/api-register/auth/token", "scope": "apis:read"})
    report = harvest_source(source(agencies.url, conn_id="reg_oauth"), RUN)
    assert report["status"] == "complete" and len(staged()) == 24
    token_posts = [(m, t, b) for m, t, b in agencies.request_log if t.endswith("/auth/token")]
    assert len(token_posts) == 1
    method, _, body = token_posts[0]
    assert method == "POST" and "grant_type=client_credentials" in body and "scope=apis%3Aread" in body


def _oauth_client(agencies, **extra) -> tuple[HttpClient, credentials.OAuth2ClientCredentials]:
    client = HttpClient(HttpSettings(allow_private_network=True, retries=0))
    src = SourceConfig(id="reg", kind="api-register", url=f"{agencies.url}/api-register/v1", conn_id="reg_oauth",
                       allow_private_network=True)
    used = credentials.apply(src, client)
    assert used.startswith("an OAuth2 client-credentials token")
    return client, client.session.auth


def test_oauth2_token_is_renewed_once_when_the_register_answers_401(agencies, monkeypatch):
    connect(monkeypatch, "reg_oauth", login="inventory-harvester", password=CLIENT_SECRET,
            extra={"token_url": f"{agencies.url}/api-register/auth/token", "scope": "apis:read"})
    client, auth = _oauth_client(agencies)
    url = f"{agencies.url}/api-register/v1/apis/dicF0B3HR"
    assert client.request("GET", url).status == 200 and auth.tokens_fetched == 1
    assert client.request("GET", url).status == 200 and auth.tokens_fetched == 1  # cached
    routes_api_register.revoke_tokens()  # the register forgets every token (a key rotation)
    assert client.request("GET", url).status == 200 and auth.tokens_fetched == 2  # 401, new token, repeated
    assert [t for _, t, _ in agencies.request_log].count("/api-register/v1/apis/dicF0B3HR") == 4


def test_oauth2_a_second_401_is_the_sources_answer(agencies, monkeypatch):
    connect(monkeypatch, "reg_oauth", login="inventory-harvester", password=CLIENT_SECRET,
            extra={"token_url": f"{agencies.url}/api-register/auth/token"})
    client, auth = _oauth_client(agencies)
    monkeypatch.setattr(routes_api_register, "_tokens", {})  # no token issued is ever accepted
    monkeypatch.setattr(routes_api_register, "_token", lambda body: routes_api_register.json_response(
        200, {"access_token": "never-valid", "token_type": "Bearer", "expires_in": 300}))
    assert client.request("GET", f"{agencies.url}/api-register/v1/apis").status == 401
    assert auth.tokens_fetched == 2  # the first token and one renewal, no more


def test_oauth2_token_is_fetched_again_when_it_expires(agencies, monkeypatch):
    connect(monkeypatch, "reg_oauth", login="inventory-harvester", password=CLIENT_SECRET,
            extra={"token_url": f"{agencies.url}/api-register/auth/token"})
    client, auth = _oauth_client(agencies)
    url = f"{agencies.url}/api-register/v1/apis/dicF0B3HR"
    client.request("GET", url)
    now = credentials.time.monotonic()
    monkeypatch.setattr(credentials.time, "monotonic", lambda: now + 275)  # 300 s token, renewed 30 s early
    client.request("GET", url)
    assert auth.tokens_fetched == 2


def test_oauth2_wrong_client_secret_fails_the_source_without_the_secret(agencies, monkeypatch):
    connect(monkeypatch, "reg_oauth", login="inventory-harvester", password="wrong-secret-7731",
            extra={"token_url": f"{agencies.url}/api-register/auth/token", "scope": "apis:read"})
    with pytest.raises(HarvestFailed) as failed:
        harvest_source(source(agencies.url, conn_id="reg_oauth"), RUN)
    message = failed.value.report["message"]
    assert "refused the client credentials (HTTP 401: invalid_client)" in message and "'reg_oauth'" in message
    assert "wrong-secret-7731" not in message
    assert requests_to(agencies, "/apis") == []


def test_oauth2_connection_without_token_url_fields_is_said(monkeypatch):
    connect(monkeypatch, "reg_oauth", extra={"auth_type": "oauth2"})
    src = SourceConfig(id="reg", kind="api-register", url="https://api.example.nl/v1", conn_id="reg_oauth")
    with pytest.raises(credentials.CredentialsError) as err:
        credentials.apply(src, HttpClient(HttpSettings()))
    assert "need extra token_url, the client id (login or extra client_id), the client secret (password)" in str(err.value)


def test_api_key_header_name_and_basic_auth_from_the_connection(monkeypatch):
    connect(monkeypatch, "custom_header", password="k-1", extra={"api_key_header": "X-Gateway-Key"})
    connect(monkeypatch, "basic", login="harvester", password="pw")
    src = SourceConfig(id="reg", kind="api-register", url="https://api.example.nl/v1", conn_id="custom_header")
    client = HttpClient(HttpSettings())
    assert credentials.apply(src, client) == "an API key in the X-Gateway-Key header"
    assert client.session.headers["X-Gateway-Key"] == "k-1"
    assert "x-gateway-key" in client.sensitive_headers  # never landed, should a server echo it
    client = HttpClient(HttpSettings())
    assert credentials.apply(src.model_copy(update={"conn_id": "basic"}), client) == "HTTP basic auth"
    assert client.session.auth == ("harvester", "pw")


# -------------------------------------------------------------------------------------- mutual TLS


def _certificates(folder: Path) -> dict[str, Path]:
    """A CA, a server certificate for 127.0.0.1 and a client certificate, as PEM files (cryptography)."""
    import ipaddress

    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

    now = datetime.now(timezone.utc)

    def name(cn: str) -> x509.Name:
        return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, cn)])

    def issue(subject: str, key, issuer_name, issuer_key, *, ca=False, usage=None, san=None):
        builder = (x509.CertificateBuilder().subject_name(name(subject)).issuer_name(issuer_name)
                   .public_key(key.public_key()).serial_number(x509.random_serial_number())
                   .not_valid_before(now - timedelta(minutes=5)).not_valid_after(now + timedelta(days=1))
                   .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True))
        if usage:
            builder = builder.add_extension(x509.ExtendedKeyUsage([usage]), critical=False)
        if san:
            builder = builder.add_extension(x509.SubjectAlternativeName(san), critical=False)
        return builder.sign(issuer_key, hashes.SHA256())

    files: dict[str, Path] = {}

    def write(label: str, cert, key) -> None:
        files[f"{label}_cert"] = folder / f"{label}.crt"
        files[f"{label}_cert"].write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        files[f"{label}_key"] = folder / f"{label}.key"
        files[f"{label}_key"].write_bytes(key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                                            serialization.NoEncryption()))

    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca = issue("Test PKIoverheid Private Root", ca_key, name("Test PKIoverheid Private Root"), ca_key, ca=True)
    write("ca", ca, ca_key)
    server_key = ec.generate_private_key(ec.SECP256R1())
    write("server", issue("127.0.0.1", server_key, ca.subject, ca_key, usage=ExtendedKeyUsageOID.SERVER_AUTH,
                          san=[x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]), server_key)
    client_key = ec.generate_private_key(ec.SECP256R1())
    write("client", issue("inventory-harvester", client_key, ca.subject, ca_key, usage=ExtendedKeyUsageOID.CLIENT_AUTH), client_key)
    return files


class _AgencyApi(BaseHTTPRequestHandler):
    """An agency's register behind mutual TLS: an empty listing for any client whose certificate the CA signed."""

    def do_GET(self):  # noqa: N802 (the stdlib's name)
        peer = self.connection.getpeercert() if isinstance(self.connection, ssl.SSLSocket) else None
        subject = dict(x[0] for x in peer["subject"]) if peer else {}
        body = b"[]"
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Total-Count", "0")
        self.send_header("X-Client-Subject", subject.get("commonName", ""))
        if self.headers.get("X-Gateway-Key"):  # a careless gateway that echoes the key
            self.send_header("X-Gateway-Key", self.headers["X-Gateway-Key"])
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, *args):
        pass


@pytest.fixture
def mtls_server(tmp_path):
    files = _certificates(tmp_path)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(files["server_cert"], files["server_key"])
    context.load_verify_locations(files["ca_cert"])
    context.verify_mode = ssl.CERT_REQUIRED  # no client certificate, no connection
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AgencyApi)
    server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield f"https://127.0.0.1:{server.server_address[1]}", files
    server.shutdown()
    server.server_close()


def test_an_echoed_api_key_in_a_header_of_its_own_is_not_landed(monkeypatch, data_dir):
    server = ThreadingHTTPServer(("127.0.0.1", 0), _AgencyApi)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        connect(monkeypatch, "gateway_key", password="gw-key-5521", extra={"api_key_header": "X-Gateway-Key"})
        src = SourceConfig(id="agency-api", kind="api-register", url=f"http://127.0.0.1:{server.server_address[1]}",
                           conn_id="gateway_key", allow_private_network=True)
        assert harvest_source(src, RUN)["status"] == "complete"
    finally:
        server.shutdown()
        server.server_close()
    landed = [f.read_bytes() for f in (data_dir / "landing" / "agency-api").rglob("*") if f.is_file()]
    assert landed and not any(b"gw-key-5521" in body for body in landed)
    assert any(b"X-Client-Subject" in body for body in landed)  # the other response headers are kept


def test_mutual_tls_client_certificate_from_the_connection(mtls_server, monkeypatch):
    url, files = mtls_server
    connect(monkeypatch, "agency_mtls", extra={"client_cert": str(files["client_cert"]), "client_key": str(files["client_key"]),
                                                "ca_bundle": str(files["ca_cert"])})
    src = SourceConfig(id="agency-api", kind="api-register", url=url, conn_id="agency_mtls", allow_private_network=True)
    report = harvest_source(src, RUN)
    assert report["status"] == "complete" and report["records_reported"] == 0
    landed = json.loads(next(Path(report["batch_path"]).parents[2].joinpath("landing", "agency-api").rglob("000001.json")).read_text())
    assert landed["headers"]["X-Client-Subject"] == "inventory-harvester"  # the server saw our certificate


def test_mutual_tls_without_the_certificate_is_refused_by_the_agency(mtls_server, monkeypatch):
    url, files = mtls_server
    connect(monkeypatch, "agency_ca_only", extra={"auth_type": "none", "ca_bundle": str(files["ca_cert"])})
    src = SourceConfig(id="agency-api", kind="api-register", url=url, conn_id="agency_ca_only", allow_private_network=True,
                       options={"retries": 0})
    with pytest.raises(HarvestFailed) as failed:
        harvest_source(src, RUN)
    assert failed.value.report["status"] == "failed" and "connection failed" in failed.value.report["message"]


def test_mutual_tls_files_are_checked_before_the_first_request(monkeypatch, tmp_path):
    connect(monkeypatch, "agency_mtls", extra={"client_cert": str(tmp_path / "missing.crt"), "client_key": str(tmp_path / "missing.key")})
    src = SourceConfig(id="agency-api", kind="api-register", url="https://127.0.0.1:9/api-register/v1", conn_id="agency_mtls",
                       allow_private_network=True)
    with pytest.raises(HarvestFailed) as failed:
        harvest_source(src, RUN)
    message = failed.value.report["message"]
    assert f"the file {tmp_path / 'missing.crt'} of extra 'client_cert' does not exist" in message
    key_only = tmp_path / "client.key"
    key_only.write_text("-----BEGIN PRIVATE KEY-----\n")
    connect(monkeypatch, "agency_key_only", extra={"client_key": str(key_only)})
    with pytest.raises(credentials.CredentialsError, match="client_key is given without client_cert"):
        credentials.apply(src.model_copy(update={"conn_id": "agency_key_only"}), HttpClient(HttpSettings()))


# ------------------------------------------------------------------------------------------ helpers


def _src(url: str, **options) -> SourceConfig:
    return SourceConfig(id="reg", kind="api-register", url=url, options=options)


def _ctx() -> ParseContext:
    return ParseContext(run_id=RUN, harvested_at=datetime(2026, 11, 28, tzinfo=timezone.utc))


def _page(url: str, body, *, params=None, headers=None, status=200) -> LandedPage:
    raw = json.dumps(body).encode()
    request = PageRequest("GET", url, params=params or {}, context={"kind": "listing"})
    return LandedPage("reg", 1, request, url, status, headers or {"Content-Type": "application/json"}, raw, "0" * 64, "now")


def test_link_header_in_either_quoting_and_total_pages_fallback():
    base = "https://api.example.nl/api-register/v1"
    summaries = [{"id": f"a{i}", "title": f"API {i}"} for i in range(2)]
    for link in ('<https://api.example.nl/api-register/v1/apis?page=2&perPage=2>; rel="next"',
                 "<https://api.example.nl/api-register/v1/apis?page=1&perPage=2>; rel='prev', "
                 "<https://api.example.nl/api-register/v1/apis?page=2&perPage=2>; rel='next'"):
        parsed = api_register.parse_page(_src(base), _page(f"{base}/apis", summaries, params={"page": "1", "perPage": "2"},
                                                           headers={"Link": link, "Total-Count": "5"}), _ctx())
        assert parsed.reported_total == 5 and parsed.entries == 2
        # the details of this page first, then the next listing page from the Link header
        assert parsed.next_request.url == f"{base}/apis/a0"
        assert parsed.next_request.context["next_listing"] == {"url": f"{base}/apis", "params": {"page": "2", "perPage": "2"}}
    last = api_register.parse_page(_src(base, details=False), _page(
        f"{base}/apis", summaries, params={"page": "3", "perPage": "2"}, headers={"Link": f"<{base}/apis?page=1>; rel='first'"}), _ctx())
    assert last.next_request is None
    by_count = api_register.parse_page(_src(base, details=False), _page(
        f"{base}/apis", summaries, params={"page": "1", "perPage": "2"}, headers={"Total-Pages": "3"}), _ctx())
    assert by_count.next_request.params == {"page": "2", "perPage": "2"}
