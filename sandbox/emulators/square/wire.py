"""Square wire conventions: error bodies, opaque cursors, timestamps, ids and money."""

from __future__ import annotations

import base64
import hashlib
import json
import secrets
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from werkzeug.wrappers import Response

from canalis.sandbox.objectstore import format_timestamp
from canalis.sandbox.server.emulator import json_response

SYSTEM = "square"
ID_ALPHABET = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"


class SquareError(Exception):
    """An answer in Square's error shape: HTTP status and one `{category, code, detail, field}` entry."""

    def __init__(self, status: int, category: str, code: str, detail: str, field: str | None = None) -> None:
        super().__init__(detail)
        self.status = status
        self.category = category
        self.code = code
        self.detail = detail
        self.field = field

    def entry(self) -> dict[str, Any]:
        """The error as one item of Square's `errors` list."""
        entry = {"category": self.category, "code": self.code, "detail": self.detail}
        if self.field:
            entry["field"] = self.field
        return entry

    def response(self) -> Response:
        """The HTTP answer carrying this error."""
        return errors_response([self.entry()], self.status)


def errors_response(entries: list[dict[str, Any]], status: int, headers: dict[str, str] | None = None) -> Response:
    """`{"errors": [...]}` with a status, as every Square error answer looks."""
    return json_response({"errors": entries}, status, headers=headers)


def invalid(code: str, detail: str, field: str | None = None) -> SquareError:
    """A 400 INVALID_REQUEST_ERROR."""
    return SquareError(400, "INVALID_REQUEST_ERROR", code, detail, field)


def body_fingerprint(value: Any) -> str:
    """A stable hash of a JSON value (idempotency checks and cursor binding)."""
    text = json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode()).hexdigest()


def encode_cursor(query: str, position: list[Any]) -> str:
    """An opaque cursor bound to the query it pages through."""
    raw = json.dumps({"q": query[:16], "p": position}, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, query: str) -> list[Any]:
    """The position held by a cursor; INVALID_CURSOR when it is unreadable or belongs to another query."""
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        data = json.loads(base64.urlsafe_b64decode(padded.encode()))
        position = data["p"]
        same_query = data["q"] == query[:16]
    except (ValueError, KeyError, TypeError):
        raise invalid("INVALID_CURSOR", "The cursor is invalid.", "cursor") from None
    if not same_query or not isinstance(position, list):
        raise invalid("INVALID_CURSOR", "The cursor does not belong to this query.", "cursor")
    return position


def parse_time(value: Any, field: str) -> str:
    """An RFC 3339 timestamp in the store's sortable form; INVALID_TIME otherwise."""
    if not isinstance(value, str) or not value.strip():
        raise invalid("INVALID_TIME", f"Invalid timestamp for `{field}`.", field)
    text = value.strip().replace(" ", "T", 1)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        raise invalid("INVALID_TIME", f"Invalid timestamp `{value}` for `{field}`.", field) from None
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return format_timestamp(moment)


def stamp_after(previous: str | None) -> str:
    """The current time in wire form, strictly after `previous` so incremental readers always see a write."""
    now = datetime.now(UTC)
    stamp = format_timestamp(now)
    if previous and stamp <= previous:
        moment = datetime.fromisoformat(previous.replace("Z", "+00:00"))
        stamp = format_timestamp(moment.replace(microsecond=moment.microsecond // 1000 * 1000) + _ONE_MS)
    return stamp


def version_after(previous: int | None) -> int:
    """A catalog version above the previous one (Square versions are increasing integers)."""
    now = int(datetime.now(UTC).timestamp() * 1000)
    return max(now, (previous or 0) + 1)


def new_id(length: int = 24) -> str:
    """A fresh opaque uppercase id in Square's style."""
    return "".join(secrets.choice(ID_ALPHABET) for _ in range(length))


def quantity_text(value: Any, field: str) -> Decimal:
    """A decimal quantity string with at most 5 fractional digits, as Square's inventory takes it."""
    if not isinstance(value, str):
        raise invalid("EXPECTED_STRING", f"Expected a string value for `{field}`.", field)
    try:
        number = Decimal(value)
    except InvalidOperation:
        raise invalid("INVALID_VALUE", f"Invalid decimal quantity `{value}`.", field) from None
    if not number.is_finite() or number.as_tuple().exponent < -5:  # type: ignore[operator]
        raise invalid("INVALID_VALUE", f"Invalid decimal quantity `{value}`.", field)
    return number


def format_quantity(number: Decimal) -> str:
    """A quantity as Square prints it: "10", "2.5"."""
    text = format(number.normalize(), "f")
    return "0" if text in ("-0", "") else text


_ONE_MS = datetime(2000, 1, 1, 0, 0, 0, 1000) - datetime(2000, 1, 1)
