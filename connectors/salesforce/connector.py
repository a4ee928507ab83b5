"""The Salesforce connector: SOQL reads incremental on SystemModstamp (REST or Bulk API 2.0), Contact and
PricebookEntry writes through sObject Collections."""

from __future__ import annotations

import re
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import requests

from canalis.connectors.salesforce.client import SalesforceClient, bulk_row_to_record
from canalis.connectors.salesforce.settings import SalesforceSettings, auth_plan
from canalis.connectors.salesforce.streams import CURSOR_FIELD, STREAMS, Contacts, SObjectStream, WriteStream
from canalis.connectors.salesforce.writes import PriceWriter, write_consents, write_customers
from canalis.sdk import (
    ApiError,
    CheckResult,
    ConfigError,
    Connector,
    ConnectorError,
    Page,
    Stream,
    StreamState,
    WriteResult,
    parse_cursor_datetime,
)
from canalis.sdk.base import ErasureMode


def soql_datetime(moment: datetime) -> str:
    """A SOQL datetime literal in UTC with milliseconds: 2026-01-05T10:00:00.123Z."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _stamp(record: Any) -> datetime | None:
    """A record's SystemModstamp, or None when the record or its stamp cannot be read."""
    value = record.get(CURSOR_FIELD) if isinstance(record, dict) else None
    if not isinstance(value, str):
        return None
    try:
        return parse_cursor_datetime(value)
    except ValueError:
        return None


SALESFORCE_ID = re.compile(r"[A-Za-z0-9]{15}(?:[A-Za-z0-9]{3})?")
IDS_PER_QUERY = 200  # keeps a query well under SOQL's length limit


