"""RestStream: a REST endpoint declared as a form, read by the SDK (paging, incremental bound, resume).

    class Members(RestStream):
        name = "members"
        path = "/lists/{list_id}/members"          # {names}: settings, or the partition's values
        records_path = "members"
        primary_key = "id"
        cursor_field = "last_changed"
        cursor_param = "since_last_changed"        # the lower bound sent on incremental reads
        paginator = OffsetPagination(limit=1000, limit_param="count", total_path="total_items")

The connector (an `HttpConnector`) supplies the HTTP client; `prepare()` is where a stream adds what is
specific to its vendor (flattening, computed keys) without taking over the reading.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, ClassVar
from urllib.parse import quote

from canalis.sdk.errors import ApiError, ConnectorError
from canalis.sdk.pagination import dig
from canalis.sdk.paginators import Location, PageRequest, Paginator
from canalis.sdk.progress import ReadProgress, cursor_values, newer_than
from canalis.sdk.state import CursorKind, StreamState, parse_cursor_datetime
from canalis.sdk.streams import Page, Stream

if TYPE_CHECKING:
    from canalis.sdk.base import Connector
    from canalis.sdk.http import HttpClient

Partition = dict[str, Any]


class Partitions:
    """Splits a stream into several reads of one endpoint (one per audience, campaign...)."""

    def values(self, connector: Connector) -> Iterator[Partition]:
        """The template values of each read, in a stable order."""
        yield {}


@dataclass(frozen=True)
class ParentPartitions(Partitions):
    """One read per record of a parent stream: the parent's `field` is the child's `{name}`."""

    stream: str
    field: str
    name: str

    def values(self, connector: Connector) -> Iterator[Partition]:
        seen: set[str] = set()
        for page in connector.read(self.stream):
            for record in page.records:
                value = dig(record, self.field)
                if value is not None and str(value) not in seen:
                    seen.add(str(value))
                    yield {self.name: value}


@dataclass(frozen=True)
class SettingPartitions(Partitions):
    """One read per value of a list setting (several audiences, several shops): the value is the child's `{name}`."""

    setting: str
    name: str

    def values(self, connector: Connector) -> Iterator[Partition]:
        value = getattr(connector.settings, self.setting)
        for item in value if isinstance(value, list | tuple) else [value]:
            yield {self.name: item}


