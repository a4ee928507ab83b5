"""Canonical record types: what every source is mapped to before it reaches the store.

Money is Decimal, never float; timestamps are timezone-aware UTC. Each record carries the `source_id` it
has in its source; the store key is built from the connection, the object and that id.

Values are range-checked here, so that no single value can be stored that a later step cannot work with
(see `canalis.canonical.ranges` for what each kind of value accepts).
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, model_validator

from canalis.canonical.ranges import (
    Amount,
    BirthDate,
    CurrencyCode,
    FiniteFloat,
    NonNegativeAmount,
    NonNegativeQuantity,
    Quantity,
    storable,
)


def _aware_utc(value: datetime) -> datetime:
    if value.tzinfo is None:
        raise ValueError("timestamp has no timezone")
    return value.astimezone(UTC)


UtcTimestamp = Annotated[datetime, AfterValidator(_aware_utc)]
"""A timestamp that must carry its timezone; stored converted to UTC."""


class CanonicalRecord(BaseModel):
    """Base of canonical records: strict about types, forbids unknown fields."""

    model_config = ConfigDict(extra="forbid", str_strip_whitespace=True, coerce_numbers_to_str=True)


Money = Decimal
"""An exact amount (for annotations outside the records; records use the range-checked kinds below)."""


class CustomerRecord(CanonicalRecord):
    """One person as one source holds them."""

    source_id: str
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    phone: str | None = None
    birth_date: BirthDate | None = None
    street: str | None = None
    postcode: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = Field(default=None, min_length=2, max_length=2)
    loyalty_id: str | None = None
    external_ids: dict[str, str] = Field(default_factory=dict)
    attributes: dict[str, Any] = Field(default_factory=dict)
    source_updated_at: UtcTimestamp | None = None


ConsentStatus = Literal["granted", "denied", "unknown"]


class Consent(CanonicalRecord):
    """A person's consent for one purpose on one channel, as one source records it."""

    source_id: str = Field(description="the source's customer id")
    purpose: str = "marketing"
    channel: Literal["email", "sms", "phone", "post", "push"] = "email"
    status: ConsentStatus
    recorded_at: UtcTimestamp | None = None


class Interaction(CanonicalRecord):
    """A contact between a customer and the company on any channel."""

    source_id: str
    customer_source_id: str | None = None
    customer_object: str = "customers"
    customer_email: str | None = None
    channel: str
    kind: str
    occurred_at: UtcTimestamp
    status: str | None = None
    subject: str | None = None
    amount: Amount | None = Field(default=None, description="negative for a refund")
    currency: CurrencyCode | None = None
    satisfaction_score: FiniteFloat | None = None
    is_complaint: bool = False
    thread_id: str | None = None
    attributes: dict[str, Any] = Field(default_factory=dict)


class Order(CanonicalRecord):
    """An order header from a web shop, a POS or an ERP."""

    source_id: str
    customer_source_id: str | None = None
    customer_object: str = "customers"
    channel: str
    ordered_at: UtcTimestamp
    status: str | None = None
    total_amount: NonNegativeAmount | None = Field(default=None, description="never negative: refunds are not orders")
    currency: CurrencyCode | None = None
    location: str | None = None


class OrderLine(CanonicalRecord):
    """One line of an order."""

    order_source_id: str
    order_object: str = "orders"
    line_id: str
    sku: str | None = None
    quantity: NonNegativeQuantity = Decimal(1)
    unit_price: NonNegativeAmount | None = None
    currency: CurrencyCode | None = None

    @model_validator(mode="after")
    def _says_what_was_sold(self) -> OrderLine:
        if self.sku is None and self.unit_price is None:
            raise ValueError("an order line needs a SKU or a unit price (this one has neither)")
        return self


class Product(CanonicalRecord):
    """A product (or variant) identified by its SKU."""

    source_id: str
    sku: str
    name: str | None = None
    is_active: bool = True
    attributes: dict[str, Any] = Field(default_factory=dict)


class Price(CanonicalRecord):
    """The price of a SKU on one channel or price list."""

    source_id: str | None = None
    sku: str
    price_list: str
    amount: NonNegativeAmount
    compare_at_amount: NonNegativeAmount | None = None
    currency: CurrencyCode
    tax_included: bool = True
    valid_from: UtcTimestamp | None = None
    valid_to: UtcTimestamp | None = None


class StockLevel(CanonicalRecord):
    """Stock of a SKU at one location."""

    source_id: str | None = None
    sku: str
    location: str
    on_hand: Quantity = Field(description="may be negative: stock sold before it was received")
    reserved: NonNegativeQuantity = Decimal(0)
    available: Quantity | None = None
    observed_at: UtcTimestamp | None = None

    @model_validator(mode="after")
    def _available_storable(self) -> StockLevel:
        if self.available is None:
            storable(self.on_hand - self.reserved)  # what is stored as available when the source gives none
        return self


class Promotion(CanonicalRecord):
    """A promotion or discount code."""

    source_id: str | None = None
    code: str
    name: str | None = None
    scope: str | None = None
    discount_type: Literal["percentage", "fixed_amount"]
    discount_value: NonNegativeAmount
    currency: CurrencyCode | None = None
    channels: list[str] = Field(default_factory=list)
    starts_at: UtcTimestamp | None = None
    ends_at: UtcTimestamp | None = None
    status: Literal["active", "scheduled", "expired", "disabled"] = "active"

    @model_validator(mode="after")
    def _percentage_at_most_100(self) -> Promotion:
        if self.discount_type == "percentage" and self.discount_value > 100:
            raise ValueError(f"a percentage discount cannot exceed 100 (got {self.discount_value})")
        return self
