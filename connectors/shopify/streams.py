"""Streams of the Shopify connector and the record models that check what Shopify sent."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal
from typing import Any, ClassVar, Literal

from pydantic import AwareDatetime, BaseModel, ConfigDict, Field

from canalis.connectors.shopify import queries
from canalis.sdk import Stream, WriteOnlyStream

GID_PATTERN = r"^gid://shopify/[A-Za-z]+/\d+(\?.*)?$"

_ARGUMENTS = re.compile(r"\([^()]*\)")
_TOKEN = re.compile(r"\.\.\.|[A-Za-z_]\w*|[{}:]")


def selection_paths(selection: str) -> tuple[str, ...]:
    """The dotted paths of the leaves a GraphQL selection returns (an alias names its field; the fields of
    `... on Type { }` belong to the enclosing object)."""
    tokens = _TOKEN.findall(_ARGUMENTS.sub(" ", selection))
    paths: list[str] = []
    outer: list[str] = []
    prefix = ""
    at = 0
    while at < len(tokens):
        word = tokens[at]
        if word == "...":  # `... on Type {`
            outer.append(prefix)
            at += 4
            continue
        if word == "}":
            prefix = outer.pop()
            at += 1
            continue
        name, at = word, at + 1
        if at < len(tokens) and tokens[at] == ":":  # `alias: field`
            at += 2
        if at < len(tokens) and tokens[at] == "{":
            outer.append(prefix)
            prefix = f"{prefix}{name}."
            at += 1
        else:
            paths.append(prefix + name)
    return tuple(paths)


class _Open(BaseModel):
    """A record part that may hold more fields than the model names."""

    model_config = ConfigDict(extra="allow", populate_by_name=True)


class _Ref(_Open):
    id: str = Field(pattern=GID_PATTERN)


class CustomerModel(_Open):
    id: str = Field(pattern=GID_PATTERN)
    updatedAt: AwareDatetime
    email: str | None = None


class _Money(_Open):
    amount: Decimal
    currencyCode: str


class _MoneyBag(_Open):
    shopMoney: _Money


class _LineItem(_Open):
    id: str = Field(pattern=GID_PATTERN)
    quantity: int
    originalUnitPriceSet: _MoneyBag


class _LineItems(_Open):
    nodes: list[_LineItem]


class OrderModel(_Open):
    id: str = Field(pattern=GID_PATTERN)
    updatedAt: AwareDatetime
    createdAt: AwareDatetime
    totalPriceSet: _MoneyBag
    lineItems: _LineItems


class VariantModel(_Open):
    id: str = Field(pattern=GID_PATTERN)
    updatedAt: AwareDatetime
    price: Decimal
    compareAtPrice: Decimal | None = None
    product: _Ref


class LocationModel(_Open):
    id: str = Field(pattern=GID_PATTERN)
    name: str


class _Quantity(_Open):
    quantity: int


class InventoryLevelModel(_Open):
    id: str = Field(pattern=GID_PATTERN)
    updatedAt: AwareDatetime
    inventoryItem: _Ref  # the level's `item`, aliased: mapping paths starting with "item." mean list items
    location: _Ref
    available: list[_Quantity] = Field(min_length=1, max_length=1)
    onHand: list[_Quantity] = Field(min_length=1, max_length=1)


class _Code(_Open):
    code: str = Field(min_length=1)


class _Codes(_Open):
    nodes: list[_Code] = Field(min_length=1)


class _DiscountValue(_Open):
    typename: Literal["DiscountPercentage", "DiscountAmount"] = Field(alias="__typename")
    percentage: float | None = Field(default=None, gt=0, le=1)
    amount: _Money | None = None


class _CustomerGets(_Open):
    value: _DiscountValue


class _BasicDiscount(_Open):
    typename: Literal["DiscountCodeBasic"] = Field(alias="__typename")
    updatedAt: AwareDatetime
    startsAt: AwareDatetime
    codes: _Codes
    customerGets: _CustomerGets


class DiscountModel(_Open):
    """Only amount-off and percentage-off code discounts have a canonical form; others are quarantined."""

    id: str = Field(pattern=GID_PATTERN)
    codeDiscount: _BasicDiscount


class ShopifyStream(Stream):
    """A Shopify stream; `node_cost` is the query cost of one record, used to size pages under the limit.

    Its fields are those of the GraphQL selection it reads (`selection`) and those the connector adds to its
    records (`added_fields`). A connection's items (`lineItems.nodes`) are also declared through the connection's
    name (`lineItems.sku`), the way a mapping's `each: lineItems` reaches them.
    """

    node_cost: ClassVar[int] = 1
    lookback: ClassVar[timedelta] = timedelta(minutes=10)
    bulk: ClassVar[bool] = False
    selection: ClassVar[str] = ""
    added_fields: ClassVar[tuple[str, ...]] = ()

    @classmethod
    def declared_fields(cls) -> frozenset[str] | None:
        if not cls.selection:
            return None
        paths = (*selection_paths(cls.selection), *cls.added_fields)
        through = (".".join(part for part in path.split(".") if part != "nodes") for path in paths)
        return frozenset((*paths, *through))


class Customers(ShopifyStream):
    name = "customers"
    primary_key = "id"
    cursor_field = "updatedAt"
    record_model = CustomerModel
    bulk = True
    selection = queries.CUSTOMER
    description = "Customers with their default address and email marketing consent."
    # the Admin API keeps no trace of deleted customers: one missing from a complete read was deleted
    deletes_by_absence = True


class Orders(ShopifyStream):
    name = "orders"
    primary_key = "id"
    cursor_field = "updatedAt"
    record_model = OrderModel
    bulk = True
    # every line of the order is read (paged, or as child lines of a bulk export) into `lineItems.nodes`
    selection = f"{queries.ORDER_HEAD} lineItems {{ nodes {{ {queries.LINE_ITEM} }} }}"
    description = "Orders with their lines (`lineItems.nodes`)."


class Variants(ShopifyStream):
    name = "variants"
    primary_key = "id"
    cursor_field = "updatedAt"
    record_model = VariantModel
    bulk = True
    selection = queries.VARIANT
    added_fields = ("_currency",)
    description = "Product variants: SKU, price, compare-at price and their product's title and status."


class Locations(ShopifyStream):
    name = "locations"
    primary_key = "id"
    record_model = LocationModel
    selection = queries.LOCATION
    description = "Locations where stock is held (read whole on each run)."


class InventoryLevels(ShopifyStream):
    name = "inventory_levels"
    primary_key = "id"
    cursor_field = "updatedAt"
    record_model = InventoryLevelModel
    selection = queries.INVENTORY_LEVEL
    description = "Available, on-hand and committed quantities per inventory item and location."


class Discounts(ShopifyStream):
    name = "discounts"
    primary_key = "id"
    cursor_field = "codeDiscount.updatedAt"
    record_model = DiscountModel
    selection = queries.DISCOUNT
    added_fields = ("_percentage_points",)
    description = "Code discounts; `_percentage_points` holds a percentage discount in percent."


class WriteOnly(WriteOnlyStream):
    """A publishing target, not read (its data is read through another stream)."""


class Prices(WriteOnly):
    name = "prices"
    batch_size = 250
    description = "Write-only: variant prices by SKU (read them from `variants`)."


class StockLevels(WriteOnly):
    name = "stock_levels"
    batch_size = 250
    description = "Write-only: available quantity by SKU and location (read it from `inventory_levels`)."


class Promotions(WriteOnly):
    name = "promotions"
    batch_size = 1
    description = "Write-only: amount-off and percentage-off code discounts (read them from `discounts`)."


class Consents(WriteOnly):
    name = "consents"
    batch_size = 100
    description = "Write-only: customers' email marketing consent (read it from `customers`)."


STREAMS: tuple[type[ShopifyStream], ...] = (
    Customers,
    Orders,
    Variants,
    Locations,
    InventoryLevels,
    Discounts,
    Prices,
    StockLevels,
    Promotions,
    Consents,
)


def record_cursor(stream: type[Stream], record: dict[str, Any]) -> Any:
    """The cursor value of a raw record (None when the stream has no cursor or the record lacks it)."""
    if stream.cursor_field is None:
        return None
    value: Any = record
    for part in stream.cursor_field.split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value
