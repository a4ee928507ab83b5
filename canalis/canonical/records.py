"""Canonical record types: what every source is mapped to before it reaches the store.

Money is Decimal, never float; timestamps are timezone-aware UTC. Each record carries the `source_id` it
has in its source; the store key is built from the connection, the object and that id.
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Annotated, Any, Literal

from pydantic import AfterValidator, BaseModel, ConfigDict, Field


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


class CustomerRecord(CanonicalRecord):
    """One person as one source holds them."""

    source_id: str
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    phone: str | None = None
    birth_date: date | None = None
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
    amount: Money | None = None
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    satisfaction_score: float | None = None
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
    total_amount: Money | None = None
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    location: str | None = None


class OrderLine(CanonicalRecord):
    """One line of an order."""

    order_source_id: str
    order_object: str = "orders"
    line_id: str
    sku: str | None = None
    quantity: Money = Decimal(1)
    unit_price: Money | None = None
    currency: str | None = Field(default=None, min_length=3, max_length=3)


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
    amount: Money
    compare_at_amount: Money | None = None
    currency: str = Field(min_length=3, max_length=3)
    tax_included: bool = True
    valid_from: UtcTimestamp | None = None
    valid_to: UtcTimestamp | None = None


class StockLevel(CanonicalRecord):
    """Stock of a SKU at one location."""

    source_id: str | None = None
    sku: str
    location: str
    on_hand: Money
    reserved: Money = Decimal(0)
    available: Money | None = None
    observed_at: UtcTimestamp | None = None


class Promotion(CanonicalRecord):
    """A promotion or discount code."""

    source_id: str | None = None
    code: str
    name: str | None = None
    scope: str | None = None
    discount_type: Literal["percentage", "fixed_amount"]
    discount_value: Money
    currency: str | None = Field(default=None, min_length=3, max_length=3)
    channels: list[str] = Field(default_factory=list)
    starts_at: UtcTimestamp | None = None
    ends_at: UtcTimestamp | None = None
    status: Literal["active", "scheduled", "expired", "disabled"] = "active"
