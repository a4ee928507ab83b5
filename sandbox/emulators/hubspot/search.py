"""The CRM search API: filter groups, ascending sorts, numeric `after` offsets served by keyset paging.

HubSpot's search `after` is an offset into the result list and stops at 10,000 results. The emulator keeps,
per query and offset, the store key of the last row served, so following `paging.next.after` reads the next
rows by key instead of scanning from the start; an unknown offset falls back to walking the query once.
"""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from canalis.sandbox.emulators.hubspot.wire import MODIFIED_PROPERTIES, SYSTEM, parse_time_value
from canalis.sandbox.objectstore import ObjectStore, StoredObject, format_timestamp

MAX_RESULTS = 10_000
MAX_LIMIT = 200
DEFAULT_LIMIT = 10
MAX_FILTER_GROUPS = 5
MAX_FILTERS = 18
SCAN_BATCH = 500
CACHE_SIZE = 4096
OPERATORS = frozenset(
    {
        "EQ",
        "NEQ",
        "LT",
        "LTE",
        "GT",
        "GTE",
        "BETWEEN",
        "IN",
        "NOT_IN",
        "HAS_PROPERTY",
        "NOT_HAS_PROPERTY",
        "CONTAINS_TOKEN",
        "NOT_CONTAINS_TOKEN",
    }
)
TEXT_SEARCH_PROPERTIES = ("email", "firstname", "lastname", "name", "domain", "phone", "subject", "dealname", "hs_sku")

Key = tuple[str, str] | int
Predicate = Callable[[dict[str, Any]], bool]


class SearchError(ValueError):
    """A search request HubSpot would refuse with 400."""


@dataclass(frozen=True)
class SearchQuery:
    """A parsed search request."""

    object_type: str
    groups: list[list[dict[str, Any]]]
    order: str  # "updated" or "seq"
    text: str | None
    since: str | None
    before: str | None

    def fingerprint(self) -> str:
        """What identifies the result list (paging position aside)."""
        return json.dumps([self.object_type, self.groups, self.order, self.text], sort_keys=True)

    @property
    def filtered_in_python(self) -> bool:
        """Whether some condition is checked row by row rather than by the store's range query."""
        return (
            bool(self.text)
            or any(any(f["propertyName"] not in MODIFIED_PROPERTIES for f in group) for group in self.groups)
            or len(self.groups) > 1
        )


def parse_query(object_type: str, body: dict[str, Any]) -> SearchQuery:
    """Validate a search body and split it into a store range and row checks."""
    groups_raw = body.get("filterGroups") or []
    if not isinstance(groups_raw, list) or len(groups_raw) > MAX_FILTER_GROUPS:
        raise SearchError(f"filterGroups must be a list of at most {MAX_FILTER_GROUPS} groups")
    groups: list[list[dict[str, Any]]] = []
    for group in groups_raw:
        filters = (group or {}).get("filters") or []
        for item in filters:
            operator = str(item.get("operator", "")).upper()
            if operator not in OPERATORS:
                raise SearchError(f"Invalid input JSON: unknown filter operator '{item.get('operator')}'")
            if not item.get("propertyName"):
                raise SearchError("Invalid input JSON: a filter has no propertyName")
            item["operator"] = operator
        groups.append(filters)
    if sum(len(group) for group in groups) > MAX_FILTERS:
        raise SearchError(f"too many filters: at most {MAX_FILTERS} in all filter groups")
    order = _order(body.get("sorts") or [])
    since, before = _time_range(groups[0]) if len(groups) == 1 else (None, None)
    text = str(body["query"]).strip().lower() if body.get("query") else None
    return SearchQuery(object_type, groups, order, text, since, before)


def _order(sorts: list[Any]) -> str:
    if len(sorts) > 1:
        raise SearchError("only one sort is supported")
    if not sorts:
        return "seq"
    sort = sorts[0]
    if isinstance(sort, str):
        name, direction = sort, "ASCENDING"
    else:
        name, direction = sort.get("propertyName"), sort.get("direction", "ASCENDING")
    if str(direction).upper() != "ASCENDING":
        raise SearchError("the sandbox serves ascending sorts only")
    if name in MODIFIED_PROPERTIES:
        return "updated"
    if name in ("hs_object_id", "id"):
        return "seq"
    raise SearchError(f"the sandbox cannot sort by '{name}' (use hs_lastmodifieddate or hs_object_id)")


