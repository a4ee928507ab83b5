"""The Brevo API v3 emulator: contacts, lists, the transactional blocklist and the email event report."""

from __future__ import annotations

from collections.abc import Callable
from datetime import date, timedelta
from typing import Any, ClassVar

from werkzeug.wrappers import Request, Response

from canalis.sandbox.emulators.brevo.contacts import (
    BLOCKED,
    CONTACTS,
    EVENTS,
    LISTS,
    SYSTEM,
    BrevoError,
    ContactBook,
    ContactChanges,
    valid_email,
)
from canalis.sandbox.emulators.brevo.limits import FixedWindowLimiter
from canalis.sandbox.emulators.brevo.wire import (
    EVENT_FILTERS,
    contact_detail,
    contact_view,
    day_range,
    error,
    event_view,
    list_detail,
    list_view,
    no_content,
    parse_day,
    parse_moment,
    store_stamp,
    today,
)
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server.emulator import Emulator, json_response, read_json
from canalis.sandbox.server.faults import FaultPlan
from canalis.sandbox.server.paging import OffsetPager, Query

API_KEY = "xkeysib-0c0a11500000000000000000000000000000000000000000000000000000sandbox-Cana1isBrevo01"
MAX_CONTACTS_PAGE = 1000
MAX_LISTS_PAGE = 50
MAX_BLOCKED_PAGE = 100
MAX_EVENTS_PAGE = 5000
MAX_LIST_MEMBERS_PER_CALL = 150
MAX_EVENT_RANGE_DAYS = 90
DEFAULT_EVENT_DAYS = 30


