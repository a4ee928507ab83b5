"""Cursor connections (`edges { cursor node }`, `nodes`, `pageInfo`) over stored objects and over lists."""

from __future__ import annotations

import base64
import binascii
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, Literal

from graphql import (
    FieldNode,
    FragmentSpreadNode,
    GraphQLError,
    GraphQLResolveInfo,
    InlineFragmentNode,
    SelectionSetNode,
)

from canalis.sandbox.emulators.shopify.objects import SYSTEM, served
from canalis.sandbox.emulators.shopify.search import Accessor, SearchError, matcher, parse_search, store_bounds
from canalis.sandbox.objectstore import ObjectStore, StoredObject

MAX_PAGE = 250
SCAN_BATCH = 500
Sort = Literal["seq", "updated_at"]


@dataclass
class BulkPager:
    """Drives the top-level connection of a bulk query page by page, ignoring `first`."""

    page_size: int = MAX_PAGE
    after: Any = None
    next_after: Any = None
    has_next: bool = False


def encode_cursor(key: Any) -> str:
    """An opaque cursor for a sort key."""
    return base64.urlsafe_b64encode(json.dumps({"last": key}, separators=(",", ":")).encode()).decode()


def decode_cursor(cursor: str) -> Any:
    """The sort key inside a cursor; GraphQLError when the cursor is not one of ours."""
    try:
        return json.loads(base64.urlsafe_b64decode(cursor.encode()))["last"]
    except (binascii.Error, ValueError, KeyError, TypeError, UnicodeDecodeError):
        raise GraphQLError(f"Invalid cursor for current pagination sort: {cursor}") from None


def page_size(info: GraphQLResolveInfo, args: dict[str, Any]) -> int:
    """The `first` argument, checked like Shopify does."""
    first = args.get("first")
    if first is None:
        raise GraphQLError("you must provide one of first or last", nodes=info.field_nodes)
    if first < 0:
        raise GraphQLError("first cannot be negative", nodes=info.field_nodes)
    if first > MAX_PAGE:
        raise GraphQLError(f"The first argument cannot exceed {MAX_PAGE}.", nodes=info.field_nodes)
    return int(first)


def bulk_pager(info: GraphQLResolveInfo) -> BulkPager | None:
    """The bulk pager when this is the top-level connection of a bulk query."""
    pager = info.context.get("bulk")
    return pager if pager is not None and info.path.prev is None else None


def in_bulk(info: GraphQLResolveInfo) -> bool:
    """Whether the field is resolved for a bulk operation (nested connections return every item)."""
    return info.context.get("bulk") is not None


def _selected(selection_set: SelectionSetNode | None, fragments: dict[str, Any]) -> Iterator[FieldNode]:
    """The fields of a selection set, looking into inline fragments and fragment spreads."""
    for selection in selection_set.selections if selection_set is not None else ():
        if isinstance(selection, FieldNode):
            yield selection
        elif isinstance(selection, InlineFragmentNode):
            yield from _selected(selection.selection_set, fragments)
        elif isinstance(selection, FragmentSpreadNode) and selection.name.value in fragments:
            yield from _selected(fragments[selection.name.value].selection_set, fragments)


def _cursors_selected(info: GraphQLResolveInfo) -> bool:
    """Whether the query reads any cursor of this connection (`edges { cursor }`, `pageInfo { ...Cursor }`)."""
    wanted = {"edges": ("cursor",), "pageInfo": ("startCursor", "endCursor")}
    for node in info.field_nodes:
        for part in _selected(node.selection_set, info.fragments):
            names = wanted.get(part.name.value, ())
            if any(inner.name.value in names for inner in _selected(part.selection_set, info.fragments)):
                return True
    return False


def cursors_of(info: GraphQLResolveInfo, keys: list[Any]) -> list[str]:
    """The cursors of a page's sort keys; in a bulk query that reads no cursor, empty ones (never written)."""
    if in_bulk(info) and not _cursors_selected(info):
        return [""] * len(keys)
    return [encode_cursor(key) for key in keys]


def connection(nodes: list[Any], cursors: list[str], *, has_next: bool, has_previous: bool) -> dict[str, Any]:
    """A connection value for the default resolvers."""
    return {
        "edges": [{"cursor": cursor, "node": node} for cursor, node in zip(cursors, nodes, strict=True)],
        "nodes": nodes,
        "pageInfo": {
            "hasNextPage": has_next,
            "hasPreviousPage": has_previous,
            "startCursor": cursors[0] if cursors else None,
            "endCursor": cursors[-1] if cursors else None,
        },
    }