def _time_range(filters: list[dict[str, Any]]) -> tuple[str | None, str | None]:
    """The [since, before) store range implied by modified-date filters of one group."""
    since: str | None = None
    before: str | None = None
    for item in filters:
        if item["propertyName"] not in MODIFIED_PROPERTIES:
            continue
        operator = item["operator"]
        value = parse_time_value(item.get("value"))
        if operator in ("GT", "GTE", "LT", "LTE", "EQ") and value is None:
            raise SearchError(f"'{item.get('value')}' is not a valid date for {item['propertyName']}")
        if operator == "BETWEEN":
            low, high = value, parse_time_value(item.get("highValue"))
            if low is None or high is None:
                raise SearchError("BETWEEN needs value and highValue dates")
            since, before = _max(since, low), _min(before, _after(high))
        elif operator == "GTE":
            since = _max(since, value)
        elif operator == "GT":
            since = _max(since, _after(value))  # type: ignore[arg-type]
        elif operator == "LT":
            before = _min(before, value)
        elif operator == "LTE":
            before = _min(before, _after(value))  # type: ignore[arg-type]
        elif operator == "EQ":
            since, before = _max(since, value), _min(before, _after(value))  # type: ignore[arg-type]
    return since, before


def _after(stamp: str) -> str:
    """The store timestamp one millisecond later (ranges are half-open)."""
    moment = datetime.fromisoformat(stamp.replace("Z", "+00:00")) + timedelta(milliseconds=1)
    return format_timestamp(moment)


def _max(a: str | None, b: str | None) -> str | None:
    return b if a is None else a if b is None else max(a, b)


def _min(a: str | None, b: str | None) -> str | None:
    return b if a is None else a if b is None else min(a, b)


def matches(query: SearchQuery, row: StoredObject) -> bool:
    """Whether a stored object meets the query's filter groups (OR of ANDs) and text query."""
    props = row.payload.get("properties") or {}
    if query.text and not any(query.text in str(props.get(name) or "").lower() for name in TEXT_SEARCH_PROPERTIES):
        return False
    if not query.groups:
        return True
    return any(all(_check(item, props, row) for item in group) for group in query.groups)


def _check(item: dict[str, Any], props: dict[str, Any], row: StoredObject) -> bool:
    name, operator = item["propertyName"], item["operator"]
    if name in MODIFIED_PROPERTIES:
        value: Any = row.updated_at
    elif name == "hs_object_id":
        value = row.object_id
    else:
        value = props.get(name)
    if operator == "HAS_PROPERTY":
        return value not in (None, "")
    if operator == "NOT_HAS_PROPERTY":
        return value in (None, "")
    if operator in ("IN", "NOT_IN"):
        wanted = {str(v).lower() for v in item.get("values") or []}
        found = value is not None and str(value).lower() in wanted
        return found if operator == "IN" else not found
    if operator in ("CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN"):
        token = str(item.get("value") or "").lower().strip("*")
        found = value is not None and token in str(value).lower()
        return found if operator == "CONTAINS_TOKEN" else not found
    if value is None:
        return operator == "NEQ"
    left, right = _comparable(name, value), _comparable(name, item.get("value"))
    if operator == "BETWEEN":
        high = _comparable(name, item.get("highValue"))
        return _safe(lambda: right <= left <= high)
    comparisons = {
        "EQ": lambda: left == right,
        "NEQ": lambda: left != right,
        "LT": lambda: left < right,
        "LTE": lambda: left <= right,
        "GT": lambda: left > right,
        "GTE": lambda: left >= right,
    }
    return _safe(comparisons[operator])


def _comparable(name: str, value: Any) -> Any:
    """A value in a form that compares like HubSpot compares it: dates as timestamps, numbers, folded text."""
    if value is None:
        return None
    text = str(value)
    if name in MODIFIED_PROPERTIES or name.endswith("date"):
        return parse_time_value(text) or text
    try:
        return float(text)
    except ValueError:
        return text.lower()


