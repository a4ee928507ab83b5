"""Offset paging over the object store, ascending or descending, with an optional payload filter (shared by the
emulators of APIs that page by offset or page number)."""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from canalis.sandbox.objectstore import ObjectStore, OrderBy, StoredObject

SCAN_BATCH = 2000
KEYSETS_KEPT = 2048

Keyset = tuple[int, tuple[str, str] | None]  # (after_seq, after_updated)
Predicate = Callable[[dict[str, Any]], bool]


@dataclass(frozen=True)
class Query:
    """Which objects a listing covers and in which order."""

    system: str
    object_type: str
    order_by: OrderBy = "seq"
    updated_since: str | None = None
    updated_before: str | None = None


class OffsetPager:
    """Serves `offset`/`limit` pages; remembers where each served page ended so the next one starts there."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._keysets: OrderedDict[tuple[Query, int], Keyset] = OrderedDict()
        self._lock = threading.Lock()

    def page(
        self,
        query: Query,
        *,
        offset: int,
        limit: int,
        descending: bool = False,
        keep: Predicate | None = None,
    ) -> tuple[list[StoredObject], int]:
        """The objects at [offset, offset + limit) in the requested order, and how many match in all."""
        if keep is not None:
            return self._filtered(query, offset, limit, descending, keep)
        total = self.store.count(
            query.system,
            query.object_type,
            updated_since=query.updated_since,
            updated_before=query.updated_before,
        )
        if offset >= total or limit <= 0:
            return [], total
        if not descending:
            return self._ascending(query, offset, limit), total
        start = max(0, total - offset - limit)
        items = self._ascending(query, start, total - offset - start)
        return list(reversed(items)), total

    def forget(self, system: str, object_type: str) -> None:
        """Drop remembered page ends of a type whose objects were written (offsets may have moved)."""
        with self._lock:
            for key in [key for key in self._keysets if (key[0].system, key[0].object_type) == (system, object_type)]:
                del self._keysets[key]

    def _ascending(self, query: Query, offset: int, limit: int) -> list[StoredObject]:
        keyset = self._keyset_at(query, offset)
        items = self._read(query, keyset, limit)
        if items:
            self._remember(query, offset + len(items), _keyset_after(items[-1], query.order_by))
        return items

    def _keyset_at(self, query: Query, offset: int) -> Keyset:
        """Where the object at `offset` starts: from memory, else by walking from the nearest known point."""
        if offset == 0:
            return (0, None)
        with self._lock:
            known = self._keysets.get((query, offset))
            if known is not None:
                self._keysets.move_to_end((query, offset))
                return known
            below = [at for (q, at) in self._keysets if q == query and at < offset]
        start = max(below, default=0)
        keyset = self._keysets.get((query, start), (0, None)) if start else (0, None)
        position = start
        while position < offset:
            batch = self._read(query, keyset, min(SCAN_BATCH, offset - position))
            if not batch:
                break
            position += len(batch)
            keyset = _keyset_after(batch[-1], query.order_by)
        self._remember(query, position, keyset)
        return keyset

    def _read(self, query: Query, keyset: Keyset, limit: int) -> list[StoredObject]:
        after_seq, after_updated = keyset
        return self.store.page(
            query.system,
            query.object_type,
            after_seq=after_seq,
            limit=limit,
            updated_since=query.updated_since,
            updated_before=query.updated_before,
            order_by=query.order_by,
            after_updated=after_updated,
        )

    def _remember(self, query: Query, offset: int, keyset: Keyset) -> None:
        with self._lock:
            self._keysets[(query, offset)] = keyset
            self._keysets.move_to_end((query, offset))
            while len(self._keysets) > KEYSETS_KEPT:
                self._keysets.popitem(last=False)

    def _filtered(
        self, query: Query, offset: int, limit: int, descending: bool, keep: Predicate
    ) -> tuple[list[StoredObject], int]:
        """One pass over every object in order, keeping those the predicate accepts."""
        matches = [item for item in self.scan(query) if keep(item.payload)]
        if descending:
            matches.reverse()
        return matches[offset : offset + limit], len(matches)

    def scan(self, query: Query) -> Iterator[StoredObject]:
        """Every object of the query in ascending order, read in batches."""
        keyset: Keyset = (0, None)
        while batch := self._read(query, keyset, SCAN_BATCH):
            yield from batch
            keyset = _keyset_after(batch[-1], query.order_by)


def _keyset_after(item: StoredObject, order_by: OrderBy) -> Keyset:
    if order_by == "seq":
        return (item.seq, None)
    return (0, (item.updated_at, item.object_id))
