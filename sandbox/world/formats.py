"""Timestamp and value formats each vendor uses on the wire."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

PARIS = ZoneInfo("Europe/Paris")


def _utc_millis(moment: datetime) -> str:
    """2026-01-05T10:00:00.000 in UTC (isoformat, which is several times faster than strftime)."""
    if moment.tzinfo is not UTC:
        moment = moment.astimezone(UTC)
    return moment.isoformat(timespec="milliseconds")[:23]


def salesforce_datetime(moment: datetime) -> str:
    """Salesforce REST form: 2026-01-05T10:00:00.000+0000."""
    return _utc_millis(moment) + "+0000"


def iso_millis_z(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and Z (HubSpot, Square)."""
    return _utc_millis(moment) + "Z"


def iso_seconds_z(moment: datetime) -> str:
    """ISO-8601 UTC to the second with Z (Shopify GraphQL DateTime)."""
    return _utc_millis(moment)[:19] + "Z"


def odoo_datetime(moment: datetime) -> str:
    """Odoo Datetime field form, UTC: 2026-01-05 10:00:00."""
    return _utc_millis(moment)[:19].replace("T", " ")


def brevo_datetime(moment: datetime) -> str:
    """Brevo form: ISO-8601 with milliseconds in the account's time zone (Europe/Paris)."""
    return moment.astimezone(PARIS).isoformat(timespec="milliseconds")


def epoch_millis(moment: datetime) -> int:
    """Milliseconds since the epoch (HubSpot email events)."""
    return int(moment.timestamp() * 1000)


def iso_date(day: date | None) -> str | None:
    """YYYY-MM-DD or None."""
    return day.isoformat() if day else None
