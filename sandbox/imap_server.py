"""A small IMAP4rev1 server for the sandbox: the world's support Maildir served as one account's INBOX.

It speaks just what imaplib and the Canalis IMAP connector use: CAPABILITY, LOGIN, LOGOUT, NOOP, CHECK, LIST,
SELECT/EXAMINE, CLOSE, SEARCH and FETCH (plain and UID), and APPEND. Plaintext only, on loopback: it opens a local
sandbox, not a real mailbox. Messages are the files of `<data_dir>/maildir/{new,cur}`; their UIDs are handed out in
file-name order and kept, with the UIDVALIDITY, in the object store's kv (key `imap:INBOX`), so a restart keeps
them. Flags come from the Maildir file names and are never changed (no STORE; BODY[] does not set \\Seen).
"""

from __future__ import annotations

import ipaddress
import itertools
import logging
import os
import re
import socket
import socketserver
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.world.generate import store_path

LOG = logging.getLogger(__name__)

USERNAME = "support@canalis-maison.fr"
PASSWORD = "canalis-sandbox-imap"  # noqa: S105 - a published test password: it only opens the local sandbox
MAILBOX = "INBOX"
STATE_KEY = "imap:INBOX"
CAPABILITIES = "IMAP4rev1 LITERAL+"
HOST_NAME = "canalis-sandbox-imap"
SYSTEM_FLAGS = ("\\Answered", "\\Flagged", "\\Deleted", "\\Seen", "\\Draft")
MAILDIR_FLAGS = {"D": "\\Draft", "F": "\\Flagged", "R": "\\Answered", "S": "\\Seen", "T": "\\Deleted"}
MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")
MAX_LINE = 64 * 1024
MAX_LITERAL = 64 * 1024 * 1024
SELECTED_ONLY = frozenset({"CLOSE", "CHECK", "SEARCH", "UID SEARCH", "FETCH", "UID FETCH"})
IDLE_SECONDS = 30 * 60.0
"""RFC 3501's shortest autologout timer."""

HOST_ENV = "CANALIS_SANDBOX_IMAP_HOST"
PORT_ENV = "CANALIS_SANDBOX_IMAP_PORT"
USERNAME_ENV = "CANALIS_IMAP_USERNAME"
PASSWORD_ENV = "CANALIS_IMAP_PASSWORD"  # noqa: S105 - the name of a variable, not a password

_LITERAL_AT_END = re.compile(rb"\{(\d+)(\+?)\}\r?\n\Z")
_LITERAL = re.compile(rb"\{(\d+)\+?\}\r?\n")
_BODY_ITEM = re.compile(r"(BODY(?:\.PEEK)?)\[([^\]]*)\](?:<(\d+)(?:\.(\d+))?>)?\Z", re.IGNORECASE)
_HEADER_FIELDS = re.compile(r"HEADER\.FIELDS(\.NOT)?\s*\(([^)]*)\)\Z", re.IGNORECASE)
_DATE = re.compile(r"\s?(\d{1,2})-([A-Za-z]{3})-(\d{4}) (\d\d):(\d\d):(\d\d) ([+-])(\d\d)(\d\d)\Z")
_DIGITS = re.compile(r"(\d+)")
_FETCH_MACROS = {"FAST": ["FLAGS", "INTERNALDATE", "RFC822.SIZE"]}


class Bad(Exception):
    """The command is malformed or not supported: answered with a tagged BAD."""


class No(Exception):
    """The command is understood but refused: answered with a tagged NO (the text may start with a [CODE])."""


# --- the mailbox -----------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Message:
    """One Maildir file as an IMAP message."""

    uid: int
    path: Path
    flags: tuple[str, ...]
    recent: bool
    internal_date: datetime

    def content(self) -> bytes:
        """The message as served: every line ending CRLF (the generated files end lines with LF)."""
        return self.path.read_bytes().replace(b"\r\n", b"\n").replace(b"\n", b"\r\n")


def _key(name: str) -> str:
    """A Maildir file's unique part (the name without its `:2,FLAGS` info), which survives flag changes."""
    return name.split(":", 1)[0]


