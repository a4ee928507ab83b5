"""Canonical entities: for each, its record type, its tables and how a record becomes rows."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Table

from canalis.canonical import records as r
from canalis.store import tables as t
from canalis.store.types import dumps

RowsByTable = dict[str, list[dict[str, Any]]]


@dataclass(frozen=True)
class RowContext:
    """Where a record comes from: the connection (source) and the stream or object it was read from."""

    source: str
    object: str
    loaded_at: datetime


def content_hash(row: dict[str, Any]) -> str:
    """A stable hash of a row's content, ignoring load bookkeeping."""
    material = row.copy()
    for key in _BOOKKEEPING:
        material.pop(key, None)
    return hashlib.sha256(dumps(material).encode()).hexdigest()


_BOOKKEEPING = ("loaded_at", "content_hash", "updated_at")


def _fields(record: r.CanonicalRecord) -> dict[str, Any]:
    """A record's validated field values, as a new dict that rows are built from.

    Canonical records are flat and forbid extra fields, so their `__dict__` holds exactly the fields;
    `model_dump` would give the same dict but copy every value again.
    """
    return record.__dict__.copy()


def _finish(row: dict[str, Any], context: RowContext) -> dict[str, Any]:
    row["content_hash"] = content_hash(row)
    row["loaded_at"] = context.loaded_at
    return row


def record_key(source: str, obj: str, source_id: str) -> str:
    """The store key of a source record: connection, object and id."""
    return f"{source}:{obj}:{source_id}"


def _customer_rows(record: r.CustomerRecord, c: RowContext) -> RowsByTable:
    key = record_key(c.source, c.object, record.source_id)
    row = _fields(record)
    row.update(record_key=key, source=c.source, object=c.object)
    contact_points = []
    invalid = record.attributes.get("invalid_fields", {}) if isinstance(record.attributes, dict) else {}
    for kind, value in (("email", record.email), ("phone", record.phone)):
        if value:
            contact_points.append(_contact_point(key, kind, value, True, c))
        elif kind in invalid:
            raw = str(invalid[kind].get("raw", ""))[:600]
            if raw:
                contact_points.append(_contact_point(key, kind, raw, False, c))
    postal = ", ".join(part for part in (record.street, record.postcode, record.city, record.country) if part)
    if postal:
        contact_points.append(_contact_point(key, "postal", postal[:600], True, c))
    return {"customer_records": [_finish(row, c)], "contact_points": contact_points}


def _contact_point(key: str, kind: str, value: str, valid: bool, c: RowContext) -> dict[str, Any]:
    digest = hashlib.sha256(value.encode()).hexdigest()[:16]
    return {
        "contact_point_key": f"{key}|{kind}|{digest}",
        "record_key": key,
        "kind": kind,
        "value": value,
        "raw_value": value,
        "is_valid": valid,
        "updated_at": c.loaded_at,
    }


def _consent_rows(record: r.Consent, c: RowContext) -> RowsByTable:
    customer_key = record_key(c.source, c.object, record.source_id)
    row = {
        "consent_key": f"{customer_key}:{record.purpose}:{record.channel}",
        "record_key": customer_key,
        "source": c.source,
        "purpose": record.purpose,
        "channel": record.channel,
        "status": record.status,
        "recorded_at": record.recorded_at,
        "updated_at": c.loaded_at,
    }
    return {"consents": [row]}


def _interaction_rows(record: r.Interaction, c: RowContext) -> RowsByTable:
    data = _fields(record)
    customer = data.pop("customer_source_id")
    customer_object = data.pop("customer_object")
    thread = data.pop("thread_id")
    row = {
        **data,
        "interaction_key": record_key(c.source, c.object, record.source_id),
        "source": c.source,
        "object": c.object,
        "customer_record_key": record_key(c.source, customer_object, customer) if customer else None,
        "thread_key": f"{c.source}:{thread}" if thread else None,
    }
    return {"interactions": [_finish(row, c)]}


def _order_rows(record: r.Order, c: RowContext) -> RowsByTable:
    data = _fields(record)
    customer = data.pop("customer_source_id")
    customer_object = data.pop("customer_object")
    row = {
        **data,
        "order_key": record_key(c.source, c.object, record.source_id),
        "source": c.source,
        "customer_record_key": record_key(c.source, customer_object, customer) if customer else None,
    }
    return {"orders": [_finish(row, c)]}


def _order_line_rows(record: r.OrderLine, c: RowContext) -> RowsByTable:
    order_key = record_key(c.source, record.order_object, record.order_source_id)
    row = {
        "order_line_key": f"{order_key}:{record.line_id}",
        "order_key": order_key,
        "sku": record.sku,
        "quantity": record.quantity,
        "unit_price": record.unit_price,
        "currency": record.currency,
    }
    return {"order_lines": [_finish(row, c)]}


def _product_rows(record: r.Product, c: RowContext) -> RowsByTable:
    row = {**_fields(record), "product_key": f"{c.source}:{record.sku}", "source": c.source}
    return {"products": [_finish(row, c)]}


def _price_rows(record: r.Price, c: RowContext) -> RowsByTable:
    row = {
        **_fields(record),
        "price_key": f"{c.source}:{record.sku}:{record.price_list}",
        "source": c.source,
    }
    return {"prices": [_finish(row, c)]}


def _stock_rows(record: r.StockLevel, c: RowContext) -> RowsByTable:
    row = _fields(record)
    if row["available"] is None:
        row["available"] = record.on_hand - record.reserved
    row.update(stock_key=f"{c.source}:{record.sku}:{record.location}", source=c.source)
    return {"stock_levels": [_finish(row, c)]}


def _promotion_rows(record: r.Promotion, c: RowContext) -> RowsByTable:
    row = {**_fields(record), "promotion_key": f"{c.source}:{record.code}", "source": c.source}
    return {"promotions": [_finish(row, c)]}


@dataclass(frozen=True)
class Entity:
    """A canonical entity: the record type a mapping target produces and how it is stored."""

    name: str
    record_type: type[r.CanonicalRecord]
    to_rows: Callable[[Any, RowContext], RowsByTable]
    primary_table: str
    description: str


ENTITIES: dict[str, Entity] = {
    entity.name: entity
    for entity in (
        Entity(
            "customer_record",
            r.CustomerRecord,
            _customer_rows,
            "customer_records",
            "People as each source holds them",
        ),
        Entity("consent", r.Consent, _consent_rows, "consents", "Consents per purpose and channel"),
        Entity("interaction", r.Interaction, _interaction_rows, "interactions", "Contacts on every channel"),
        Entity("order", r.Order, _order_rows, "orders", "Order headers"),
        Entity("order_line", r.OrderLine, _order_line_rows, "order_lines", "Order lines"),
        Entity("product", r.Product, _product_rows, "products", "Products by SKU"),
        Entity("price", r.Price, _price_rows, "prices", "Prices per SKU and channel"),
        Entity("stock_level", r.StockLevel, _stock_rows, "stock_levels", "Stock per SKU and location"),
        Entity("promotion", r.Promotion, _promotion_rows, "promotions", "Promotions and discount codes"),
    )
}

TABLES: dict[str, Table] = {table.name: table for table in t.metadata.sorted_tables}

# Rows of these tables belong to a parent record and are replaced whole when the parent changes.
REPLACED_WITH_PARENT: dict[str, tuple[str, str]] = {"contact_points": ("record_key", "customer_records")}