class SalesforceConnector(Connector):
    """Salesforce CRM through the REST, Composite and Bulk API 2.0 interfaces."""

    name = "salesforce"
    kind = "crm"
    title = "Salesforce"
    description = (
        "Accounts, contacts, cases, tasks, products and pricebook entries read incrementally on SystemModstamp; "
        "customers, consents and prices written back to Contacts and PricebookEntries."
    )
    settings_model = SalesforceSettings
    streams = STREAMS
    erasure: ClassVar[dict[str, ErasureMode]] = {"contacts": "delete"}

    settings: SalesforceSettings

    def __init__(
        self,
        settings: SalesforceSettings,
        *,
        connection: str | None = None,
        session: requests.Session | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        super().__init__(settings, connection=connection)
        self._session = session
        self._sleep = sleep
        self._clock = clock
        self._client: SalesforceClient | None = None

    @property
    def client(self) -> SalesforceClient:
        """The API client (built on first use; its login happens on the first call)."""
        if self._client is None:
            self._client = SalesforceClient(
                self.settings, connection=self.connection, session=self._session, sleep=self._sleep, clock=self._clock
            )
        return self._client

    def close(self) -> None:
        if self._client is not None:
            self._client.close()

    def fields_of(self, stream: type[SObjectStream]) -> list[str]:
        """The fields a stream asks for (contacts also read the configured external id field)."""
        fields = list(stream.fields)
        if stream is Contacts and self.settings.external_id_field not in fields:
            fields.append(self.settings.external_id_field)
        return fields

    # -- check ----------------------------------------------------------------------------------------

    def check(self) -> CheckResult:
        auth_plan(self.settings, self.connection)
        client = self.client
        try:
            versions = {str(v.get("version")) for v in client.versions()}
        except ApiError as error:
            raise ConfigError(
                f"connection '{self.connection}': setting 'instance_url': {error}",
                setting="instance_url",
                connection=self.connection,
            ) from None
        if versions and self.settings.api_version not in versions:
            raise ConfigError(
                f"connection '{self.connection}': setting 'api_version': {self.settings.api_version} is not served "
                f"by this org (newest: {max(versions, key=float)})",
                setting="api_version",
                connection=self.connection,
            )
        try:
            described = {stream.sobject: client.field_types(stream.sobject) for stream in self._read_streams()}
        except ApiError as error:
            if error.status == 401:
                setting = "access_token" if client.plan.flow == "access_token" else "password"
                raise ConfigError(
                    f"connection '{self.connection}': setting '{setting}': {error}",
                    setting=setting,
                    connection=self.connection,
                ) from None
            raise
        missing = {
            stream.name: [f for f in self.fields_of(stream) if f not in described[stream.sobject]]
            for stream in self._read_streams()
        }
        details: dict[str, Any] = {
            "instance_url": client.http.base_url,
            "api_version": self.settings.api_version,
            "login_flow": client.plan.flow,
            "fields_not_in_org": {name: fields for name, fields in missing.items() if fields},
        }
        if client.api_usage:
            details["api_usage"] = f"{client.api_usage[0]}/{client.api_usage[1]}"
        if self.settings.external_id_field not in described["Contact"]:
            return CheckResult(
                ok=False,
                message=f"setting 'external_id_field': Contact has no field {self.settings.external_id_field}; "
                "reads work, customer writes will fail until the field exists",
                details=details,
            )
        return CheckResult(ok=True, message=f"logged in to {client.http.base_url}", details=details)

    def _read_streams(self) -> list[type[SObjectStream]]:
        return [stream for stream in self.declared_streams() if issubclass(stream, SObjectStream)]

    # -- reads ----------------------------------------------------------------------------------------

    def read_pages(self, stream: type[Stream], state: StreamState) -> Iterator[Page]:
        if issubclass(stream, WriteStream):
            yield Page(records=[], state=state)
            return
        if not issubclass(stream, SObjectStream):
            raise ConnectorError(f"salesforce: stream '{stream.name}' is not an sObject stream")
        client = self.client
        types = client.field_types(stream.sobject)
        fields = [field for field in self.fields_of(stream) if field in types]
        for required in ("Id", CURSOR_FIELD):
            if required not in fields:
                raise ConnectorError(f"salesforce: {stream.sobject} has no {required} field visible to this user")
        since = state.since(timedelta(seconds=self.settings.lookback_seconds))
        where = f" WHERE {CURSOR_FIELD} > {soql_datetime(since)}" if since else ""
        select = f"SELECT {', '.join(fields)} FROM {stream.sobject}{where}"
        if self.settings.bulk_enabled:
            expected = client.count(f"SELECT COUNT() FROM {stream.sobject}{where}")
            if expected > self.settings.bulk_threshold:
                self.log.info("salesforce: %s has %d records to read, using Bulk API 2.0", stream.name, expected)
                yield from self._read_bulk(stream, select, types, state)
                return
        # queryAll: records deleted since the last read come too (IsDeleted true) and become tombstones
        for body in client.query_pages(f"{select} ORDER BY {CURSOR_FIELD} ASC, Id ASC", include_deleted=True):
            records = body["records"]
            state = _advance(state, records, final=bool(body.get("done", True)))
            yield Page(records=records, state=state)

    def fetches_by_id(self, stream: str) -> bool:
        """sObjects are fetched by Id through the query API."""
        return issubclass(self.stream(stream), SObjectStream)

    def read_records_by_id(self, stream: str, ids: Sequence[str]) -> Iterator[dict[str, Any]]:
        """sObjects by Id (`WHERE Id IN (...)`, 200 at a time), with the fields a read selects; text that is
        not a Salesforce id is never put in a query."""
        sobject = self.stream(stream)
        if not issubclass(sobject, SObjectStream):
            raise ConnectorError(f"salesforce: stream '{stream}' is not an sObject stream")
        client = self.client
        types = client.field_types(sobject.sobject)
        fields = [field for field in self.fields_of(sobject) if field in types]
        valid = sorted({value for value in ids if SALESFORCE_ID.fullmatch(str(value))})
        for start in range(0, len(valid), IDS_PER_QUERY):
            listed = ", ".join(f"'{value}'" for value in valid[start : start + IDS_PER_QUERY])
            for body in client.query_pages(f"SELECT {', '.join(fields)} FROM {sobject.sobject} WHERE Id IN ({listed})"):
                yield from body["records"]

    def _read_bulk(
        self, stream: type[SObjectStream], select: str, types: dict[str, str], state: StreamState
    ) -> Iterator[Page]:
        """Bulk results come unordered, so the cursor only moves once the whole job has been read."""
        newest: datetime | None = None
        for rows in self.client.bulk_query(select):
            records = [bulk_row_to_record(stream.sobject, row, types) for row in rows]
            stamps = [s for s in (_stamp(r) for r in records) if s is not None]
            if stamps:
                newest = max([newest, *stamps]) if newest else max(stamps)
            yield Page(records=records, state=state)
        yield Page(records=[], state=state.advanced(newest) if newest else state)

    # -- writes ---------------------------------------------------------------------------------------

    def erase(self, stream: str, source_id: str) -> WriteResult:
        """Delete the record (Salesforce keeps it in the recycle bin for 15 days, then purges it)."""
        if stream not in self.erasure:
            return super().erase(stream, source_id)
        sobject = self.stream(stream).sobject  # type: ignore[attr-defined]
        deleted = self.client.delete_record(sobject, source_id)
        return WriteResult(record_key=source_id, status="applied" if deleted else "unchanged")

    def write(self, stream: str, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        if stream == "customers":
            return write_customers(self.client, self.settings, records)
        if stream == "consents":
            return write_consents(self.client, self.settings, records)
        if stream == "prices":
            return PriceWriter(self.client, self.settings).write(records)
        return super().write(stream, records)


def _advance(state: StreamState, records: list[dict[str, Any]], *, final: bool) -> StreamState:
    """The state once a page is stored: on the last page its newest stamp; on other pages the newest stamp
    strictly below the page's last one, so records sharing that stamp on the next page are never skipped."""
    stamps = [s for s in (_stamp(r) for r in records) if s is not None]
    if not stamps:
        return state
    newest = max(stamps)
    if final:
        return state.advanced(newest)
    below = [s for s in stamps if s < newest]
    return state.advanced(max(below)) if below else state
