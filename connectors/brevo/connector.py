"""The Brevo connector: contacts, lists, blocked contacts and email events in; customers and consents out."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

from canalis.connectors.brevo.client import BrevoClient
from canalis.connectors.brevo.readers import StreamReader
from canalis.connectors.brevo.settings import BrevoSettings
from canalis.connectors.brevo.streams import STREAMS
from canalis.connectors.brevo.writers import Writer
from canalis.sdk import (
    ApiError,
    CheckResult,
    ConnectorError,
    ConnectorSettings,
    HttpConnector,
    Page,
    StreamState,
    WriteResult,
)
from canalis.sdk.base import ErasureMode


class BrevoConnector(HttpConnector):
    """Brevo (email marketing) through its API v3, authenticated with an API key."""

    name = "brevo"
    kind = "marketing"
    title = "Brevo"
    description = "Email marketing contacts, lists, blocklist and email events; writes contacts and consents."
    settings_model = BrevoSettings
    streams = STREAMS
    erasure: ClassVar[dict[str, ErasureMode]] = {"contacts": "delete"}

    def erase(self, stream: str, source_id: str) -> WriteResult:
        """Delete the contact (its email events stay in Brevo's statistics, which no API deletes)."""
        if stream not in self.erasure:
            return super().erase(stream, source_id)
        deleted = self.client.delete_contact(source_id)
        return WriteResult(record_key=source_id, status="applied" if deleted else "unchanged")

    settings: BrevoSettings

    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        clock: Callable[[], datetime] | None = None,
        **options: Any,
    ) -> None:
        """`clock` replaces the current time read windows start at; `session` and `sleep` options replace the HTTP
        session and the waiting (tests, embedding)."""
        super().__init__(settings, **options)
        self._clock = clock or (lambda: datetime.now(UTC))
        self._client: BrevoClient | None = None

    def auth_headers(self) -> dict[str, str]:
        return {"api-key": self.settings.api_key.get_secret_value()}

    def now(self) -> datetime:
        return self._clock()

    @property
    def client(self) -> BrevoClient:
        """The Brevo calls, over the connector's HTTP client (no network I/O before a read, write or check)."""
        if self._client is None:
            self._client = BrevoClient(self.http)
        return self._client

    def check(self) -> CheckResult:
        """Read the account behind the key, and check the configured promotional lists exist."""
        try:
            account = self.client.account()
        except ApiError as error:
            raise self.check_error(error) from None
        lists = {record.get("id") for page in self.client_lists() for record in page}
        missing = [list_id for list_id in self.settings.promotional_list_ids if list_id not in lists]
        if missing:
            known = ", ".join(str(item) for item in sorted(lists, key=str))
            raise self.setting_error(
                "promotional_list_ids", f"names list {missing[0]}, which does not exist in this Brevo account ({known})"
            )
        if self.settings.suppression == "lists" and not self.settings.promotional_list_ids:
            raise self.setting_error("promotional_list_ids", "is required when suppression is 'lists'")
        company = account.get("companyName") or account.get("email") or "Brevo account"
        return CheckResult(ok=True, message=f"connected to {company}", details={"lists": len(lists)})

    def client_lists(self) -> Iterator[list[dict[str, Any]]]:
        """Every contact list, page by page."""
        for page in self.reader().lists(StreamState.empty()):
            yield page.records

    def reader(self) -> StreamReader:
        """The readers of Brevo's windowed streams, over this connection's client and settings."""
        return StreamReader(self.client, self.settings, self._clock)

    def read_contacts(self, state: StreamState) -> Iterator[Page]:
        return self.reader().contacts(state)

    def read_lists(self, state: StreamState) -> Iterator[Page]:
        return self.reader().lists(state)

    def read_blocked_contacts(self, state: StreamState) -> Iterator[Page]:
        return self.reader().blocked_contacts(state)

    def read_email_events(self, state: StreamState) -> Iterator[Page]:
        return self.reader().email_events(state)

    def write(self, stream: str, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        declared = self.stream(stream)
        if not declared.writable:
            raise ConnectorError(f"{self.name}: stream '{stream}' is read-only")
        writer = Writer(self.client, self.settings)
        yield from writer.customers(records) if stream == "customers" else writer.consents(records)
