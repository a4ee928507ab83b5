"""The sandbox IMAP server: imaplib and raw protocol checks, then the real IMAP connector reading the world's mail."""

from __future__ import annotations

import imaplib
import re
import shutil
import socket
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from email.utils import parseaddr, parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from canalis.connectors.imap import ImapConnector
from canalis.connectors.registry import shipped_mapping
from canalis.mappings.declarative.engine import Mapper
from canalis.mappings.declarative.spec import load_mapping
from canalis.sandbox.imap_server import (
    PASSWORD,
    USERNAME,
    ImapServerHandle,
    internal_date,
    parse_internal_date,
    parse_set,
    section_bytes,
    start_imap_server,
)
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.world import WorldSpec, generate_world, store_path
from canalis.sdk.errors import ConfigError
from canalis.sdk.state import StreamState

SUPPORT = "support@canalis-maison.fr"
MESSAGE_ID = re.compile(rb"^Message-ID:\s*(\S+)\s*$", re.MULTILINE | re.IGNORECASE)
CONNECTION_BLOCK = """
connector: imap
channel: email
mapping: imap
settings:
  host: "${CANALIS_SANDBOX_IMAP_HOST}"
  port: "${CANALIS_SANDBOX_IMAP_PORT}"
  ssl: false
  starttls: false
  support_addresses: ["support@canalis-maison.fr"]
"""
"""The `support_inbox` block the lead adds to dagster_home/canalis.yaml (username and password from the environment)."""