def _natural(key: str) -> list[Any]:
    """Sort key that orders the numbers inside a name by value (M9 before M10)."""
    return [int(part) if part.isdigit() else part for part in _DIGITS.split(key)]


class Mailbox:
    """The INBOX: the Maildir's files in UID order, with the UID map persisted in the object store."""

    def __init__(self, root: Path, store_file: Path) -> None:
        self.root = root
        self.store_file = store_file
        self._lock = threading.Lock()
        self._deliveries = itertools.count(1)
        for sub in ("cur", "new", "tmp"):
            (root / sub).mkdir(parents=True, exist_ok=True)
        with ObjectStore(store_file) as store:
            saved = store.kv_get(STATE_KEY) or {}
        self.uidvalidity = int(saved.get("uidvalidity") or time.time())
        self.uidnext = int(saved.get("uidnext", 1))
        self.uids: dict[str, int] = {str(key): int(uid) for key, uid in saved.get("uids", {}).items()}
        self._dirty = not saved
        self.scan()

    def _save(self) -> None:
        state = {"uidvalidity": self.uidvalidity, "uidnext": self.uidnext, "uids": self.uids}
        with ObjectStore(self.store_file) as store:
            store.kv_put(STATE_KEY, state)
        self._dirty = False

    def scan(self) -> list[Message]:
        """The messages now in the Maildir, ascending by UID; new files get the next UIDs in file-name order."""
        with self._lock:
            files: dict[str, tuple[str, str]] = {}
            for sub in ("new", "cur"):
                with os.scandir(self.root / sub) as entries:
                    for entry in entries:
                        if not entry.name.startswith(".") and entry.is_file():
                            files[_key(entry.name)] = (sub, entry.name)
            for gone in set(self.uids) - set(files):
                del self.uids[gone]
                self._dirty = True
            for key in sorted((key for key in files if key not in self.uids), key=_natural):
                self.uids[key] = self.uidnext
                self.uidnext += 1
                self._dirty = True
            if self._dirty:
                self._save()
            messages = [self._message(self.uids[key], *files[key]) for key in files]
        return sorted(messages, key=lambda message: message.uid)

    def _message(self, uid: int, sub: str, name: str) -> Message:
        path = self.root / sub / name
        info = name.split(":2,", 1)[1] if ":2," in name else ""
        flags = tuple(flag for letter, flag in MAILDIR_FLAGS.items() if letter in info)
        stamp = name.split(".", 1)[0]
        seconds = int(stamp) if stamp.isdigit() else path.stat().st_mtime  # delivery time from the name
        return Message(uid, path, flags, sub == "new", datetime.fromtimestamp(seconds, UTC))

    def append(self, raw: bytes, flags: list[str], when: datetime | None) -> int:
        """Deliver a message (tmp/, then new/ or cur/ when flagged) under the next UID; returns that UID."""
        moment = when or datetime.now(UTC)
        known = {flag.lower(): flag for flag in SYSTEM_FLAGS}
        wanted = {known[flag.lower()] for flag in flags if flag.lower() in known}
        with self._lock:
            uid = self.uidnext
            key = f"{int(moment.timestamp())}.M{uid}P{os.getpid()}Q{next(self._deliveries)}.{HOST_NAME}"
            info = "".join(letter for letter, flag in MAILDIR_FLAGS.items() if flag in wanted)
            target = self.root / "cur" / f"{key}:2,{info}" if wanted else self.root / "new" / key
            temporary = self.root / "tmp" / key
            temporary.write_bytes(raw)
            os.replace(temporary, target)
            self.uids[key] = uid
            self.uidnext += 1
            self._save()
        return uid


# --- command syntax --------------------------------------------------------------------------------------


