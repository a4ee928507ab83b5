"""The support mailbox: a Maildir of customer-service threads, with an index of messages in the store."""

from __future__ import annotations

import base64
import quopri
import random
from datetime import datetime, timedelta
from email.headerregistry import Address
from email.utils import format_datetime, parseaddr
from pathlib import Path
from typing import Any

from canalis.sandbox.world.context import WorldContext, moment_between
from canalis.sandbox.world.formats import PARIS
from canalis.sandbox.world.ids import opaque_id
from canalis.sandbox.world.people import Person
from canalis.sandbox.world.texts import (
    COMPLAINT_SUBJECTS,
    CUSTOMER_BODIES,
    FOLLOW_UP_BODIES,
    QUESTION_SUBJECTS,
    SUPPORT_BODIES,
)
from canalis.sandbox.world.variations import copy_for

SYSTEM = "mailbox"
IDENTITY_TYPE = "messages"
SUPPORT_ADDRESS = "support@canalis-maison.fr"
SUPPORT_NAME = "Service client Canalis Maison"
DOMAIN = "canalis-maison.fr"
HOST = "canalis-sandbox"
SUPPORT = f"{SUPPORT_NAME} <{SUPPORT_ADDRESS}>"

PDF_STUB = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R>>endobj\n2 0 obj<</Type/Pages/Kids[3 0 R]/Count 1>>endobj\n"
    b"3 0 obj<</Type/Page/Parent 2 0 R/MediaBox[0 0 200 100]>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
PNG_STUB = bytes.fromhex(
    "89504e470d0a1a0a0000000d49484452000000010000000108060000001f15c489"
    "0000000d49444154789c6360f8cfc0f01f0005000201e2a8e3a50000000049454e44ae426082"
)


def prepare(data_dir: Path) -> Path:
    """Create an empty Maildir under the data dir and return its root."""
    root = data_dir / "maildir"
    for sub in ("cur", "new", "tmp"):
        (root / sub).mkdir(parents=True, exist_ok=True)
    return root


def emit_person(ctx: WorldContext, person: Person, rng: random.Random, scratch: dict[str, Any]) -> None:
    """One or two support threads started by the person, with replies from support."""
    root: Path = ctx.tallies["maildir_root"]
    for _ in range(rng.choice((1, 1, 1, 2))):
        copy = copy_for(person, SYSTEM, rng)
        sender_name = " ".join(p for p in (copy.given_name, copy.family_name) if p)
        local, _, domain = (copy.email or person.email).partition("@")
        sender = str(Address(sender_name, local, domain))
        complaint = rng.random() < 0.45
        subject = rng.choice((COMPLAINT_SUBJECTS if complaint else QUESTION_SUBJECTS)[person.language])
        orders = scratch.get("shopify_orders") or []
        order_name = orders[-1]["name"] if orders else f"#{rng.randint(1001, 9999)}"
        start = moment_between(rng, person.first_seen, ctx.now - timedelta(hours=2))
        body = rng.choice(CUSTOMER_BODIES[person.language]).format(
            order=order_name, subject=subject, subject_lower=subject[0].lower() + subject[1:], name=sender_name
        )
        thread: list[dict[str, Any]] = []
        first = _message(ctx, root, rng, sender, SUPPORT, subject, body, start, thread, "inbound", person)
        thread.append(first)
        at = start
        if rng.random() < 0.8:
            at = moment_between(rng, at + timedelta(minutes=20), min(ctx.now, at + timedelta(days=3)))
            reply = rng.choice(SUPPORT_BODIES[person.language]).format(given=copy.given_name or "")
            thread.append(
                _message(ctx, root, rng, SUPPORT, sender, f"Re: {subject}", reply, at, thread, "outbound", person)
            )
            if rng.random() < 0.35:
                at = moment_between(rng, at + timedelta(minutes=5), min(ctx.now, at + timedelta(days=4)))
                follow = rng.choice(FOLLOW_UP_BODIES[person.language]).format(name=sender_name)
                thread.append(
                    _message(ctx, root, rng, sender, SUPPORT, f"Re: {subject}", follow, at, thread, "inbound", person)
                )