def _safe(comparison: Callable[[], bool]) -> bool:
    try:
        return bool(comparison())
    except TypeError:
        return False


class SearchPager:
    """Serves search pages by store key, remembering where each (query, offset) stopped."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._positions: OrderedDict[tuple[str, int], Key | None] = OrderedDict()
        self._totals: OrderedDict[str, int] = OrderedDict()
        self._lock = threading.Lock()

    def page(self, query: SearchQuery, offset: int, limit: int) -> tuple[list[StoredObject], int, bool]:
        """The rows at [offset, offset + limit), the total, and whether more follow."""
        fingerprint = query.fingerprint()
        key = self._position(fingerprint, offset)
        if key is _MISSING:
            _, key, _ = self._collect(query, None, offset)
        rows, last_key, more = self._collect(query, key, limit)  # type: ignore[arg-type]
        self._remember(fingerprint, offset + len(rows), last_key)
        return rows, self._total(query, fingerprint, offset), more

    def _position(self, fingerprint: str, offset: int) -> Key | object | None:
        if offset == 0:
            return None
        with self._lock:
            if (fingerprint, offset) in self._positions:
                self._positions.move_to_end((fingerprint, offset))
                return self._positions[(fingerprint, offset)]
        return _MISSING

    def _remember(self, fingerprint: str, offset: int, key: Key | None) -> None:
        with self._lock:
            self._positions[(fingerprint, offset)] = key
            while len(self._positions) > CACHE_SIZE:
                self._positions.popitem(last=False)

    def _total(self, query: SearchQuery, fingerprint: str, offset: int) -> int:
        """The number of matches, counted when a query starts and reused while it is paged through."""
        with self._lock:
            if offset and fingerprint in self._totals:
                return self._totals[fingerprint]
        if query.filtered_in_python:
            total = sum(1 for _ in self._scan(query, None))
        else:
            total = self.store.count(SYSTEM, query.object_type, updated_since=query.since, updated_before=query.before)
        with self._lock:
            self._totals[fingerprint] = total
            while len(self._totals) > CACHE_SIZE:
                self._totals.popitem(last=False)
        return total

    def _collect(self, query: SearchQuery, key: Key | None, limit: int) -> tuple[list[StoredObject], Key | None, bool]:
        """Up to `limit` matching rows after `key`, the key of the last one, and whether another follows."""
        rows: list[StoredObject] = []
        for row in self._scan(query, key, batch=limit + 1 if not query.filtered_in_python else SCAN_BATCH):
            if len(rows) == limit:
                return rows, _key_of(query, rows[-1]) if rows else key, True
            rows.append(row)
        return rows, _key_of(query, rows[-1]) if rows else key, False

    def _scan(self, query: SearchQuery, key: Key | None, batch: int = SCAN_BATCH) -> Iterator[StoredObject]:
        """Matching rows after `key` in the query's order, read from the store in keyset batches."""
        while True:
            if query.order == "updated":
                after = key if isinstance(key, tuple) else None
                chunk = self.store.page(
                    SYSTEM,
                    query.object_type,
                    limit=batch,
                    # A key already lies past `since`; giving both makes SQLite seek from `since` and scan.
                    updated_since=query.since if after is None else None,
                    updated_before=query.before,
                    order_by="updated_at",
                    after_updated=after,
                )
            else:
                chunk = self.store.page(
                    SYSTEM,
                    query.object_type,
                    limit=batch,
                    updated_since=query.since,
                    updated_before=query.before,
                    after_seq=key if isinstance(key, int) else 0,
                )
            if query.filtered_in_python:
                yield from (row for row in chunk if matches(query, row))
            else:
                yield from chunk
            if len(chunk) < batch:
                return
            key = _key_of(query, chunk[-1])


def _key_of(query: SearchQuery, row: StoredObject) -> Key:
    return (row.updated_at, row.object_id) if query.order == "updated" else row.seq


_MISSING = object()
