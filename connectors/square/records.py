"""Record models: the minimum a Square record must hold to be accepted (other fields pass through untouched)."""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field


class SquareRecord(BaseModel):
    """Base of the record models: unknown fields are allowed and kept."""

    model_config = ConfigDict(extra="allow")


class Money(SquareRecord):
    amount: int
    currency: str = Field(min_length=3, max_length=3)


class Customer(SquareRecord):
    id: str = Field(min_length=1)
    created_at: datetime
    updated_at: datetime
    email_address: str | None = None
    phone_number: str | None = None


class OrderLineItem(SquareRecord):
    quantity: Decimal
    uid: str | None = None
    base_price_money: Money | None = None


class Order(SquareRecord):
    id: str = Field(min_length=1)
    location_id: str
    created_at: datetime
    updated_at: datetime
    line_items: list[OrderLineItem] = Field(default_factory=list)
    total_money: Money | None = None


class VariationData(SquareRecord):
    sku: str | None = None
    price_money: Money | None = None


class Variation(SquareRecord):
    id: str = Field(min_length=1)
    item_variation_data: VariationData


class ItemData(SquareRecord):
    name: str | None = None
    variations: list[Variation] = Field(default_factory=list)


class CatalogItem(SquareRecord):
    id: str = Field(min_length=1)
    type: Literal["ITEM"]
    updated_at: datetime
    item_data: ItemData


class DiscountData(SquareRecord):
    """Fixed discounts only: VARIABLE_* discounts get their value at the till and have no canonical form."""

    name: str = Field(min_length=1)
    discount_type: Literal["FIXED_PERCENTAGE", "FIXED_AMOUNT"]
    percentage: Decimal | None = None
    amount_money: Money | None = None


class Discount(SquareRecord):
    id: str = Field(min_length=1)
    type: Literal["DISCOUNT"]
    updated_at: datetime
    discount_data: DiscountData


class InventoryCount(SquareRecord):
    catalog_object_id: str
    location_id: str
    state: str
    quantity: Decimal
    calculated_at: datetime


class Location(SquareRecord):
    id: str = Field(min_length=1)
    name: str | None = None
