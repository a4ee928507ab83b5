"""The Mailchimp Marketing API v3 emulator: audiences, members, tags, batch subscribe/unsubscribe, campaigns and
their email-activity and unsubscribe reports.

What it keeps of Mailchimp's behaviour: the API key (`<key>-<dc>`) sent as the password of basic auth with any user
name, and refused ("API Key Invalid") on another data center than the key's (the sandbox serves
`/mailchimp/<dc>/3.0/...` for `https://<dc>.api.mailchimp.com/3.0/...`); `count` (at most 1,000) and `offset`
paging with `total_items`; `fields` and `exclude_fields`; `since_last_changed` on members and `since` on email
activity; members addressed by the MD5 of their lower-cased address; batch updates of at most 500 members with
per-member errors (a contact who unsubscribed or bounced cannot be subscribed again through the API); tags
written per member; problem+json errors; and 429 beyond 10 simultaneous connections of one key.
"""

from __future__ import annotations

import base64
import re
import threading
from datetime import datetime
from typing import Any, ClassVar

from werkzeug.wrappers import Request, Response

from canalis.sandbox.emulators.mailchimp.wire import (
    MailchimpError,
    answer,
    links,
    moment,
    no_content,
    now_text,
    paging,
    problem,
    subscriber_hash,
)
from canalis.sandbox.objectstore import ObjectStore, format_timestamp
from canalis.sandbox.server.emulator import Emulator, read_json
from canalis.sandbox.server.faults import FaultPlan
from canalis.sandbox.server.paging import OffsetPager, Query

SYSTEM = "mailchimp"
DATA_CENTER = "us21"
API_KEY = f"0c0a1150sandbox2c4e6a8b0d1f3a5cmailchimp-{DATA_CENTER}"
MAX_BATCH_MEMBERS = 500
MAX_CONNECTIONS = 10
STATUSES = ("subscribed", "unsubscribed", "cleaned", "pending", "transactional")
EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[A-Za-z]{2,}$")
ADMIN_UNSUBSCRIBE = "N/A (Unsubscribed by an admin)"


