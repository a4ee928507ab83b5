"""Streams of the SQL ERP connector: one per configured table or query, the standard ERP set by default."""

from __future__ import annotations

from datetime import timedelta
from typing import ClassVar

from canalis.connectors.sql_erp.settings import DEFAULT_STREAMS, StreamSource
from canalis.sdk import Stream

COMPOSITE_KEY = "_key"
"""Record field holding a composite primary key, its column values joined with ':'."""

DESCRIPTIONS = {
    "customers": "Customer master data (one row per customer account).",
    "products": "Articles / SKUs of the item master.",
    "prices": "Sales prices per SKU and price list.",
    "stock_levels": "Stock per SKU and warehouse location.",
    "orders": "Sales order headers.",
    "order_lines": "Sales order lines, keyed by order and line number.",
    "promotions": "Discount codes and promotions.",
}


class SqlStream(Stream):
    """A stream read from one table, view or query of the ERP database.

    Its fields are not declared (`field_paths` stays None, so mappings are not checked field by field): they are
    the columns of the table or query the connection's settings name, unknown until the database is read.
    """

    key_columns: ClassVar[tuple[str, ...]] = ("id",)
    source: ClassVar[StreamSource]


def stream_class(name: str, source: StreamSource, lookback: timedelta = timedelta(0)) -> type[SqlStream]:
    """The stream class for one configured source."""
    composite = len(source.primary_key) > 1
    where = f"table {source.table}" if source.table else "a configured query"
    description = source.description or DESCRIPTIONS.get(name, f"Rows of {where}.")
    attributes = {
        "name": name,
        "primary_key": COMPOSITE_KEY if composite else source.primary_key[0],
        "cursor_field": source.cursor,
        "key_columns": tuple(source.primary_key),
        "source": source,
        "description": f"{description} Read from {where}.",
        "lookback": lookback if source.cursor and source.cursor_kind == "datetime" else timedelta(0),
    }
    class_name = "".join(part.title() for part in name.split("_")) + "Stream"
    return type(class_name, (SqlStream,), attributes)


STREAMS: tuple[type[SqlStream], ...] = tuple(stream_class(name, source) for name, source in DEFAULT_STREAMS.items())
"""The standard streams with their default tables (what `canalis connectors list` shows)."""
