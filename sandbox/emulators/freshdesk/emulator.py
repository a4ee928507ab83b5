"""The Freshdesk API v2 emulator: contacts, tickets and satisfaction ratings, as Freshdesk serves them.

What it keeps of Freshdesk's behaviour: basic auth with the API key as user name (any password), `page` and
`per_page` paging (at most 100 a page) with a `Link: <...>; rel="next"` header while there is more, the
`updated_since` / `_updated_since` / `created_since` filters, tickets and ratings limited to the last 30 days
when no filter is given, `order_by` / `order_type` on tickets (newest first by default), at most 300 pages of
tickets, `{description, errors: [{field, message, code}]}` validation errors, and 429s with Retry-After.
"""

from __future__ import annotations

import base64
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar
from urllib.parse import urlencode

from werkzeug.wrappers import Request, Response

from canalis.sandbox.objectstore import ObjectStore, format_timestamp
from canalis.sandbox.server.emulator import Emulator, json_response
from canalis.sandbox.server.faults import FaultPlan
from canalis.sandbox.server.paging import OffsetPager, Query

SYSTEM = "freshdesk"
API_KEY = "sandboxFreshdeskKey0123"
MAX_PER_PAGE = 100
DEFAULT_PER_PAGE = 30
MAX_TICKET_PAGES = 300
RECENT_DAYS = 30
AGENT = {
    "id": 153_000_000_001,
    "available": True,
    "occasional": False,
    "signature": None,
    "ticket_scope": 1,
    "contact": {"name": "Camille Support", "email": "support@canalis-maison.fr", "language": "fr"},
}


class FreshdeskError(Exception):
    """An answer in Freshdesk's validation error shape."""

    def __init__(self, field: str, message: str, code: str = "invalid_value") -> None:
        super().__init__(message)
        self.field, self.message, self.code = field, message, code