class Parser:
    """Reads the arguments of one command: atoms (str), quoted strings and literals (bytes), lists (list)."""

    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def _skip(self) -> None:
        while self.data[self.pos : self.pos + 1] == b" ":
            self.pos += 1

    def at_end(self) -> bool:
        self._skip()
        return self.pos >= len(self.data)

    def token(self) -> str | bytes | list[Any]:
        """The next argument; an atom runs through `[...]` sections, spaces and parentheses included."""
        self._skip()
        char = self.data[self.pos : self.pos + 1]
        if not char:
            raise Bad("missing argument")
        if char == b"(":
            self.pos += 1
            items: list[Any] = []
            while not self.at_end():
                if self.data[self.pos : self.pos + 1] == b")":
                    self.pos += 1
                    return items
                items.append(self.token())
            raise Bad("unclosed list")
        if char == b")":
            raise Bad("unexpected )")
        if char == b'"':
            return self._quoted()
        if char == b"{":
            return self._literal()
        start, depth = self.pos, 0
        while self.pos < len(self.data):
            byte = self.data[self.pos : self.pos + 1]
            if byte == b"[":
                depth += 1
            elif byte == b"]":
                depth -= 1
            elif depth == 0 and byte in b" ()":
                break
            self.pos += 1
        return self.data[start : self.pos].decode("utf-8", "replace")

    def _quoted(self) -> bytes:
        out = bytearray()
        self.pos += 1
        while self.pos < len(self.data):
            byte = self.data[self.pos : self.pos + 1]
            self.pos += 1
            if byte == b'"':
                return bytes(out)
            if byte == b"\\":
                byte = self.data[self.pos : self.pos + 1]
                self.pos += 1
            out += byte
        raise Bad("unclosed quoted string")

    def _literal(self) -> bytes:
        match = _LITERAL.match(self.data, self.pos)
        if match is None:
            raise Bad("malformed literal")
        start = match.end()
        self.pos = start + int(match.group(1))
        if self.pos > len(self.data):
            raise Bad("literal shorter than announced")
        return self.data[start : self.pos]

    def text(self) -> str:
        """The next argument as text (an atom or a string)."""
        token = self.token()
        if isinstance(token, list):
            raise Bad("a string was expected, not a list")
        return token.decode("utf-8", "replace") if isinstance(token, bytes) else token

    def rest(self) -> list[Any]:
        """Every argument left."""
        tokens = []
        while not self.at_end():
            tokens.append(self.token())
        return tokens


def parse_set(text: str, star: int, *, uids: bool) -> list[tuple[int, int]]:
    """A sequence set (`1:3,5,7:*`) as inclusive ranges; `*` is the highest number (or UID)."""
    ranges = []
    for part in text.split(","):
        first, _, last = part.partition(":")
        low = _set_number(first, star, uids)
        high = _set_number(last, star, uids) if last else low
        ranges.append((min(low, high), max(low, high)))
    return ranges


def _set_number(text: str, star: int, uids: bool) -> int:
    if text == "*":
        if not uids and star == 0:
            raise Bad("invalid message set: the mailbox is empty")
        return star
    if not text.isdigit() or int(text) == 0 or (not uids and int(text) > star):
        raise Bad(f"invalid message set {text!r}")
    return int(text)


def in_set(number: int, ranges: list[tuple[int, int]]) -> bool:
    """Whether a number falls in one of the ranges."""
    return any(low <= number <= high for low, high in ranges)


def internal_date(moment: datetime) -> str:
    """An IMAP date-time (` 3-Jun-2025 08:00:00 +0000`), in UTC, without the locale's month names."""
    moment = moment.astimezone(UTC)
    return f"{moment.day:2d}-{MONTHS[moment.month - 1]}-{moment.year} {moment:%H:%M:%S} +0000"


def parse_internal_date(text: str) -> datetime:
    """An APPEND date-time argument as an aware datetime."""
    match = _DATE.match(text)
    if match is None or match.group(2).title() not in MONTHS:
        raise Bad(f"invalid date-time {text!r}")
    day, month, year, hour, minute, second, sign, zone_hours, zone_minutes = match.groups()
    offset = timedelta(hours=int(zone_hours), minutes=int(zone_minutes)) * (-1 if sign == "-" else 1)
    return datetime(
        int(year), MONTHS.index(month.title()) + 1, int(day), int(hour), int(minute), int(second),
        tzinfo=timezone(offset),
    )  # fmt: skip