class BrevoEmulator(Emulator):
    """Brevo's v3 REST API under /brevo/v3, authenticated with the `api-key` header."""

    prefix = "brevo"
    system = SYSTEM
    title = "Brevo (email marketing)"
    routes: ClassVar[list[tuple[str, list[str], str]]] = [
        ("/v3/account", ["GET"], "get_account"),
        ("/v3/contacts", ["GET"], "get_contacts"),
        ("/v3/contacts", ["POST"], "create_contact"),
        ("/v3/contacts/batch", ["POST"], "update_batch"),
        ("/v3/contacts/import", ["POST"], "import_contacts"),
        ("/v3/contacts/lists", ["GET"], "get_lists"),
        ("/v3/contacts/lists/<int:list_id>", ["GET"], "get_list"),
        ("/v3/contacts/lists/<int:list_id>/contacts/add", ["POST"], "add_to_list"),
        ("/v3/contacts/lists/<int:list_id>/contacts/remove", ["POST"], "remove_from_list"),
        ("/v3/contacts/<identifier>", ["GET"], "get_contact"),
        ("/v3/contacts/<identifier>", ["PUT"], "update_contact"),
        ("/v3/contacts/<identifier>", ["DELETE"], "delete_contact"),
        ("/v3/smtp/blockedContacts", ["GET"], "get_blocked"),
        ("/v3/smtp/blockedContacts/<email>", ["DELETE"], "unblock"),
        ("/v3/smtp/statistics/events", ["GET"], "get_events"),
        ("/v3/processes/<int:process_id>", ["GET"], "get_process"),
    ]

    rate_limit: int = 1000
    rate_window_seconds: float = 60.0
    throttle_reset_seconds: int = 1

    def __init__(self, store: ObjectStore, faults: FaultPlan | None = None) -> None:
        super().__init__(store, faults)
        self.book = ContactBook(store)
        self.pager = OffsetPager(store)
        self.limiter = FixedWindowLimiter(self.rate_limit, self.rate_window_seconds)

    # -- framework hooks ---------------------------------------------------------------------------

    def credentials(self) -> dict[str, str]:
        return {"api_key": API_KEY, "header": "api-key", "base_url_path": "/brevo/v3"}

    def auth_error(self, request: Request) -> Response | None:
        if request.headers.get("api-key") != API_KEY:
            return error(401, "unauthorized", "Key not found")
        return None

    def fault_response(self, fault: str) -> Response:
        if fault == "429":
            headers = {
                "x-sib-ratelimit-limit": str(self.limiter.limit),
                "x-sib-ratelimit-remaining": "0",
                "x-sib-ratelimit-reset": str(self.throttle_reset_seconds),
            }
            return error(429, "too_many_requests", "Too many requests", headers)
        return error(int(fault), "internal_error", "Internal server error")

    def not_found(self, request: Request) -> Response:
        return error(404, "document_not_found", f"Route {request.method} {request.path} does not exist")

    def dispatch(self, request: Request, path: str) -> Response:
        """Authenticate, count the request in the key's window, then route; every answer carries the headers."""
        denied = self.auth_error(request)
        if denied is not None:
            return denied
        window = self.limiter.hit(request.headers.get("api-key", ""))
        if not window.allowed:
            return error(429, "too_many_requests", "Too many requests", window.headers())
        try:
            response = super().dispatch(request, path)
        except BrevoError as failure:
            response = error(failure.status, failure.code, failure.message)
        response.headers.update(window.headers())
        return response

    # -- account -----------------------------------------------------------------------------------

    def get_account(self, request: Request) -> Response:
        return json_response(
            {
                "organization_id": "6520c0a1b2c3d4e5f6a7b8c9",
                "user_id": 4242,
                "enterprise": False,
                "email": "marketing@canalis-maison.fr",
                "firstName": "Canalis",
                "lastName": "Maison",
                "companyName": "Canalis Maison",
                "address": {"street": "12 rue des Halles", "city": "Lyon", "zipCode": "69001", "country": "France"},
                "plan": [{"type": "free", "credits": 300, "creditsType": "sendLimit"}],
                "relay": {
                    "enabled": True,
                    "data": {"userName": "marketing@canalis-maison.fr", "relay": "smtp-relay.brevo.com", "port": 587},
                },
            }
        )

    # -- contacts ----------------------------------------------------------------------------------

    def get_contacts(self, request: Request) -> Response:
        limit = _int_arg(request, "limit", 50, maximum=MAX_CONTACTS_PAGE)
        offset = _int_arg(request, "offset", 0)
        descending = _sort_arg(request)
        since = _moment_arg(request, "modifiedSince")
        created_since = _moment_arg(request, "createdSince")
        list_ids = _int_list_arg(request, "listIds")
        ids = _int_list_arg(request, "ids")
        keep = _contact_filter(created_since, list_ids, ids)
        query = Query(SYSTEM, CONTACTS, "seq", updated_since=since)
        items, total = self.pager.page(query, offset=offset, limit=limit, descending=descending, keep=keep)
        contacts = [self._maybe_corrupt(contact_view(item.payload), "modifiedAt") for item in items]
        return json_response({"contacts": contacts, "count": total})

    def get_contact(self, request: Request, identifier: str) -> Response:
        contact = self.book.find(identifier, request.args.get("identifierType"))
        if contact is None:
            return error(404, "document_not_found", "Contact does not exist")
        return json_response(contact_detail(contact))

    def delete_contact(self, request: Request, identifier: str) -> Response:
        contact = self.book.find(identifier, request.args.get("identifierType"))
        if contact is None:
            return error(404, "document_not_found", "Contact does not exist")
        self.book.delete(contact)
        self._written(CONTACTS)
        return no_content()

    def create_contact(self, request: Request) -> Response:
        body = _json_object(request)
        email = body.get("email")
        changes = ContactChanges.from_body(body)
        if email is None and not changes.attributes.get("SMS") and not changes.ext_id:
            return error(400, "missing_parameter", "email, SMS or ext_id is required")
        if email is not None and not valid_email(email):
            return error(400, "invalid_parameter", "Invalid email address")
        with self.book.lock:
            existing = self.book.find(str(email)) if email else None
            if existing is not None:
                if not body.get("updateEnabled"):
                    return error(
                        400,
                        "duplicate_parameter",
                        "Unable to create contact, email is already associated with another Contact",
                    )
                self.book.update(existing, changes)
                self._written(CONTACTS)
                return no_content()
            created = self.book.create(email, changes)
        self._written(CONTACTS)
        return json_response({"id": created["id"]}, 201)

    def update_contact(self, request: Request, identifier: str) -> Response:
        body = _json_object(request)
        changes = ContactChanges.from_body(body)
        with self.book.lock:
            contact = self.book.find(identifier, request.args.get("identifierType"))
            if contact is None:
                return error(404, "document_not_found", "Contact does not exist")
            self.book.update(contact, changes)
        self._written(CONTACTS)
        return no_content()

    def update_batch(self, request: Request) -> Response:
        body = _json_object(request)
        items = body.get("contacts")
        if not isinstance(items, list) or not items:
            return error(400, "missing_parameter", "contacts is required")
        succeeded: list[Any] = []
        failed: list[Any] = []
        for item in items:
            identifier = _batch_identifier(item)
            if identifier is None:
                return error(400, "invalid_parameter", "each contact needs exactly one of email, id or sms")
            try:
                changes = ContactChanges.from_body(item)
                with self.book.lock:
                    contact = self.book.find(str(identifier))
                    if contact is None:
                        raise BrevoError(404, "document_not_found", "Contact does not exist")
                    self.book.update(contact, changes)
                succeeded.append(contact["id"])
            except BrevoError:
                failed.append(identifier)
        self._written(CONTACTS)
        if failed:
            return json_response({"successIds": succeeded, "failureIds": failed}, 207)
        return no_content()

    def import_contacts(self, request: Request) -> Response:
        body = _json_object(request)
        rows = body.get("jsonBody")
        if not isinstance(rows, list):
            return error(400, "missing_parameter", "fileUrl, fileBody or jsonBody is required")
        list_ids = [int(item) for item in body.get("listIds") or []]
        if not list_ids and not body.get("newList"):
            return error(400, "missing_parameter", "listIds or newList is required")
        update_existing = body.get("updateExistingContacts", True) is not False
        erase_empty = bool(body.get("emptyContactsAttributes", False))
        imported = 0
        for row in rows:
            if not isinstance(row, dict) or not valid_email(row.get("email")):
                continue
            attributes = {str(k).upper(): v for k, v in (row.get("attributes") or {}).items()}
            if not erase_empty:
                attributes = {name: value for name, value in attributes.items() if value not in (None, "")}
            changes = ContactChanges.from_body({"attributes": attributes, "listIds": list_ids})
            with self.book.lock:
                contact = self.book.find(row["email"])
                if contact is None:
                    self.book.create(row["email"], changes)
                elif update_existing:
                    self.book.update(contact, changes)
                else:
                    continue
            imported += 1
        self._written(CONTACTS)
        process_id = self.store.next_numeric_id(SYSTEM, "processes")
        process = {"id": process_id, "status": "completed", "name": "IMPORTUSER", "info": {"import": {}}}
        self.store.kv_put(f"brevo:process:{process_id}", {**process, "imported": imported})
        return json_response({"processId": process_id}, 202)

    def get_process(self, request: Request, process_id: int) -> Response:
        process = self.store.kv_get(f"brevo:process:{process_id}")
        if process is None:
            return error(404, "document_not_found", "Process does not exist")
        return json_response({name: process[name] for name in ("id", "status", "name", "info")})

    # -- lists -------------------------------------------------------------------------------------

    def get_lists(self, request: Request) -> Response:
        limit = _int_arg(request, "limit", 10, maximum=MAX_LISTS_PAGE)
        offset = _int_arg(request, "offset", 0)
        query = Query(SYSTEM, LISTS, "seq")
        items, total = self.pager.page(query, offset=offset, limit=limit, descending=_sort_arg(request))
        lists = [self._maybe_corrupt(list_view(item.payload), "id") for item in items]
        return json_response({"lists": lists, "count": total})

    def get_list(self, request: Request, list_id: int) -> Response:
        payload = self.store.get(SYSTEM, LISTS, str(list_id))
        if payload is None:
            return error(404, "document_not_found", "List ID does not exist")
        return json_response(list_detail(payload))

    def add_to_list(self, request: Request, list_id: int) -> Response:
        return self._change_list(request, list_id, add=True)

    def remove_from_list(self, request: Request, list_id: int) -> Response:
        return self._change_list(request, list_id, add=False)

    def _change_list(self, request: Request, list_id: int, *, add: bool) -> Response:
        if not self.book.list_exists(list_id):
            return error(404, "document_not_found", "List ID does not exist")
        body = _json_object(request)
        if not add and body.get("all") is True:
            return self._empty_list(list_id)
        name, members = next(((key, body[key]) for key in ("emails", "ids", "extIds") if body.get(key)), (None, None))
        if name is None or not isinstance(members, list):
            return error(400, "missing_parameter", "emails, ids or extIds is required")
        if len(members) > MAX_LIST_MEMBERS_PER_CALL:
            return error(400, "out_of_range", f"You can pass a maximum of {MAX_LIST_MEMBERS_PER_CALL} {name}")
        identifier_type = {"emails": "email_id", "ids": "contact_id", "extIds": "ext_id"}[name]
        success: list[Any] = []
        failure: list[Any] = []
        for member in members:
            with self.book.lock:
                contact = self.book.find(str(member), identifier_type)
                in_list = contact is not None and list_id in (contact.get("listIds") or [])
                if contact is None or (not add and not in_list):
                    failure.append(member)
                    continue
                if add != in_list:
                    self.book.set_lists(contact, add=[list_id] if add else [], remove=[] if add else [list_id])
                success.append(member)
        self._written(CONTACTS)
        return json_response({"contacts": {"success": success, "failure": failure}}, 201)

    def _empty_list(self, list_id: int) -> Response:
        removed = 0
        for item in list(self.pager.scan(Query(SYSTEM, CONTACTS))):
            if list_id in (item.payload.get("listIds") or []):
                self.book.set_lists(item.payload, remove=[list_id])
                removed += 1
        self._written(CONTACTS)
        process_id = self.store.next_numeric_id(SYSTEM, "processes")
        self.store.kv_put(
            f"brevo:process:{process_id}", {"id": process_id, "status": "completed", "name": "LIST_EXPORT", "info": {}}
        )
        return json_response({"contacts": {"total": removed, "processId": process_id}}, 201)

    # -- blocklist ---------------------------------------------------------------------------------

    def get_blocked(self, request: Request) -> Response:
        self.book.ensure_derived()
        limit = _int_arg(request, "limit", 50, maximum=MAX_BLOCKED_PAGE)
        offset = _int_arg(request, "offset", 0)
        start, end = _day_pair(request)
        if end is not None and end > today():
            return error(400, "invalid_parameter", "endDate should not be in the future")
        since, before = day_range(start, end) if start and end else (None, None)
        senders = {s.strip().lower() for s in request.args.get("senders", "").split(",") if s.strip()}
        keep = (lambda payload: str(payload.get("senderEmail", "")).lower() in senders) if senders else None
        query = Query(SYSTEM, BLOCKED, "updated_at", updated_since=since, updated_before=before)
        items, total = self.pager.page(query, offset=offset, limit=limit, descending=_sort_arg(request), keep=keep)
        contacts = [self._maybe_corrupt(dict(item.payload), "blockedAt") for item in items]
        return json_response({"count": total, "contacts": contacts})

    def unblock(self, request: Request, email: str) -> Response:
        if not self.book.unblock(email):
            return error(404, "document_not_found", "Contact does not exist")
        self._written(CONTACTS)
        return no_content()

    # -- events ------------------------------------------------------------------------------------

    def get_events(self, request: Request) -> Response:
        limit = _int_arg(request, "limit", 2500, maximum=MAX_EVENTS_PAGE)
        offset = _int_arg(request, "offset", 0)
        start, end = _day_pair(request)
        if start is None or end is None:
            days = _int_arg(request, "days", DEFAULT_EVENT_DAYS, maximum=MAX_EVENT_RANGE_DAYS)
            end = today()
            start = end - timedelta(days=max(days, 1) - 1)
        elif (end - start).days >= MAX_EVENT_RANGE_DAYS:
            return error(400, "invalid_parameter", f"The date range can not exceed {MAX_EVENT_RANGE_DAYS} days")
        since, before = day_range(start, end)
        keep = _event_filter(request)
        query = Query(SYSTEM, EVENTS, "updated_at", updated_since=since, updated_before=before)
        items, _ = self.pager.page(query, offset=offset, limit=limit, descending=_sort_arg(request), keep=keep)
        events = [self._maybe_corrupt(event_view(item.payload), "date") for item in items]
        return json_response({"events": events})

    # -- helpers -----------------------------------------------------------------------------------

    def _written(self, object_type: str) -> None:
        for written in (object_type, BLOCKED, LISTS):
            self.pager.forget(SYSTEM, written)

    def _maybe_corrupt(self, record: dict[str, Any], field: str) -> dict[str, Any]:
        """Break one field of the record when the fault plan says so (a malformed record on the wire)."""
        if self.faults.corrupt_record(SYSTEM):
            record[field] = "not-a-valid-value"
        return record