@pytest.fixture(scope="module")
def generated_world(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A small world generated once; tests work on copies since APPEND writes to the Maildir."""
    folder = tmp_path_factory.mktemp("imap-sandbox-world")
    generate_world(WorldSpec(customers=200), folder)
    return folder


@pytest.fixture
def world(generated_world: Path, tmp_path: Path) -> Path:
    """This test's own copy of the world (Maildir and object store)."""
    target = tmp_path / "world"
    shutil.copytree(generated_world, target)
    return target


@pytest.fixture
def server(world: Path) -> Iterator[ImapServerHandle]:
    handle = start_imap_server(world, "127.0.0.1", 0)
    yield handle
    handle.stop()


@contextmanager
def client(handle: ImapServerHandle, *, login: bool = True) -> Iterator[imaplib.IMAP4]:
    imap = imaplib.IMAP4(handle.host, handle.port, timeout=5)
    try:
        if login:
            imap.login(handle.username, handle.password)
        yield imap
    finally:
        imap.logout()


@contextmanager
def raw_socket(handle: ImapServerHandle) -> Iterator[tuple[socket.socket, Any]]:
    """A bare connection, for what imaplib would not send; yields the socket and a line reader."""
    with socket.create_connection((handle.host, handle.port), timeout=5) as sock:
        reader = sock.makefile("rb")
        assert reader.readline().startswith(b"* OK [CAPABILITY IMAP4rev1")
        yield sock, reader


def exchange(sock: socket.socket, reader: Any, command: bytes, tag: bytes) -> list[bytes]:
    """Send one command; the lines answered up to and including the tagged one."""
    sock.sendall(command)
    lines = []
    while True:
        line = reader.readline()
        assert line, "the server closed the connection"
        lines.append(line)
        if line.startswith(tag + b" "):
            return lines


def maildir_files(world: Path) -> list[Path]:
    return sorted([*world.glob("maildir/cur/*"), *world.glob("maildir/new/*")])


def message_ids(world: Path) -> list[str]:
    ids = []
    for path in maildir_files(world):
        match = MESSAGE_ID.search(path.read_bytes().split(b"\n\n", 1)[0])
        assert match, path.name
        ids.append(match.group(1).decode())
    return ids


def email(message_id: str, *, subject: str = "Colis abîmé", references: list[str] | None = None) -> bytes:
    head = [
        "From: Claire Dupont <claire.dupont@example.fr>",
        f"To: Service client <{SUPPORT}>",
        "Subject: =?utf-8?q?Colis_ab=C3=AEm=C3=A9?=" if subject == "Colis abîmé" else f"Subject: {subject}",
        "Date: Sun, 01 Jun 2025 10:30:00 +0000",
        f"Message-ID: {message_id}",
        *([f"In-Reply-To: {references[-1]}", f"References: {' '.join(references)}"] if references else []),
        "Content-Type: text/plain; charset=utf-8",
    ]
    return ("\r\n".join(head) + "\r\n\r\nBonjour, le colis est arrivé abîmé.\r\n").encode()


def connector_for(handle: ImapServerHandle, **values: Any) -> ImapConnector:
    settings = {
        "host": handle.host,
        "port": handle.port,
        "ssl": False,
        "starttls": False,
        "username": handle.username,
        "password": handle.password,
        "support_addresses": [SUPPORT],
        "page_size": 10,
        **values,
    }
    return ImapConnector(ImapConnector.settings_model.model_validate(settings), connection="support_inbox")


def read(connector: ImapConnector, state: StreamState | None = None) -> tuple[list[dict[str, Any]], StreamState]:
    records: list[dict[str, Any]] = []
    last = state
    for page in connector.read("messages", state):
        assert page.rejected == []
        records.extend(page.records)
        last = page.state
    assert last is not None
    return records, last


# --- the protocol, through imaplib and raw ---------------------------------------------------------------


def test_login_is_checked_and_capabilities_are_plain_imap4rev1(server: ImapServerHandle) -> None:
    with client(server, login=False) as imap:
        assert "IMAP4REV1" in imap.capabilities and "STARTTLS" not in imap.capabilities
        with pytest.raises(imaplib.IMAP4.error, match="AUTHENTICATIONFAILED"):
            imap.login(USERNAME, "not-the-password")
        assert imap.login(USERNAME, PASSWORD)[0] == "OK"
        assert imap.noop()[0] == "OK"
        status, listed = imap.list()
        assert status == "OK" and listed == [b'(\\HasNoChildren) "/" INBOX']
    assert server.credentials() == {
        "host": "127.0.0.1",
        "port": str(server.port),
        "username": USERNAME,
        "password": PASSWORD,
    }


def test_select_examine_search_and_partial_fetch(server: ImapServerHandle, world: Path) -> None:
    files = maildir_files(world)
    with client(server) as imap:
        status, data = imap.select("INBOX", readonly=True)
        assert status == "OK" and int(data[0]) == len(files)
        assert imap.response("READ-ONLY")[1] == [b""]
        uidvalidity = int(imap.response("UIDVALIDITY")[1][-1])
        assert int(imap.response("UIDNEXT")[1][-1]) == len(files) + 1
        assert int(imap.response("RECENT")[1][-1]) == len(list(world.glob("maildir/new/*")))

        assert imap.uid("SEARCH", "ALL")[1] == [" ".join(str(n) for n in range(1, len(files) + 1)).encode()]
        assert imap.uid("SEARCH", f"UID {len(files) - 1}:*")[1] == [f"{len(files) - 1} {len(files)}".encode()]
        assert imap.uid("SEARCH", f"UID {len(files) + 5}:*")[1] == [str(len(files)).encode()]  # n:* has the last
        assert imap.search(None, "UNSEEN")[1] == imap.search(None, "NEW")[1]

        status, fetched = imap.uid("FETCH", "1:2", "(UID RFC822.SIZE FLAGS INTERNALDATE BODY.PEEK[]<0.40>)")
        assert status == "OK"
        first_line, first_body = fetched[0]
        assert re.match(
            rb'1 \(UID 1 RFC822\.SIZE (\d+) FLAGS \(\\Seen\) INTERNALDATE "[^"]+" BODY\[\]<0> \{40\}', first_line
        )
        content = files[0].read_bytes().replace(b"\n", b"\r\n")  # served with CRLF line ends
        assert first_body == content[:40]
        assert int(re.search(rb"RFC822\.SIZE (\d+)", first_line).group(1)) == len(content)  # type: ignore[union-attr]
        stamp = int(files[0].name.split(".")[0])
        assert internal_date(datetime.fromtimestamp(stamp, UTC)).encode() in first_line

        _, header = imap.fetch("1", "(BODY.PEEK[HEADER])")
        assert header[0][1] == content[: content.index(b"\r\n\r\n") + 4]
        _, whole = imap.fetch("1", "(RFC822)")
        assert whole[0][1] == content
        _, fields = imap.fetch("1", "(BODY.PEEK[HEADER.FIELDS (Message-ID)])")
        assert fields[0][0].endswith(b"BODY[HEADER.FIELDS (MESSAGE-ID)] {%d}" % len(fields[0][1]))
        assert fields[0][1].startswith(b"Message-ID: <") and fields[0][1].endswith(b">\r\n\r\n")
        assert imap.close()[0] == "OK"

        status, _ = imap.select("INBOX")
        assert status == "OK" and imap.response("READ-WRITE")[1] == [b""]
        assert int(imap.response("UIDVALIDITY")[1][-1]) == uidvalidity
        with pytest.raises(imaplib.IMAP4.error, match="invalid message set"):
            imap.fetch(str(len(files) + 1), "(FLAGS)")
        assert imap.select("Archive")[0] == "NO"


def test_append_adds_a_file_under_the_next_uid(server: ImapServerHandle, world: Path) -> None:
    before = len(maildir_files(world))
    with client(server) as imap:
        imap.select("INBOX")
        when = imaplib.Time2Internaldate(datetime(2025, 6, 2, 9, 0, tzinfo=UTC))
        assert imap.append("INBOX", "(\\Seen)", when, email("<appended@example.fr>"))[0] == "OK"
        assert imap.response("EXISTS")[1][-1] == str(before + 1).encode()  # the session hears of it at once
        assert imap.append("INBOX", None, None, email("<unread@example.fr>"))[0] == "OK"
        assert imap.append("Sent", None, None, email("<elsewhere@example.fr>"))[0] == "NO"
        _, found = imap.uid("SEARCH", f"UID {before + 1}:*")
        assert found == [f"{before + 1} {before + 2}".encode()]
        _, data = imap.uid("FETCH", str(before + 1), "(FLAGS INTERNALDATE BODY.PEEK[])")
        assert b"FLAGS (\\Seen)" in data[0][0] and b'INTERNALDATE " 2-Jun-2025 09:00:00 +0000"' in data[0][0]
        assert data[0][1] == email("<appended@example.fr>")
        _, data = imap.uid("FETCH", str(before + 2), "(FLAGS)")
        assert data == [f"{before + 2} (UID {before + 2} FLAGS (\\Recent))".encode()]
    assert len(list(world.glob("maildir/cur/*:2,S"))) + len(list(world.glob("maildir/new/*"))) == before + 2
    assert list(world.glob("maildir/tmp/*")) == []


def test_literals_tags_and_bad_commands_on_the_wire(server: ImapServerHandle) -> None:
    with raw_socket(server) as (sock, reader):
        assert exchange(sock, reader, b"a1 SELECT INBOX\r\n", b"a1")[-1].startswith(b"a1 BAD sign in first")
        sock.sendall(b"a2 LOGIN {%d}\r\n" % len(USERNAME))
        assert reader.readline().startswith(b"+ ")  # a synchronising literal waits for the go-ahead
        answer = exchange(
            sock, reader, USERNAME.encode() + b" {%d+}\r\n%s\r\n" % (len(PASSWORD), PASSWORD.encode()), b"a2"
        )
        assert answer[-1].startswith(b"a2 OK")
        assert exchange(sock, reader, b"a3 FETCH 1 FLAGS\r\n", b"a3")[-1].startswith(b"a3 BAD no mailbox selected")
        assert exchange(sock, reader, b"a4 XYZZY\r\n", b"a4")[-1].startswith(b"a4 BAD unknown")
        assert exchange(sock, reader, b'a5 EXAMINE "INBOX"\r\n', b"a5")[-1].startswith(b"a5 OK [READ-ONLY]")
        lines = exchange(sock, reader, b"a6 UID FETCH 1 (ENVELOPE)\r\n", b"a6")
        assert lines == [b"a6 BAD unsupported FETCH item 'ENVELOPE'\r\n"]
        lines = exchange(sock, reader, b"a7 FETCH 1 (UID BODY.PEEK[]<0.0>)\r\n", b"a7")
        assert lines[0] == b"* 1 FETCH (UID 1 BODY[]<0> {0}\r\n" and lines[-1].startswith(b"a7 OK")
        lines = exchange(sock, reader, b"a8 LOGOUT\r\n", b"a8")
        assert lines[0].startswith(b"* BYE") and lines[-1].startswith(b"a8 OK")
        assert reader.readline() == b""  # and the server hangs up


def test_helpers_for_sets_dates_and_sections() -> None:
    assert parse_set("1:3,5,7:*", 9, uids=True) == [(1, 3), (5, 5), (7, 9)]
    assert parse_set("12:*", 9, uids=True) == [(9, 12)]
    moment = parse_internal_date(" 3-Jun-2025 10:00:00 +0200")
    assert moment == datetime(2025, 6, 3, 8, 0, tzinfo=UTC) and internal_date(moment) == " 3-Jun-2025 08:00:00 +0000"
    message = b"Subject: a\r\n b\r\nFrom: x@y.z\r\n\r\nbody\r\n"
    assert section_bytes(message, "HEADER.FIELDS (SUBJECT)") == b"Subject: a\r\n b\r\n\r\n"
    assert section_bytes(message, "HEADER.FIELDS.NOT (SUBJECT)") == b"From: x@y.z\r\n\r\n"
    assert section_bytes(message, "TEXT") == b"body\r\n"


def test_only_loopback_is_served(world: Path) -> None:
    with pytest.raises(ValueError, match="loopback"):
        start_imap_server(world, "0.0.0.0", 0)  # noqa: S104 - refused, never bound


# --- the real IMAP connector -----------------------------------------------------------------------------


def test_the_connector_reads_every_message_once_threaded_and_mappable(server: ImapServerHandle, world: Path) -> None:
    expected = message_ids(world)
    assert len(expected) > 20
    connector = connector_for(server)
    assert connector.check().details["INBOX"].startswith(f"{len(expected)} messages")
    records, state = read(connector)
    assert sorted(record["id"] for record in records) == sorted(expected)  # each message read once
    assert state.extra["INBOX"]["last_uid"] == len(expected)

    with ObjectStore(store_path(world)) as store:
        index = {item.object_id: item.payload for item in store.iter_all("mailbox", "messages")}
    assert len(index) == len(records)
    for record in records:
        entry = index[record["message_id"]]
        assert record["thread_id"] == entry["thread_id"] and record["direction"] == entry["direction"]
        assert record["subject"] == entry["subject"]
        assert datetime.fromisoformat(record["date"]) == parsedate_to_datetime(entry["date"]).astimezone(UTC)
        customer = entry["from"] if entry["direction"] == "inbound" else entry["to"]
        assert record["customer_email"] == parseaddr(customer)[1]
        assert [item["filename"] for item in record["attachments"]] == (
            [entry["attachment"]] if entry["attachment"] else []
        )
        assert not record["message_truncated"]
    assert len({record["thread_id"] for record in records}) < len(records), "no reply was threaded"

    mapper = Mapper(load_mapping(shipped_mapping("imap")), connection="support_inbox", channel="email")
    statuses = set()
    for record in records:
        (mapped,) = mapper.map_record("messages", record)
        assert mapped.record.customer_email and "invalid_fields" not in mapped.record.attributes
        statuses.add(mapped.record.status)
    assert statuses == {"received", "sent"}


def test_an_incremental_read_after_append_returns_only_the_new_message(server: ImapServerHandle) -> None:
    connector = connector_for(server)
    records, state = read(connector)
    assert read(connector, state)[0] == []
    question = next(record for record in records if record["direction"] == "inbound")
    with client(server) as imap:
        imap.append("INBOX", None, None, email("<new-reply@example.fr>", references=[question["message_id"]]))
    later, after = read(connector, state)
    assert [record["id"] for record in later] == ["<new-reply@example.fr>"]
    assert later[0]["thread_id"] == question["thread_id"] and later[0]["uid"] == len(records) + 1
    assert after.extra["INBOX"] == {"uidvalidity": state.extra["INBOX"]["uidvalidity"], "last_uid": len(records) + 1}


def test_uids_and_uidvalidity_survive_a_restart(world: Path) -> None:
    with start_imap_server(world) as first:
        before, state = read(connector_for(first))
        with client(first) as imap:
            imap.append("INBOX", None, None, email("<before-restart@example.fr>"))
    with start_imap_server(world) as second:
        connector = connector_for(second)
        assert read(connector, state)[0][0]["id"] == "<before-restart@example.fr>"  # not read again from UID 1
        after, again = read(connector)
    assert {record["uid"]: record["id"] for record in before} == {
        record["uid"]: record["id"] for record in after if record["id"] != "<before-restart@example.fr>"
    }
    assert again.extra["INBOX"]["uidvalidity"] == state.extra["INBOX"]["uidvalidity"]
    with ObjectStore(store_path(world)) as store:
        assert store.kv_get("imap:INBOX")["uidnext"] == len(before) + 2


def test_the_connection_block_for_canalis_yaml_validates(
    server: ImapServerHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in server.environment().items():
        monkeypatch.setenv(name, value)
    block = yaml.safe_load(CONNECTION_BLOCK)
    connector = ImapConnector.from_config(block["settings"], connection="support_inbox")
    assert connector.settings.port == server.port and connector.settings.username == USERNAME
    assert connector.check().ok
    monkeypatch.setenv("CANALIS_IMAP_PASSWORD", "wrong")
    with pytest.raises(ConfigError, match="AUTHENTICATIONFAILED") as raised:
        ImapConnector.from_config(block["settings"], connection="support_inbox").check()
    assert raised.value.setting == "password"