def _header_and_text(content: bytes) -> tuple[bytes, bytes]:
    end = content.find(b"\r\n\r\n")
    if end < 0:
        return content, b""
    return content[: end + 4], content[end + 4 :]


def _header_fields(header: bytes, names: set[str], keep: bool) -> bytes:
    """The header lines whose field names are (keep) or are not (not keep) among `names`, then a blank line."""
    fields: list[bytes] = []
    chosen = False
    for line in header.split(b"\r\n"):
        if not line:
            continue
        if line[:1] not in (b" ", b"\t"):
            chosen = (line.split(b":", 1)[0].strip().decode("ascii", "replace").upper() in names) == keep
        if chosen:
            fields.append(line + b"\r\n")
    return b"".join(fields) + b"\r\n"


def section_bytes(content: bytes, section: str) -> bytes:
    """The part of a message a BODY[section] names: all, HEADER, TEXT or HEADER.FIELDS[.NOT] (names)."""
    header, text = _header_and_text(content)
    upper = section.upper().strip()
    if upper == "":
        return content
    if upper == "HEADER":
        return header
    if upper == "TEXT":
        return text
    fields = _HEADER_FIELDS.match(section.strip())
    if fields:
        names = {name.upper() for name in fields.group(2).split()}
        return _header_fields(header, names, keep=fields.group(1) is None)
    raise Bad(f"unsupported section BODY[{section}] (the sandbox serves [], HEADER, TEXT and HEADER.FIELDS)")


# --- one client connection -------------------------------------------------------------------------------


