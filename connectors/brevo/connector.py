"""The Brevo connector: contacts, lists, blocked contacts and email events in; customers and consents out."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime
from typing import Any

import requests

from canalis.connectors.brevo.client import BrevoClient
from canalis.connectors.brevo.readers import StreamReader
from canalis.connectors.brevo.settings import BrevoSettings
from canalis.connectors.brevo.streams import STREAMS, BrevoStream
from canalis.connectors.brevo.writers import Writer
from canalis.sdk import (
    ApiError,
    CheckResult,
    ConfigError,
    Connector,
    ConnectorError,
    ConnectorSettings,
    Page,
    Stream,
    StreamState,
    WriteResult,
)


class BrevoConnector(Connector):
    """Brevo (email marketing) through its API v3, authenticated with an API key."""

    name = "brevo"
    kind = "marketing"
    title = "Brevo"
    description = "Email marketing contacts, lists, blocklist and email events; writes contacts and consents."
    settings_model = BrevoSettings
    streams = STREAMS

    settings: BrevoSettings

    def __init__(
        self,
        settings: ConnectorSettings,
        *,
        connection: str | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], datetime] | None = None,
    ) -> None:
        super().__init__(settings, connection=connection)
        self._session = session
        self._sleep = sleep
        self._clock = clock or (lambda: datetime.now(UTC))
        self._client: BrevoClient | None = None

    @property
    def client(self) -> BrevoClient:
        """The API client, built on first use (no network I/O happens before a read, write or check)."""
        if self._client is None:
            self._client = BrevoClient(self.settings, session=self._session, sleep=self._sleep)
        return self._client

    def close(self) -> None:
        """Close the client's connections."""
        if self._client is not None:
            self._client.close()

    def check(self) -> CheckResult:
        """Read the account behind the key, and check the configured promotional lists exist."""
        try:
            account = self.client.account()
        except ApiError as error:
            raise self._setting_error(error) from None
        lists = {record.get("id") for page in self.client_lists() for record in page}
        missing = [list_id for list_id in self.settings.promotional_list_ids if list_id not in lists]
        if missing:
            raise ConfigError(
                f"connection '{self.connection}': setting 'promotional_list_ids': list {missing[0]} does not exist "
                f"in this Brevo account (lists: {', '.join(str(item) for item in sorted(lists, key=str))})",
                setting="promotional_list_ids",
                connection=self.connection,
            )
        if self.settings.suppression == "lists" and not self.settings.promotional_list_ids:
            raise ConfigError(
                f"connection '{self.connection}': setting 'promotional_list_ids' is required "
                "when suppression is 'lists'",
                setting="promotional_list_ids",
                connection=self.connection,
            )
        company = account.get("companyName") or account.get("email") or "Brevo account"
        return CheckResult(ok=True, message=f"connected to {company}", details={"lists": len(lists)})

    def client_lists(self) -> Iterator[list[dict[str, Any]]]:
        """Every contact list, page by page."""
        for page in StreamReader(self.client, self.settings, self._clock).lists(StreamState.empty()):
            yield page.records

    def read_pages(self, stream: type[Stream], state: StreamState) -> Iterator[Page]:
        if not issubclass(stream, BrevoStream) or not stream.readable:
            return
        reader = StreamReader(self.client, self.settings, self._clock)
        readers: dict[str, Callable[[StreamState], Iterator[Page]]] = {
            "contacts": reader.contacts,
            "lists": reader.lists,
            "blocked_contacts": reader.blocked_contacts,
            "email_events": reader.email_events,
        }
        yield from readers[stream.name](state)

    def write(self, stream: str, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        declared = self.stream(stream)
        if not declared.writable:
            raise ConnectorError(f"{self.name}: stream '{stream}' is read-only")
        writer = Writer(self.client, self.settings)
        yield from writer.customers(records) if stream == "customers" else writer.consents(records)

    def _setting_error(self, error: ApiError) -> Exception:
        """The setting a failed connection test points to, or the API error itself."""
        if error.status in (401, 403):
            setting, env, why = (
                "api_key",
                "CANALIS_BREVO_API_KEY",
                f"was refused by Brevo ({error.detail or error.status})",
            )
        elif error.status is None or error.status == 404:
            setting, env, why = "base_url", "CANALIS_BREVO_BASE_URL", f"does not reach the Brevo API ({error})"
        else:
            return error
        return ConfigError(
            f"connection '{self.connection}': setting '{setting}' ({env}) {why}",
            setting=setting,
            connection=self.connection,
        )
