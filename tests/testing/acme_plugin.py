"""A small, correct connector plugin and six broken copies of it, each breaking one rule the conformance suite holds
plugins to. The conformance tests run the suite on each (written out as a plugin's own test module)."""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Iterator
from typing import Any

from pydantic import BaseModel, ConfigDict, SecretStr

from canalis.sdk import (
    ConfigError,
    HttpConnector,
    HttpSettings,
    OffsetPagination,
    Page,
    RestStream,
    StreamState,
    WriteOnlyStream,
    WriteResult,
    setting,
)

TOKEN = "acme-test-token-0123456789"
BASE = "https://api.acme.test/v1"
RECORDS = [
    {"id": "1", "email": "ada@example.org", "updated_at": "2025-01-01T10:00:00Z"},
    {"id": "2", "email": "bob@example.org", "updated_at": "2025-01-02T10:00:00Z"},
    {"id": "3", "email": "cy@example.org", "updated_at": "2025-01-03T10:00:00Z"},
    {"id": "4", "email": "dee@example.org", "updated_at": "2025-01-04T10:00:00Z"},
    {"id": "5", "email": "eve@example.org", "updated_at": "2025-01-05T10:00:00Z"},
]


def exchanges() -> list[dict[str, Any]]:
    """The recorded answers: three pages of contacts, the account, and the consent batch endpoint."""
    pages = [
        {
            "request": {"path": "/v1/contacts", "params": {"offset": start, "limit": 2}},
            "response": {"body": {"results": RECORDS[start : start + 2], "total": len(RECORDS)}},
        }
        for start in (0, 2, 4)
    ]
    return [
        *pages,
        {"request": {"path": "/v1/me"}, "response": {"body": {"account": "acme"}}},
        {"request": {"method": "POST", "path": "/v1/consents/batch"}, "response": {"body": {"errors": []}}},
    ]


SAMPLES = [{"key": f"k{n}", "email": f"p{n}@example.org", "status": "denied"} for n in range(5)]


class AcmeSettings(HttpSettings):
    env_prefix = "CANALIS_ACME"
    setting_defaults = {"base_url": BASE}
    token: SecretStr = setting(description="API token.", env="CANALIS_ACME_TOKEN", secret=True)
    batch_size: int = setting(100, description="Consents per batch call.", ge=1, le=100)


class ContactModel(BaseModel):
    model_config = ConfigDict(extra="allow")
    id: str
    email: str


class Contacts(RestStream):
    name = "contacts"
    path = "/contacts"
    records_path = "results"
    primary_key = "id"
    cursor_field = "updated_at"
    cursor_param = "updated_after"
    sorted_by_cursor = True
    record_model = ContactModel
    field_paths = ("id", "email", "updated_at")
    paginator = OffsetPagination(limit=2, total_path="total")


class Consents(WriteOnlyStream):
    name = "consents"
    batch_size = 100
    batch_path = "items"


class AcmeConnector(HttpConnector):
    name = "acme"
    kind = "crm"
    title = "Acme"
    settings_model = AcmeSettings
    streams = (Contacts, Consents)
    check_path = "/me"
    default_mapping = None

    def auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Bearer {self.settings.token.get_secret_value()}"}

    def write(self, stream: str, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        items = list(records)
        size = self.write_batch_size(stream)
        for start in range(0, len(items), size):
            batch = items[start : start + size]
            self.http.post_json("/consents/batch", {"items": [self._item(record) for record in batch]})
            yield from (WriteResult(str(record["key"]), "applied") for record in batch)

    @staticmethod
    def _item(record: dict[str, Any]) -> dict[str, Any]:
        return {"email": record["email"], "subscribed": record["status"] == "granted"}


SETTINGS = {"token": TOKEN, "batch_size": 2}


# --- broken copies ------------------------------------------------------------------------------------------


class IgnoresStateConnector(AcmeConnector):
    """Reads every record whatever the state says."""

    def read_contacts(self, state: StreamState) -> Iterator[Page]:
        return Contacts.pages(self, StreamState.empty())


class DuplicateKeysConnector(AcmeConnector):
    """Gives two different contacts the same id."""

    def read_contacts(self, state: StreamState) -> Iterator[Page]:
        for page in Contacts.pages(self, state):
            yield Page(records=[{**record, "id": "1"} for record in page.records], state=page.state)


class RetriesNothingConnector(AcmeConnector):
    """Gives up on the first throttled, failed or dropped call."""

    def build_http(self) -> Any:
        client = super().build_http()
        client.max_attempts = 1
        return client


class TokenInErrorConnector(AcmeConnector):
    """Puts its token in the error of a refused connection test."""

    def check_error(self, error: Any) -> Exception:
        token = self.settings.token.get_secret_value()
        return ConfigError(f"setting 'token': the API refused token {token}", setting="token")


class OversizedBatchesConnector(AcmeConnector):
    """Sends every record in one call, whatever its declared batch size."""

    def write(self, stream: str, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        items = list(records)
        self.http.post_json("/consents/batch", {"items": [self._item(record) for record in items]})
        yield from (WriteResult(str(record["key"]), "applied") for record in items)


class ResumesFromStartConnector(AcmeConnector):
    """Keeps no position in its page states: a read that stops starts again from the first page."""

    def read_contacts(self, state: StreamState) -> Iterator[Page]:
        pages = list(Contacts.pages(self, StreamState(cursor=state.cursor, cursor_kind=state.cursor_kind)))
        for page, last in zip(pages, itertools.chain([False] * (len(pages) - 1), [True]), strict=True):
            yield Page(records=page.records, state=page.state if last else state)
