"""Canonical record types and the entities they are stored as."""

from canalis.canonical.records import (
    CanonicalRecord,
    Consent,
    CustomerRecord,
    Interaction,
    Order,
    OrderLine,
    Price,
    Product,
    Promotion,
    StockLevel,
)

__all__ = [
    "CanonicalRecord",
    "Consent",
    "CustomerRecord",
    "Interaction",
    "Order",
    "OrderLine",
    "Price",
    "Product",
    "Promotion",
    "StockLevel",
]
