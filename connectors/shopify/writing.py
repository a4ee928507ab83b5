"""Writes: prices (productVariantsBulkUpdate per product), stock (inventorySetQuantities), code discounts."""

from __future__ import annotations

import hashlib
import json
import uuid
from collections import defaultdict
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any

from canalis.connectors.shopify import queries
from canalis.connectors.shopify.client import ShopifyClient
from canalis.connectors.shopify.settings import ShopifySettings
from canalis.sdk import ApiError, WriteResult

BATCH = 250  # inventorySetQuantities takes at most 250 quantities; prices are looked up 250 at a time
SKUS_PER_SEARCH = 40
PRODUCTS_PER_REQUEST = 25  # each productVariantsBulkUpdate costs 10 points
LEVELS_PER_READ = 250  # 2 points per level


def level_gid(item: str, location: str) -> str:
    """The global id of an inventory level, in Shopify's documented form (location and item numbers)."""
    location_number = location.rsplit("/", 1)[-1]
    item_number = item.rsplit("/", 1)[-1]
    return f"gid://shopify/InventoryLevel/{location_number}?inventory_item_id={item_number}"


def chunks(records: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    """The records in lists of at most `size`, read lazily."""
    iterator = iter(records)
    while batch := list(islice(iterator, size)):
        yield batch


def _key(record: dict[str, Any]) -> str:
    return str(record.get("key"))


def _decimal(value: Any) -> Decimal | None:
    if value is None or isinstance(value, bool):
        return None
    try:
        number = Decimal(str(value))
    except InvalidOperation:
        return None
    return number if number.is_finite() else None


def _failed(record: dict[str, Any], error: str, *, retryable: bool = False) -> WriteResult:
    return WriteResult(_key(record), "failed", error=error, retryable=retryable)


def _api_failure(error: ApiError) -> tuple[str, bool]:
    return str(error), bool(error.retryable)


def _timestamp(value: Any) -> str | None:
    """A datetime or ISO text as Shopify's DateTime (UTC, to the second)."""
    if value is None or value == "":
        return None
    moment = value if isinstance(value, datetime) else datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _search_value(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def content_key(*parts: Any) -> str:
    """A UUID-shaped idempotency key derived from the content of a change (same change, same key)."""
    digest = hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).digest()
    return str(uuid.UUID(bytes=digest[:16]))


@dataclass
class _Pending:
    """A record waiting for the variants it changes."""

    record: dict[str, Any]
    variants: int = 0
    errors: list[str] = field(default_factory=list)
    vendor_id: str | None = None
    retryable: bool = False


class Writer:
    """Writes canonical records to one shop."""

    def __init__(self, client: ShopifyClient, settings: ShopifySettings) -> None:
        self.client = client
        self.settings = settings
        self._currency: str | None = None
        self._locations: dict[str, str] | None = None

    # --- lookups ----------------------------------------------------------------------------------

    def shop_currency(self) -> str:
        """The shop's currency (prices and amount-off discounts are in it)."""
        if self._currency is None:
            self._currency = str(self.client.execute(queries.SHOP, name="shop")["shop"]["currencyCode"])
        return self._currency

    def variants_by_sku(self, skus: Iterable[str]) -> dict[str, list[dict[str, Any]]]:
        """Every variant holding each SKU (exact match; Shopify's search itself ignores case)."""
        found: dict[str, list[dict[str, Any]]] = {sku: [] for sku in skus}
        wanted = sorted(found)
        for start in range(0, len(wanted), SKUS_PER_SEARCH):
            part = wanted[start : start + SKUS_PER_SEARCH]
            variables: dict[str, Any] = {"query": " OR ".join(f"sku:{_search_value(sku)}" for sku in part)}
            while True:
                page = self.client.execute(queries.VARIANTS_BY_SKU, variables, name="variants_by_sku")
                connection = page["productVariants"]
                for node in connection.get("nodes") or []:
                    if node.get("sku") in found:
                        found[node["sku"]].append(node)
                info = connection.get("pageInfo") or {}
                if not info.get("hasNextPage") or not info.get("endCursor"):
                    break
                variables["after"] = info["endCursor"]
        return found

    def location_id(self, name: str) -> str | None:
        """The location gid for a Canalis location: the location_ids setting, then gid, number or name."""
        if self._locations is None:
            self._locations = {}
            after: str | None = None
            while True:
                page = self.client.execute(queries.LOCATION_IDS, {"after": after}, name="locations")["locations"]
                for node in page.get("nodes") or []:
                    for alias in (node["id"], str(node.get("legacyResourceId")), str(node.get("name") or "")):
                        self._locations.setdefault(alias.casefold(), node["id"])
                info = page.get("pageInfo") or {}
                if not info.get("hasNextPage"):
                    break
                after = info.get("endCursor")
        wanted = self.settings.location_ids.get(name, name)
        return self._locations.get(str(wanted).strip().casefold())

    # --- prices -----------------------------------------------------------------------------------

    def prices(self, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        """Set variant prices by SKU, grouped per product as productVariantsBulkUpdate requires."""
        for batch in chunks(records, BATCH):
            yield from self._price_batch(batch)

    def _price_batch(self, batch: list[dict[str, Any]]) -> list[WriteResult]:
        results: dict[int, WriteResult] = {}
        wanted: dict[int, tuple[str, Decimal, Decimal | None]] = {}
        for index, record in enumerate(batch):
            sku = str(record.get("sku") or "").strip()
            amount = _decimal(record.get("amount"))
            compare = _decimal(record.get("compare_at_amount"))
            if not sku:
                results[index] = _failed(record, "price record has no SKU")
            elif amount is None or amount < 0 or (record.get("compare_at_amount") is not None and compare is None):
                results[index] = _failed(record, f"price of {sku} is not a non-negative amount")
            else:
                wanted[index] = (sku, amount, compare)
        if wanted:
            try:
                self._plan_prices(batch, wanted, results)
            except ApiError as error:
                message, retryable = _api_failure(error)
                for index in wanted:
                    results.setdefault(index, _failed(batch[index], message, retryable=retryable))
        return [results[index] for index in range(len(batch))]

    def _plan_prices(
        self, batch: list[dict[str, Any]], wanted: dict[int, tuple[str, Decimal, Decimal | None]], results: dict
    ) -> None:
        currency = self.shop_currency()
        variants = self.variants_by_sku(sku for sku, _amount, _compare in wanted.values())
        by_product: dict[str, list[tuple[dict[str, Any], _Pending]]] = defaultdict(list)
        pending: dict[int, _Pending] = {}
        for index, (sku, amount, compare) in wanted.items():
            record = batch[index]
            given = str(record.get("currency") or currency).upper()
            if given != currency:
                results[index] = _failed(record, f"Shopify prices are in the shop currency {currency}, not {given}")
                continue
            matches = variants.get(sku) or []
            if not matches:
                results[index] = _failed(record, f"no variant with SKU {sku} in Shopify")
                continue
            state = _Pending(record, vendor_id=matches[0]["id"])
            for variant in matches:
                same_price = _decimal(variant.get("price")) == amount
                same_compare = compare is None or _decimal(variant.get("compareAtPrice")) == compare
                if same_price and same_compare:
                    continue
                change = {"id": variant["id"], "price": str(amount)}
                if compare is not None:
                    change["compareAtPrice"] = str(compare)
                by_product[variant["product"]["id"]].append((change, state))
                state.variants += 1
            if state.variants == 0:
                results[index] = WriteResult(_key(record), "unchanged", vendor_id=state.vendor_id)
            else:
                pending[index] = state
        products = list(by_product.items())
        for start in range(0, len(products), PRODUCTS_PER_REQUEST):
            self._send_prices(products[start : start + PRODUCTS_PER_REQUEST])
        for index, state in pending.items():
            if state.errors:
                results[index] = _failed(state.record, "; ".join(state.errors), retryable=state.retryable)
            else:
                results[index] = WriteResult(_key(state.record), "applied", vendor_id=state.vendor_id)

    def _send_prices(self, products: list[tuple[str, list[tuple[dict[str, Any], _Pending]]]]) -> None:
        """One request updating several products (aliased mutations); errors are filed on their records."""
        declarations, fields, variables = [], [], {}
        for number, (product, changes) in enumerate(products):
            declarations.append(f"$p{number}: ID!, $v{number}: [ProductVariantsBulkInput!]!")
            fields.append(
                f"u{number}: productVariantsBulkUpdate(productId: $p{number}, variants: $v{number}, "
                f"allowPartialUpdates: true) {{ {queries.PRICE_UPDATE_FIELDS} }}"
            )
            variables[f"p{number}"] = product
            variables[f"v{number}"] = [change for change, _state in changes]
        document = f"mutation Prices({', '.join(declarations)}) {{ {' '.join(fields)} }}"
        try:
            data = self.client.execute(document, variables, name=f"prices_{len(products)}")
        except ApiError as error:
            message, retryable = _api_failure(error)
            for _product, changes in products:
                for _change, state in changes:
                    state.errors.append(message)
                    state.retryable = state.retryable or retryable
            return
        for number, (_product, changes) in enumerate(products):
            payload = data.get(f"u{number}") or {}
            for error in payload.get("userErrors") or []:
                where = error.get("field") or []
                if len(where) >= 2 and where[0] == "variants" and str(where[1]).isdigit():
                    targets = [changes[int(where[1])][1]] if int(where[1]) < len(changes) else []
                else:
                    targets = [state for _change, state in changes]
                for state in targets:
                    state.errors.append(str(error.get("message")))

    # --- stock ------------------------------------------------------------------------------------

    def stock_levels(self, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        """Set available quantities by SKU and location, at most 250 per call."""
        for batch in chunks(records, BATCH):
            yield from self._stock_batch(batch)

    def _stock_batch(self, batch: list[dict[str, Any]]) -> list[WriteResult]:
        results: dict[int, WriteResult] = {}
        try:
            items = self.variants_by_sku({str(r.get("sku") or "").strip() for r in batch} - {""})
            quantities: dict[tuple[str, str], tuple[int, dict[str, Any]]] = {}
            for index, record in enumerate(batch):
                problem, target = self._stock_target(record, items)
                if problem is not None:
                    results[index] = _failed(record, problem)
                    continue
                assert target is not None
                if target[:2] in quantities:  # a later record for the same SKU and location wins
                    earlier = quantities[target[:2]][0]
                    results[earlier] = WriteResult(
                        _key(batch[earlier]),
                        "skipped",
                        error="superseded by a later record for the same SKU and location",
                    )
                quantities[target[:2]] = (
                    index,
                    {"inventoryItemId": target[0], "locationId": target[1], "quantity": target[2]},
                )
            current = self._current_available(list(quantities))
            to_send = []
            for pair, (index, quantity) in quantities.items():
                if current.get(pair) == quantity["quantity"]:
                    results[index] = WriteResult(_key(batch[index]), "unchanged", vendor_id=pair[0])
                else:
                    to_send.append((index, quantity))
            self._send_stock(batch, to_send, results)
        except ApiError as error:
            message, retryable = _api_failure(error)
            for index, record in enumerate(batch):
                results.setdefault(index, _failed(record, message, retryable=retryable))
        return [results[index] for index in range(len(batch))]

    def _stock_target(
        self, record: dict[str, Any], items: dict[str, list[dict[str, Any]]]
    ) -> tuple[str | None, tuple[str, str, int] | None]:
        sku = str(record.get("sku") or "").strip()
        location = str(record.get("location") or "").strip()
        available = _decimal(record.get("available"))
        if not sku or not location:
            return "stock record needs a SKU and a location", None
        if available is None or available != available.to_integral_value():
            return f"available quantity of {sku} is not a whole number", None
        matches = items.get(sku) or []
        if len(matches) != 1:
            return (
                f"no variant with SKU {sku} in Shopify"
                if not matches
                else f"SKU {sku} is held by {len(matches)} variants"
            ), None
        location_id = self.location_id(location)
        if location_id is None:
            return f"no Shopify location matches '{location}' (set location_ids)", None
        return None, (matches[0]["inventoryItem"]["id"], location_id, int(available))

    def _current_available(self, pairs: list[tuple[str, str]]) -> dict[tuple[str, str], int]:
        """The available quantity of each (inventory item, location) now, read by inventory level id."""
        found: dict[tuple[str, str], int] = {}
        for start in range(0, len(pairs), LEVELS_PER_READ):
            part = pairs[start : start + LEVELS_PER_READ]
            ids = [level_gid(item, location) for item, location in part]
            nodes = self.client.execute(queries.LEVELS_BY_ID, {"ids": ids}, name="levels_by_id")["nodes"]
            for pair, node in zip(part, nodes, strict=False):
                quantities = (node or {}).get("quantities") or []
                if quantities:
                    found[pair] = int(quantities[0]["quantity"])
        return found

    def _send_stock(
        self, batch: list[dict[str, Any]], quantities: list[tuple[int, dict[str, Any]]], results: dict[int, WriteResult]
    ) -> None:
        """inventorySetQuantities with the quantities left; records whose quantity fails are dropped and resent."""
        while quantities:
            data = self._set_quantities([quantity for _index, quantity in quantities])
            errors = data.get("userErrors") or []
            if errors:
                failing: dict[int, list[str]] = defaultdict(list)
                for error in errors:
                    where = error.get("field") or []
                    if len(where) >= 3 and where[1] == "quantities" and str(where[2]).isdigit():
                        failing[int(where[2])].append(str(error.get("message")))
                    else:
                        failing.update({position: [str(error.get("message"))] for position in range(len(quantities))})
                for position, messages in failing.items():
                    index = quantities[position][0]
                    results[index] = _failed(batch[index], "; ".join(messages))
                quantities = [entry for position, entry in enumerate(quantities) if position not in failing]
                continue
            group = data.get("inventoryAdjustmentGroup") or {}
            changed = {(c["item"]["id"], c["location"]["id"]) for c in group.get("changes") or [] if c.get("delta")}
            for index, quantity in quantities:
                status = "applied" if (quantity["inventoryItemId"], quantity["locationId"]) in changed else "unchanged"
                results[index] = WriteResult(_key(batch[index]), status, vendor_id=quantity["inventoryItemId"])
            return

    def _set_quantities(self, quantities: list[dict[str, Any]]) -> dict[str, Any]:
        reason = self.settings.inventory_reason
        key = content_key("inventorySetQuantities", "available", reason, quantities)
        data_input: dict[str, Any] = {
            "name": "available",
            "reason": reason,
            "referenceDocumentUri": f"gid://canalis/StockSync/{key}",
        }
        if self.settings.version_at_least("2026-04"):
            data_input["quantities"] = [{**quantity, "changeFromQuantity": None} for quantity in quantities]
        else:
            data_input["quantities"] = quantities
            data_input["ignoreCompareQuantity"] = True
        directive = f' @idempotent(key: "{key}")' if self.settings.version_at_least("2026-01") else ""
        document = queries.INVENTORY_SET.replace("{directive}", directive)
        return self.client.execute(document, {"input": data_input}, name="stock")["inventorySetQuantities"]

    # --- promotions -------------------------------------------------------------------------------

    def promotions(self, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        """Create, update or deactivate amount-off and percentage-off code discounts, one code at a time."""
        for record in records:
            try:
                yield self._promotion(record)
            except ApiError as error:
                message, retryable = _api_failure(error)
                yield _failed(record, message, retryable=retryable)

    def _promotion(self, record: dict[str, Any]) -> WriteResult:
        code = str(record.get("code") or "").strip()
        if not code:
            return _failed(record, "promotion has no code")
        desired, problem = self._discount_input(record, code)
        if problem is not None:
            return _failed(record, problem)
        existing = self.client.execute(queries.DISCOUNT_BY_CODE, {"code": code}, name="discount_by_code")
        node = existing.get("codeDiscountNodeByCode")
        if node is not None and (node.get("codeDiscount") or {}).get("__typename") != "DiscountCodeBasic":
            kind = (node.get("codeDiscount") or {}).get("__typename")
            return _failed(record, f"code {code} belongs to a {kind} discount, which Canalis does not manage")
        if record.get("status") == "disabled":
            return self._disable(record, node)
        if node is None:
            created = self.client.execute(
                queries.DISCOUNT_CREATE, {"input": {**desired, "context": {"all": "ALL"}}}, name="discount_create"
            )
            payload = created["discountCodeBasicCreate"]
            errors = payload.get("userErrors") or []
            if any(error.get("code") == "TAKEN" for error in errors):
                return self._promotion(record)  # created by an earlier attempt whose answer was lost
            if errors:
                return _failed(record, "; ".join(str(error.get("message")) for error in errors))
            return WriteResult(_key(record), "applied", vendor_id=payload["codeDiscountNode"]["id"])
        if not _differs(node["codeDiscount"], desired):
            return WriteResult(_key(record), "unchanged", vendor_id=node["id"])
        updated = self.client.execute(
            queries.DISCOUNT_UPDATE, {"id": node["id"], "input": desired}, name="discount_update"
        )
        errors = updated["discountCodeBasicUpdate"].get("userErrors") or []
        if errors:
            return _failed(record, "; ".join(str(error.get("message")) for error in errors))
        return WriteResult(_key(record), "applied", vendor_id=node["id"])

    def _disable(self, record: dict[str, Any], node: dict[str, Any] | None) -> WriteResult:
        if node is None:
            return WriteResult(_key(record), "skipped", error="disabled promotion is not in Shopify")
        if node["codeDiscount"].get("status") == "EXPIRED":
            return WriteResult(_key(record), "unchanged", vendor_id=node["id"])
        done = self.client.execute(queries.DISCOUNT_DEACTIVATE, {"id": node["id"]}, name="discount_deactivate")
        errors = done["discountCodeDeactivate"].get("userErrors") or []
        if errors:
            return _failed(record, "; ".join(str(error.get("message")) for error in errors))
        return WriteResult(_key(record), "applied", vendor_id=node["id"])

    def _discount_input(self, record: dict[str, Any], code: str) -> tuple[dict[str, Any], str | None]:
        """The DiscountCodeBasicInput of a promotion record, or why it cannot be written."""
        kind = record.get("discount_type")
        value = _decimal(record.get("discount_value"))
        if value is None or value <= 0:
            return {}, f"promotion {code} has no positive discount_value"
        if kind == "percentage":
            if value > 100:
                return {}, f"promotion {code}: a percentage above 100"
            customer_value: dict[str, Any] = {"percentage": float(value / 100)}
        elif kind == "fixed_amount":
            currency = self.shop_currency()
            given = str(record.get("currency") or currency).upper()
            if given != currency:
                return {}, f"promotion {code}: Shopify discounts are in the shop currency {currency}, not {given}"
            customer_value = {"discountAmount": {"amount": str(value), "appliesOnEachItem": False}}
        else:
            return {}, f"promotion {code}: unknown discount_type {kind!r}"
        try:
            starts = _timestamp(record.get("starts_at")) or datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            ends = _timestamp(record.get("ends_at"))
        except ValueError:
            return {}, f"promotion {code}: starts_at or ends_at is not a timestamp"
        desired = {
            "title": str(record.get("name") or code),
            "code": code,
            "startsAt": starts,
            "endsAt": ends,
            "customerGets": {"value": customer_value, "items": {"all": True}},
        }
        return desired, None


def _differs(current: dict[str, Any], desired: dict[str, Any]) -> bool:
    """Whether a stored discount differs from the wanted input on the fields Canalis manages."""
    if current.get("title") != desired["title"]:
        return True
    if (
        _timestamp(current.get("startsAt")) != desired["startsAt"]
        or _timestamp(current.get("endsAt")) != desired["endsAt"]
    ):
        return True
    codes = [node.get("code") for node in (current.get("codes") or {}).get("nodes") or []]
    if desired["code"] not in codes:
        return True
    value = (current.get("customerGets") or {}).get("value") or {}
    wanted = desired["customerGets"]["value"]
    if "percentage" in wanted:
        return (
            value.get("__typename") != "DiscountPercentage"
            or abs(float(value.get("percentage") or 0) - wanted["percentage"]) > 1e-9
        )
    amount = _decimal((value.get("amount") or {}).get("amount"))
    return value.get("__typename") != "DiscountAmount" or amount != Decimal(wanted["discountAmount"]["amount"])