def _json_object(request: Request) -> dict[str, Any]:
    body = read_json(request)
    if not isinstance(body, dict):
        raise BrevoError(400, "invalid_parameter", "Request body should be a JSON object")
    return body


def _int_arg(request: Request, name: str, default: int, *, maximum: int | None = None) -> int:
    raw = request.args.get(name)
    if raw is None or raw == "":
        return default
    try:
        value = int(raw)
    except ValueError:
        raise BrevoError(400, "invalid_parameter", f"{name} should be an integer") from None
    if value < 0 or (maximum is not None and value > maximum):
        raise BrevoError(400, "out_of_range", f"{name} should be between 0 and {maximum}")
    return value


def _int_list_arg(request: Request, name: str) -> list[int] | None:
    raw = request.args.getlist(name)
    if not raw:
        return None
    try:
        return [int(part) for value in raw for part in value.split(",") if part.strip()]
    except ValueError:
        raise BrevoError(400, "invalid_parameter", f"{name} should be a list of integers") from None


def _sort_arg(request: Request) -> bool:
    """True for descending order (Brevo's default)."""
    sort = request.args.get("sort", "desc")
    if sort not in ("asc", "desc"):
        raise BrevoError(400, "invalid_parameter", "sort should be asc or desc")
    return sort == "desc"


