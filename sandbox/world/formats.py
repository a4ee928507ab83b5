"""Timestamp and value formats each vendor uses on the wire."""

from __future__ import annotations

from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

from canalis.sandbox.objectstore import format_timestamp

PARIS = ZoneInfo("Europe/Paris")


_MILLIS: dict[datetime, str] = {}
_MILLIS_KEPT = 1 << 16
"""Moments formatted lately: a record's moments are written in its payload and again as its store timestamps."""


def _utc_millis(moment: datetime) -> str:
    """2026-01-05T10:00:00.000 in UTC (isoformat, which is several times faster than strftime; remembered)."""
    text = _MILLIS.get(moment)
    if text is None:
        utc = moment if moment.tzinfo is UTC else moment.astimezone(UTC)
        text = utc.isoformat(timespec="milliseconds")[:23]
        if len(_MILLIS) >= _MILLIS_KEPT:
            _MILLIS.clear()
        _MILLIS[moment] = text
    return text


def store_timestamp(moment: datetime) -> str:
    """The object store's timestamp of a moment (`format_timestamp`), from the moments formatted lately."""
    if moment.tzinfo is not UTC:
        return format_timestamp(moment)
    return _utc_millis(moment) + "Z"


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
