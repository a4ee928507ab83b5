"""The IMAP connector against a private Dovecot loaded with the sandbox mailbox, plus parsing units without a server."""

from __future__ import annotations

import imaplib
import os
import re
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.message import EmailMessage
from email.utils import format_datetime, parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest

from canalis.connectors.imap import ImapConnector
from canalis.connectors.imap.client import encode_modified_utf7, parse_fetch, quote_mailbox, uid_set
from canalis.connectors.imap.parser import Origin, Support, parse_message
from canalis.connectors.imap.settings import ImapSettings
from canalis.connectors.registry import shipped_mapping
from canalis.mappings.declarative.engine import Mapper
from canalis.mappings.declarative.spec import load_mapping
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.world import WorldSpec, generate_world, store_path
from canalis.sdk.errors import ConfigError
from canalis.sdk.state import StreamState
from canalis.sdk.streams import Rejected
from tests.connectors.imap_server import DovecotServer, DovecotUnavailable, ensure_dovecot, free_port

REQUIRE_SERVICES = os.environ.get("CANALIS_REQUIRE_SERVICES") == "1"
SUPPORT = "support@canalis-maison.fr"
MESSAGE_ID_HEADER = re.compile(r"^Message-ID:\s*(\S+)\s*$", re.MULTILINE | re.IGNORECASE)


# --- the server ------------------------------------------------------------------------------------------


