"""Mailchimp's wire format: problem+json errors, `count`/`offset` collections with `total_items`, the
`fields`/`exclude_fields` projections, and the subscriber hash."""

from __future__ import annotations

import hashlib
import uuid
from datetime import UTC, datetime
from typing import Any

from werkzeug.wrappers import Request, Response

from canalis.sandbox.server.emulator import encode_json

ERRORS_DOC = "https://mailchimp.com/developer/marketing/docs/errors/"
MAX_COUNT = 1000
DEFAULT_COUNT = 10


class MailchimpError(Exception):
    """An answer in Mailchimp's problem+json shape."""

    def __init__(self, status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None) -> None:
        super().__init__(detail)
        self.status, self.title, self.detail, self.errors = status, title, detail, errors


def problem(status: int, title: str, detail: str, errors: list[dict[str, str]] | None = None) -> Response:
    """Mailchimp's error answer: `{type, title, status, detail, instance}` as application/problem+json."""
    body: dict[str, Any] = {"type": ERRORS_DOC, "title": title, "status": status, "detail": detail}
    body["instance"] = str(uuid.uuid4())
    if errors:
        body["errors"] = errors
    return Response(encode_json(body), status=status, content_type="application/problem+json; charset=utf-8")


def answer(body: Any, request: Request, status: int = 200) -> Response:
    """A JSON answer projected by the request's `fields` and `exclude_fields`."""
    return Response(encode_json(project(body, request)), status=status, content_type="application/json; charset=utf-8")


def no_content() -> Response:
    return Response(status=204)


def subscriber_hash(email_or_hash: str) -> str:
    """The member id of an address (MD5 of its lower-cased form); a hash is returned as it is."""
    text = email_or_hash.strip()
    if "@" not in text and len(text) == 32:
        return text.lower()
    return hashlib.md5(text.lower().encode(), usedforsecurity=False).hexdigest()


def now_text() -> str:
    """The current time as Mailchimp writes it."""
    return datetime.now(UTC).replace(microsecond=0).isoformat()


def paging(request: Request) -> tuple[int, int]:
    """The request's (count, offset): 10 and 0 by default, at most 1,000 records a page."""
    count, offset = request.args.get("count", str(DEFAULT_COUNT)), request.args.get("offset", "0")
    if not count.isdigit() or not offset.isdigit():
        raise MailchimpError(400, "Invalid Resource", "count and offset must be non-negative integers")
    if int(count) > MAX_COUNT:
        raise MailchimpError(400, "Invalid Resource", f"count must be less than or equal to {MAX_COUNT}")
    return int(count), int(offset)


def moment(request: Request, name: str) -> datetime | None:
    """An ISO-8601 time filter ('2015-10-21T15:41:36+00:00'), or None; 400 when unreadable."""
    raw = request.args.get(name)
    if not raw:
        return None
    try:
        value = datetime.fromisoformat(raw.replace("Z", "+00:00").replace(" ", "+"))
    except ValueError:
        raise MailchimpError(400, "Invalid Resource", f"The value of '{name}' is not a valid date-time") from None
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def project(body: Any, request: Request) -> Any:
    """Keep only `fields`, then drop `exclude_fields` (comma-separated dotted paths, through lists of objects)."""
    fields = [path for path in request.args.get("fields", "").split(",") if path.strip()]
    excluded = [path for path in request.args.get("exclude_fields", "").split(",") if path.strip()]
    if fields:
        body = _keep(body, [path.strip().split(".") for path in fields])
    for path in excluded:
        _drop(body, path.strip().split("."))
    return body


def _keep(node: Any, paths: list[list[str]]) -> Any:
    if isinstance(node, list):
        return [_keep(item, paths) for item in node]
    if not isinstance(node, dict):
        return node
    kept: dict[str, Any] = {}
    for key, value in node.items():
        below = [path[1:] for path in paths if path[0] == key]
        if not below:
            continue
        kept[key] = value if any(not rest for rest in below) else _keep(value, [rest for rest in below if rest])
    return kept


def _drop(node: Any, path: list[str]) -> None:
    if isinstance(node, list):
        for item in node:
            _drop(item, path)
    elif isinstance(node, dict) and path:
        if len(path) == 1:
            node.pop(path[0], None)
        elif path[0] in node:
            _drop(node[path[0]], path[1:])


def links(href: str, *, collection: bool = False) -> list[dict[str, str]]:
    """The `_links` Mailchimp puts on every resource (self, and parent for a collection)."""
    found = [{"rel": "self", "href": href, "method": "GET", "targetSchema": f"{href}.json"}]
    if collection:
        found.append({"rel": "parent", "href": href.rsplit("/", 1)[0], "method": "GET", "targetSchema": ""})
    return found