class FreshdeskEmulator(Emulator):
    """Freshdesk's v2 REST API under /freshdesk/api/v2 (the `{domain}.freshdesk.com` host stands for the prefix)."""

    prefix = "freshdesk"
    system = SYSTEM
    title = "Freshdesk (help desk)"
    routes: ClassVar[list[tuple[str, list[str], str]]] = [
        ("/api/v2/agents/me", ["GET"], "get_me"),
        ("/api/v2/contacts", ["GET"], "get_contacts"),
        ("/api/v2/contacts/<int:contact_id>", ["GET"], "get_contact"),
        ("/api/v2/tickets", ["GET"], "get_tickets"),
        ("/api/v2/tickets/<int:ticket_id>", ["GET"], "get_ticket"),
        ("/api/v2/surveys/satisfaction_ratings", ["GET"], "get_ratings"),
    ]

    def __init__(self, store: ObjectStore, faults: FaultPlan | None = None) -> None:
        super().__init__(store, faults)
        self.pager = OffsetPager(store)

    def credentials(self) -> dict[str, str]:
        return {"api_key": API_KEY, "auth": "basic: the API key as user name, any password"}

    def auth_error(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization", "")
        scheme, _, encoded = header.partition(" ")
        try:
            user = base64.b64decode(encoded).decode().partition(":")[0] if scheme.lower() == "basic" else ""
        except ValueError:
            user = ""
        if user != API_KEY:
            body = {"code": "invalid_credentials", "message": "You have to be logged in to perform this action."}
            return json_response(body, 401)
        return None

    def fault_response(self, fault: str) -> Response:
        if fault == "429":
            headers = {"Retry-After": "1", "X-RateLimit-Total": "200", "X-RateLimit-Remaining": "0"}
            return json_response({"message": "You have exceeded the limit of requests per minute"}, 429, headers)
        return json_response({"code": "internal_error", "message": "We're sorry, something went wrong."}, int(fault))

    def not_found(self, request: Request) -> Response:
        return json_response({"code": "invalid_url", "message": f"{request.path} is not a valid URL"}, 404)

    def dispatch(self, request: Request, path: str) -> Response:
        try:
            return super().dispatch(request, path)
        except FreshdeskError as failure:
            errors = [{"field": failure.field, "message": failure.message, "code": failure.code}]
            return json_response({"description": "Validation failed", "errors": errors}, 400)

    # -- endpoints ---------------------------------------------------------------------------------

    def get_me(self, request: Request) -> Response:
        return json_response(AGENT)

    def get_contacts(self, request: Request) -> Response:
        since = _moment(request, "_updated_since")
        email = (request.args.get("email") or "").strip().lower()
        keep = (lambda payload: str(payload.get("email") or "").lower() == email) if email else None
        return self._listing(request, Query(SYSTEM, "contacts", "seq", updated_since=since), keep=keep)

    def get_contact(self, request: Request, contact_id: int) -> Response:
        return self._one("contacts", contact_id, "Contact")

    def get_tickets(self, request: Request) -> Response:
        since = _moment(request, "updated_since")
        order_by = request.args.get("order_by", "created_at")
        if order_by not in ("created_at", "updated_at", "due_by", "status"):
            raise FreshdeskError("order_by", "It should be one of these values: 'created_at,due_by,updated_at,status'")
        order_type = request.args.get("order_type", "desc")
        if order_type not in ("asc", "desc"):
            raise FreshdeskError("order_type", "It should be one of these values: 'asc,desc'")
        if _page(request) > MAX_TICKET_PAGES:
            raise FreshdeskError("page", f"It should be less than or equal to {MAX_TICKET_PAGES}")
        keep = None
        if since is None:  # only tickets created in the last 30 days, as Freshdesk answers without a filter
            recent = format_timestamp(datetime.now(UTC) - timedelta(days=RECENT_DAYS))
            keep = lambda payload: _stamp(payload.get("created_at")) >= recent  # noqa: E731
        order = "updated_at" if order_by == "updated_at" else "seq"
        return self._listing(
            request, Query(SYSTEM, "tickets", order, updated_since=since), descending=order_type == "desc", keep=keep
        )

    def get_ticket(self, request: Request, ticket_id: int) -> Response:
        return self._one("tickets", ticket_id, "Ticket")

    def get_ratings(self, request: Request) -> Response:
        since = _moment(request, "created_since") or format_timestamp(datetime.now(UTC) - timedelta(days=RECENT_DAYS))
        return self._listing(request, Query(SYSTEM, "satisfaction_ratings", "seq", updated_since=since))

    # -- helpers -----------------------------------------------------------------------------------

    def _listing(self, request: Request, query: Query, *, descending: bool = False, keep: Any = None) -> Response:
        page, per_page = _page(request), _per_page(request)
        items, total = self.pager.page(
            query, offset=(page - 1) * per_page, limit=per_page, descending=descending, keep=keep
        )
        records = [self._maybe_corrupt(dict(item.payload)) for item in items]
        headers = {}
        if page * per_page < total:
            following = {**request.args.to_dict(), "page": str(page + 1)}
            headers["Link"] = f'<{request.base_url}?{urlencode(following)}>; rel="next"'
        return json_response(records, headers=headers)

    def _one(self, object_type: str, identifier: int, label: str) -> Response:
        payload = self.store.get(SYSTEM, object_type, str(identifier))
        if payload is None:
            return json_response({"code": "not_found", "message": f"{label} not found"}, 404)
        return json_response(payload)

    def _maybe_corrupt(self, record: dict[str, Any]) -> dict[str, Any]:
        """Break the record's id when the fault plan says so (a malformed record on the wire)."""
        if self.faults.corrupt_record(SYSTEM):
            record["id"] = None
        return record


def _page(request: Request) -> int:
    return _positive(request, "page", 1, None)


def _per_page(request: Request) -> int:
    return _positive(request, "per_page", DEFAULT_PER_PAGE, MAX_PER_PAGE)


def _positive(request: Request, name: str, default: int, maximum: int | None) -> int:
    raw = request.args.get(name)
    if raw in (None, ""):
        return default
    if not raw.isdigit() or int(raw) < 1 or (maximum is not None and int(raw) > maximum):
        limit = f" less than or equal to {maximum}" if maximum else ""
        raise FreshdeskError(name, f"It should be a Positive Integer{limit}")
    return int(raw)


def _moment(request: Request, name: str) -> str | None:
    """A date-time filter as the object store compares it; Freshdesk takes ISO-8601 (a date alone too)."""
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise FreshdeskError(name, "It should be in the 'valid date time' format", "invalid_date") from None
    return format_timestamp(value if value.tzinfo else value.replace(tzinfo=UTC))


def _stamp(text: Any) -> str:
    try:
        return format_timestamp(datetime.fromisoformat(str(text).replace("Z", "+00:00")))
    except ValueError:
        return ""
