"""Sending an alert to each configured destination. A failed delivery names the system, the call and the status,
never a password, a token or a URL's path (which may hold one)."""

from __future__ import annotations

import os
import smtplib
import ssl
from email.message import EmailMessage
from urllib.parse import urlsplit

import requests

from canalis.alerts.message import Alert
from canalis.config.alerts import AlertSettings, EmailAlerts, SlackAlerts, WebhookAlerts


class AlertDeliveryError(RuntimeError):
    """An alert could not be delivered to one destination."""


def deliver(alert: Alert, settings: AlertSettings) -> list[str]:
    """Send the alert everywhere configured; the destinations reached. Raises after trying them all if one failed."""
    reached: list[str] = []
    failures: list[str] = []
    for name, send, destination in (
        ("email", send_email, settings.email),
        ("webhook", send_webhook, settings.webhook),
        ("slack", send_slack, settings.slack),
    ):
        if destination is None:
            continue
        try:
            send(alert, destination)  # type: ignore[arg-type]
        except AlertDeliveryError as error:
            failures.append(str(error))
        else:
            reached.append(name)
    if failures:
        raise AlertDeliveryError("; ".join(failures))
    return reached


def _secret(variable: str | None, what: str) -> str | None:
    if variable is None:
        return None
    value = os.environ.get(variable)
    if not value:
        raise AlertDeliveryError(f"alerts: {what} variable {variable} is not set")
    return value


def send_email(alert: Alert, settings: EmailAlerts) -> None:
    """Send the alert as a plain-text email."""
    message = EmailMessage()
    message["Subject"] = alert.subject
    message["From"] = settings.sender
    message["To"] = ", ".join(settings.to)
    message.set_content(alert.text())
    username = _secret(settings.username_env, "SMTP user")
    password = _secret(settings.password_env, "SMTP password")
    where = f"SMTP {settings.host}:{settings.port}"
    try:
        if settings.security == "ssl":
            client: smtplib.SMTP = smtplib.SMTP_SSL(
                settings.host, settings.port, timeout=settings.timeout_seconds, context=ssl.create_default_context()
            )
        else:
            client = smtplib.SMTP(settings.host, settings.port, timeout=settings.timeout_seconds)
        with client:
            if settings.security == "starttls":
                client.starttls(context=ssl.create_default_context())
            if username and password:
                client.login(username, password)
            client.send_message(message)
    except smtplib.SMTPResponseException as error:
        raise AlertDeliveryError(f"{where}: sending the alert email failed with status {error.smtp_code}") from None
    except (OSError, smtplib.SMTPException) as error:
        raise AlertDeliveryError(f"{where}: sending the alert email failed ({type(error).__name__})") from None


def send_webhook(alert: Alert, settings: WebhookAlerts) -> None:
    """POST the alert as JSON."""
    url = settings.url or _secret(settings.url_env, "webhook URL")
    assert url is not None
    parts = urlsplit(url)
    where = f"webhook {parts.scheme}://{parts.netloc}"
    try:
        response = requests.post(url, json=alert.document(), timeout=settings.timeout_seconds)
    except requests.RequestException as error:
        raise AlertDeliveryError(f"{where}: POST failed ({type(error).__name__})") from None
    if response.status_code >= 300:
        raise AlertDeliveryError(f"{where}: POST answered status {response.status_code}")


def send_slack(alert: Alert, settings: SlackAlerts) -> None:
    """Post the alert to a Slack channel through dagster-slack's client."""
    try:
        from dagster_slack import SlackResource
    except ImportError:
        raise AlertDeliveryError(
            "slack: the dagster-slack package is not installed (pip install canalis[slack])"
        ) from None
    token = _secret(settings.token_env, "Slack token")
    try:
        SlackResource(token=token or "").get_client().chat_postMessage(channel=settings.channel, text=alert.text())
    except Exception as error:  # the Slack SDK's errors may quote the request; keep only the type
        status = getattr(getattr(error, "response", None), "status_code", None)
        raise AlertDeliveryError(
            f"slack chat.postMessage to {settings.channel} failed ({type(error).__name__}, status {status})"
        ) from None