class MailchimpEmulator(Emulator):
    """Mailchimp's Marketing API v3 under /mailchimp/<dc>/3.0."""

    prefix = "mailchimp"
    system = SYSTEM
    title = "Mailchimp (email marketing)"
    routes: ClassVar[list[tuple[str, list[str], str]]] = [
        ("/<dc>/3.0/ping", ["GET"], "ping"),
        ("/<dc>/3.0/lists", ["GET"], "get_lists"),
        ("/<dc>/3.0/lists/<list_id>", ["GET"], "get_list"),
        ("/<dc>/3.0/lists/<list_id>", ["POST"], "batch_members"),
        ("/<dc>/3.0/lists/<list_id>/members", ["GET"], "get_members"),
        ("/<dc>/3.0/lists/<list_id>/members/<member>", ["GET"], "get_member"),
        ("/<dc>/3.0/lists/<list_id>/members/<member>", ["PATCH"], "patch_member"),
        ("/<dc>/3.0/lists/<list_id>/members/<member>/tags", ["POST"], "post_tags"),
        ("/<dc>/3.0/campaigns", ["GET"], "get_campaigns"),
        ("/<dc>/3.0/reports/<campaign_id>/email-activity", ["GET"], "get_email_activity"),
        ("/<dc>/3.0/reports/<campaign_id>/unsubscribed", ["GET"], "get_unsubscribed"),
    ]

    def __init__(self, store: ObjectStore, faults: FaultPlan | None = None) -> None:
        super().__init__(store, faults)
        self.pager = OffsetPager(store)
        self.lock = threading.Lock()
        self._connections: dict[str, int] = {}

    def credentials(self) -> dict[str, str]:
        return {"api_key": API_KEY, "data_center": DATA_CENTER, "auth": "basic: any user name, the API key as password"}

    def fault_response(self, fault: str) -> Response:
        if fault == "429":
            return problem(429, "Too Many Requests", "You have exceeded the limit of 10 simultaneous connections.")
        return problem(int(fault), "Internal Server Error", "An unexpected internal error has occurred.")

    def not_found(self, request: Request) -> Response:
        return problem(404, "Resource Not Found", "The requested resource could not be found.")

    def dispatch(self, request: Request, path: str) -> Response:
        """Authenticate against the data center in the path, hold the key's connection slot, route."""
        key = _password(request)
        data_center = path.lstrip("/").partition("/")[0]
        if key != API_KEY or data_center != DATA_CENTER:
            return problem(
                401,
                "API Key Invalid",
                "Your API key may be invalid, or you've attempted to access the wrong datacenter.",
            )
        with self.lock:
            if self._connections.get(key, 0) >= MAX_CONNECTIONS:
                return self.fault_response("429")
            self._connections[key] = self._connections.get(key, 0) + 1
        try:
            return super().dispatch(request, path)
        except MailchimpError as failure:
            return problem(failure.status, failure.title, failure.detail, failure.errors)
        finally:
            with self.lock:
                self._connections[key] -= 1

    # -- endpoints ---------------------------------------------------------------------------------

    def ping(self, request: Request, dc: str) -> Response:
        return answer({"health_status": "Everything's Chimpy!"}, request)

    def get_lists(self, request: Request, dc: str) -> Response:
        count, offset = paging(request)
        items, total = self.pager.page(Query(SYSTEM, "lists"), offset=offset, limit=count)
        lists = [self._list_view(item.payload) for item in items]
        return answer({"lists": lists, "total_items": total, "_links": links("/3.0/lists")}, request)

    def get_list(self, request: Request, dc: str, list_id: str) -> Response:
        return answer(self._list_view(self._audience(list_id)), request)

    def get_members(self, request: Request, dc: str, list_id: str) -> Response:
        self._audience(list_id)
        count, offset = paging(request)
        since, before = moment(request, "since_last_changed"), moment(request, "before_last_changed")
        status = request.args.get("status")
        if status is not None and status not in STATUSES:
            raise MailchimpError(400, "Invalid Resource", f"status must be one of {', '.join(STATUSES)}")
        sort_field = request.args.get("sort_field")
        if sort_field not in (None, "last_changed", "timestamp_opt", "timestamp_signup"):
            raise MailchimpError(400, "Invalid Resource", f"sort_field '{sort_field}' is not valid")
        descending = request.args.get("sort_dir", "ASC").upper() == "DESC"
        query = Query(
            SYSTEM,
            "members",
            "updated_at" if sort_field == "last_changed" else "seq",
            updated_since=_stamp(since),
            updated_before=_stamp(before),
        )
        keep = (lambda payload: payload.get("status") == status) if status else None
        items, total = self.pager.page(query, offset=offset, limit=count, descending=descending, keep=keep)
        members = [self._maybe_corrupt(self._member_view(item.payload)) for item in items]
        href = f"/3.0/lists/{list_id}/members"
        return answer({"members": members, "list_id": list_id, "total_items": total, "_links": links(href)}, request)

    def get_member(self, request: Request, dc: str, list_id: str, member: str) -> Response:
        return answer(self._member_view(self._member(list_id, member)), request)

    def patch_member(self, request: Request, dc: str, list_id: str, member: str) -> Response:
        body = _json_object(request)
        with self.lock:
            found = self._member(list_id, member)
            error = self._apply(found, body)
            if error is not None:
                raise MailchimpError(400, "Member In Compliance State", error)
            self._save(found)
        return answer(self._member_view(found), request)

    def post_tags(self, request: Request, dc: str, list_id: str, member: str) -> Response:
        body = _json_object(request)
        tags = body.get("tags")
        if not isinstance(tags, list) or not all(isinstance(tag, dict) and tag.get("name") for tag in tags):
            raise MailchimpError(400, "Invalid Resource", "tags must be a list of {name, status} objects")
        with self.lock:
            found = self._member(list_id, member)
            current = {tag["name"]: tag for tag in found.get("tags") or []}
            for tag in tags:
                if tag.get("status") == "inactive":
                    current.pop(str(tag["name"]), None)
                elif tag.get("status") in (None, "active") and tag["name"] not in current:
                    current[str(tag["name"])] = {"id": 30_000 + len(current) + 100, "name": str(tag["name"])}
            found["tags"] = list(current.values())
            found["tags_count"] = len(found["tags"])
            self._save(found, changed=False)
        return no_content()

    def batch_members(self, request: Request, dc: str, list_id: str) -> Response:
        """Batch subscribe or unsubscribe: at most 500 members; each refused one is listed in `errors`."""
        self._audience(list_id)
        body = _json_object(request)
        members = body.get("members")
        if not isinstance(members, list) or not members:
            raise MailchimpError(400, "Invalid Resource", "members: Required fields were not provided")
        if len(members) > MAX_BATCH_MEMBERS:
            raise MailchimpError(400, "Invalid Resource", f"You may only submit {MAX_BATCH_MEMBERS} members at a time")
        update_existing = bool(body.get("update_existing"))
        created: list[dict[str, Any]] = []
        updated: list[dict[str, Any]] = []
        errors: list[dict[str, Any]] = []
        with self.lock:
            for item in members:
                email = str(item.get("email_address") or "") if isinstance(item, dict) else ""
                if not EMAIL.match(email):
                    errors.append(_batch_error(email, "looks fake or invalid, please enter a real email address"))
                    continue
                existing = self.store.get(SYSTEM, "members", subscriber_hash(email))
                if existing is not None and not update_existing:
                    errors.append(_batch_error(email, "is already a list member", "ERROR_CONTACT_EXISTS"))
                    continue
                member = existing or _new_member(list_id, email)
                refused = self._apply(member, item)
                if refused is not None:
                    errors.append(_batch_error(email, refused, "MEMBER_IN_COMPLIANCE_STATE"))
                    continue
                self._save(member)
                (updated if existing is not None else created).append(self._member_view(member))
        result = {
            "new_members": created,
            "updated_members": updated,
            "errors": errors,
            "total_created": len(created),
            "total_updated": len(updated),
            "error_count": len(errors),
        }
        return answer(result, request)

    def get_campaigns(self, request: Request, dc: str) -> Response:
        count, offset = paging(request)
        status, list_id = request.args.get("status"), request.args.get("list_id")
        since = moment(request, "since_send_time")

        def keep(payload: dict[str, Any]) -> bool:
            if status and payload.get("status") != status:
                return False
            if list_id and (payload.get("recipients") or {}).get("list_id") != list_id:
                return False
            return since is None or datetime.fromisoformat(str(payload.get("send_time"))) >= since

        items, total = self.pager.page(Query(SYSTEM, "campaigns"), offset=offset, limit=count, keep=keep)
        campaigns = [item.payload for item in items]
        return answer({"campaigns": campaigns, "total_items": total, "_links": links("/3.0/campaigns")}, request)

    def get_email_activity(self, request: Request, dc: str, campaign_id: str) -> Response:
        self._campaign(campaign_id)
        count, offset = paging(request)
        since = moment(request, "since")
        keep = lambda payload: payload.get("campaign_id") == campaign_id  # noqa: E731
        items, total = self.pager.page(Query(SYSTEM, "email_activity"), offset=offset, limit=count, keep=keep)
        emails = []
        for item in items:
            record = dict(item.payload)
            if since is not None:
                record["activity"] = [
                    action
                    for action in record.get("activity") or []
                    if datetime.fromisoformat(str(action.get("timestamp"))) > since
                ]
            emails.append(record)
        href = f"/3.0/reports/{campaign_id}/email-activity"
        body = {"emails": emails, "campaign_id": campaign_id, "total_items": total, "_links": links(href)}
        return answer(body, request)

    def get_unsubscribed(self, request: Request, dc: str, campaign_id: str) -> Response:
        self._campaign(campaign_id)
        count, offset = paging(request)
        keep = lambda payload: payload.get("campaign_id") == campaign_id  # noqa: E731
        items, total = self.pager.page(Query(SYSTEM, "unsubscribes"), offset=offset, limit=count, keep=keep)
        href = f"/3.0/reports/{campaign_id}/unsubscribed"
        body = {
            "unsubscribes": [item.payload for item in items],
            "campaign_id": campaign_id,
            "total_items": total,
            "_links": links(href),
        }
        return answer(body, request)

    # -- helpers -----------------------------------------------------------------------------------

    def _audience(self, list_id: str) -> dict[str, Any]:
        audience = self.store.get(SYSTEM, "lists", list_id)
        if audience is None:
            raise MailchimpError(404, "Resource Not Found", "The requested resource could not be found.")
        return audience

    def _campaign(self, campaign_id: str) -> dict[str, Any]:
        campaign = self.store.get(SYSTEM, "campaigns", campaign_id)
        if campaign is None:
            raise MailchimpError(404, "Resource Not Found", "The requested resource could not be found.")
        return campaign

    def _member(self, list_id: str, member: str) -> dict[str, Any]:
        self._audience(list_id)
        found = self.store.get(SYSTEM, "members", subscriber_hash(member))
        if found is None or found.get("list_id") != list_id:
            raise MailchimpError(404, "Resource Not Found", "The requested resource could not be found.")
        return found

    def _apply(self, member: dict[str, Any], changes: dict[str, Any]) -> str | None:
        """Change a member's status and merge fields as asked; the reason when Mailchimp refuses, else None."""
        status = changes.get("status") or changes.get("status_if_new")
        if status is not None and status not in STATUSES:
            raise MailchimpError(400, "Invalid Resource", f"status must be one of {', '.join(STATUSES)}")
        current = member.get("status")
        own_unsubscribe = current == "unsubscribed" and member.get("unsubscribe_reason") != ADMIN_UNSUBSCRIBE
        if status == "subscribed" and (current == "cleaned" or own_unsubscribe):
            return (
                f"{member['email_address']} is in a compliance state due to unsubscribe, bounce, or compliance review "
                "and cannot be subscribed."
            )
        if status is not None and status != current:
            member["status"] = status
            member["unsubscribe_reason"] = ADMIN_UNSUBSCRIBE if status == "unsubscribed" else None
            for permission in member.get("marketing_permissions") or []:
                if permission.get("text") == "Email":
                    permission["enabled"] = status == "subscribed"
        merge = changes.get("merge_fields")
        if isinstance(merge, dict):
            member["merge_fields"] = {**(member.get("merge_fields") or {}), **merge}
        return None

    def _save(self, member: dict[str, Any], *, changed: bool = True) -> None:
        updated = None
        if changed:
            member["last_changed"] = now_text()
            updated = format_timestamp(datetime.fromisoformat(member["last_changed"]))
        else:
            stored = self.store.get_object(SYSTEM, "members", member["id"])
            updated = stored.updated_at if stored is not None else None
        self.store.put(SYSTEM, "members", member["id"], member, updated_at=updated)
        self.pager.forget(SYSTEM, "members")

    def _member_view(self, payload: dict[str, Any]) -> dict[str, Any]:
        view = dict(payload)
        view["_links"] = links(f"/3.0/lists/{payload.get('list_id')}/members/{payload.get('id')}")
        return view

    def _list_view(self, payload: dict[str, Any]) -> dict[str, Any]:
        counts: dict[str, int] = {}
        for item in self.store.iter_all(SYSTEM, "members"):
            status = str(item.payload.get("status"))
            counts[status] = counts.get(status, 0) + 1
        stats = {
            "member_count": counts.get("subscribed", 0),
            "unsubscribe_count": counts.get("unsubscribed", 0),
            "cleaned_count": counts.get("cleaned", 0),
        }
        return {**payload, "stats": stats, "_links": links(f"/3.0/lists/{payload.get('id')}")}

    def _maybe_corrupt(self, record: dict[str, Any]) -> dict[str, Any]:
        """Break the member's id when the fault plan says so (a malformed record on the wire)."""
        if self.faults.corrupt_record(SYSTEM):
            record["id"] = None
        return record