def store_connection(
    info: GraphQLResolveInfo,
    args: dict[str, Any],
    object_type: str,
    *,
    sort: Sort = "seq",
    fields: dict[str, Accessor] | None = None,
    text: Accessor | None = None,
    where: Callable[[StoredObject], bool] | None = None,
    wrap: Callable[[dict[str, Any]], dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """A page of stored objects in seq or (updated_at, id) order, filtered by the `query` argument."""
    pager = bulk_pager(info)
    if pager is not None:
        limit, after = pager.page_size, pager.after
    elif in_bulk(info):
        limit, after = 10**9, None
    else:
        limit = page_size(info, args)
        after = decode_cursor(args["after"]) if args.get("after") else None
    try:
        search = parse_search(args.get("query"))
        since, before, rest = store_bounds(search)
    except SearchError as error:
        raise GraphQLError(f"Invalid search query: {error}", nodes=info.field_nodes) from None
    predicate = matcher(rest, fields or {}, text or (lambda _stored: ""))
    picked: list[StoredObject] = []
    more = False
    # A page needs one object past the limit to know whether more follow: read no more than that at a time.
    batch = min(SCAN_BATCH, limit + 1)
    for stored in scan(info.context["access"].store, object_type, sort, after, since, before, batch=batch):
        if (where is not None and not where(stored)) or not predicate(stored):
            continue
        if len(picked) == limit:
            more = True
            break
        picked.append(stored)
    keys = [_sort_key(stored, sort) for stored in picked]
    nodes = [served(stored, object_type) for stored in picked]
    if wrap is not None:
        nodes = [wrap(node) for node in nodes]
    if pager is not None:
        pager.has_next, pager.next_after = more, keys[-1] if keys else None
    _maybe_corrupt(info, nodes)
    return connection(nodes, cursors_of(info, keys), has_next=more, has_previous=after is not None)


def count_matching(
    store: ObjectStore, object_type: str, query: str | None, fields: dict[str, Accessor], text: Accessor
) -> int:
    """How many stored objects match a `query` (SearchError when it cannot be read)."""
    search = parse_search(query)
    since, before, rest = store_bounds(search)
    if rest.empty:
        return store.count(SYSTEM, object_type, updated_since=since, updated_before=before)
    predicate = matcher(rest, fields, text)
    return sum(1 for stored in scan(store, object_type, "seq", None, since, before) if predicate(stored))


def _sort_key(stored: StoredObject, sort: Sort) -> Any:
    return stored.seq if sort == "seq" else [stored.updated_at, stored.object_id]


def scan(
    store: ObjectStore,
    object_type: str,
    sort: Sort,
    after: Any,
    since: str | None,
    before: str | None,
    *,
    batch: int = SCAN_BATCH,
) -> Iterator[StoredObject]:
    """Stored objects after a sort key, fetched from the store in batches of `batch`."""
    size = batch
    position = after
    while True:
        if sort == "seq":
            rows = store.page(
                SYSTEM,
                object_type,
                after_seq=int(position or 0),
                limit=size,
                updated_since=since,
                updated_before=before,
            )
        else:
            rows = store.page(
                SYSTEM,
                object_type,
                limit=size,
                updated_since=since,
                updated_before=before,
                order_by="updated_at",
                after_updated=tuple(position) if position else None,
            )
        yield from rows
        if len(rows) < size:
            return
        position = _sort_key(rows[-1], sort)
        size = SCAN_BATCH  # filtered out objects: read on in full batches


def list_connection(info: GraphQLResolveInfo, args: dict[str, Any], items: list[Any]) -> dict[str, Any]:
    """A page of a list held by the parent object, with index cursors."""
    if in_bulk(info):
        start, limit = 0, len(items)
    else:
        limit = page_size(info, args)
        start = int(decode_cursor(args["after"])) + 1 if args.get("after") else 0
    chosen = items[start : start + limit]
    cursors = cursors_of(info, [start + offset for offset in range(len(chosen))])
    return connection(chosen, cursors, has_next=start + limit < len(items), has_previous=start > 0)


def _maybe_corrupt(info: GraphQLResolveInfo, nodes: list[dict[str, Any]]) -> None:
    """Mark top-level records the fault plan wants malformed (the emulator corrupts them in the answer)."""
    if info.path.prev is not None or info.context.get("bulk") is not None:
        return
    faults = info.context["faults"]
    for node in nodes:
        if faults.corrupt_record(SYSTEM):
            info.context["corrupt"].add(node.get("id"))
