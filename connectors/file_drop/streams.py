"""Streams of the file-drop connector: one per kind of file dropped in the folder."""

from __future__ import annotations

from typing import ClassVar

from canalis.sdk import Stream


class FileStream(Stream):
    """A stream read from files; its key is built from `key_columns` into the `_key` field.

    Its fields are not declared (`field_paths` stays None, so mappings are not checked field by field): they are
    the columns of whatever CSV or JSONL files a connection drops, unknown until the files are read.
    """

    primary_key = "_key"
    key_columns: ClassVar[tuple[str, ...]] = ("id",)


class Customers(FileStream):
    name = "customers"
    description = "Customer records, one per row."


class Orders(FileStream):
    name = "orders"
    description = "Order headers."


class OrderLines(FileStream):
    name = "order_lines"
    key_columns = ("order_id", "line_no")
    description = "Order lines, keyed by order id and line number."


class Interactions(FileStream):
    name = "interactions"
    description = "Contacts with customers: emails, calls, visits, reviews."


STREAMS: tuple[type[FileStream], ...] = (Customers, Orders, OrderLines, Interactions)