def _message(
    ctx: WorldContext,
    root: Path,
    rng: random.Random,
    sender: str,
    recipient: str,
    subject: str,
    body: str,
    at: datetime,
    thread: list[dict[str, Any]],
    direction: str,
    person: Person,
) -> dict[str, Any]:
    number = ctx.counters.next(SYSTEM, "messages")
    token = opaque_id(f"mail:{ctx.spec.seed}", number, 16).lower()
    message_id = f"<{token}@{DOMAIN if direction == 'outbound' else 'mail.gmail.com'}>"
    date_header = format_datetime(at.astimezone(PARIS))
    headers = [
        ("From", _address_header(sender)),
        ("To", _address_header(recipient)),
        ("Subject", _encode_words(subject)),
        ("Date", date_header),
        ("Message-ID", message_id),
    ]
    if thread:
        headers.append(("In-Reply-To", thread[-1]["message_id"]))
        headers.append(("References", " ".join(m["message_id"] for m in thread)))
    headers.append(("MIME-Version", "1.0"))
    attachment = None
    text_part = [
        ("Content-Type", 'text/plain; charset="utf-8"'),
        ("Content-Transfer-Encoding", "quoted-printable"),
    ]
    text_body = quopri.encodestring(body.encode()).decode("ascii")
    if direction == "inbound" and not thread and rng.random() < 0.15:
        pdf = rng.random() < 0.5
        attachment = "facture.pdf" if pdf else "photo-colis.png"
        content_type = "application/pdf" if pdf else "image/png"
        data = base64.encodebytes(PDF_STUB if pdf else PNG_STUB).decode("ascii")
        boundary = f"=_canalis_{token}"
        headers.append(("Content-Type", f'multipart/mixed; boundary="{boundary}"'))
        parts = [
            _lines(text_part) + "\n" + text_body,
            _lines(
                [
                    ("Content-Type", content_type),
                    ("Content-Transfer-Encoding", "base64"),
                    ("Content-Disposition", f'attachment; filename="{attachment}"'),
                ]
            )
            + "\n"
            + data,
        ]
        payload = "".join(f"--{boundary}\n{part}\n" for part in parts) + f"--{boundary}--\n"
    else:
        headers += text_part
        payload = text_body + "\n"
    unread = direction == "inbound" and at > ctx.now - timedelta(days=2)
    name = f"{int(at.timestamp())}.M{number}P1Q1.{HOST}"
    relative = f"new/{name}" if unread else f"cur/{name}:2,S"
    with open(root / relative, "wb") as handle:
        handle.write((_lines(headers) + "\n" + payload).encode("ascii"))
    entry = {
        "message_id": message_id,
        "path": relative,
        "from": sender,
        "to": recipient,
        "subject": subject,
        "date": date_header,
        "in_reply_to": thread[-1]["message_id"] if thread else None,
        "thread_id": thread[0]["message_id"] if thread else message_id,
        "direction": direction,
        "attachment": attachment,
    }
    ctx.add(SYSTEM, "messages", message_id, entry, created_at=at, updated_at=at, person_id=person.person_id)
    return entry


def _lines(headers: list[tuple[str, str]]) -> str:
    return "".join(f"{name}: {value}\n" for name, value in headers)


def _encode_words(text: str) -> str:
    """An RFC 2047 encoded header value when the text is not plain ASCII."""
    if text.isascii():
        return text
    encoded = base64.b64encode(text.encode()).decode("ascii")
    return f"=?utf-8?b?{encoded}?="


def _address_header(value: str) -> str:
    """A "Name <address>" header with the display name encoded when needed."""
    name, address = parseaddr(value)
    if not name:
        return address
    if name.isascii():
        quoted = f'"{name}"' if any(c in name for c in ',.;:"()<>@[]') else name
        return f"{quoted} <{address}>"
    return f"{_encode_words(name)} <{address}>"


def identity(payload: dict[str, Any]) -> dict[str, Any] | None:
    """Identity fields of a message a customer sent to start a thread (None for other messages)."""
    if payload.get("direction") != "inbound" or payload.get("in_reply_to"):
        return None
    display, address = parseaddr(payload.get("from", ""))
    given, _, family = display.partition(" ")
    return {
        "given_name": given or None,
        "family_name": family or None,
        "email": address or None,
        "phone": None,
        "birth_date": None,
        "street": None,
        "postcode": None,
        "city": None,
        "region": None,
        "country": None,
        "loyalty_id": None,
    }
