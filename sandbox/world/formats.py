"""Timestamp and value formats each vendor uses on the wire."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def salesforce_datetime(moment: datetime) -> str:
    """Salesforce REST form: 2026-01-05T10:00:00.000+0000."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def iso_millis_z(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and Z (HubSpot, Square)."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def iso_seconds_z(moment: datetime) -> str:
    """ISO-8601 UTC to the second with Z (Shopify GraphQL DateTime)."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def odoo_datetime(moment: datetime) -> str:
    """Odoo Datetime field form, UTC: 2026-01-05 10:00:00."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


def brevo_datetime(moment: datetime) -> str:
    """Brevo form: ISO-8601 with milliseconds in the account's time zone (Europe/Paris)."""
    return moment.astimezone(PARIS).isoformat(timespec="milliseconds")


def epoch_millis(moment: datetime) -> int:
    """Milliseconds since the epoch (HubSpot email events)."""
    return int(moment.timestamp() * 1000)


def iso_date(day: date | None) -> str | None:
    """YYYY-MM-DD or None."""
    return day.isoformat() if day else None
