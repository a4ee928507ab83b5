"""The HubSpot connector: contacts, companies, tickets, deals, products and email events in; contacts and
marketing subscription status out."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from canalis.connectors.hubspot.client import HubSpotClient, ObjectPage
from canalis.connectors.hubspot.optout import OPTOUT_PREFIX, optout_from, optout_properties
from canalis.connectors.hubspot.settings import HubSpotSettings
from canalis.connectors.hubspot.streams import (
    LINE_ITEM_PROPERTIES,
    STREAMS,
    Contacts,
    CrmStream,
    Deals,
    Products,
)
from canalis.connectors.hubspot.writes import write_consents, write_customers
from canalis.sdk import (
    ApiError,
    CheckResult,
    ConnectorError,
    Deletion,
    HttpConnector,
    Page,
    StreamState,
    WriteResult,
    format_cursor,
    parse_cursor_datetime,
    prefetched,
)
from canalis.sdk.base import ErasureMode


class HubSpotConnector(HttpConnector):
    """Reads a HubSpot portal's CRM objects and marketing email events; writes contacts and subscriptions."""

    name = "hubspot"
    kind = "crm"
    title = "HubSpot"
    description = "HubSpot CRM: contacts, companies, tickets, deals with line items, products and email events."
    settings_model = HubSpotSettings
    streams = STREAMS
    erasure: ClassVar[dict[str, ErasureMode]] = {"contacts": "delete"}

    settings: HubSpotSettings

    def __init__(
        self,
        settings: HubSpotSettings,
        *,
        clock: Callable[[], float] = time.time,
        **options: Any,
    ) -> None:
        """`clock` (epoch seconds) replaces the time email event windows end at; `session` and `sleep` options
        replace the HTTP session and the waiting (tests, embedding)."""
        super().__init__(settings, **options)
        self._clock = clock
        self._client: HubSpotClient | None = None
        self._subscription_id: str | None = settings.marketing_subscription_id
        self._subscription_looked_up = settings.marketing_subscription_id is not None

    def auth_headers(self) -> dict[str, str]:
        return {
            "Authorization": f"Bearer {self.settings.access_token.get_secret_value()}",
            "Content-Type": "application/json",
        }

    @property
    def client(self) -> HubSpotClient:
        """The HubSpot calls, over the connector's HTTP client (building the connector does no I/O)."""
        if self._client is None:
            self._client = HubSpotClient(self.http)
        return self._client

    # -- check -------------------------------------------------------------------------------------

    def check(self) -> CheckResult:
        try:
            self.client.list_page("contacts", ["email"], after=None, limit=1)
        except ApiError as error:
            raise self.check_error(error) from None
        details: dict[str, Any] = {"base_url": self.settings.base_url}
        if self.settings.marketing_subscription_id is not None:
            known = {str(item.get("id")) for item in self.client.subscription_definitions()}
            if self.settings.marketing_subscription_id not in known:
                raise self.setting_error(
                    "marketing_subscription_id",
                    f"names no subscription type of the portal ({self.settings.marketing_subscription_id})",
                )
            details["marketing_subscription_id"] = self.settings.marketing_subscription_id
        return CheckResult(ok=True, message=f"HubSpot answered at {self.settings.base_url}", details=details)

    # -- erasure -----------------------------------------------------------------------------------

    def erase(self, stream: str, source_id: str) -> WriteResult:
        """Delete a contact for good with HubSpot's GDPR delete (an archive would keep it 90 days)."""
        if stream not in self.erasure:
            return super().erase(stream, source_id)
        self.client.gdpr_delete(source_id)
        return WriteResult(record_key=source_id, status="applied")

    # -- reads -------------------------------------------------------------------------------------

    def read_crm_objects(self, stream: type[CrmStream], state: StreamState) -> Iterator[Page]:
        """A CRM object type: every object through the list API, then the changed ones through search."""
        return self._read_full(stream, state) if state.cursor is None else self._read_changes(stream, state)

    def _read_full(self, stream: type[CrmStream], state: StreamState) -> Iterator[Page]:
        """Every object through the list API; the cursor becomes the time the listing started."""
        started = state.extra.get("list_started") or format_cursor(self._now(), "datetime")
        after = state.extra.get("list_after")
        properties = self._properties(stream)

        def pages(after: str | None) -> Iterator[ObjectPage]:
            while True:
                page = self.client.list_page(
                    stream.object_type,
                    properties,
                    after=after,
                    limit=self.settings.page_size,
                    associations=stream.associations,
                )
                yield page
                if page.after is None:
                    return
                after = page.after

        for page in prefetched(pages(after), self.settings.prefetch_pages):
            records = self._enrich(stream, page.results, listed=True)
            if page.after is None:
                done = StreamState(cursor_kind=state.cursor_kind).advanced(started)
                yield Page(records=records, state=done)
                return
            progress = {"list_after": page.after, "list_started": started}
            yield Page(records=records, state=StreamState(cursor_kind=state.cursor_kind, extra=progress))

    def _read_changes(self, stream: type[CrmStream], state: StreamState) -> Iterator[Page]:
        """Objects modified since the cursor (less the look-back window), oldest first, through search."""
        since = state.since(self.lookback)
        since_text = _hubspot_time(since) if since else None
        search = self.client.iter_search(
            stream.object_type, self._properties(stream), since_text, self.settings.page_size
        )
        for results in prefetched(search, self.settings.prefetch_pages):
            records = self._enrich(stream, results, listed=False)
            stamps = [item["updatedAt"] for item in results if _is_time(item.get("updatedAt"))]
            if stamps:
                state = state.advanced(max(stamps))
            yield Page(records=records, state=state)
        archived = self._archived_since(stream, since)
        if archived:
            yield Page(records=[], state=state, deleted=archived)

    def _archived_since(self, stream: type[CrmStream], since: datetime | None) -> list[Deletion]:
        """Objects archived since `since` (HubSpot lists them apart, with `archivedAt`): they become tombstones."""
        found = []
        for item in self.client.archived(stream.object_type, limit=self.settings.page_size):
            stamp = item.get("archivedAt") or item.get("updatedAt")
            if since is not None and _is_time(stamp) and parse_cursor_datetime(stamp) < since:
                continue
            if item.get("id") is not None:
                found.append(Deletion(str(item["id"]), "archived"))
        return found

    def read_email_events(self, state: StreamState) -> Iterator[Page]:
        """The email events of one time window (from the cursor less the look-back to now), page by page."""
        window = state.extra.get("window")
        offset = state.extra.get("offset")
        if window is None:
            since = state.since(self.lookback)
            window = [int(since.timestamp() * 1000) if since else None, int(self._clock() * 1000)]
            offset = None
        while True:
            page = self.client.email_events(start_ms=window[0], end_ms=window[1], offset=offset)
            if not page.has_more or not page.offset:
                end = datetime.fromtimestamp(window[1] / 1000, tz=UTC)
                done = StreamState(cursor=state.cursor, cursor_kind=state.cursor_kind).advanced(end)
                yield Page(records=page.events, state=done)
                return
            offset = page.offset
            progress = {"window": window, "offset": offset}
            yield Page(
                records=page.events,
                state=StreamState(cursor=state.cursor, cursor_kind=state.cursor_kind, extra=progress),
            )

    def fetches_by_id(self, stream: str) -> bool:
        """CRM objects are fetched by id through the batch read API (email events have no such call)."""
        return issubclass(self.stream(stream), CrmStream)

    def read_records_by_id(self, stream: str, ids: Sequence[str]) -> Iterator[dict[str, Any]]:
        """CRM objects by id, with the properties, associations and additions a read gives them."""
        crm = self.stream(stream)
        if not issubclass(crm, CrmStream):
            yield from super().read_records_by_id(stream, ids)
            return
        results = self.client.batch_read(crm.object_type, [str(value) for value in ids], self._properties(crm))
        yield from self._enrich(crm, results, listed=False)

    @property
    def lookback(self) -> timedelta:
        """The look-back window incremental reads start with."""
        return timedelta(minutes=self.settings.lookback_minutes)

    def _now(self) -> datetime:
        return datetime.fromtimestamp(self._clock(), tz=UTC)

    def _properties(self, stream: type[CrmStream]) -> list[str]:
        properties = list(stream.properties)
        if stream is Contacts:
            properties.append(self.settings.external_id_property)
            subscription = self.marketing_subscription_id(required=False)
            if subscription:
                properties.append(f"{OPTOUT_PREFIX}{subscription}")
        return properties

    def marketing_subscription_id(self, *, required: bool = True) -> str | None:
        """The marketing email subscription type: the setting, else the portal's first active Marketing one."""
        if not self._subscription_looked_up:
            try:
                definitions = self.client.subscription_definitions()
            except ApiError as error:
                if required or error.status not in (401, 403, 404):
                    raise
                # an optional endpoint: without the communication preferences scope (or on a portal without
                # it) contacts are read without the marketing opt-out flag
                self.log.warning(
                    "%s: subscription definitions unavailable (HTTP %s); contacts are read without the "
                    "marketing email opt-out",
                    self.connection,
                    error.status,
                )
                definitions = []
            marketing = [
                item
                for item in definitions
                if str(item.get("purpose", "")).lower() == "marketing" and item.get("isActive", True)
            ]
            self._subscription_id = str(marketing[0]["id"]) if marketing else None
            self._subscription_looked_up = True
        if required and self._subscription_id is None:
            raise self.setting_error(
                "marketing_subscription_id", "is unset and the portal has no active Marketing subscription"
            )
        return self._subscription_id

    def _enrich(self, stream: type[CrmStream], results: list[dict[str, Any]], *, listed: bool) -> list[dict[str, Any]]:
        """Add what one call does not return: associations (search), line items, currency, marketing opt-out."""
        if stream.associations and not listed:
            ids = [str(item["id"]) for item in results if isinstance(item, dict) and item.get("id")]
            for to_type in stream.associations:
                linked = self.client.associations(stream.object_type, to_type, ids) if ids else {}
                label = f"{stream.object_type.rstrip('s')}_to_{to_type.rstrip('s')}"
                for item in results:
                    found = linked.get(str(item.get("id")), [])
                    if found and isinstance(item, dict):
                        entry = {"results": [{"id": other, "type": label} for other in found]}
                        item.setdefault("associations", {})[to_type] = entry
        if stream is Deals:
            self._attach_line_items(results)
        if stream in (Deals, Products):
            for item in results:
                props = item.get("properties") if isinstance(item, dict) else None
                own = props.get("deal_currency_code") if isinstance(props, dict) else None
                item["_currency"] = own or self.settings.currency
        if stream is Contacts:
            names = optout_properties(self.marketing_subscription_id(required=False))
            for item in results:
                props = item.get("properties") if isinstance(item, dict) else None
                if isinstance(props, dict):
                    item["_marketing_email_optout"] = optout_from(props, names)
        return results

    def _attach_line_items(self, deals: list[dict[str, Any]]) -> None:
        """Put each deal's line items (read in batches of 100) under `line_items`, in association order."""
        wanted: list[str] = []
        for deal in deals:
            wanted += [str(item["id"]) for item in _linked(deal, "line_items")]
        found = (
            {
                str(item.get("id")): item
                for item in self.client.batch_read("line_items", wanted, list(LINE_ITEM_PROPERTIES))
            }
            if wanted
            else {}
        )
        for deal in deals:
            if isinstance(deal, dict):
                deal["line_items"] = [
                    found[i] for i in (str(x["id"]) for x in _linked(deal, "line_items")) if i in found
                ]

    # -- writes ------------------------------------------------------------------------------------

    def write(self, stream: str, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        if stream == "customers":
            yield from write_customers(self.client, records, external_id_property=self.settings.external_id_property)
        elif stream == "consents":
            yield from write_consents(
                self.client,
                records,
                subscription_id=lambda: self.marketing_subscription_id(required=True),
                legal_basis=self.settings.legal_basis,
            )
        else:
            raise ConnectorError(f"{self.name}: stream '{stream}' is read-only")


def _linked(record: Any, to_type: str) -> list[dict[str, Any]]:
    if not isinstance(record, dict):
        return []
    results = ((record.get("associations") or {}).get(to_type) or {}).get("results")
    return [item for item in results or [] if isinstance(item, dict) and item.get("id")]


def _hubspot_time(moment: datetime) -> str:
    """ISO-8601 UTC with milliseconds and Z, as HubSpot writes timestamps."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


def _is_time(value: Any) -> bool:
    if not isinstance(value, str):
        return False
    try:
        datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return False
    return True
