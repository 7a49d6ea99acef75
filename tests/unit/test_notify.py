"""Operators are told: e-mail through Airflow's SMTP provider and a webhook, against local sinks."""

from __future__ import annotations

import json
import logging
import types

import pytest

from inventory import notify
from inventory.publish import publish
from tests.unit import publish_scenarios as sc
from tests.unit.local_sinks import SmtpSink, WebhookSink

RECIPIENTS = ["datateam@example.nl", "steward@gemeente-a.example"]
TOKEN = "webhook-token-do-not-log"


def smtp_connection(monkeypatch, sink: SmtpSink, conn_id: str = "smtp_inventory") -> None:
    # Airflow's JSON connection form, as a deployment would set it (or add it in the UI).
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({
        "conn_type": "smtp", "host": "127.0.0.1", "port": sink.port,
        "extra": {"from_email": "inventory@example.nl", "disable_ssl": True, "disable_tls": True, "retry_limit": 0,
                  "timeout": 10}}))


def webhook_connection(monkeypatch, sink: WebhookSink, conn_id: str = "inventory_webhook") -> None:
    monkeypatch.setenv(f"AIRFLOW_CONN_{conn_id.upper()}", json.dumps({
        "conn_type": "http", "host": sink.url, "password": TOKEN}))


def write_config(tmp_path, monkeypatch, text: str):
    path = tmp_path / "notifications.yaml"
    path.write_text(text, encoding="utf-8")
    monkeypatch.setenv("INVENTORY_NOTIFICATIONS", str(path))
    return path


BOTH = f"""
email:
  to: [{', '.join(RECIPIENTS)}]
  conn_id: smtp_inventory
webhook:
  conn_id: inventory_webhook
  allow_private_network: true   # the sink runs on 127.0.0.1
"""


def test_alert_goes_by_email_and_webhook(tmp_path, monkeypatch):
    write_config(tmp_path, monkeypatch, BOTH)
    with SmtpSink() as smtp, WebhookSink() as hook:
        smtp_connection(monkeypatch, smtp)
        webhook_connection(monkeypatch, hook)
        sent = notify.send_alert("gem-a held for review", "gem-a: would withdraw 1,000 of 1,000 datasets",
                                 {"sources": [{"source_id": "gem-a", "status": "held"}]})
    assert sent == ["email", "webhook"]
    [mail] = smtp.messages
    assert sorted(mail["to"]) == sorted(RECIPIENTS)
    message = mail["message"]
    assert message["Subject"] == "[inventory] gem-a held for review"
    assert message["From"] == "inventory@example.nl"
    html = message.get_body(("html",)).get_content()
    assert "would withdraw 1,000 of 1,000 datasets" in html
    [post] = hook.requests
    assert post["path"] == "/hooks/inventory"
    assert post["headers"]["Authorization"] == f"Bearer {TOKEN}"
    assert post["json"]["subject"] == "[inventory] gem-a held for review"
    assert post["json"]["sources"] == [{"source_id": "gem-a", "status": "held"}]


def test_webhook_to_a_private_address_needs_permission(tmp_path, monkeypatch, caplog):
    write_config(tmp_path, monkeypatch, BOTH.replace("allow_private_network: true", "allow_private_network: false"))
    with SmtpSink() as smtp, WebhookSink() as hook:
        smtp_connection(monkeypatch, smtp)
        webhook_connection(monkeypatch, hook)
        with caplog.at_level(logging.ERROR, logger="inventory.notify"):
            sent = notify.send_alert("subject", "text")
    assert sent == ["email"] and len(smtp.messages) == 1  # one broken channel does not stop the other
    assert hook.requests == []
    assert "webhook via connection 'inventory_webhook'" in caplog.text and TOKEN not in caplog.text


def test_no_channel_that_works_is_an_error(tmp_path, monkeypatch, caplog):
    write_config(tmp_path, monkeypatch, BOTH)
    with WebhookSink(status=500) as hook:
        # a chat-style webhook URL: the secret is in its path
        monkeypatch.setenv("AIRFLOW_CONN_INVENTORY_WEBHOOK", json.dumps(
            {"conn_type": "http", "host": hook.url + "/T0001/B0002/s3cr3tPathToken", "password": TOKEN}))
        monkeypatch.setenv("AIRFLOW_CONN_SMTP_INVENTORY", json.dumps(
            {"conn_type": "smtp", "host": "127.0.0.1", "port": 1,
             "extra": {"from_email": "x@example.nl", "disable_ssl": True, "disable_tls": True, "retry_limit": 0}}))
        with pytest.raises(RuntimeError, match="no alert could be sent") as err:
            notify.send_alert("subject", "text")
    assert len(hook.requests) == 3  # retried, then given up
    assert "RetryError posting to the webhook on 127.0.0.1" in str(err.value) and "500 error responses" in str(err.value)
    assert "e-mail via connection 'smtp_inventory'" in str(err.value)
    for said in (str(err.value), caplog.text):
        assert TOKEN not in said and "s3cr3tPathToken" not in said