class Session(socketserver.StreamRequestHandler):
    """One client: reads tagged commands and answers them, until LOGOUT or the connection closes."""

    server: ImapTcpServer
    timeout = IDLE_SECONDS
    wbufsize = 256 * 1024  # answers are buffered and flushed once per command (no Nagle/delayed-ACK stalls)
    disable_nagle_algorithm = True

    def setup(self) -> None:
        super().setup()
        self.user: str | None = None
        self.view: list[Message] | None = None  # the selected INBOX as this session numbers it
        self.closing = False
        self.server.track(self.connection, add=True)

    def finish(self) -> None:
        self.server.track(self.connection, add=False)
        with suppress(OSError):  # the client left while the last answer was sent
            super().finish()

    @property
    def mailbox(self) -> Mailbox:
        return self.server.mailbox

    def send(self, *lines: str | bytes) -> None:
        """Write lines (str as UTF-8), each ended by CRLF."""
        self.wfile.write(b"".join((line.encode() if isinstance(line, str) else line) + b"\r\n" for line in lines))

    def handle(self) -> None:
        self.send(f"* OK [CAPABILITY {CAPABILITIES}] Canalis sandbox IMAP4rev1 ready")
        self.wfile.flush()
        try:
            while not self.closing:
                command = self.read_command()
                if command is None:
                    return
                self.run(command)
                self.wfile.flush()
        except OSError:  # the client went away or stayed silent past the autologout timer
            return

    def read_command(self) -> bytes | None:
        """One command, its literals included (a `+` go-ahead is sent for each synchronising literal)."""
        parts: list[bytes] = []
        while True:
            line = self.rfile.readline(MAX_LINE)
            if not line:
                return None
            if not line.endswith(b"\n"):
                self.send("* BYE command line too long")
                return None
            parts.append(line)
            literal = _LITERAL_AT_END.search(line)
            if literal is None:
                command = b"".join(parts)
                return command[:-2] if command.endswith(b"\r\n") else command[:-1]
            size = int(literal.group(1))
            if size > MAX_LITERAL:
                self.send(f"* BYE literal of {size} bytes is too large")
                return None
            if not literal.group(2):
                self.send("+ Ready for literal data")
                self.wfile.flush()
            data = self.rfile.read(size)
            if len(data) < size:
                return None
            parts.append(data)

    def run(self, command: bytes) -> None:
        """Parse and run one command, answering with its tagged OK, NO or BAD."""
        parser = Parser(command)
        tag = "*"
        try:
            tag = parser.text()
            if not tag or tag in ("*", "+"):
                tag = "*"
                raise Bad("invalid tag")
            name = parser.text().upper()
            if name == "UID":
                name = "UID " + parser.text().upper()
            handler = self.COMMANDS.get(name)
            if handler is None:
                raise Bad(f"unknown or unsupported command {name!r}")
            state = "any" if name in ("CAPABILITY", "NOOP", "LOGOUT") else "login" if name == "LOGIN" else "auth"
            if state == "login" and self.user is not None:
                raise Bad("already signed in")
            if state == "auth" and self.user is None:
                raise Bad("sign in first (LOGIN)")
            if name in SELECTED_ONLY and self.view is None:
                raise Bad("no mailbox selected (SELECT or EXAMINE first)")
            done = handler(self, parser)
            self.send(f"{tag} OK {done}")
        except Bad as error:
            self.send(f"{tag} BAD {error}")
        except No as error:
            self.send(f"{tag} NO {error}")
        except FileNotFoundError as error:  # a file left the Maildir between the scan and the read
            self.send(f"{tag} NO [UNAVAILABLE] message file is gone: {Path(error.filename or '').name}")
        except OSError:  # the connection itself failed: handle() ends the session
            raise
        except Exception:  # a bug here must not end the client's session silently
            LOG.exception("sandbox IMAP: command failed: %r", command[:200])
            self.send(f"{tag} NO [SERVERBUG] internal error in the sandbox IMAP server")

    # -- commands ------------------------------------------------------------------------------------------

    def capability(self, parser: Parser) -> str:
        self.send(f"* CAPABILITY {CAPABILITIES}")
        return "CAPABILITY completed"

    def noop(self, parser: Parser) -> str:
        self.refresh()
        return "NOOP completed"

    def check(self, parser: Parser) -> str:
        self.refresh()
        return "CHECK completed"

    def logout(self, parser: Parser) -> str:
        self.send("* BYE Canalis sandbox IMAP signing off")
        self.closing = True
        return "LOGOUT completed"

    def login(self, parser: Parser) -> str:
        user, password = parser.text(), parser.text()
        if not parser.at_end():
            raise Bad("LOGIN takes a user name and a password")
        if (user.lower(), password) != (self.server.username.lower(), self.server.password):
            raise No("[AUTHENTICATIONFAILED] Authentication failed.")
        self.user = user
        return f"[CAPABILITY {CAPABILITIES}] Logged in"

    def list_mailboxes(self, parser: Parser) -> str:
        reference, pattern = parser.text(), parser.text()
        if not pattern:
            self.send('* LIST (\\Noselect) "/" ""')
        elif _matches(reference + pattern, MAILBOX):
            self.send(f'* LIST (\\HasNoChildren) "/" {MAILBOX}')
        return "LIST completed"

    def select(self, parser: Parser, *, readonly: bool = False) -> str:
        name = parser.text()
        self.view = None
        if name.upper() != MAILBOX:
            raise No(f"[NONEXISTENT] Mailbox {name!r} does not exist (the sandbox has only INBOX)")
        self.view = self.mailbox.scan()
        unseen = next((seq for seq, m in enumerate(self.view, start=1) if "\\Seen" not in m.flags), None)
        self.send(
            f"* FLAGS ({' '.join(SYSTEM_FLAGS)})",
            "* OK [PERMANENTFLAGS ()] Flags are read-only in the sandbox",
            f"* {len(self.view)} EXISTS",
            f"* {sum(m.recent for m in self.view)} RECENT",
            *([f"* OK [UNSEEN {unseen}] First unseen"] if unseen else []),
            f"* OK [UIDVALIDITY {self.mailbox.uidvalidity}] UIDs valid",
            f"* OK [UIDNEXT {self.mailbox.uidnext}] Predicted next UID",
        )
        return f"[{'READ-ONLY' if readonly else 'READ-WRITE'}] {'EXAMINE' if readonly else 'SELECT'} completed"

    def examine(self, parser: Parser) -> str:
        return self.select(parser, readonly=True)

    def close_mailbox(self, parser: Parser) -> str:
        self.view = None
        return "CLOSE completed"

    def append(self, parser: Parser) -> str:
        name = parser.text()
        arguments = parser.rest()
        if not arguments or not isinstance(arguments[-1], bytes):
            raise Bad("APPEND needs the message as a literal")
        flags: list[str] = []
        when = None
        for argument in arguments[:-1]:
            if isinstance(argument, list):
                flags = [str(flag) for flag in argument]
            else:
                when = parse_internal_date(argument.decode() if isinstance(argument, bytes) else argument)
        if name.upper() != MAILBOX:
            raise No(f"[TRYCREATE] Mailbox {name!r} does not exist (the sandbox has only INBOX)")
        self.mailbox.append(arguments[-1], flags, when)
        self.refresh()
        return "APPEND completed"

    def search(self, parser: Parser, *, uids: bool = False) -> str:
        assert self.view is not None
        tokens = parser.rest()
        if len(tokens) >= 2 and str(tokens[0]).upper() == "CHARSET":
            tokens = tokens[2:]
        if not tokens:
            raise Bad("SEARCH needs a criterion")
        test = _criteria(iter(tokens), self.view)
        found = [message.uid if uids else seq for seq, message in enumerate(self.view, start=1) if test(seq, message)]
        self.send(" ".join(["* SEARCH", *map(str, found)]))
        return f"{'UID ' if uids else ''}SEARCH completed"

    def uid_search(self, parser: Parser) -> str:
        return self.search(parser, uids=True)

    def fetch(self, parser: Parser, *, uids: bool = False) -> str:
        assert self.view is not None
        numbers = parser.text()
        spec = parser.token()
        if not parser.at_end():
            raise Bad("FETCH takes a message set and items")
        items = _fetch_items(spec)
        if uids and "UID" not in items:
            items.insert(0, "UID")
        star = self.view[-1].uid if uids and self.view else len(self.view)
        ranges = parse_set(numbers, star, uids=uids)
        for seq, message in enumerate(self.view, start=1):
            if in_set(message.uid if uids else seq, ranges):
                self.wfile.write(_fetch_response(seq, message, items))
        return f"{'UID ' if uids else ''}FETCH completed"

    def uid_fetch(self, parser: Parser) -> str:
        return self.fetch(parser, uids=True)

    def refresh(self) -> None:
        """Tell the client about files gone (EXPUNGE) and new ones (EXISTS) since its view was taken."""
        if self.view is None:
            return
        now = self.mailbox.scan()
        present = {message.uid for message in now}
        for seq in range(len(self.view), 0, -1):
            if self.view[seq - 1].uid not in present:
                self.send(f"* {seq} EXPUNGE")
        known = {message.uid for message in self.view}
        added = [message for message in now if message.uid not in known]
        self.view = [message for message in self.view if message.uid in present] + added
        if added:
            self.send(f"* {len(self.view)} EXISTS", f"* {sum(m.recent for m in self.view)} RECENT")

    COMMANDS: dict[str, Callable[[Session, Parser], str]] = {
        "CAPABILITY": capability,
        "NOOP": noop,
        "CHECK": check,
        "LOGOUT": logout,
        "LOGIN": login,
        "LIST": list_mailboxes,
        "SELECT": select,
        "EXAMINE": examine,
        "CLOSE": close_mailbox,
        "APPEND": append,
        "SEARCH": search,
        "UID SEARCH": uid_search,
        "FETCH": fetch,
        "UID FETCH": uid_fetch,
    }