@pytest.fixture(scope="session")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small sandbox world; its support mailbox is `maildir/`, its message index in the object store."""
    folder = tmp_path_factory.mktemp("imap-world")
    generate_world(WorldSpec(customers=200), folder)
    return folder


@pytest.fixture(scope="session")
def dovecot(world_dir: Path) -> Iterator[DovecotServer]:
    """A Dovecot for the whole session whose INBOX holds the sandbox Maildir (tests add their own folders)."""
    server: DovecotServer | None = None
    try:
        server = DovecotServer(ensure_dovecot())
        server.load_maildir(world_dir / "maildir")
        server.start()
    except DovecotUnavailable as error:
        if server is not None:
            server.stop()
        message = f"no IMAP server for the tests: {error}"
        if REQUIRE_SERVICES:
            pytest.fail(message + " (CANALIS_REQUIRE_SERVICES=1: CI must run these tests)")
        pytest.skip(message)
    yield server
    server.stop()


def settings_for(server: DovecotServer, **values: Any) -> ImapSettings:
    base: dict[str, Any] = {
        "host": "127.0.0.1",
        "port": server.port,
        "ssl": False,
        "username": server.user,
        "password": server.password,
        "support_addresses": [SUPPORT],
        "page_size": 7,
    }
    return ImapSettings.model_validate({**base, **values})


def connector_for(server: DovecotServer, **values: Any) -> ImapConnector:
    return ImapConnector(settings_for(server, **values), connection="support_inbox")


def read(
    connector: ImapConnector, state: StreamState | None = None, *, max_pages: int | None = None
) -> tuple[list[dict[str, Any]], list[Rejected], StreamState | None]:
    records: list[dict[str, Any]] = []
    rejected: list[Rejected] = []
    last = state
    pages = connector.read("messages", state)
    for count, page in enumerate(pages, start=1):
        records.extend(page.records)
        rejected.extend(page.rejected)
        last = page.state
        if max_pages is not None and count >= max_pages:
            pages.close()
            break
    return records, rejected, last


@contextmanager
def mailbox(server: DovecotServer) -> Iterator[imaplib.IMAP4]:
    """A plain imaplib session, as another mail client would change the mailbox."""
    imap = imaplib.IMAP4("127.0.0.1", server.port, timeout=10)
    imap.login(server.user, server.password)
    try:
        yield imap
    finally:
        imap.logout()


def new_folder(server: DovecotServer, *messages: bytes) -> str:
    """A folder of its own for one test, holding the messages given (appended in order)."""
    name = f"Test-{uuid.uuid4().hex[:8]}"
    with mailbox(server) as imap:
        assert imap.create(quote_mailbox(name))[0] == "OK"
        for raw in messages:
            assert imap.append(quote_mailbox(name), None, None, raw)[0] == "OK"
    return name


def append(server: DovecotServer, folder: str, raw: bytes) -> None:
    with mailbox(server) as imap:
        assert imap.append(quote_mailbox(folder), None, None, raw)[0] == "OK"


def email_bytes(
    *,
    sender: str = "Claire Dupont <claire.dupont@example.fr>",
    to: str = f"Service client <{SUPPORT}>",
    subject: str = "Question",
    body: str = "Bonjour, une question.",
    message_id: str | None = None,
    references: list[str] | None = None,
    html: str | None = None,
    attachment: tuple[str, str, bytes] | None = None,
    headers: dict[str, str] | None = None,
    date: datetime = datetime(2025, 6, 1, 10, 30, tzinfo=UTC),
) -> bytes:
    message = EmailMessage()
    message["From"] = sender
    message["To"] = to
    message["Subject"] = subject
    message["Date"] = format_datetime(date)
    message["Message-ID"] = message_id or f"<{uuid.uuid4().hex}@example.fr>"
    if references:
        message["In-Reply-To"] = references[-1]
        message["References"] = " ".join(references)
    for name, value in (headers or {}).items():
        message[name] = value
    if html is not None:
        message.set_content(html, subtype="html")
    else:
        message.set_content(body)
    if attachment is not None:
        filename, content_type, data = attachment
        maintype, subtype = content_type.split("/")
        message.add_attachment(data, maintype=maintype, subtype=subtype, filename=filename)
    return message.as_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


# --- the sandbox mailbox ---------------------------------------------------------------------------------


def maildir_message_ids(maildir: Path) -> list[str]:
    """The Message-ID of every file in the Maildir, read straight from the files."""
    found = []
    for path in sorted([*maildir.glob("cur/*"), *maildir.glob("new/*")]):
        match = MESSAGE_ID_HEADER.search(path.read_text(encoding="ascii", errors="replace").split("\n\n", 1)[0])
        assert match, f"{path.name} has no Message-ID"
        found.append(match.group(1))
    return found


@pytest.mark.imap
def test_reads_every_sandbox_message_with_threads_and_maps_them(dovecot: DovecotServer, world_dir: Path) -> None:
    expected = maildir_message_ids(world_dir / "maildir")
    assert expected, "the sandbox world has no mail"
    records, rejected, state = read(connector_for(dovecot))
    assert rejected == []
    assert len(records) == len(expected)
    assert sorted(record["id"] for record in records) == sorted(expected)
    assert state is not None and state.extra["INBOX"]["last_uid"] == max(record["uid"] for record in records)

    store = ObjectStore(store_path(world_dir))
    try:
        assert store.count("mailbox", "messages") == len(records)
        index = {item.object_id: item.payload for item in store.iter_all("mailbox", "messages")}
    finally:
        store.close()
    for record in records:
        entry = index[record["message_id"]]
        assert record["thread_id"] == entry["thread_id"], record["id"]
        assert record["direction"] == entry["direction"]
        assert record["subject"] == entry["subject"]
        assert datetime.fromisoformat(record["date"]) == parsedate_to_datetime(entry["date"]).astimezone(UTC)
        customer = entry["from"] if entry["direction"] == "inbound" else entry["to"]
        assert record["customer_email"] == parseaddr(customer)[1]
        assert record["body_text"].strip()
        names = [attachment["filename"] for attachment in record["attachments"]]
        assert names == ([entry["attachment"]] if entry["attachment"] else [])
        for attachment in record["attachments"]:
            assert set(attachment) == {"filename", "content_type", "size"} and attachment["size"] > 0
    threads = {record["thread_id"] for record in records}
    assert len(threads) < len(records), "no reply was threaded with its question"

    mapper = Mapper(load_mapping(shipped_mapping("imap")), connection="support_inbox", channel="email")
    statuses = set()
    for record in records:
        (mapped,) = mapper.map_record("messages", record)
        interaction = mapped.record
        assert interaction.channel == "email" and interaction.kind == "email"
        assert interaction.customer_email and "invalid_fields" not in interaction.attributes  # normalised address
        assert interaction.is_complaint is False
        statuses.add(interaction.status)
    assert statuses == {"received", "sent"}


@pytest.mark.imap
def test_an_incremental_read_without_new_mail_reads_nothing(dovecot: DovecotServer) -> None:
    connector = connector_for(dovecot)
    records, _, state = read(connector)
    assert records
    again, rejected, after = read(connector, state)
    assert again == [] and rejected == []
    assert after == state


@pytest.mark.imap
def test_a_killed_read_resumes_without_losing_or_duplicating(dovecot: DovecotServer) -> None:
    connector = connector_for(dovecot, page_size=5)
    everything, _, _ = read(connector)
    first, _, partial = read(connector, max_pages=3)
    rest, _, _ = read(connector, partial)
    combined = [record["id"] for record in first + rest]
    assert len(first) == 15
    assert sorted(combined) == sorted(record["id"] for record in everything)


@pytest.mark.imap
def test_appended_mail_is_read_alone_and_threaded(dovecot: DovecotServer) -> None:
    question = email_bytes(message_id="<q1@example.fr>", subject="Colis abîmé")
    folder = new_folder(dovecot, question)
    connector = connector_for(dovecot, folders=[folder])
    first, _, state = read(connector)
    assert [record["id"] for record in first] == ["<q1@example.fr>"]
    assert first[0]["subject"] == "Colis abîmé" and first[0]["thread_id"] == "<q1@example.fr>"
    reply = email_bytes(
        sender=f"Support <{SUPPORT}>",
        to="Claire Dupont <claire.dupont@example.fr>",
        subject="Re: Colis abîmé",
        message_id="<r1@canalis-maison.fr>",
        references=["<q1@example.fr>"],
    )
    append(dovecot, folder, reply)
    follow_up = email_bytes(message_id="<q2@example.fr>", references=["<q1@example.fr>", "<r1@canalis-maison.fr>"])
    append(dovecot, folder, follow_up)
    later, _, state = read(connector, state)
    assert [record["id"] for record in later] == ["<r1@canalis-maison.fr>", "<q2@example.fr>"]
    assert {record["thread_id"] for record in later} == {"<q1@example.fr>"}
    assert later[0]["direction"] == "outbound" and later[0]["customer_email"] == "claire.dupont@example.fr"
    assert later[1]["direction"] == "inbound" and later[1]["in_reply_to"] == "<r1@canalis-maison.fr>"
    assert read(connector, state)[0] == []


@pytest.mark.imap
def test_bodies_attachments_and_complaint_header(dovecot: DovecotServer) -> None:
    html = (
        "<html><head><style>p {color: red}</style></head>"
        "<body><p>Bonjour&nbsp;!</p><p>Le colis est <b>cassé</b>.</p></body></html>"
    )
    pdf = b"%PDF-1.4 test document" * 50
    folder = new_folder(
        dovecot,
        email_bytes(message_id="<html@example.fr>", html=html, headers={"X-Canalis-Complaint": "yes"}),
        email_bytes(
            message_id="<pdf@example.fr>",
            body="Voir la facture " * 100,
            attachment=("facture.pdf", "application/pdf", pdf),
        ),
        email_bytes(
            message_id="<cc@example.fr>",
            sender=f"<{SUPPORT}>",
            to=f"<{SUPPORT}>",
            headers={"Cc": "Bob <bob@example.org>"},
        ),
    )
    records, rejected, _ = read(connector_for(dovecot, folders=[folder], max_body_chars=200))
    assert rejected == []
    by_id = {record["id"]: record for record in records}
    html_record = by_id["<html@example.fr>"]
    assert html_record["body_text"] == "Bonjour\xa0!\n\nLe colis est cassé."
    assert html_record["is_complaint"] is True
    pdf_record = by_id["<pdf@example.fr>"]
    assert pdf_record["attachments"] == [
        {"filename": "facture.pdf", "content_type": "application/pdf", "size": len(pdf)}
    ]
    assert len(pdf_record["body_text"]) == 200 and pdf_record["body_truncated"] is True
    assert "PDF-1.4" not in repr(pdf_record)
    cc_record = by_id["<cc@example.fr>"]
    assert cc_record["direction"] == "outbound" and cc_record["customer_email"] == "bob@example.org"
    assert cc_record["cc"] == ["bob@example.org"]
    assert not any(record["message_truncated"] for record in records)
    cut, rejected, _ = read(connector_for(dovecot, folders=[folder], max_message_bytes=1500))
    assert rejected == [] and [record["id"] for record in cut] == [record["id"] for record in records]
    assert {record["id"] for record in cut if record["message_truncated"]} == {"<pdf@example.fr>"}
    mapper = Mapper(load_mapping(shipped_mapping("imap")), connection="support_inbox", channel="email")
    (mapped,) = mapper.map_record("messages", html_record)
    assert mapped.record.is_complaint is True and mapped.record.status == "received"


@pytest.mark.imap
def test_a_new_uidvalidity_rereads_the_folder(dovecot: DovecotServer) -> None:
    messages = [email_bytes(message_id=f"<v{n}@example.fr>") for n in range(3)]
    folder = new_folder(dovecot, *messages[:2])
    connector = connector_for(dovecot, folders=[folder])
    first, _, state = read(connector)
    assert state is not None
    old_validity = state.extra[folder]["uidvalidity"]
    with mailbox(dovecot) as imap:  # the folder is deleted and made again: its UIDs start over
        assert imap.delete(quote_mailbox(folder))[0] == "OK"
        assert imap.create(quote_mailbox(folder))[0] == "OK"
        for raw in messages:
            assert imap.append(quote_mailbox(folder), None, None, raw)[0] == "OK"
    again, _, after = read(connector, state)
    assert after is not None and after.extra[folder]["uidvalidity"] != old_validity
    assert sorted(record["id"] for record in again) == ["<v0@example.fr>", "<v1@example.fr>", "<v2@example.fr>"]
    assert {record["id"] for record in first} <= {record["id"] for record in again}


@pytest.mark.imap
def test_malformed_messages_are_rejected_with_their_uid_and_the_rest_is_read(dovecot: DovecotServer) -> None:
    folder = new_folder(
        dovecot,
        email_bytes(message_id="<ok1@example.fr>"),
        b"this is not an email at all\r\n",
        b"From: undisclosed\r\nSubject: no address\r\nDate: Sun, 1 Jun 2025 10:00:00 +0000\r\n\r\nbody\r\n",
        email_bytes(message_id="<ok2@example.fr>"),
    )
    records, rejected, state = read(connector_for(dovecot, folders=[folder]))
    assert [record["id"] for record in records] == ["<ok1@example.fr>", "<ok2@example.fr>"]
    assert [item.record_id.rsplit(":", 1)[1] for item in rejected] == ["2", "3"]  # type: ignore[union-attr]
    assert all(f"{folder} UID" in item.error and "no sender address" in item.error for item in rejected)
    assert state is not None and state.extra[folder]["last_uid"] == 4


@pytest.mark.imap
def test_a_wrong_password_is_a_clear_error_without_the_password(dovecot: DovecotServer) -> None:
    with pytest.raises(ConfigError) as raised:
        connector_for(dovecot, folders=["No-Such-Folder"]).check()
    assert raised.value.setting == "folders" and "No-Such-Folder" in str(raised.value)
    with pytest.raises(ConfigError) as raised:
        connector_for(dovecot, port=free_port()).check()
    assert raised.value.setting == "host" and "imap: connect" in str(raised.value)
    wrong = "not-the-Right-pw-42"
    with pytest.raises(ConfigError) as raised:
        read(connector_for(dovecot, password=wrong))
    text = str(raised.value)
    assert raised.value.setting == "password"
    assert "imap: LOGIN" in text and "AUTHENTICATIONFAILED" in text
    assert wrong not in text and dovecot.password not in text


@pytest.mark.imap
def test_check_lists_the_folders(dovecot: DovecotServer, world_dir: Path) -> None:
    result = connector_for(dovecot).check()
    assert result.ok
    files = len(list((world_dir / "maildir").glob("*/*")))
    assert result.details["INBOX"].startswith(f"{files} messages")


# --- without a server ------------------------------------------------------------------------------------


def test_settings_fail_fast_and_keep_the_password_secret(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CANALIS_IMAP_PASSWORD", "pw-from-env")
    connector = ImapConnector.from_config(
        {"host": "imap.example.com", "username": "support", "support_addresses": "support@example.com, @example.org"},
        connection="inbox",
    )
    assert isinstance(connector.settings, ImapSettings)
    assert connector.settings.support_addresses == ["support@example.com", "@example.org"]
    assert "pw-from-env" not in repr(connector.settings) and "pw-from-env" not in repr(connector)
    with pytest.raises(ConfigError, match="must come from an environment variable"):
        ImapConnector.from_config({"host": "h", "username": "u", "password": "x"}, connection="inbox")
    with pytest.raises(ConfigError) as raised:
        ImapConnector.from_config({"host": "h", "username": "u", "starttls": True}, connection="inbox")
    assert raised.value.setting == "starttls"
    with pytest.raises(ConfigError) as raised:
        ImapConnector.from_config({"host": "h", "username": "u", "support_addresses": ["nobody"]}, connection="inbox")
    assert raised.value.setting is not None and raised.value.setting.startswith("support_addresses")


def test_support_addresses_and_domains() -> None:
    support = Support(["support@example.com", "@help.example.org"])
    assert "Support@Example.com" in support and "anyone@help.example.org" in support
    assert "claire@example.com" not in support and None not in support


def test_fetch_answers_are_split_by_uid() -> None:
    data = [
        (b'1 (UID 10 RFC822.SIZE 30 FLAGS (\\Seen) INTERNALDATE " 3-Jun-2025 10:00:00 +0200" BODY[]<0> {5}', b"hello"),
        b")",
        (b"2 (UID 12 RFC822.SIZE 40 BODY[]<0> {4}", b"body"),
        b" FLAGS (\\Answered \\Seen))",
        b"3 (FLAGS (\\Deleted))",  # a flag change announced by the server, not an answer
        b'4 (UID 15 RFC822.SIZE 0 FLAGS () BODY[]<0> "")',
    ]
    fetched = parse_fetch(data)
    assert [item.uid for item in fetched] == [10, 12, 15]
    assert fetched[0].raw == b"hello" and fetched[0].flags == ["\\Seen"]
    assert fetched[0].internal_date == datetime(2025, 6, 3, 8, 0, tzinfo=UTC)
    assert fetched[1].flags == ["\\Answered", "\\Seen"] and fetched[1].size == 40
    assert fetched[2].raw == b""


def test_uid_sets_and_folder_names() -> None:
    assert uid_set([1, 2, 3, 5, 7, 8]) == "1:3,5,7:8"
    assert uid_set([4]) == "4"
    assert encode_modified_utf7("Entwürfe") == "Entw&APw-rfe"
    assert encode_modified_utf7("Tom & Jerry") == "Tom &- Jerry"
    assert encode_modified_utf7("台北") == "&U,BTFw-"
    assert quote_mailbox('Sent "old"') == '"Sent \\"old\\""'


def test_dates_fall_back_to_the_arrival_time_and_ids_to_a_digest() -> None:
    arrival = datetime(2025, 1, 2, 3, 4, 5, tzinfo=UTC)
    origin = Origin("INBOX", 7, 3, 50, (), arrival)
    raw = b"From: a@example.fr\r\nSubject: =?utf-8?q?caf=C3=A9?=\r\n\r\nhi\r\n"
    record = parse_message(raw, origin, Support([]), 100)
    assert isinstance(record, dict)
    assert record["date"] == arrival.isoformat() and record["subject"] == "café"
    assert record["id"].startswith("<sha256-") and record["thread_id"] == record["id"]
    assert parse_message(raw, origin, Support([]), 100)["id"] == record["id"]  # type: ignore[index]
    undated = parse_message(raw, Origin("INBOX", 7, 3, 50, (), None), Support([]), 100)
    assert isinstance(undated, Rejected) and "INBOX UID 3" in undated.error and "Date" in undated.error


@pytest.mark.imap
def test_ingest_lands_every_message_and_then_nothing_new(dovecot: DovecotServer, world_dir: Path, store) -> None:
    from canalis.ingest.stream import ingest_stream

    connector = connector_for(dovecot)
    first = ingest_stream(store, connector, "messages")
    assert first.records_read == len(maildir_message_ids(world_dir / "maildir")) and first.quarantined == 0
    assert ingest_stream(store, connector, "messages").records_read == 0
