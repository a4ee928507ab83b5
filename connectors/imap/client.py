"""A thin IMAP session over the standard library's imaplib: sign in, examine folders, find and fetch by UID."""

from __future__ import annotations

import base64
import imaplib
import re
import ssl
from collections.abc import Iterator, Sequence
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime

from canalis.connectors.imap.settings import ImapSettings
from canalis.sdk import ConfigError, ConnectorError, redact

SYSTEM = "imap"

_UID = re.compile(rb"\bUID (\d+)")
_SIZE = re.compile(rb"\bRFC822\.SIZE (\d+)")
_FLAGS = re.compile(rb"\bFLAGS \(([^)]*)\)")
_INTERNALDATE = re.compile(rb'\bINTERNALDATE "([^"]+)"')
_UNSOLICITED = re.compile(rb"^\d+ \(")


class ImapError(ConnectorError):
    """An IMAP command failed; the message names the call and the server's answer, never the password."""


@dataclass(frozen=True)
class FolderStatus:
    """What EXAMINE says about a folder."""

    name: str
    uidvalidity: int
    exists: int


@dataclass
class Fetched:
    """One message as fetched: its UID, size, flags, arrival time and raw bytes (cut at the fetch limit)."""

    uid: int
    size: int | None = None
    flags: list[str] = field(default_factory=list)
    internal_date: datetime | None = None
    raw: bytes = b""


def quote_mailbox(name: str) -> str:
    """A folder name as an IMAP quoted string, non-ASCII names in modified UTF-7 (RFC 3501 5.1.3)."""
    encoded = encode_modified_utf7(name)
    return '"' + encoded.replace("\\", "\\\\").replace('"', '\\"') + '"'


def encode_modified_utf7(text: str) -> str:
    """RFC 3501 modified UTF-7: printable ASCII as is ('&' as '&-'), other runs base64 of UTF-16BE in &...-."""
    out: list[str] = []
    pending: list[str] = []

    def flush() -> None:
        if pending:
            data = "".join(pending).encode("utf-16-be")
            out.append("&" + base64.b64encode(data).decode("ascii").rstrip("=").replace("/", ",") + "-")
            pending.clear()

    for char in text:
        if 0x20 <= ord(char) <= 0x7E:
            flush()
            out.append("&-" if char == "&" else char)
        else:
            pending.append(char)
    flush()
    return "".join(out)


def uid_set(uids: Sequence[int]) -> str:
    """A compact UID set (1:4,7,9:10) for sorted UIDs."""
    parts: list[str] = []
    start = previous = uids[0]
    for uid in uids[1:]:
        if uid == previous + 1:
            previous = uid
            continue
        parts.append(str(start) if start == previous else f"{start}:{previous}")
        start = previous = uid
    parts.append(str(start) if start == previous else f"{start}:{previous}")
    return ",".join(parts)


