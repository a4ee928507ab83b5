"""Stream declarations, read pages and write results: the vocabulary connectors speak."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any, ClassVar, Literal

from pydantic import BaseModel

from canalis.sdk.errors import ConnectorError
from canalis.sdk.state import CursorKind, StreamState

if TYPE_CHECKING:
    from canalis.sdk.base import Connector


class Stream:
    """A stream a connector reads (and maybe writes), declared with class attributes.

    `field_paths` declares the fields its records carry, as dotted paths (`properties.email`); a list's items
    are reached through the list's name (`line_items.sku`), `name.*` admits any key below `name`, and
    `name.prefix*` any key of `name` starting with `prefix` (keys a vendor numbers per account). Mappings are
    checked against them (`canalis check`); a stream that declares none is not checked field by field.

    A writable stream declares `batch_size`, the most records one write call to the vendor carries, and
    `batch_path`, where those records sit in the call's JSON body (`members`; empty for a body that is the
    list itself); publishing batches by it and the conformance suite holds the connector to it.

    How a stream is read: the connector's `read_<name>(state)` method when it has one, else the stream's own
    `pages(connector, state)`, which the declarative streams (`RestStream`, `GraphQLStream`, `SqlStream`)
    implement from their declaration.
    """

    name: ClassVar[str]
    primary_key: ClassVar[str]
    cursor_field: ClassVar[str | None] = None
    cursor_kind: ClassVar[CursorKind] = "datetime"
    record_model: ClassVar[type[BaseModel] | None] = None
    field_paths: ClassVar[tuple[str, ...] | None] = None
    description: ClassVar[str] = ""
    writable: ClassVar[bool] = False
    readable: ClassVar[bool] = True
    lookback: ClassVar[timedelta] = timedelta(0)
    batch_size: ClassVar[int | None] = None
    batch_path: ClassVar[str | None] = None
    deleted_when: ClassVar[tuple[str, Any] | None] = None
    """A field (dotted path) and the value marking a record the source deleted or archived, such as
    `("IsDeleted", True)`: such records become tombstones instead of raw records."""
    deletion_kind: ClassVar[DeletionKind] = "deleted"
    """What a record marked by `deleted_when` is: deleted, or archived (hidden but kept by the source)."""
    deletes_by_absence: ClassVar[bool] = False
    """Whether a record missing from a complete read of the stream was deleted at the source (for sources that
    list every live record and keep no trace of deleted ones)."""

    @classmethod
    def pages(cls, connector: Connector, state: StreamState) -> Iterator[Page]:
        """Read the stream from `state` on (declarative streams implement this from their declaration).

        A stream that is not readable (write-only) reads nothing.
        """
        if not cls.readable:
            return iter(())
        method = f"read_{reader_suffix(cls.name)}"
        raise ConnectorError(
            f"{connector.name}: stream '{cls.name}' has no reader: declare it as a RestStream, GraphQLStream or "
            f"SqlStream, or give the connector a {method}(state) method"
        )

    @classmethod
    def incremental(cls) -> bool:
        """Whether the stream can resume from a cursor."""
        return cls.cursor_field is not None

    @classmethod
    def declared_fields(cls) -> frozenset[str] | None:
        """The field paths the stream's records may hold, or None when the stream does not declare them."""
        return frozenset(cls.field_paths) if cls.field_paths is not None else None


def reader_suffix(stream_name: str) -> str:
    """The stream name as it appears in a connector's reader method: `read_<suffix>`."""
    return "".join(char if char.isalnum() else "_" for char in stream_name)


def field_declared(path: str, declared: frozenset[str]) -> bool:
    """Whether a record path is among the declared ones: itself, an object holding some, or matched by a `*`.

    Digit segments (list positions, `addresses.0.city`) are skipped: a list's items are declared through its name.
    A declared path ending in `*` admits every path starting with what comes before the `*` (`name.*`, or
    `properties.hs_email_optout_*`).
    """
    parts = [part for part in path.split(".") if not part.isdigit()]
    path = ".".join(parts)
    if path in declared or any(known.startswith(path + ".") for known in declared):
        return True
    return any(known.endswith("*") and path.startswith(known[:-1]) for known in declared)


class WriteOnlyStream(Stream):
    """A canonical stream Canalis publishes to a channel (prices, stock_levels, promotions, consents, customers).

    Nothing is read from it: the channel's current values come in through its ordinary streams.
    """

    primary_key = "key"
    writable = True
    readable = False


@dataclass(frozen=True)
class Rejected:
    """A record a connector could not accept, kept with the reason so it can be quarantined."""

    payload: Any
    error: str
    record_id: str | None = None
    field: str | None = None
    incomplete: bool = False
    """The record landed without the malformed children this names: its entry stays open until it lands whole."""


DeletionKind = Literal["deleted", "archived", "missing"]


@dataclass(frozen=True)
class Deletion:
    """A record the source deleted or archived, by its primary key value."""

    record_id: str
    kind: DeletionKind = "deleted"


@dataclass
class Page:
    """Records read in one go, the records the source reports deleted, and the stream state that holds once
    they are stored.

    `superseded` names record-id prefixes (a file's name) whose every record this read went through again since
    `read_since`: their read-stage quarantine entries not rejected again since then are closed, since whatever
    they held has landed or was rejected anew under its current id.
    """

    records: list[dict[str, Any]]
    state: StreamState
    rejected: list[Rejected] = field(default_factory=list)
    deleted: list[Deletion] = field(default_factory=list)
    superseded: tuple[str, ...] = ()
    read_since: datetime | None = None


WriteStatus = Literal["applied", "unchanged", "failed", "skipped"]


@dataclass(frozen=True)
class WriteResult:
    """The outcome of writing one record to a channel."""

    record_key: str
    status: WriteStatus
    vendor_id: str | None = None
    error: str | None = None
    retryable: bool = False


@dataclass(frozen=True)
class CheckResult:
    """The outcome of a connection test."""

    ok: bool
    message: str
    details: dict[str, Any] = field(default_factory=dict)
