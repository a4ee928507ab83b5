"""One raw message as a record: addresses, thread, UTC date, body text, attachment metadata and direction."""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from email import policy
from email.headerregistry import Address
from email.message import EmailMessage
from email.parser import BytesParser
from html.parser import HTMLParser
from typing import Any

from canalis.sdk import Rejected

_MESSAGE_ID = re.compile(r"<[^<>\s]+>")
_SPACES = re.compile(r"[ \t\r\f\v]+")
_BLANK_LINES = re.compile(r"\n\s*\n+")
MAX_ID_LENGTH = 190
"""Longer Message-IDs are replaced by a digest so record keys stay short."""

TRUE_WORDS = {"1", "true", "yes", "y", "oui"}


@dataclass(frozen=True)
class Origin:
    """Where a message was read: folder, UIDVALIDITY, UID, size, flags and arrival time."""

    folder: str
    uidvalidity: int
    uid: int
    size: int | None
    flags: tuple[str, ...]
    internal_date: datetime | None
    cut: bool = False


class Support:
    """Tells support addresses (exact, or any address of an @domain) from customer addresses."""

    def __init__(self, entries: list[str]) -> None:
        self.addresses = {entry for entry in entries if not entry.startswith("@")}
        self.domains = {entry[1:] for entry in entries if entry.startswith("@")}

    def __contains__(self, address: object) -> bool:
        if not isinstance(address, str) or "@" not in address:
            return False
        lowered = address.lower()
        return lowered in self.addresses or lowered.rpartition("@")[2] in self.domains


def parse_message(raw: bytes, origin: Origin, support: Support, max_body_chars: int) -> dict[str, Any] | Rejected:
    """The record of one message, or a rejection naming the UID and the reason."""
    where = f"{origin.folder} UID {origin.uid}"
    try:
        message = BytesParser(policy=policy.default).parsebytes(raw)
        assert isinstance(message, EmailMessage)
        return _record(message, raw, origin, support, max_body_chars)
    except _Malformed as error:
        reason = str(error)
    except Exception as error:  # the email package raises many kinds of errors on broken input
        reason = f"cannot parse the message: {type(error).__name__}: {error}"
    return Rejected(
        payload={
            "folder": origin.folder,
            "uidvalidity": origin.uidvalidity,
            "uid": origin.uid,
            "size": origin.size,
            "head": raw[:500].decode("utf-8", "replace"),
        },
        error=f"{where}: {reason}",
        record_id=f"{origin.folder}:{origin.uidvalidity}:{origin.uid}",
    )


class _Malformed(ValueError):
    """The message lacks something every record needs."""


def _record(message: EmailMessage, raw: bytes, origin: Origin, support: Support, max_body_chars: int) -> dict[str, Any]:
    senders = _addresses(message, "From")
    if not senders:
        raise _Malformed("no sender address in From")
    sender = senders[0]
    sent_at = _date(message) or origin.internal_date
    if sent_at is None:
        raise _Malformed("no usable Date header and no arrival time")
    to = _addresses(message, "To")
    cc = _addresses(message, "Cc")
    message_id = _first_id(message.get("Message-ID"))
    references = _MESSAGE_ID.findall(str(message.get("References") or ""))
    in_reply_to = _first_id(message.get("In-Reply-To"))
    record_id = message_id if message_id and len(message_id) <= MAX_ID_LENGTH else _digest_id(message_id, raw)
    outbound = sender.addr_spec in support
    if outbound:
        customer = next((a.addr_spec for a in (*to, *cc) if a.addr_spec not in support), None)
    else:
        customer = sender.addr_spec
    body, body_part = _body(message)
    return {
        "id": record_id,
        "message_id": message_id,
        "folder": origin.folder,
        "uidvalidity": origin.uidvalidity,
        "uid": origin.uid,
        "size": origin.size,
        "flags": list(origin.flags),
        "direction": "outbound" if outbound else "inbound",
        "from_email": sender.addr_spec,
        "from_name": sender.display_name or None,
        "to": [address.addr_spec for address in to],
        "cc": [address.addr_spec for address in cc],
        "customer_email": customer,
        "subject": _one_line(str(message.get("Subject") or "")) or None,
        "date": sent_at.isoformat(),
        "in_reply_to": in_reply_to,
        "references": references,
        "thread_id": references[0] if references else (in_reply_to or record_id),
        "body_text": body[:max_body_chars],
        "body_truncated": len(body) > max_body_chars,
        "attachments": _attachments(message, body_part),
        "is_complaint": str(message.get("X-Canalis-Complaint") or "").strip().lower() in TRUE_WORDS,
        "message_truncated": origin.cut,
    }