class RestStream(Stream):
    """A stream read from one REST endpoint, page by page, by the SDK."""

    path: ClassVar[str]
    method: ClassVar[str] = "GET"
    params: ClassVar[Mapping[str, Any]] = {}
    body: ClassVar[Mapping[str, Any] | None] = None
    records_path: ClassVar[str | None] = None
    """Where the records are in an answer (dotted); None when the answer is the list itself."""
    paginator: ClassVar[Paginator] = Paginator()
    cursor_param: ClassVar[str | None] = None
    """The query parameter (or JSON key) that takes the lower bound of an incremental read."""
    cursor_in: ClassVar[Location] = "params"
    cursor_format: ClassVar[str] = "iso"
    """How the lower bound is written: iso, iso_z, iso_ms_z, epoch, epoch_ms, date, or a strftime pattern."""
    sorted_by_cursor: ClassVar[bool] = False
    """True when the endpoint returns records in ascending cursor order: the cursor then moves with every page.
    Otherwise it moves once the read reaches the end, to the newest value seen but not past the read's start."""
    partitions: ClassVar[Partitions | None] = None
    start: ClassVar[str | None] = None
    """The lower bound of a first read (`{start_date}` names a setting), for APIs that need one: without it an
    endpoint may answer only recent records."""
    record_path: ClassVar[str | None] = None
    """The path of one record by its primary key (`/contacts/{id}`), when the API has one: quarantine replay
    fetches records rejected on an earlier read through it (partitioned streams re-read their window instead)."""
    record_at: ClassVar[str | None] = None
    """Where the record is in that answer (dotted); None when the answer is the record itself."""

    @classmethod
    def by_id_available(cls) -> bool:
        """Whether records of this stream can be fetched one by one (`record_path`, no partitions)."""
        return cls.record_path is not None and cls.partitions is None

    @classmethod
    def records_by_id(cls, connector: Connector, ids: Iterable[str]) -> Iterator[Any]:
        """Each record by id through `record_path`, prepared as a read prepares it; an id the API does not
        know (404) is left out."""
        if cls.record_path is None:
            raise ConnectorError(f"{connector.name}: stream '{cls.name}' declares no record_path")
        http: HttpClient = connector.http  # type: ignore[attr-defined]
        call = f"GET {cls.record_path}"
        for value in ids:
            values = {**template_values(connector, {}), "id": quote(str(value), safe="")}
            try:
                response = http.request("GET", fill(cls.record_path, values, connector, cls), call=call)
            except ApiError as error:
                if error.status == 404:
                    continue
                raise
            body = http.decode_json(response, call=call)
            record = dig(body, cls.record_at) if cls.record_at else body
            if record is not None:
                yield from cls.prepare(connector, [record], {})

    @classmethod
    def prepare(cls, connector: Connector, records: list[Any], partition: Partition) -> list[Any]:
        """Turn one answer's records into the stream's records (the vendor-specific part; as they are by default)."""
        return records

    @classmethod
    def first_bound(cls, connector: Connector) -> str | None:
        """The lower bound of a read without a cursor: `start` filled from the settings, or None."""
        if cls.start is None:
            return None
        value = fill(cls.start, template_values(connector, {}), connector, cls)
        return str(value) if value not in (None, "", "None") else None

    @classmethod
    def pages(cls, connector: Connector, state: StreamState) -> Iterator[Page]:
        return read_declared(cls, connector, state, fetch=_rest_fetcher(cls, connector))

    @classmethod
    def request(cls, connector: Connector, partition: Partition) -> PageRequest:
        """The first page's request for one partition, before paging and the incremental bound."""
        values = template_values(connector, partition)
        path = fill(cls.path, values, connector, cls)
        params = {key: fill(value, values, connector, cls) for key, value in cls.params.items() if value is not None}
        body = fill(dict(cls.body), values, connector, cls) if cls.body is not None else None
        return PageRequest(cls.method, path, params, body)


Fetch = Callable[[Partition, dict[str, Any], str | None], tuple[list[Any], dict[str, Any] | None]]
"""One page of a declared stream: (partition, position, lower bound) -> (prepared records, next position or None)."""


def read_declared(
    stream: type[Stream],
    connector: Connector,
    state: StreamState,
    *,
    fetch: Fetch,
    first_position: dict[str, Any] | None = None,
) -> Iterator[Page]:
    """Drive a declared stream: partition by partition, page by page, with the incremental bound and resume.

    `fetch(partition, position, since)` returns one page's records (already prepared) and the next position.
    """
    kind = state.cursor_kind
    incremental = stream.incremental() and stream.cursor_field is not None
    since: datetime | str | None = None
    if incremental:
        since = state.since(connector.lookback_of(stream)) if kind == "datetime" else state.cursor
        first_bound = getattr(stream, "first_bound", None)
        if since is None and first_bound is not None:
            since = first_bound(connector)
    paginator = getattr(stream, "paginator", None)
    first = first_position if first_position is not None else (paginator.first() if paginator else {})
    progress = ReadProgress.resume_or_start(state, since=since, now=connector.now(), position=dict(first))
    partitioner = getattr(stream, "partitions", None)
    partitions = list(partitioner.values(connector)) if partitioner is not None else [{}]
    start, position = 0, dict(first)
    if progress.partition is not None and progress.partition in partitions:
        start, position = partitions.index(progress.partition), progress.position
    sorted_by_cursor = bool(getattr(stream, "sorted_by_cursor", False)) and len(partitions) == 1
    if not partitions:
        yield Page(records=[], state=progress.final_state(state, incremental=incremental, cap_at_start=True))
        return
    for index in range(start, len(partitions)):
        partition = partitions[index]
        current: dict[str, Any] | None = position if index == start else dict(first)
        while current is not None:
            records, following = fetch(partition, current, progress.since)
            if incremental and stream.cursor_field:
                records = newer_than(records, stream.cursor_field, progress.since, kind)
                progress.saw(cursor_values(records, stream.cursor_field), kind)
            if following is None and index == len(partitions) - 1:
                done = progress.final_state(state, incremental=incremental, cap_at_start=not sorted_by_cursor)
                yield Page(records=records, state=done)
                return
            if following is None:
                progress.partition, progress.position = partitions[index + 1], dict(first)
            else:
                progress.partition, progress.position = partition, following
            yield Page(records=records, state=progress.page_state(state, advance=sorted_by_cursor))
            current = following