def _password(request: Request) -> str:
    """The API key: the password of basic auth (any user name)."""
    scheme, _, encoded = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return ""
    try:
        return base64.b64decode(encoded).decode().partition(":")[2]
    except ValueError:
        return ""


def _json_object(request: Request) -> dict[str, Any]:
    body = read_json(request)
    if not isinstance(body, dict):
        raise MailchimpError(400, "JSON Parse Exception", "We encountered an unspecified JSON parsing error.")
    return body


def _stamp(value: datetime | None) -> str | None:
    return format_timestamp(value) if value is not None else None


def _batch_error(email: str, message: str, code: str = "ERROR_GENERIC") -> dict[str, Any]:
    return {"email_address": email, "error": f"{email} {message}" if email else message, "error_code": code}


def _new_member(list_id: str, email: str) -> dict[str, Any]:
    member_id = subscriber_hash(email)
    return {
        "id": member_id,
        "email_address": email,
        "unique_email_id": member_id[:10],
        "status": "subscribed",
        "merge_fields": {"FNAME": "", "LNAME": "", "ADDRESS": "", "PHONE": "", "BIRTHDAY": ""},
        "marketing_permissions": [],
        "tags": [],
        "tags_count": 0,
        "timestamp_signup": now_text(),
        "list_id": list_id,
    }