def _matches(pattern: str, name: str) -> bool:
    """Whether a LIST pattern (`*` anything, `%` anything but the delimiter) names the mailbox."""
    expression = "".join(".*" if c == "*" else "[^/]*" if c == "%" else re.escape(c) for c in pattern)
    return re.fullmatch(expression, name, re.IGNORECASE) is not None


_FLAG_KEYS: dict[str, Callable[[Message], bool]] = {
    "SEEN": lambda m: "\\Seen" in m.flags,
    "UNSEEN": lambda m: "\\Seen" not in m.flags,
    "ANSWERED": lambda m: "\\Answered" in m.flags,
    "UNANSWERED": lambda m: "\\Answered" not in m.flags,
    "FLAGGED": lambda m: "\\Flagged" in m.flags,
    "UNFLAGGED": lambda m: "\\Flagged" not in m.flags,
    "DELETED": lambda m: "\\Deleted" in m.flags,
    "UNDELETED": lambda m: "\\Deleted" not in m.flags,
    "DRAFT": lambda m: "\\Draft" in m.flags,
    "UNDRAFT": lambda m: "\\Draft" not in m.flags,
    "RECENT": lambda m: m.recent,
    "NEW": lambda m: m.recent and "\\Seen" not in m.flags,
    "OLD": lambda m: not m.recent,
}