def test_without_configuration_nothing_is_sent(tmp_path, monkeypatch, caplog):
    monkeypatch.setenv("INVENTORY_NOTIFICATIONS", str(tmp_path / "absent.yaml"))
    with caplog.at_level(logging.WARNING, logger="inventory.notify"):
        assert notify.send_alert("subject", "text") == []
    assert "no channel configured" in caplog.text


@pytest.mark.parametrize("text, error", [
    ("email: {conn_id: smtp_default}\n", "email.to names no recipient"),
    ("webhook: {allow_private_network: true}\n", "webhook.conn_id is required"),
    ("slack: {}\n", "unknown section(s) slack"),
    ("email: [\n", "not valid YAML"),
])
def test_malformed_configuration_is_named(tmp_path, monkeypatch, text, error):
    path = write_config(tmp_path, monkeypatch, text)
    with pytest.raises(notify.NotificationConfigError) as err:
        notify.load_config()
    assert str(path) in str(err.value) and error in str(err.value)


def test_airflow_notifier_reports_the_held_and_failed_sources(tmp_path, monkeypatch):
    """The DAGs' on_failure_callback: the task's error plus the sources' harvest_runs messages."""
    monkeypatch.setenv("INVENTORY_DATA_DIR", str(tmp_path))
    monkeypatch.delenv("INVENTORY_STORE", raising=False)
    env = sc.StoreEnv("duckdb", tmp_path, monkeypatch)
    sc.first_publish(env)
    sc.make_batch("gem-a", "run2", datasets=[], distributions=[])  # everything gone: held
    sc.make_batch("alg-reg", "run2", status="failed", kind="algoritmeregister")
    summary = publish()
    assert summary["sources"]["gem-a"]["status"] == "held"
    write_config(tmp_path, monkeypatch, BOTH)
    ti = types.SimpleNamespace(task_id="check_published", dag_id="publish_inventory",
                               log_url="http://localhost:8080/dags/publish_inventory/runs/r1/tasks/check_published")
    context = {"ti": ti, "run_id": "asset_triggered__r1",
               "exception": RuntimeError("Sources held for review (nothing of them was published): gem-a")}
    with SmtpSink() as smtp, WebhookSink() as hook:
        smtp_connection(monkeypatch, smtp)
        webhook_connection(monkeypatch, hook)
        notify.InventoryNotifier().notify(context)
    [mail] = smtp.messages
    assert mail["message"]["Subject"] == "[inventory] publish_inventory: Sources held for review (nothing of them was published): gem-a"
    body = mail["message"].get_body(("html",)).get_content()
    assert "gem-a (held, run run2)" in body and "would withdraw 5 of the 5 published datasets" in body
    assert "alg-reg (failed, run run2)" in body and "boom" in body
    assert "check_published" in body and ti.log_url in body
    [post] = hook.requests
    assert {s["source_id"]: s["status"] for s in post["json"]["sources"]} == {"gem-a": "held", "alg-reg": "failed"}
    assert post["json"]["run_id"] == "asset_triggered__r1"


def test_the_harvest_dags_alert_through_the_notifier():
    from airflow.sdk import Asset

    from inventory import airflow_dags

    dag = airflow_dags.build_harvest_dag(dag_id="t_harvest", source_ids=["gem-a"], schedule=None, doc_md="t",
                                         asset=Asset("inventory://test/notify"), tags=["t"])
    callbacks = dag.get_task("check_sources").on_failure_callback
    assert any(isinstance(cb, notify.InventoryNotifier) for cb in (callbacks if isinstance(callbacks, list) else [callbacks]))


def test_harvest_dag_notifier_reports_the_runs_batches(tmp_path, monkeypatch):
    """In the harvest DAG nothing is published yet: the alert reads the run's batch reports."""
    sc.make_batch("gem-a", "scheduled__2026-11-28T00:00:00+00:00", status="failed")
    sc.make_batch("alg-reg", "scheduled__2026-11-28T00:00:00+00:00", kind="algoritmeregister", algorithms=[])
    write_config(tmp_path, monkeypatch, "email: {to: [datateam@example.nl], conn_id: smtp_inventory}\n")
    context = {"ti": types.SimpleNamespace(task_id="check_sources", dag_id="harvest_catalogues", log_url=None),
               "run_id": "scheduled__2026-11-28T00:00:00+00:00",
               "exception": RuntimeError("Sources that did not harvest completely: gem-a (failed).")}
    with SmtpSink() as smtp:
        smtp_connection(monkeypatch, smtp)
        notify.InventoryNotifier(source_ids=["gem-a", "alg-reg", "never-ran"]).notify(context)
    [mail] = smtp.messages
    body = mail["message"].get_body(("html",)).get_content()
    assert "gem-a (failed, run scheduled__2026-11-28T00:00:00+00:00): failed harvest" in body
    assert "never-ran (failed" in body and "no harvest report was written" in body
    assert "alg-reg" not in body  # complete: not a problem
