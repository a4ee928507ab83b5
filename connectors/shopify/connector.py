"""The Shopify connector: customers, orders, variants, locations, stock and discounts over the GraphQL Admin API."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from datetime import datetime
from typing import Any

import requests

from canalis.connectors.shopify import queries
from canalis.connectors.shopify.bulk import BulkExport, regroup
from canalis.connectors.shopify.client import GraphQLError, ShopifyClient
from canalis.connectors.shopify.consents import ConsentWriter
from canalis.connectors.shopify.reading import Reader, latest
from canalis.connectors.shopify.settings import ShopifySettings
from canalis.connectors.shopify.streams import STREAMS, ShopifyStream
from canalis.connectors.shopify.writing import Writer
from canalis.sdk import (
    ApiError,
    CheckResult,
    ConfigError,
    Connector,
    ConnectorError,
    Page,
    Rejected,
    Stream,
    StreamState,
    WriteResult,
)

BULK_PAGE = 250


class ShopifyConnector(Connector):
    """Reads a shop incrementally (bulk exports for large first reads); publishes prices, stock, discounts, consent."""

    name = "shopify"
    kind = "ecommerce"
    title = "Shopify"
    description = "Shopify shops through the GraphQL Admin API: customers, orders, catalogue, stock and discounts."
    settings_model = ShopifySettings
    streams = STREAMS

    settings: ShopifySettings

    def __init__(
        self,
        settings: ShopifySettings,  # type: ignore[override]
        *,
        connection: str | None = None,
        sleep: Callable[[float], None] = time.sleep,
        clock: Callable[[], float] = time.monotonic,
        session: requests.Session | None = None,
    ) -> None:
        super().__init__(settings, connection=connection)
        self._sleep = sleep
        self._clock = clock
        self._session = session
        self._client: ShopifyClient | None = None

    @property
    def client(self) -> ShopifyClient:
        """The GraphQL client (made on first use)."""
        if self._client is None:
            self._client = ShopifyClient(self.settings, sleep=self._sleep, clock=self._clock, session=self._session)
        return self._client

    def close(self) -> None:
        """Close pooled connections."""
        if self._client is not None:
            self._client.close()

    # --- check ------------------------------------------------------------------------------------

    def check(self) -> CheckResult:
        try:
            shop = self.client.execute(queries.SHOP, name="shop")["shop"]
        except GraphQLError as error:
            if "ACCESS_DENIED" in error.codes:
                raise self._setting_error("access_token", f"the token lacks an access scope: {error.detail}") from None
            raise
        except ApiError as error:
            raise self._check_failure(error) from None
        served = self.client.served_version
        if served and self.settings.api_version != "unstable" and served != self.settings.api_version:
            raise self._setting_error(
                "api_version", f"version {self.settings.api_version} is not served (Shopify answered with {served})"
            )
        details = {"shop": shop.get("myshopifyDomain"), "currency": shop.get("currencyCode"), "api_version": served}
        return CheckResult(
            ok=True, message=f"Shopify shop {shop.get('name')} ({shop.get('myshopifyDomain')})", details=details
        )

    def _check_failure(self, error: ApiError) -> Exception:
        if error.status == 401:
            return self._setting_error("access_token", "Shopify rejected the access token (HTTP 401)")
        if error.status == 403:
            return self._setting_error(
                "access_token", f"the token may not use the Admin API (HTTP 403): {error.detail}"
            )
        if error.status == 404:
            return self._setting_error(
                "shop",
                f"no Admin API at {self.client.http.redact(self.settings.shop)} "
                f"for version {self.settings.api_version} (HTTP 404)",
            )
        if error.status is None:
            return self._setting_error(
                "shop", f"cannot reach {self.client.http.redact(self.settings.shop)}: {error.detail}"
            )
        return error

    def _setting_error(self, setting: str, reason: str) -> ConfigError:
        env = {
            "access_token": "CANALIS_SHOPIFY_ACCESS_TOKEN",
            "shop": "CANALIS_SHOPIFY_SHOP",
            "api_version": "CANALIS_SHOPIFY_API_VERSION",
        }
        return ConfigError(
            f"connection '{self.connection}': setting '{setting}' (environment variable {env[setting]}): {reason}",
            setting=setting,
            connection=self.connection,
        )

    # --- read -------------------------------------------------------------------------------------

    def read_pages(self, stream: type[Stream], state: StreamState) -> Iterator[Page]:
        if not stream.readable:
            return  # write-only publishing targets
        assert issubclass(stream, ShopifyStream)
        if stream.bulk and state.cursor is None and self._bulk_wanted(stream):
            yield from self._bulk_pages(stream, state)
            return
        reader = Reader(self.client, self.settings)
        yield from getattr(reader, stream.name)(stream, state)

    def fetches_by_id(self, stream: str) -> bool:
        """Customers, orders, variants, locations and discounts are fetched by global id (`nodes`)."""
        return stream == "orders" or stream in queries.BY_ID

    def read_records_by_id(self, stream: str, ids: Sequence[str]) -> Iterator[dict[str, Any]]:
        if not self.fetches_by_id(stream):
            yield from super().read_records_by_id(stream, ids)
            return
        yield from Reader(self.client, self.settings).by_id(self.stream(stream), [str(value) for value in ids])

    def _bulk_wanted(self, stream: type[ShopifyStream]) -> bool:
        """Whether a full read is large enough for a bulk export."""
        threshold = self.settings.bulk_threshold
        if threshold <= 0:
            return False
        total = self.client.execute(queries.COUNTS[stream.name], {"limit": threshold}, name="count")["total"]
        return int(total.get("count") or 0) >= threshold

    def _bulk_pages(self, stream: type[ShopifyStream], state: StreamState) -> Iterator[Page]:
        """A full read through a bulk operation, streamed in pages; the cursor moves at the end."""
        export = BulkExport(
            self.client,
            poll_seconds=self.settings.bulk_poll_seconds,
            timeout_seconds=self.settings.bulk_timeout_seconds,
            sleep=self._sleep,
            clock=self._clock,
            session=self._session,
        )
        result = export.run(queries.BULK[stream.name])
        if not result.url:
            return
        records: list[dict[str, Any]] = []
        rejected: list[Rejected] = []
        newest: datetime | None = None
        reader = Reader(self.client, self.settings)
        for item in regroup(export.lines(result.url)):
            if isinstance(item, Rejected):
                rejected.append(item)
            else:
                records.append(reader.enrich(stream, _bulk_record(stream, item)))
            if len(records) + len(rejected) >= BULK_PAGE:
                found = latest(stream, records)
                newest = found if newest is None or (found is not None and found > newest) else newest
                yield Page(records=records, state=state, rejected=rejected)
                records, rejected = [], []
        found = latest(stream, records)
        newest = found if newest is None or (found is not None and found > newest) else newest
        yield Page(records=records, state=state.advanced(newest) if newest else state, rejected=rejected)

    # --- write ------------------------------------------------------------------------------------

    def write(self, stream: str, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        writer = Writer(self.client, self.settings)
        if stream == "prices":
            yield from writer.prices(records)
        elif stream == "stock_levels":
            yield from writer.stock_levels(records)
        elif stream == "promotions":
            yield from writer.promotions(records)
        elif stream == "consents":
            yield from ConsentWriter(self.client).write(records)
        else:
            raise ConnectorError(f"{self.name}: stream '{stream}' is read-only")


def _bulk_record(stream: type[Stream], record: dict[str, Any]) -> dict[str, Any]:
    """A bulk line shaped like a paged record (orders always have `lineItems.nodes`)."""
    if stream.name == "orders":
        record.setdefault("lineItems", {"nodes": []})
    return record