def _rest_fetcher(stream: type[RestStream], connector: Connector) -> Fetch:
    http: HttpClient = connector.http  # type: ignore[attr-defined]
    call = f"{stream.method} {stream.path}"
    paginator = stream.paginator.resolved(template_values(connector, {}))

    def fetch(partition: Partition, position: dict[str, Any], since: str | None) -> tuple[list[Any], Any]:
        request = stream.request(connector, partition)
        if since is not None and stream.cursor_param:
            bound = format_bound(since, stream.cursor_format, stream.cursor_kind)
            request = request.with_values(stream.cursor_in, {stream.cursor_param: bound})
        request = paginator.apply(request, position)
        response = http.request(
            request.method, request.path, params=request.params or None, json=request.json, call=call
        )
        body = http.decode_json(response, call=call)
        raw = records_at(body, stream.records_path, http.system, call)
        following = paginator.next(response, body, raw, position)
        return stream.prepare(connector, raw, partition), following

    return fetch


def records_at(body: Any, path: str | None, system: str, call: str) -> list[Any]:
    """The list of records at `path` in an answer (an absent list is empty); ConnectorError for anything else."""
    records = dig(body, path) if path else body
    if records is None:
        return []
    if not isinstance(records, list):
        where = f"'{path}'" if path else "the top of the answer"
        raise ConnectorError(f"{system}: {call} returned no list of records at {where}")
    return records


def template_values(connector: Connector, partition: Partition) -> dict[str, Any]:
    """What `{name}` placeholders in paths, parameters and bodies may use: settings, then partition values."""
    settings = connector.settings
    values = {name: getattr(settings, name) for name in type(settings).model_fields}
    return {**values, **partition}


def fill(value: Any, values: Mapping[str, Any], connector: Connector, stream: type[Stream]) -> Any:
    """Fill `{name}` placeholders in text, and in the text inside lists and dicts."""
    if isinstance(value, str):
        if "{" not in value:
            return value
        try:
            return value.format_map(values)
        except KeyError as missing:
            raise ConnectorError(
                f"{connector.name}: stream '{stream.name}' uses {{{missing.args[0]}}}, which is neither a setting "
                "nor a partition value"
            ) from None
    if isinstance(value, Mapping):
        return {key: fill(item, values, connector, stream) for key, item in value.items()}
    if isinstance(value, list | tuple):
        return [fill(item, values, connector, stream) for item in value]
    return value


def format_bound(since: str, style: str, kind: CursorKind = "datetime") -> str:
    """The lower bound of an incremental read as the API takes it."""
    if kind != "datetime":
        return since
    moment = parse_cursor_datetime(since)
    if style == "iso":
        return moment.isoformat()
    if style == "iso_z":
        return moment.strftime("%Y-%m-%dT%H:%M:%SZ")
    if style == "iso_ms_z":
        return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"
    if style == "epoch":
        return str(int(moment.timestamp()))
    if style == "epoch_ms":
        return str(int(moment.timestamp() * 1000))
    if style == "date":
        return moment.date().isoformat()
    return moment.strftime(style)
