"""Brevo's wire format: error bodies, timestamps in the account's time zone, and the shapes served per object."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from werkzeug.wrappers import Response

from canalis.sandbox.objectstore import format_timestamp
from canalis.sandbox.server.emulator import json_response
from canalis.sandbox.world.formats import brevo_datetime

ACCOUNT_TIMEZONE = ZoneInfo("Europe/Paris")

# The world records campaign events under webhook-style names; the event report speaks its own names.
EVENT_WIRE_NAMES = {
    "hardBounce": "hardBounces",
    "softBounce": "softBounces",
    "clicked": "clicks",
    "opened": "opened",
    "delivered": "delivered",
    "unsubscribed": "unsubscribed",
    "spam": "spam",
    "complaint": "spam",
    "request": "requests",
    "sent": "requests",
    "blocked": "blocked",
    "deferred": "deferred",
    "invalid": "invalid",
}
EVENT_FILTERS = {
    "bounces": {"hardBounces", "softBounces"},
    "hardBounces": {"hardBounces"},
    "softBounces": {"softBounces"},
    "delivered": {"delivered"},
    "spam": {"spam"},
    "requests": {"requests"},
    "opened": {"opened"},
    "clicks": {"clicks"},
    "invalid": {"invalid"},
    "deferred": {"deferred"},
    "blocked": {"blocked"},
    "unsubscribed": {"unsubscribed"},
    "error": {"error"},
    "loadedByProxy": {"loadedByProxy"},
}
EVENT_FIELDS = ("email", "date", "messageId", "event", "reason", "tag", "ip", "link", "from", "templateId", "subject")
LIST_FIELDS = ("id", "name", "totalBlacklisted", "totalSubscribers", "uniqueSubscribers", "folderId")


def error(status: int, code: str, message: str, headers: dict[str, str] | None = None) -> Response:
    """Brevo's error answer: `{code, message}`."""
    return json_response({"code": code, "message": message}, status, headers=headers)


def no_content() -> Response:
    """204 with an empty body, as Brevo answers successful updates."""
    return Response(status=204)


def now_wire() -> str:
    """The current time as Brevo writes it (account time zone, milliseconds)."""
    return brevo_datetime(datetime.now(UTC))


def parse_moment(text: str) -> datetime:
    """An ISO-8601 date-time (Z, offset or none = UTC) as an aware UTC datetime; ValueError when unreadable."""
    cleaned = text.strip().replace(" ", "+") if "T" in text else text.strip()
    if cleaned.endswith("Z"):
        cleaned = cleaned[:-1] + "+00:00"
    value = datetime.fromisoformat(cleaned)
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


def parse_day(text: str) -> date:
    """A YYYY-MM-DD date; ValueError otherwise."""
    if len(text) != 10:
        raise ValueError(text)
    return date.fromisoformat(text)


def today() -> date:
    """Today in the account's time zone."""
    return datetime.now(ACCOUNT_TIMEZONE).date()


def day_range(start: date, end: date) -> tuple[str, str]:
    """Store bounds [since, before) covering whole days start..end in the account's time zone."""
    since = datetime.combine(start, time(0), ACCOUNT_TIMEZONE)
    before = datetime.combine(end + timedelta(days=1), time(0), ACCOUNT_TIMEZONE)
    return format_timestamp(since), format_timestamp(before)


def store_stamp(moment: datetime) -> str:
    """A datetime in the object store's sortable form."""
    return format_timestamp(moment)


def contact_view(payload: dict[str, Any]) -> dict[str, Any]:
    """A contact as listed: the stored payload with the flags Brevo always sends."""
    view = dict(payload)
    view.setdefault("emailBlacklisted", False)
    view.setdefault("smsBlacklisted", False)
    view.setdefault("whatsappBlacklisted", False)
    view.setdefault("listIds", [])
    view.setdefault("attributes", {})
    return view


def contact_detail(payload: dict[str, Any]) -> dict[str, Any]:
    """A contact as `GET /contacts/{identifier}` answers: with (empty) campaign statistics."""
    return {**contact_view(payload), "statistics": {}}


def event_view(payload: dict[str, Any]) -> dict[str, Any]:
    """A campaign event as the event report lists it, under the report's event names."""
    kind = str(payload.get("event", ""))
    view = {name: payload[name] for name in EVENT_FIELDS if name in payload}
    view["event"] = EVENT_WIRE_NAMES.get(kind, kind)
    return view


def list_view(payload: dict[str, Any]) -> dict[str, Any]:
    """A list as `GET /contacts/lists` lists it."""
    return {name: payload.get(name, 0) for name in LIST_FIELDS}


def list_detail(payload: dict[str, Any]) -> dict[str, Any]:
    """A list as `GET /contacts/lists/{listId}` answers."""
    return {**list_view(payload), "createdAt": payload.get("createdAt"), "campaignStats": [], "dynamicList": False}
