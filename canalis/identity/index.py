"""Compact lookup structures kept between runs: value hash -> rows, and the link graph's adjacency."""

from __future__ import annotations

import numpy as np


class HashIndex:
    """Rows by the hash of a value: sorted arrays for the bulk, a dict for rows added later.

    Entries are never removed: callers check that a row still holds the value (lazy deletion).
    """

    __slots__ = ("_extra_sorted", "extra", "hashes", "rows")

    def __init__(self, hashes: np.ndarray | None = None, rows: np.ndarray | None = None) -> None:
        if hashes is None or rows is None or len(hashes) == 0:
            self.hashes = np.zeros(0, dtype=np.int64)
            self.rows = np.zeros(0, dtype=np.int64)
        else:
            order = np.argsort(hashes, kind="stable")
            self.hashes = np.asarray(hashes, dtype=np.int64)[order]
            self.rows = np.asarray(rows, dtype=np.int64)[order]
        self.extra: dict[int, list[int]] = {}
        self._extra_sorted: tuple[np.ndarray, np.ndarray] | None = None

    def lookup(self, value_hash: int) -> list[int]:
        """Rows that held a value with this hash at some point."""
        lo = int(np.searchsorted(self.hashes, value_hash, side="left"))
        hi = int(np.searchsorted(self.hashes, value_hash, side="right"))
        found = self.rows[lo:hi].tolist() if hi > lo else []
        more = self.extra.get(value_hash)
        return found + more if more else found

    def add(self, value_hash: int, row: int) -> None:
        """Record that a row holds a value."""
        self.extra.setdefault(value_hash, []).append(row)
        self._extra_sorted = None

    def _extra_arrays(self) -> tuple[np.ndarray, np.ndarray]:
        """The rows added later as arrays sorted by hash (rows of one hash in the order they were added)."""
        if self._extra_sorted is None:
            count = sum(len(rows) for rows in self.extra.values())
            hashes = np.fromiter((h for h, rows in self.extra.items() for _ in rows), dtype=np.int64, count=count)
            rows = np.fromiter((r for found in self.extra.values() for r in found), dtype=np.int64, count=count)
            order = np.argsort(hashes, kind="stable")
            self._extra_sorted = (hashes[order], rows[order])
        return self._extra_sorted

    def lookup_many(self, hashes: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """For many hashes at once: (position in `hashes`, row) for every row that held one of them."""
        query, rows = _matches(self.hashes, self.rows, hashes)
        if self.extra:
            more_q, more_r = _matches(*self._extra_arrays(), hashes)
            if len(more_q):
                query = np.concatenate([query, more_q])
                rows = np.concatenate([rows, more_r])
        return query, rows


def _matches(keys: np.ndarray, values: np.ndarray, wanted: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(position in `wanted`, value) of every entry of sorted `keys` equal to a wanted key."""
    lo = np.searchsorted(keys, wanted, side="left")
    hi = np.searchsorted(keys, wanted, side="right")
    counts = hi - lo
    total = int(counts.sum())
    query = np.repeat(np.arange(len(wanted)), counts)
    offsets = np.repeat(lo - (np.cumsum(counts) - counts), counts) + np.arange(total)
    return query, values[offsets] if total else np.zeros(0, dtype=np.int64)


class Adjacency:
    """Neighbours of each row in the link graph: a compressed bulk from a full run plus replaced rows."""

    __slots__ = ("indices", "indptr", "replaced")

    def __init__(self, n: int = 0, a: np.ndarray | None = None, b: np.ndarray | None = None) -> None:
        if a is None or b is None or len(a) == 0:
            self.indptr = np.zeros(n + 1, dtype=np.int64)
            self.indices = np.zeros(0, dtype=np.int64)
        else:
            src = np.concatenate([a, b])
            dst = np.concatenate([b, a])
            order = np.argsort(src, kind="stable")
            self.indices = dst[order]
            counts = np.bincount(src, minlength=n)
            self.indptr = np.concatenate([[0], np.cumsum(counts)])
        self.replaced: dict[int, list[int]] = {}

    def neighbours(self, row: int) -> list[int]:
        """Rows linked to this row (accepted or refused links alike)."""
        found = self.replaced.get(row)
        if found is not None:
            return found
        if row + 1 >= len(self.indptr):
            return []
        return self.indices[self.indptr[row] : self.indptr[row + 1]].tolist()

    def neighbours_many(self, rows: np.ndarray) -> np.ndarray:
        """Neighbours of many rows at once (with repeats)."""
        bulk = rows[rows + 1 < len(self.indptr)]
        if self.replaced:
            mask = np.fromiter((r not in self.replaced for r in bulk.tolist()), dtype=bool, count=len(bulk))
            bulk = bulk[mask]
        starts, stops = self.indptr[bulk], self.indptr[bulk + 1]
        counts = stops - starts
        total = int(counts.sum())
        offsets = np.repeat(starts - (np.cumsum(counts) - counts), counts) + np.arange(total)
        found = [self.indices[offsets]] if total else []
        if self.replaced:
            extra = [n for r in rows.tolist() if r in self.replaced for n in self.replaced[r]]
            found.append(np.asarray(extra, dtype=np.int64))
        return np.concatenate(found) if found else np.zeros(0, dtype=np.int64)

    def compact(self, n: int) -> tuple[np.ndarray, np.ndarray]:
        """(indptr, indices) of all n rows, with the replaced rows folded in."""
        indptr = np.zeros(n + 1, dtype=np.int64)
        bulk = min(len(self.indptr), n + 1)
        indptr[:bulk] = self.indptr[:bulk]
        indptr[bulk:] = self.indptr[bulk - 1] if bulk else 0
        if not self.replaced:
            return indptr, self.indices
        counts = np.diff(indptr)
        src = np.repeat(np.arange(n), counts)
        keep = np.fromiter((r not in self.replaced for r in src.tolist()), dtype=bool, count=len(src))
        extra_src = [r for r, found in self.replaced.items() if r < n for _ in found]
        extra_dst = [x for r, found in self.replaced.items() if r < n for x in found]
        src = np.concatenate([src[keep], np.asarray(extra_src, dtype=np.int64)])
        dst = np.concatenate([self.indices[keep], np.asarray(extra_dst, dtype=np.int64)])
        order = np.argsort(src, kind="stable")
        return np.concatenate([[0], np.cumsum(np.bincount(src, minlength=n))]), dst[order]

    @classmethod
    def from_compact(cls, indptr: np.ndarray, indices: np.ndarray) -> Adjacency:
        """An adjacency from `compact`'s arrays."""
        out = cls()
        out.indptr, out.indices = indptr.astype(np.int64), indices.astype(np.int64)
        return out

    def replace(self, row: int, neighbours: list[int]) -> None:
        """Set the neighbours of a row after it was resolved again."""
        self.replaced[row] = neighbours