class ImapSession:
    """One signed-in IMAP connection."""

    def __init__(self, settings: ImapSettings, connection: str) -> None:
        self.settings = settings
        self.connection = connection
        self.imap: imaplib.IMAP4 | None = None

    @property
    def where(self) -> str:
        return f"{self.settings.host}:{self.settings.port}"

    def _redact(self, error: BaseException | str) -> str:
        text = error.decode("utf-8", "replace") if isinstance(error, bytes) else str(error)
        return redact(text.strip() or type(error).__name__, [self.settings.password.get_secret_value()])

    def _tls_context(self) -> ssl.SSLContext:
        context = ssl.create_default_context()
        if not self.settings.tls_verify:
            context.check_hostname = False
            context.verify_mode = ssl.CERT_NONE
        return context

    def open(self) -> None:
        """Connect (TLS, STARTTLS or plain as set) and sign in; failures name the setting to fix."""
        settings = self.settings
        call = "connect"
        try:
            if settings.ssl:
                imap: imaplib.IMAP4 = imaplib.IMAP4_SSL(
                    settings.host, settings.port, ssl_context=self._tls_context(), timeout=settings.timeout_seconds
                )
            else:
                imap = imaplib.IMAP4(settings.host, settings.port, timeout=settings.timeout_seconds)
                if settings.starttls:
                    call = "STARTTLS"
                    imap.starttls(ssl_context=self._tls_context())
        except (OSError, imaplib.IMAP4.error, ssl.SSLError) as error:
            setting = "starttls" if call == "STARTTLS" else "host"
            raise ConfigError(
                f"connection '{self.connection}': setting '{setting}': {SYSTEM}: {call} to {self.where} failed: "
                f"{type(error).__name__}: {self._redact(error)}",
                setting=setting,
                connection=self.connection,
            ) from None
        self.imap = imap
        try:
            imap.login(settings.username, settings.password.get_secret_value())
        except (imaplib.IMAP4.error, OSError) as error:
            self.close()
            raise ConfigError(
                f"connection '{self.connection}': setting 'password': {SYSTEM}: LOGIN as {settings.username!r} on "
                f"{self.where} failed: {self._redact(error)} (check settings 'username' and 'password')",
                setting="password",
                connection=self.connection,
            ) from None

    def close(self) -> None:
        """Sign out and close the connection (errors on the way out are ignored)."""
        if self.imap is None:
            return
        with suppress(imaplib.IMAP4.error, OSError):
            self.imap.logout()
        self.imap = None

    def _uid(self, command: str, *args: str) -> list:
        """Run a UID command; a failure names the call and the server's answer."""
        assert self.imap is not None, "session not open"
        call = " ".join(("UID", command, *args[:1]))
        try:
            status, data = self.imap.uid(command, *args)
        except (TimeoutError, imaplib.IMAP4.error, OSError) as error:
            raise ImapError(f"{SYSTEM}: {call} on {self.where} failed: {self._redact(error)}") from None
        if status != "OK":
            detail = b" ".join(part for part in data if isinstance(part, bytes)) if data else b""
            raise ImapError(f"{SYSTEM}: {call} on {self.where} failed: {status} {self._redact(detail)}")
        return data

    def examine(self, folder: str) -> FolderStatus:
        """Open a folder read-only; a folder that does not exist names the `folders` setting."""
        assert self.imap is not None, "session not open"
        try:
            status, data = self.imap.select(quote_mailbox(folder), readonly=True)
        except (imaplib.IMAP4.error, OSError) as error:
            raise ImapError(f"{SYSTEM}: EXAMINE {folder!r} on {self.where} failed: {self._redact(error)}") from None
        if status != "OK":
            detail = self._redact(b" ".join(part for part in data if isinstance(part, bytes)))
            raise ConfigError(
                f"connection '{self.connection}': setting 'folders': {SYSTEM}: EXAMINE {folder!r} failed: {detail}",
                setting="folders",
                connection=self.connection,
            )
        _, values = self.imap.response("UIDVALIDITY")
        if not values or values[0] is None:
            raise ImapError(f"{SYSTEM}: EXAMINE {folder!r} on {self.where} gave no UIDVALIDITY")
        exists = int(data[0]) if data and data[0] else 0
        return FolderStatus(folder, int(values[-1]), exists)

    def uids_after(self, last_uid: int) -> list[int]:
        """UIDs above `last_uid` in the open folder, ascending."""
        data = self._uid("SEARCH", f"UID {last_uid + 1}:*")
        found = {int(token) for line in data if line for token in line.split()}
        return sorted(uid for uid in found if uid > last_uid)  # "n:*" always matches the highest UID

    def fetch(self, uids: Sequence[int]) -> list[Fetched]:
        """Fetch UID, size, flags, arrival time and the first `max_message_bytes` of each message."""
        items = f"(UID RFC822.SIZE FLAGS INTERNALDATE BODY.PEEK[]<0.{self.settings.max_message_bytes}>)"
        data = self._uid("FETCH", uid_set(uids), items)
        return parse_fetch(data)


def parse_fetch(data: list) -> list[Fetched]:
    """Turn imaplib's FETCH answer (header line and literal tuples, then the closing bytes) into messages by UID."""
    entries: list[tuple[bytearray, bytes]] = []
    for item in data:
        if isinstance(item, tuple):
            entries.append((bytearray(item[0]), bytes(item[1])))
        elif isinstance(item, bytes) and item:
            if _UNSOLICITED.match(item):  # a message without a literal (empty body) or a flag update
                entries.append((bytearray(item), b""))
            elif entries:  # the rest of the line after a literal, e.g. ` FLAGS (\\Seen))`
                entries[-1][0].extend(item)
    messages: dict[int, Fetched] = {}
    for meta, raw in entries:
        fetched = _fetched(bytes(meta), raw)
        if fetched is not None and b"BODY[]" in meta and (fetched.raw or fetched.uid not in messages):
            messages[fetched.uid] = fetched
    return [messages[uid] for uid in sorted(messages)]


def _fetched(meta: bytes, raw: bytes) -> Fetched | None:
    uid = _UID.search(meta)
    if uid is None:
        return None
    size = _SIZE.search(meta)
    flags = _FLAGS.search(meta)
    internal = _INTERNALDATE.search(meta)
    return Fetched(
        uid=int(uid.group(1)),
        size=int(size.group(1)) if size else None,
        flags=flags.group(1).decode("ascii", "replace").split() if flags else [],
        internal_date=_internal_date(internal.group(1)) if internal else None,
        raw=raw,
    )


def _internal_date(value: bytes) -> datetime | None:
    try:
        return datetime.strptime(value.decode("ascii").strip(), "%d-%b-%Y %H:%M:%S %z").astimezone(UTC)
    except ValueError:
        return None


@contextmanager
def session(settings: ImapSettings, connection: str) -> Iterator[ImapSession]:
    """A signed-in session, signed out afterwards."""
    opened = ImapSession(settings, connection)
    opened.open()
    try:
        yield opened
    finally:
        opened.close()