def _moment_arg(request: Request, name: str) -> str | None:
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        return store_stamp(parse_moment(raw))
    except ValueError:
        raise BrevoError(400, "invalid_parameter", f"{name} is not in a valid date-time format") from None


def _day_pair(request: Request) -> tuple[date | None, date | None]:
    start, end = request.args.get("startDate"), request.args.get("endDate")
    if bool(start) != bool(end):
        raise BrevoError(400, "invalid_parameter", "startDate and endDate should be passed together")
    if not start or not end:
        return None, None
    try:
        first, last = parse_day(start), parse_day(end)
    except ValueError:
        raise BrevoError(400, "invalid_parameter", "dates should be in YYYY-MM-DD format") from None
    if first > last:
        raise BrevoError(400, "invalid_parameter", "startDate should be lower than or equal to endDate")
    return first, last


def _contact_filter(
    created_since: str | None, list_ids: list[int] | None, ids: list[int] | None
) -> Callable[[dict[str, Any]], bool] | None:
    if created_since is None and list_ids is None and ids is None:
        return None

    def keep(payload: dict[str, Any]) -> bool:
        if ids is not None and payload.get("id") not in ids:
            return False
        if list_ids is not None and not set(list_ids) & set(payload.get("listIds") or []):
            return False
        return created_since is None or store_stamp(parse_moment(str(payload.get("createdAt")))) >= created_since

    return keep


def _event_filter(request: Request) -> Callable[[dict[str, Any]], bool] | None:
    event = request.args.get("event")
    email = (request.args.get("email") or "").strip().lower()
    message_id = request.args.get("messageId")
    if event is not None and event not in EVENT_FILTERS:
        raise BrevoError(400, "invalid_parameter", f"event {event} is not valid")
    if not (event or email or message_id):
        return None
    wanted = EVENT_FILTERS.get(event or "")

    def keep(payload: dict[str, Any]) -> bool:
        if wanted is not None and event_view(payload)["event"] not in wanted:
            return False
        if email and str(payload.get("email", "")).lower() != email:
            return False
        return not message_id or payload.get("messageId") == message_id

    return keep


def _batch_identifier(item: Any) -> Any:
    """The one identifier of a batch item (id, email or sms), or None when there is not exactly one."""
    if not isinstance(item, dict):
        return None
    given = [item[name] for name in ("id", "email", "sms") if item.get(name) not in (None, "")]
    return given[0] if len(given) == 1 else None
