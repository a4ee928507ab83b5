"""The Connector base class every built-in connector and plugin derives from."""

from __future__ import annotations

import inspect
import logging
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Literal, Self

from pydantic import BaseModel, ValidationError

from canalis.sdk.children import bad_children, non_finite, spelled_out, without_children
from canalis.sdk.errors import ConfigError, ConnectorError
from canalis.sdk.settings import ConnectorSettings, load_settings
from canalis.sdk.state import StreamState
from canalis.sdk.streams import CheckResult, Page, Rejected, Stream, WriteResult, reader_suffix

ConnectorKind = Literal["crm", "erp", "email", "ecommerce", "pos", "marketing", "file"]
ErasureMode = Literal["delete", "anonymise"]


class Connector:
    """A source (and maybe destination) system: typed settings, declared streams, check, read, write.

    Subclasses set `name`, `kind`, `settings_model` and `streams`, and implement `check` and `write` when any
    stream is writable. Streams are read by `read_pages`, which calls the connector's `read_<stream>(state)`
    method when there is one and otherwise lets a declarative stream (`RestStream`, `GraphQLStream`,
    `SqlStream`) read itself. `read` wraps `read_pages` with record validation so that a malformed record
    becomes a `Rejected` entry instead of stopping the run.

    A connector may hold sessions and connections: use it as a context manager (`with connector: ...`), which
    calls `close()`; connectors that hold any override `close`.
    A connector ships its default mapping as `mapping.yaml` next to its class, and may ship variants as
    `mapping_<variant>.yaml` (a connection chooses one with `mapping: <variant>`).
    """

    name: ClassVar[str]
    kind: ClassVar[ConnectorKind]
    title: ClassVar[str] = ""
    description: ClassVar[str] = ""
    settings_model: ClassVar[type[ConnectorSettings]]
    streams: ClassVar[tuple[type[Stream], ...]]
    default_mapping: ClassVar[str | None] = "mapping.yaml"
    """File name of the default mapping, next to the connector's class; None when the connector ships none."""
    erasure: ClassVar[dict[str, ErasureMode]] = {}
    """Streams whose records the connector can erase at the source, and how: `delete` removes the record,
    `anonymise` overwrites its personal values (for systems that must keep it, such as orders in accounting).
    A connector that declares any implements `erase`."""

    def __init__(self, settings: ConnectorSettings, *, connection: str | None = None) -> None:
        self.settings = settings
        self.connection = connection or self.name
        self.log = logging.getLogger(f"canalis.connectors.{self.name}")

    def __repr__(self) -> str:
        return f"{type(self).__name__}(connection={self.connection!r})"

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self, kind: type[BaseException] | None, error: BaseException | None, traceback: TracebackType | None
    ) -> None:
        self.close()

    def close(self) -> None:
        """Release sessions and connections (nothing to release by default). Safe to call more than once."""

    @classmethod
    def package_dir(cls) -> Path:
        """The folder holding the connector's class, where its mappings are."""
        return Path(inspect.getfile(cls)).resolve().parent

    @classmethod
    def mapping_path(cls, variant: str | None = None) -> Path:
        """A mapping the connector ships: its default one, or `mapping_<variant>.yaml`."""
        if variant is not None:
            return cls.package_dir() / f"mapping_{variant}.yaml"
        if cls.default_mapping is None:
            raise ConfigError(f"connector '{cls.name}' ships no default mapping: name one in the connection")
        return cls.package_dir() / cls.default_mapping

    @classmethod
    def shipped_mappings(cls) -> dict[str, Path]:
        """Every mapping the connector ships, by name: `default`, and each variant."""
        folder = cls.package_dir()
        found = {path.stem.removeprefix("mapping_"): path for path in sorted(folder.glob("mapping_*.yaml"))}
        if cls.default_mapping is not None and (folder / cls.default_mapping).is_file():
            found["default"] = folder / cls.default_mapping
        return found

    @classmethod
    def from_config(cls, values: dict[str, Any] | None, *, connection: str) -> Connector:
        """Build a connector from a connection's settings, failing fast with the setting named."""
        return cls(load_settings(cls.settings_model, values, connection=connection), connection=connection)

    def declared_streams(self) -> tuple[type[Stream], ...]:
        """The streams of this connection (a connector may adapt them to its settings)."""
        return self.streams

    def stream(self, name: str) -> type[Stream]:
        """The declared stream called `name`."""
        for stream in self.declared_streams():
            if stream.name == name:
                return stream
        known = ", ".join(stream.name for stream in self.declared_streams())
        raise ConnectorError(f"{self.name}: no stream '{name}' (streams: {known})")

    @classmethod
    def stream_names(cls, settings: Mapping[str, Any]) -> list[str]:
        """The readable streams a connection with these settings has (settings are not validated here).

        Used to build the Dagster graph without secrets or I/O; connectors whose streams come from their
        settings override it.
        """
        return [stream.name for stream in cls.streams if stream.readable]

    @classmethod
    def can_write(cls) -> bool:
        """Whether any stream accepts writes."""
        return any(stream.writable for stream in cls.streams)

    def write_batch_size(self, stream: str) -> int:
        """The most records one write call carries: the stream's `batch_size`, lowered by a `batch_size` or
        `write_batch_size` setting when the connector has one; 100 when nothing is declared."""
        declared = self.stream(stream).batch_size
        configured = getattr(self.settings, "batch_size", None) or getattr(self.settings, "write_batch_size", None)
        sizes = [int(size) for size in (declared, configured) if isinstance(size, int) and size > 0]
        return min(sizes) if sizes else 100

    def lookback_of(self, stream: type[Stream]) -> timedelta:
        """How far before the stored cursor an incremental read starts: a `lookback_minutes` or
        `lookback_seconds` setting when the connector has one, else the stream's `lookback`."""
        minutes = getattr(self.settings, "lookback_minutes", None)
        if isinstance(minutes, int | float):
            return timedelta(minutes=minutes)
        seconds = getattr(self.settings, "lookback_seconds", None)
        if isinstance(seconds, int | float):
            return timedelta(seconds=seconds)
        return stream.lookback

    def now(self) -> datetime:
        """The current time, aware UTC (connectors' tests may replace it)."""
        return datetime.now(UTC)

    def setting_error(self, name: str, reason: str) -> ConfigError:
        """A ConfigError naming the connection, the setting and its environment variable (never its value)."""
        env = self.settings_model.env_of(name) if name in self.settings_model.model_fields else None
        hint = f" ({env})" if env else ""
        return ConfigError(
            f"connection '{self.connection}': setting '{name}'{hint} {reason}", setting=name, connection=self.connection
        )

    # --- to implement -----------------------------------------------------------------------------

    def check(self) -> CheckResult:
        """Test the connection and the settings without reading data."""
        raise NotImplementedError

    def read_pages(self, stream: type[Stream], state: StreamState) -> Iterator[Page]:
        """Yield pages of raw records from `state` on, each with the state valid once it is stored.

        The connector's `read_<stream>(state)` method reads the stream when it has one; otherwise the stream
        reads itself (`stream.pages(connector, state)`), as declarative streams do.
        """
        reader = getattr(self, f"read_{reader_suffix(stream.name)}", None)
        if callable(reader):
            return reader(state)
        return stream.pages(self, state)

    def write(self, stream: str, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        """Write records to a writable stream, yielding one result per record."""
        raise ConnectorError(f"{self.name}: stream '{stream}' is read-only")

    def erase(self, stream: str, source_id: str) -> WriteResult:
        """Erase one record of a stream at the source, as `erasure` declares (delete or anonymise).

        An already erased record is `unchanged`; the result's `record_key` is the source id. Errors name the
        system and the call but never the record's values.
        """
        raise ConnectorError(f"{self.name}: records of stream '{stream}' cannot be erased at the source")

    def detects_deletes_by_absence(self, stream: type[Stream]) -> bool:
        """Whether records missing from a complete read of `stream` count as deleted (the stream's
        `deletes_by_absence`, unless the connector decides from its settings)."""
        return stream.deletes_by_absence

    # --- optional: records by id ------------------------------------------------------------------

    def fetches_by_id(self, stream: str) -> bool:
        """Whether `read_records_by_id` fetches this stream's records by id (the vendor has a call for it).

        Quarantine replay fetches records rejected on an earlier read this way; for a stream that cannot, it
        re-reads the cursor window the records were in. A declarative stream says so itself (a `RestStream`
        with a `record_path`).
        """
        available = getattr(self.stream(stream), "by_id_available", None)
        return bool(available()) if callable(available) else False

    def read_records_by_id(self, stream: str, ids: Sequence[str]) -> Iterator[dict[str, Any]]:
        """The current version of each named record, shaped as the stream's read shapes it (same fields,
        same nested children); ids the vendor no longer knows are left out. Connectors whose `fetches_by_id`
        says so implement it (declarative streams with a `record_path` have it already)."""
        declared = self.stream(stream)
        fetch = getattr(declared, "records_by_id", None)
        if callable(fetch) and self.fetches_by_id(stream):
            return iter(fetch(self, ids))
        raise ConnectorError(f"{self.name}: stream '{stream}' cannot be read by id")

    # --- provided -------------------------------------------------------------------------------

    def read(self, stream_name: str, state: StreamState | None = None) -> Iterator[Page]:
        """Read a stream from `state` (from the start when None), validating every record."""
        stream = self.stream(stream_name)
        state = state or StreamState.empty(stream.cursor_kind)
        for page in self.read_pages(stream, state):
            yield validate_page(stream, page)


def record_id(stream: type[Stream], record: dict[str, Any]) -> str | None:
    """The primary key value of a raw record (dotted paths reach into nested objects)."""
    return key_at(record, stream.primary_key)


def key_at(record: dict[str, Any], path: str) -> str | None:
    """The value at a dotted path as a key: text, or None when it is missing or empty."""
    value = dig(record, path)
    return None if value is None or value == "" else str(value)


def dig(record: Any, path: str) -> Any:
    """Follow a dotted path through nested dicts (and list indexes); None when any step is missing."""
    current = record
    for part in path.split("."):
        if isinstance(current, dict):
            current = current.get(part)
        elif isinstance(current, list) and part.isdigit() and int(part) < len(current):
            current = current[int(part)]
        else:
            return None
        if current is None:
            return None
    return current


def marked_deleted(stream: type[Stream], record: dict[str, Any]) -> bool:
    """Whether a record carries its stream's deletion marker (it is kept as a tombstone, not validated)."""
    marker = stream.deleted_when
    return marker is not None and dig(record, marker[0]) == marker[1]


def validate_page(stream: type[Stream], page: Page) -> Page:
    """Move records without a primary key, holding NaN or Infinity, or failing the stream's record model, to
    `rejected`.

    A record whose only faults lie in child records (`list[Model]` fields of the record model: order lines,
    rules) lands without those children, and a rejection under its own id names them: it is incomplete.
    """
    accepted: list[dict[str, Any]] = []
    rejected = list(page.rejected)
    model = stream.record_model
    # what model_validate does, without its wrapper call (about half the cost of checking a small record)
    validate = model.__pydantic_validator__.validate_python if model is not None else None
    for record in page.records:
        if not isinstance(record, dict):
            rejected.append(Rejected(payload=record, error="record is not a JSON object"))
            continue
        key = record_id(stream, record)
        if key is None:
            rejected.append(
                Rejected(
                    payload=record,
                    error=f"missing primary key '{stream.primary_key}'",
                    field=stream.primary_key,
                )
            )
            continue
        number = non_finite(record)
        if number is not None:
            path, value = number
            error = f"{path}: {value} is not a finite number (JSON has no NaN or Infinity); the record is refused"
            rejected.append(Rejected(payload=spelled_out(record), error=error, record_id=key, field=path))
            continue
        if validate is not None and not marked_deleted(stream, record):
            try:
                validate(record)
            except ValidationError as error:
                landed = _without_bad_children(model, validate, record, error)  # type: ignore[arg-type]
                if landed is None:
                    first = error.errors()[0]
                    field = ".".join(str(part) for part in first["loc"])
                    rejected.append(
                        Rejected(payload=record, error=f"{field}: {first['msg']}", record_id=key, field=field)
                    )
                    continue
                trimmed, rejection = landed
                rejected.append(replace(rejection, record_id=key))
                record = trimmed
        accepted.append(record)
    return replace(page, records=accepted, rejected=rejected)


def _without_bad_children(
    model: type[BaseModel], validate: Any, record: dict[str, Any], error: ValidationError
) -> tuple[dict[str, Any], Rejected] | None:
    """The record without its malformed children, and the rejection naming them; None when the parent is at fault."""
    places = bad_children(model, error)
    if not places:
        return None
    trimmed = without_children(record, places)
    try:
        validate(trimmed)
    except ValidationError:
        return None
    reasons = "; ".join(f"{child.path}: {child.reason}" for _, _, child in places[:5])
    more = f" (and {len(places) - 5} more)" if len(places) > 5 else ""
    error_text = f"record landed incomplete: {len(places)} malformed child record(s) left out: {reasons}{more}"
    return trimmed, Rejected(payload=record, error=error_text, field=places[0][2].path, incomplete=True)