def _addresses(message: EmailMessage, name: str) -> list[Address]:
    found: list[Address] = []
    for header in message.get_all(name) or []:
        for address in getattr(header, "addresses", ()):
            if address.username and address.domain:
                found.append(address)
    return found


def _date(message: EmailMessage) -> datetime | None:
    header = message.get("Date")
    moment = getattr(header, "datetime", None) if header is not None else None
    if not isinstance(moment, datetime):
        return None
    if moment.tzinfo is None:  # "-0000": the zone is unknown, read as UTC
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC)


def _first_id(value: object) -> str | None:
    if value is None:
        return None
    text = str(value).strip()
    found = _MESSAGE_ID.search(text)
    if found:
        return found.group(0)
    return f"<{text}>" if text and " " not in text else None


def _digest_id(message_id: str | None, raw: bytes) -> str:
    material = message_id.encode() if message_id else raw
    return f"<sha256-{hashlib.sha256(material).hexdigest()[:32]}@canalis.invalid>"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def _body(message: EmailMessage) -> tuple[str, EmailMessage | None]:
    """The message text (text/plain preferred, else HTML turned to text) and the part it came from."""
    part = message.get_body(preferencelist=("plain",))
    if part is not None:
        return _tidy(_text_of(part)), part
    part = message.get_body(preferencelist=("html",))
    if part is not None:
        return _tidy(html_to_text(_text_of(part))), part
    return "", None


def _text_of(part: EmailMessage) -> str:
    try:
        content = part.get_content()
    except (LookupError, UnicodeError, ValueError):  # unknown charset or broken encoding: decode leniently
        payload = part.get_payload(decode=True) or b""
        return payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
    return content if isinstance(content, str) else ""


def _tidy(text: str) -> str:
    lines = [_SPACES.sub(" ", line).strip() for line in text.replace("\r\n", "\n").split("\n")]
    return _BLANK_LINES.sub("\n\n", "\n".join(lines)).strip()


def _attachments(message: EmailMessage, body_part: EmailMessage | None) -> list[dict[str, Any]]:
    """Name, type and decoded size of each attachment; the content itself is never kept."""
    found: list[dict[str, Any]] = []
    for part in message.walk():
        if part is body_part or part.is_multipart():
            continue
        filename = part.get_filename()
        disposition = part.get_content_disposition()
        if disposition != "attachment" and not filename:
            continue
        payload = part.get_payload(decode=True)
        found.append(
            {
                "filename": filename,
                "content_type": part.get_content_type(),
                "size": len(payload) if isinstance(payload, bytes) else 0,
            }
        )
    return found


class _TextCollector(HTMLParser):
    BLOCKS = frozenset({"p", "div", "br", "li", "tr", "h1", "h2", "h3", "h4", "h5", "h6", "table", "blockquote"})
    HIDDEN = frozenset({"script", "style", "head", "title"})

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.hidden = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self.HIDDEN:
            self.hidden += 1
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self.HIDDEN:
            self.hidden = max(0, self.hidden - 1)
        elif tag in self.BLOCKS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self.hidden:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    """The visible text of an HTML body, one line per block."""
    collector = _TextCollector()
    collector.feed(html)
    collector.close()
    return "".join(collector.parts)
