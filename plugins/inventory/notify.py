"""Telling operators: an e-mail (Airflow's SMTP provider) and, optionally, a webhook, when a source
failed or was held for review.

Configured in one place, ``config/notifications.yaml`` (``$INVENTORY_NOTIFICATIONS`` points elsewhere)::

    email:
      to: [datateam@example.nl]          # who is told
      conn_id: smtp_default              # Airflow SMTP connection: host, port, login, password,
                                         # extra {"from_email": ..., "disable_ssl": true, "disable_tls": true}
      subject_prefix: "[inventory]"      # optional
    webhook:                             # optional
      conn_id: inventory_webhook         # Airflow connection: host = the URL (or extra {"url": ...}),
                                         # password = a bearer token (optional)
      allow_private_network: false       # only for a trusted endpoint on a private address

Secrets live in the Airflow connections only, never in this file. Without the file (or with neither
``email`` nor ``webhook`` in it) nothing is sent and the log says so.

``InventoryNotifier`` is the Airflow notifier (``on_failure_callback`` of the DAGs' check tasks, which
fail naming the failed, partial or held sources); ``send_alert`` is the same without Airflow (the CLI).
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from urllib.parse import urlsplit

from airflow.sdk import BaseNotifier

from . import settings

log = logging.getLogger("inventory.notify")

ENV_VAR = "INVENTORY_NOTIFICATIONS"


class NotificationConfigError(ValueError):
    """The notifications file is malformed."""


@dataclass(frozen=True)
class NotificationConfig:
    email_to: tuple[str, ...] = ()
    smtp_conn_id: str = "smtp_default"
    subject_prefix: str = "[inventory]"
    webhook_conn_id: str | None = None
    webhook_allow_private_network: bool = False
    path: Path | None = field(default=None, compare=False)

    @property
    def enabled(self) -> bool:
        return bool(self.email_to or self.webhook_conn_id)


def config_file() -> Path:
    return Path(os.environ.get(ENV_VAR) or settings.config_dir() / "notifications.yaml").resolve()


def load_config(path: str | os.PathLike | None = None) -> NotificationConfig:
    """The notifications file; an empty configuration when it does not exist."""
    import yaml

    path = Path(path) if path else config_file()
    if not path.exists():
        return NotificationConfig(path=path)
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise NotificationConfigError(f"Notifications file {path}: not valid YAML ({exc})") from None
    if not isinstance(data, dict):
        raise NotificationConfigError(f"Notifications file {path}: must be a mapping with 'email' and/or 'webhook'")
    unknown = set(data) - {"email", "webhook"}
    if unknown:
        raise NotificationConfigError(f"Notifications file {path}: unknown section(s) {', '.join(sorted(unknown))} "
                                      "(expected 'email' and/or 'webhook')")
    email = data.get("email") or {}
    webhook = data.get("webhook") or {}
    to = email.get("to") or []
    if isinstance(to, str):
        to = [to]
    if email and not to:
        raise NotificationConfigError(f"Notifications file {path}: email.to names no recipient")
    if webhook and not webhook.get("conn_id"):
        raise NotificationConfigError(f"Notifications file {path}: webhook.conn_id is required")
    return NotificationConfig(
        email_to=tuple(str(t) for t in to),
        smtp_conn_id=str(email.get("conn_id") or "smtp_default"),
        subject_prefix=str(email.get("subject_prefix", "[inventory]")),
        webhook_conn_id=webhook.get("conn_id"),
        webhook_allow_private_network=bool(webhook.get("allow_private_network", False)),
        path=path,
    )


# ---------------------------------------------------------------------------------------- sending
def _connection(conn_id: str) -> Any:
    """An Airflow connection (environment ``AIRFLOW_CONN_*``, metadata DB or secrets backend)."""
    from airflow.sdk import BaseHook

    return BaseHook.get_connection(conn_id)


def _send_email(config: NotificationConfig, subject: str, text: str) -> None:
    from airflow.providers.smtp.hooks.smtp import SmtpHook

    with SmtpHook(smtp_conn_id=config.smtp_conn_id) as hook:
        hook.send_email_smtp(to=list(config.email_to), subject=subject, html_content=_html(text),
                             mime_subtype="alternative")


def _html(text: str) -> str:
    from html import escape

    return "<pre style=\"font-family: sans-serif; white-space: pre-wrap\">" + escape(text) + "</pre>"


def _webhook_target(conn: Any) -> tuple[str, str | None]:
    extra = getattr(conn, "extra_dejson", None) or {}
    url = extra.get("url") or conn.host or ""
    if "://" not in url:
        raise NotificationConfigError(
            f"webhook connection {conn.conn_id!r} has no URL: put it in the host (with https://) or in extra.url")
    return url, conn.password or None


def _send_webhook(config: NotificationConfig, subject: str, text: str, details: dict[str, Any]) -> None:
    url, token = _webhook_target(_connection(config.webhook_conn_id))
    try:
        _post(url, token, {"subject": subject, "text": text, **details}, config.webhook_allow_private_network)
    except Exception as exc:
        # A webhook URL is often a secret itself (its path or query carries the token): never say it.
        parts = urlsplit(url)
        said = str(exc)
        for secret in (url, parts.path + (f"?{parts.query}" if parts.query else ""), parts.path, parts.query):
            if secret and secret != "/":
                said = said.replace(secret, "…")
        raise RuntimeError(f"{type(exc).__name__} posting to the webhook on {parts.hostname}: {said}") from None


def _post(url: str, token: str | None, body: dict[str, Any], allow_private_network: bool) -> None:
    from .http import HttpSettings, check_address, make_session

    check_address(url, allow_private_network=allow_private_network)
    http_settings = HttpSettings(retries=2, read_timeout=30.0, allow_private_network=allow_private_network)
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    with make_session(http_settings) as session:
        response = session.post(url, json=body, headers=headers, allow_redirects=False,
                                timeout=(http_settings.connect_timeout, http_settings.read_timeout))
        if response.status_code >= 400:
            raise RuntimeError(f"the webhook answered HTTP {response.status_code}")


def send_alert(subject: str, text: str, details: dict[str, Any] | None = None,
               config: NotificationConfig | None = None) -> list[str]:
    """Send one alert by every configured channel. Returns the channels that delivered it; a channel
    that fails is logged (never the credentials) and does not stop the others."""
    config = config or load_config()
    if not config.enabled:
        log.warning("notify: no channel configured in %s; not sent: %s", config.path, subject)
        return []
    subject = f"{config.subject_prefix} {subject}".strip()
    sent, errors = [], []
    if config.email_to:
        try:
            _send_email(config, subject, text)
            sent.append("email")
        except Exception as exc:
            errors.append(f"e-mail via connection {config.smtp_conn_id!r}: {type(exc).__name__}: {exc}")
    if config.webhook_conn_id:
        try:
            _send_webhook(config, subject, text, details or {})
            sent.append("webhook")
        except Exception as exc:
            errors.append(f"webhook via connection {config.webhook_conn_id!r}: {type(exc).__name__}: {exc}")
    for error in errors:
        log.error("notify: could not send %r by %s", subject, error)
    if errors and not sent:
        raise RuntimeError(f"no alert could be sent ({'; '.join(errors)})")
    return sent


def alert_text(headline: str, runs: list[dict[str, Any]], where: str = "") -> str:
    """The body of an alert: the headline, then one paragraph per source from its harvest_runs row."""
    lines = [headline, ""]
    for run in runs:
        said = run.get("message") or "no message"
        if run.get("error") and run["error"] not in said:
            said += f" Error: {run['error']}"
        lines.append(f"- {run.get('source_id')} ({run.get('status')}, run {run.get('run_id')}): {said}")
    if where:
        lines += ["", where]
    return "\n".join(lines)


def problem_runs(statuses: tuple[str, ...] = ("failed", "held")) -> list[dict[str, Any]]:
    """The newest harvest_runs row of every source whose last run is failed or held (from the store)."""
    from .publish import read_summary

    return [r for r in read_summary() if r.get("status") in statuses]


# ---------------------------------------------------------------------------------------- Airflow
class InventoryNotifier(BaseNotifier):
    """Airflow notifier: ``on_failure_callback=InventoryNotifier()`` on a task that fails naming the
    sources that failed, were partial or were held. Sends the task's error and the sources' latest
    harvest_runs rows by every configured channel."""

    template_fields = ()

    def __init__(self, config_path: str | None = None, source_ids: list[str] | None = None):
        """``source_ids``: the harvest DAG's sources, whose batch reports of the failing run are
        reported (they are not published yet); without it, the sources whose latest published run
        failed or was held (the publish DAG)."""
        super().__init__()
        self.config_path = config_path
        self.source_ids = list(source_ids) if source_ids is not None else None

    def _runs(self, run_id: str) -> list[dict[str, Any]]:
        if self.source_ids is None:
            return problem_runs()
        from .pipeline import run_reports

        return [{**r, "run_id": run_id} for r in run_reports(self.source_ids, run_id) if r.get("status") != "complete"]

    def notify(self, context: Any) -> None:
        config = load_config(self.config_path)
        ti = context.get("ti") or context.get("task_instance")
        dag_id = getattr(context.get("dag"), "dag_id", None) or getattr(ti, "dag_id", "?")
        run_id = context.get("run_id") or getattr(context.get("dag_run"), "run_id", "?")
        error = context.get("exception")
        headline = str(error) if error else f"Task {getattr(ti, 'task_id', '?')} of {dag_id} failed."
        try:
            runs = self._runs(str(run_id))
        except Exception as exc:  # the store may be what broke: the alert still goes out
            log.warning("notify: could not read harvest_runs (%s)", exc)
            runs = []
        where = f"DAG {dag_id}, run {run_id}, task {getattr(ti, 'task_id', '?')}."
        log_url = getattr(ti, "log_url", None)
        if log_url:
            where += f" Log: {log_url}"
        subject = f"{dag_id}: {headline.split('.')[0][:150]}"
        send_alert(subject, alert_text(headline, runs, where),
                   {"dag_id": dag_id, "run_id": run_id, "sources": [
                       {k: r.get(k) for k in ("source_id", "status", "run_id", "message")} for r in runs]},
                   config)
