"""The IMAP connector: a customer-service mailbox read folder by folder, incrementally by UIDVALIDITY and UID."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from canalis.connectors.imap.client import session
from canalis.connectors.imap.parser import Origin, Support, parse_message
from canalis.connectors.imap.settings import ImapSettings
from canalis.connectors.imap.streams import STREAMS
from canalis.sdk import CheckResult, Connector, Page, Rejected, Stream, StreamState


class ImapConnector(Connector):
    """Reads messages over IMAP (never changes a flag); records go to interactions through the `imap` mapping.

    The state's `extra` holds, per folder, `{uidvalidity, last_uid}`: a run reads the UIDs above `last_uid`,
    and a folder whose UIDVALIDITY changed is read again from its first message.
    """

    name = "imap"
    kind = "email"
    title = "IMAP mailbox"
    description = "A customer-service inbox read over IMAP: customer emails and support replies, with threads."
    settings_model = ImapSettings
    streams = STREAMS

    settings: ImapSettings

    def check(self) -> CheckResult:
        details: dict[str, Any] = {}
        with session(self.settings, self.connection) as imap:
            for folder in self.settings.folders:
                status = imap.examine(folder)
                details[folder] = f"{status.exists} messages, UIDVALIDITY {status.uidvalidity}"
        return CheckResult(
            ok=True,
            message=f"signed in to {self.settings.host}:{self.settings.port}; {len(details)} folders",
            details=details,
        )

    def read_pages(self, stream: type[Stream], state: StreamState) -> Iterator[Page]:
        support = Support(self.settings.support_addresses)
        limit = self.settings.max_message_bytes
        positions: dict[str, Any] = dict(state.extra)
        with session(self.settings, self.connection) as imap:
            for folder in self.settings.folders:
                status = imap.examine(folder)
                previous = positions.get(folder) if isinstance(positions.get(folder), dict) else {}
                last_uid = int(previous.get("last_uid", 0))
                if previous and previous.get("uidvalidity") != status.uidvalidity:
                    self.log.warning(
                        "%s: folder %s has a new UIDVALIDITY (%s, was %s): reading it again",
                        self.connection,
                        folder,
                        status.uidvalidity,
                        previous.get("uidvalidity"),
                    )
                    last_uid = 0
                uids = imap.uids_after(last_uid)
                for start in range(0, len(uids), self.settings.page_size):
                    batch = uids[start : start + self.settings.page_size]
                    records: list[dict[str, Any]] = []
                    rejected: list[Rejected] = []
                    for fetched in imap.fetch(batch):
                        origin = Origin(
                            folder=folder,
                            uidvalidity=status.uidvalidity,
                            uid=fetched.uid,
                            size=fetched.size,
                            flags=tuple(fetched.flags),
                            internal_date=fetched.internal_date,
                            cut=fetched.size is not None and fetched.size > limit,
                        )
                        parsed = parse_message(fetched.raw, origin, support, self.settings.max_body_chars)
                        if isinstance(parsed, Rejected):
                            rejected.append(parsed)
                        else:
                            records.append(parsed)
                    positions[folder] = {"uidvalidity": status.uidvalidity, "last_uid": batch[-1]}
                    yield Page(records=records, state=_state(positions), rejected=rejected)
                current = {"uidvalidity": status.uidvalidity, "last_uid": uids[-1] if uids else last_uid}
                if positions.get(folder) != current:
                    positions[folder] = current
                    yield Page(records=[], state=_state(positions))


def _state(positions: dict[str, Any]) -> StreamState:
    return StreamState(
        cursor=None, cursor_kind="integer", extra={name: dict(value) for name, value in positions.items()}
    )