Test = Callable[[int, Message], bool]


def _criteria(tokens: Iterator[Any], view: list[Message]) -> Test:
    """All search keys given, ANDed: ALL, UID set, message set, flag keys, NOT, OR and parenthesised groups."""
    tests = []
    for token in tokens:
        tests.append(_criterion(token, tokens, view))
    return lambda seq, message: all(test(seq, message) for test in tests)


def _criterion(token: Any, tokens: Iterator[Any], view: list[Message]) -> Test:
    if isinstance(token, list):
        return _criteria(iter(token), view)
    key = token.upper() if isinstance(token, str) else ""
    if key == "ALL":
        return lambda seq, message: True
    if key in _FLAG_KEYS:
        flag_test = _FLAG_KEYS[key]
        return lambda seq, message: flag_test(message)
    if key == "NOT":
        inner = _criterion(_next(tokens), tokens, view)
        return lambda seq, message: not inner(seq, message)
    if key == "OR":
        left = _criterion(_next(tokens), tokens, view)
        right = _criterion(_next(tokens), tokens, view)
        return lambda seq, message: left(seq, message) or right(seq, message)
    if key == "UID":
        uid_ranges = parse_set(str(_next(tokens)), view[-1].uid if view else 0, uids=True)
        return lambda seq, message: in_set(message.uid, uid_ranges)
    if key and key[0] in "0123456789*":
        seq_ranges = parse_set(key, len(view), uids=False)
        return lambda seq, message: in_set(seq, seq_ranges)
    raise Bad(f"unsupported search key {token!r} (the sandbox knows ALL, UID, message sets, flags, NOT and OR)")


def _next(tokens: Iterator[Any]) -> Any:
    try:
        return next(tokens)
    except StopIteration:
        raise Bad("a search key is missing its argument") from None


def _fetch_items(spec: str | bytes | list[Any]) -> list[str]:
    """The FETCH items asked for, in order, macros expanded; unsupported items are a BAD."""
    raw = spec if isinstance(spec, list) else [spec]
    items: list[str] = []
    for item in raw:
        if not isinstance(item, str):
            raise Bad("FETCH items must be atoms")
        upper = item.upper()
        if upper in _FETCH_MACROS:
            items.extend(_FETCH_MACROS[upper])
        elif upper in ("UID", "FLAGS", "INTERNALDATE", "RFC822.SIZE", "RFC822", "RFC822.HEADER", "RFC822.TEXT"):
            items.append(upper)
        elif _BODY_ITEM.match(item):
            section_bytes(b"", _BODY_ITEM.match(item).group(2))  # type: ignore[union-attr]  # BAD if unsupported
            items.append(item)
        else:
            raise Bad(f"unsupported FETCH item {item!r}")
    if not items:
        raise Bad("FETCH needs items")
    return items


