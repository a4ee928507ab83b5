"""The Square connector: reads POS customers, sales, catalog, stock and discounts; writes prices, stock, promotions."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

from canalis.connectors.square.client import ORDERS_MAX_LOCATIONS, SquareClient
from canalis.connectors.square.locations import LocationDirectory
from canalis.connectors.square.settings import SquareSettings
from canalis.connectors.square.streams import STREAMS
from canalis.connectors.square.writes import PriceWriter, PromotionWriter, StockWriter, rfc3339
from canalis.sdk import (
    ApiError,
    CheckResult,
    HttpConnector,
    Page,
    StreamState,
    WriteResult,
    parse_cursor_datetime,
)
from canalis.sdk.base import ErasureMode


class SquareConnector(HttpConnector):
    """Square's v2 REST API: incremental reads on updated_at with a look-back window, batched writes."""

    name = "square"
    kind = "pos"
    title = "Square (POS)"
    description = "Square point of sale: customers, in-store sales, catalog, inventory, discounts and locations."
    settings_model = SquareSettings
    streams = STREAMS
    erasure: ClassVar[dict[str, ErasureMode]] = {"customers": "delete"}

    settings: SquareSettings

    def __init__(self, settings: SquareSettings, **options: Any) -> None:
        """`session` and `sleep` options replace the HTTP session and the waiting (tests, embedding)."""
        super().__init__(settings, **options)
        self._client: SquareClient | None = None
        self._directory: LocationDirectory | None = None
        self._skus: dict[str, str | None] = {}

    def auth_headers(self) -> dict[str, str]:
        token = self.settings.access_token.get_secret_value()
        return {"Authorization": f"Bearer {token}", "Square-Version": self.settings.square_version}

    @property
    def client(self) -> SquareClient:
        """The Square calls, over the connector's HTTP client (no network I/O at construction)."""
        if self._client is None:
            self._client = SquareClient(self.http, self.settings)
        return self._client

    # --- check ----------------------------------------------------------------------------------------

    def check(self) -> CheckResult:
        try:
            locations = self.client.locations()
        except ApiError as error:
            raise self.check_error(error) from None
        directory = LocationDirectory(locations, self.settings.location_map)
        known = {location.get("id") for location in locations}
        for setting_name, ids in (
            ("location_ids", self.settings.location_ids),
            ("location_map", list(self.settings.location_map)),
        ):
            unknown = [location_id for location_id in ids if location_id not in known]
            if unknown:
                raise self.setting_error(setting_name, f"names no Square location: '{unknown[0]}'")
        self._directory = directory
        active = directory.ids(self.settings.location_ids)
        return CheckResult(
            ok=True,
            message=f"Square answered: {len(locations)} locations, {len(active)} read",
            details={
                "locations": len(locations),
                "locations_read": len(active),
                "square_version": self.settings.square_version,
            },
        )

    def check_error(self, error: ApiError) -> Exception:
        if error.status == 400 and "SQUARE_VERSION" in error.detail:
            return self.setting_error("square_version", f"was refused by Square: {error.detail}")
        return super().check_error(error)

    # --- reads ----------------------------------------------------------------------------------------

    def _since(self, state: StreamState) -> str | None:
        """The lower bound of an incremental read: the cursor minus the look-back window."""
        since = state.since(timedelta(minutes=self.settings.lookback_minutes))
        return rfc3339(since) if since else None

    def erase(self, stream: str, source_id: str) -> WriteResult:
        """Delete the customer profile (their orders stay with the seller, without the profile)."""
        if stream not in self.erasure:
            return super().erase(stream, source_id)
        deleted = self.client.delete_customer(source_id)
        return WriteResult(record_key=source_id, status="applied" if deleted else "unchanged")

    def read_customers(self, state: StreamState) -> Iterator[Page]:
        # Square sorts customer searches by creation, not update: the cursor moves once the window is read.
        until = rfc3339(datetime.now(UTC))
        newest: datetime | None = None
        for page in self.client.customer_pages(updated_from=self._since(state), updated_to=until):
            records = page.get("customers") or []
            newest = _latest(newest, records, "updated_at")
            yield Page(records=records, state=state if page.get("cursor") else state.advanced(newest))

    def read_orders(self, state: StreamState) -> Iterator[Page]:
        ids = self.directory.ids(self.settings.location_ids)
        groups = [ids[start : start + ORDERS_MAX_LOCATIONS] for start in range(0, len(ids), ORDERS_MAX_LOCATIONS)]
        if not groups:
            yield Page(records=[], state=state)
            return
        since = self._since(state)
        newest: datetime | None = None
        for number, group in enumerate(groups, start=1):
            for page in self.client.order_pages(group, updated_from=since):
                records = page.get("orders") or []
                self._add_line_skus(records)
                for record in records:
                    record["_location"] = self.directory.name_of(record.get("location_id"))
                newest = _latest(newest, records, "updated_at")
                finished = number == len(groups) and not page.get("cursor")
                # ascending by updated_at: with one location group every page moves the cursor safely
                moves = finished or len(groups) == 1
                yield Page(records=records, state=state.advanced(newest) if moves else state)

    def read_catalog(self, state: StreamState) -> Iterator[Page]:
        newest: datetime | None = None
        for page in self.client.catalog_pages(["ITEM"], begin_time=self._since(state)):
            records = page.get("objects") or []
            for item in records:
                for variation in (item.get("item_data") or {}).get("variations") or []:
                    if isinstance(variation, dict) and variation.get("id"):
                        self._skus[variation["id"]] = (variation.get("item_variation_data") or {}).get("sku")
            newest = _latest(newest, records, "updated_at")
            yield Page(records=records, state=state if page.get("cursor") else state.advanced(newest))

    def read_inventory_counts(self, state: StreamState) -> Iterator[Page]:
        newest: datetime | None = None
        pages = self.client.count_pages(
            updated_after=self._since(state), location_ids=self.settings.location_ids or None, states=["IN_STOCK"]
        )
        for page in pages:
            records = page.get("counts") or []
            self._learn_skus(record.get("catalog_object_id") for record in records)
            for record in records:
                record["_key"] = f"{record.get('catalog_object_id')}:{record.get('location_id')}:{record.get('state')}"
                record["_sku"] = self._skus.get(str(record.get("catalog_object_id")))
                record["_location"] = self.directory.name_of(record.get("location_id"))
            newest = _latest(newest, records, "calculated_at")
            yield Page(records=records, state=state if page.get("cursor") else state.advanced(newest))

    def read_discounts(self, state: StreamState) -> Iterator[Page]:
        since = self._since(state)
        rules: dict[str, dict[str, Any]] = {}
        newest: datetime | None = None
        changed_rules: set[str] = set()
        for page in self.client.catalog_pages(["PRICING_RULE"], begin_time=None):
            for rule in page.get("objects") or []:
                discount_id = (rule.get("pricing_rule_data") or {}).get("discount_id")
                if not discount_id:
                    continue
                rules.setdefault(discount_id, rule)
                changed = _latest(None, [rule], "updated_at")
                if since is None or (changed is not None and changed > parse_cursor_datetime(since)):
                    changed_rules.add(discount_id)
                    newest = _latest(newest, [rule], "updated_at")
        emitted: set[str] = set()
        for page in self.client.catalog_pages(["DISCOUNT"], begin_time=since):
            records = page.get("objects") or []
            for record in records:
                record["_pricing_rule"] = rules.get(str(record.get("id")))
                emitted.add(str(record.get("id")))
            newest = _latest(newest, records, "updated_at")
            yield Page(records=records, state=state)
        late = sorted(changed_rules - emitted)
        records = [obj for obj in self.client.catalog_objects(late) if obj.get("type") == "DISCOUNT"] if late else []
        for record in records:
            record["_pricing_rule"] = rules.get(str(record.get("id")))
        yield Page(records=records, state=state.advanced(newest))

    def read_locations(self, state: StreamState) -> Iterator[Page]:
        locations = self.client.locations()
        self._directory = LocationDirectory(locations, self.settings.location_map)
        for location in locations:
            location["_location"] = self._directory.name_of(location.get("id"))
        yield Page(records=locations, state=state)

    def fetches_by_id(self, stream: str) -> bool:
        """Customers (RetrieveCustomer) and catalog items (BatchRetrieveCatalogObjects) are fetched by id."""
        return stream in ("customers", "catalog")

    def read_records_by_id(self, stream: str, ids: Sequence[str]) -> Iterator[dict[str, Any]]:
        """Customers or catalog items by id, as a read returns them; ids Square does not know are left out."""
        if stream == "customers":
            for customer_id in ids:
                found = self.client.customer(str(customer_id))
                if found is not None:
                    yield found
        elif stream == "catalog":
            items = [obj for obj in self.client.catalog_objects([str(v) for v in ids]) if obj.get("type") == "ITEM"]
            for item in items:
                for variation in (item.get("item_data") or {}).get("variations") or []:
                    if isinstance(variation, dict) and variation.get("id"):
                        self._skus[variation["id"]] = (variation.get("item_variation_data") or {}).get("sku")
            yield from items
        else:
            yield from super().read_records_by_id(stream, ids)

    @property
    def directory(self) -> LocationDirectory:
        """The seller's locations with their Canalis names, read once per connector."""
        if self._directory is None:
            self._directory = LocationDirectory(self.client.locations(), self.settings.location_map)
        return self._directory

    def _add_line_skus(self, orders: list[dict[str, Any]]) -> None:
        """Give each order line the SKU of its catalog variation as `_sku` (orders only carry the variation id)."""
        lines = [line for order in orders for line in order.get("line_items") or [] if isinstance(line, dict)]
        self._learn_skus(line.get("catalog_object_id") for line in lines)
        for line in lines:
            line["_sku"] = self._skus.get(str(line.get("catalog_object_id")))

    def _learn_skus(self, variation_ids: Iterable[Any]) -> None:
        unknown = sorted({str(v) for v in variation_ids if v and str(v) not in self._skus})
        if not unknown:
            return
        for obj in self.client.catalog_objects(unknown):
            if obj.get("type") == "ITEM_VARIATION":
                self._skus[obj["id"]] = (obj.get("item_variation_data") or {}).get("sku")
        for variation_id in unknown:
            self._skus.setdefault(variation_id, None)

    # --- writes ---------------------------------------------------------------------------------------

    def write(self, stream: str, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        if stream == "prices":
            yield from PriceWriter(self.client).write(records)
        elif stream == "stock_levels":
            yield from StockWriter(self.client, self.directory).write(records)
        elif stream == "promotions":
            yield from PromotionWriter(self.client).write(records)
        else:
            yield from super().write(stream, records)


def _latest(current: datetime | None, records: list[dict[str, Any]], field: str) -> datetime | None:
    """The newest readable timestamp among the records and `current` (unreadable values are skipped)."""
    for record in records:
        value = record.get(field) if isinstance(record, dict) else None
        if not isinstance(value, str):
            continue
        try:
            moment = parse_cursor_datetime(value)
        except ValueError:
            continue
        if current is None or moment > current:
            current = moment
    return current