def _fetch_response(seq: int, message: Message, items: list[str]) -> bytes:
    """One untagged FETCH answer; message bytes go out as literals."""
    content: bytes | None = None
    parts: list[bytes] = []
    for item in items:
        if item == "UID":
            parts.append(f"UID {message.uid}".encode())
        elif item == "FLAGS":
            flags = message.flags + (("\\Recent",) if message.recent else ())
            parts.append(f"FLAGS ({' '.join(flags)})".encode())
        elif item == "INTERNALDATE":
            parts.append(f'INTERNALDATE "{internal_date(message.internal_date)}"'.encode())
        else:
            content = message.content() if content is None else content
            if item == "RFC822.SIZE":
                parts.append(f"RFC822.SIZE {len(content)}".encode())
                continue
            if item.startswith("RFC822"):
                section = {"RFC822": "", "RFC822.HEADER": "HEADER", "RFC822.TEXT": "TEXT"}[item]
                name, data = item, section_bytes(content, section)
            else:
                match = _BODY_ITEM.match(item)
                assert match is not None
                _, section, start, count = match.groups()
                data = section_bytes(content, section)
                name = f"BODY[{section.upper()}]"
                if start is not None:
                    data = data[int(start) : int(start) + int(count)] if count else data[int(start) :]
                    name += f"<{start}>"
            parts.append(f"{name} {{{len(data)}}}\r\n".encode() + data)
    return f"* {seq} FETCH (".encode() + b" ".join(parts) + b")\r\n"


# --- the server ------------------------------------------------------------------------------------------


class ImapTcpServer(socketserver.ThreadingTCPServer):
    """A thread per client; open client sockets are tracked so stop() can close them."""

    daemon_threads = True
    block_on_close = False
    allow_reuse_address = True

    def __init__(self, address: tuple[str, int], mailbox: Mailbox, username: str, password: str) -> None:
        self.mailbox = mailbox
        self.username = username
        self.password = password
        self._clients: set[socket.socket] = set()
        self._clients_lock = threading.Lock()
        super().__init__(address, Session)

    def track(self, client: socket.socket, *, add: bool) -> None:
        """Remember (or forget) an open client socket."""
        with self._clients_lock:
            if add:
                self._clients.add(client)
            else:
                self._clients.discard(client)

    def close_clients(self) -> None:
        """Cut every open client connection (their threads then end)."""
        with self._clients_lock:
            clients = list(self._clients)
        for client in clients:
            with suppress(OSError):
                client.shutdown(socket.SHUT_RDWR)


@dataclass
class ImapServerHandle:
    """A running sandbox IMAP server: where it listens, how to sign in, and stop()."""

    host: str
    port: int
    username: str
    password: str
    mailbox: Mailbox
    _server: ImapTcpServer = field(repr=False)
    _thread: threading.Thread = field(repr=False)

    def credentials(self) -> dict[str, str]:
        """Host, port, user name and password (published test values: they only open the local sandbox)."""
        return {"host": self.host, "port": str(self.port), "username": self.username, "password": self.password}

    def environment(self) -> dict[str, str]:
        """The environment variables a sandbox `imap` connection reads."""
        return {
            HOST_ENV: self.host,
            PORT_ENV: str(self.port),
            USERNAME_ENV: self.username,
            PASSWORD_ENV: self.password,
        }

    def stop(self) -> None:
        """Stop listening, cut open sessions and wait for the serving thread."""
        self._server.shutdown()
        self._server.server_close()
        self._server.close_clients()
        self._thread.join(timeout=5)

    def __enter__(self) -> ImapServerHandle:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


def is_loopback(host: str) -> bool:
    """Whether a host name or address stays on this machine."""
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def start_imap_server(
    data_dir: Path,
    host: str = "127.0.0.1",
    port: int = 0,
    *,
    username: str = USERNAME,
    password: str = PASSWORD,
) -> ImapServerHandle:
    """Serve `<data_dir>/maildir` as the INBOX of one account on host:port (0: a free port), in a thread."""
    if not is_loopback(host):
        raise ValueError(f"the sandbox IMAP server speaks plaintext and listens on loopback only, not {host!r}")
    mailbox = Mailbox(Path(data_dir) / "maildir", store_path(Path(data_dir)))
    server = ImapTcpServer((host, port), mailbox, username, password)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), name="canalis-sandbox-imap", daemon=True)
    thread.start()
    bound = int(server.server_address[1])
    return ImapServerHandle(host, bound, username, password, mailbox, server, thread)
