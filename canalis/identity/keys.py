"""Deterministic keys (email, phone, loyalty number, cross-system ids) and the guard against shared values."""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from canalis.identity.compare import dob_compatible, names_compatible
from canalis.identity.config import IdentityConfig
from canalis.identity.features import Frame

# Frame column holding each key kind.
KEY_COLUMNS: dict[str, str] = {"external_id": "ext", "loyalty_id": "loyalty", "email": "email", "phone": "phone"}
LINKED, SHARED, DEMOTED = "linked", "shared", "demoted"


@dataclass(slots=True)
class KeyGroup:
    """The records holding one key value, and whether (and how) the value links them."""

    kind: str
    value: str
    rows: list[int]
    count: int
    status: str = LINKED
    reason: str | None = None
    personas: list[list[int]] = field(default_factory=list)
    ambiguous: list[int] = field(default_factory=list)

    def evidence(self) -> dict:
        """What the key says, for a link's evidence."""
        out: dict = {"key": self.kind, "value": self.value, "records": self.count, "status": self.status}
        if self.status != LINKED:
            out["people"] = len(self.personas)
        if self.reason:
            out["reason"] = self.reason
        return out


class KeyGroups:
    """The judged key groups of a frame; groups whose records plainly agree are built only when read."""

    def __init__(self) -> None:
        self.kinds: list[str] = []
        self.values: list[str] = []
        self.kind_index: list[np.ndarray] = []
        self.rows: list[np.ndarray] = []
        self.starts: list[np.ndarray] = []
        self.sizes: list[np.ndarray] = []
        self.counts: list[np.ndarray] = []
        self.judged: dict[int, KeyGroup] = {}
        self._bases: list[int] = []

    def add(self, kind: str, values: list[str], rows: np.ndarray, starts: np.ndarray, sizes: np.ndarray,
            counts: np.ndarray) -> int:  # fmt: skip
        """Add the groups of one key kind; returns the index of the first."""
        base = len(self.values)
        self._bases.append(base)
        self.kinds.append(kind)
        self.values.extend(values)
        self.kind_index.append(np.full(len(values), len(self.kinds) - 1, dtype=np.int64))
        self.rows.append(rows)
        self.starts.append(starts)
        self.sizes.append(sizes)
        self.counts.append(counts)
        return base

    def __len__(self) -> int:
        return len(self.values)

    def __getitem__(self, index: int) -> KeyGroup:
        found = self.judged.get(index)
        if found is not None:
            return found
        part = max(i for i, base in enumerate(self._bases) if base <= index)
        local = index - self._bases[part]
        start, size = int(self.starts[part][local]), int(self.sizes[part][local])
        rows = self.rows[part][start : start + size].tolist()
        return KeyGroup(self.kinds[part], self.values[index], rows, int(self.counts[part][local]), personas=[rows])

    def evidence(self, index: int) -> dict:
        """The evidence of group `index` (as KeyGroup.evidence), without building the rows of a plain group."""
        found = self.judged.get(index)
        if found is not None:
            return found.evidence()
        part = bisect_right(self._bases, index) - 1
        count = int(self.counts[part][index - self._bases[part]])
        return {"key": self.kinds[part], "value": self.values[index], "records": count, "status": LINKED}

    def kind_of(self, indexes: np.ndarray) -> np.ndarray:
        """The key kind (as text) of each group index."""
        kinds = np.asarray(self.kinds, dtype=object)
        every = np.concatenate(self.kind_index) if self.kind_index else np.zeros(0, dtype=np.int64)
        return kinds[every[indexes]] if len(indexes) else np.zeros(0, dtype=object)

    def demoted(self) -> list[KeyGroup]:
        """Groups whose value was not used as a key."""
        return [g for g in self.judged.values() if g.status == DEMOTED]


def row_values(frame: Frame, kind: str, row: int) -> tuple[str, ...]:
    """The key values of one row for a key kind (several for external ids)."""
    value = getattr(frame, KEY_COLUMNS[kind])[row]
    if kind == "external_id":
        return value
    return (value,) if value else ()


@dataclass(slots=True)
class Groups:
    """Key values held by two or more rows: the rows of group i are `rows[starts[i]:starts[i] + sizes[i]]`."""

    values: list[str]
    rows: np.ndarray
    starts: np.ndarray
    sizes: np.ndarray

    def members(self, i: int) -> list[int]:
        """Rows of group i, ascending."""
        start = int(self.starts[i])
        return self.rows[start : start + int(self.sizes[i])].tolist()


def group_arrays(frame: Frame, kind: str) -> Groups:
    """Rows grouped by key value, for values held by at least two rows (rows ascending within a group, groups in
    the order of their first row).

    Values are grouped by two independent hashes, so that a collision of one cannot join two values.
    """
    column = getattr(frame, KEY_COLUMNS[kind])
    if kind == "external_id":
        referenced = {value for values in column for value in values[1:]}
        flat = [(value, row) for row, values in enumerate(column) for value in values if value in referenced]
        values = [v for v, _ in flat]
        owners = np.fromiter((r for _, r in flat), dtype=np.int64, count=len(flat))
    else:
        values = column
        owners = np.arange(len(column), dtype=np.int64)
    empty = np.zeros(0, dtype=np.int64)
    if len(values) < 2:
        return Groups([], empty, empty, empty)
    codes = np.fromiter(map(hash, values), dtype=np.int64, count=len(values))
    present = np.flatnonzero(codes != 0)
    order = present[np.argsort(codes[present], kind="stable")]  # owners ascending within a value
    if len(order) < 2:
        return Groups([], empty, empty, empty)
    f = codes[order]
    starts = np.flatnonzero(np.r_[True, f[1:] != f[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    multi = sizes > 1
    starts, sizes = starts[multi], sizes[multi]
    if len(starts) == 0:
        return Groups([], empty, empty, empty)
    # Groups in the order of their first row, not of the hash (which changes with each process's hash seed):
    # the training sample drawn from the groups' links must not depend on it.
    by_first = np.argsort(order[starts], kind="stable")
    starts, sizes = starts[by_first], sizes[by_first]
    total = int(sizes.sum())
    offsets = np.cumsum(sizes) - sizes
    index = np.repeat(starts, sizes) + (np.arange(total) - np.repeat(offsets, sizes))
    members = order[index]
    as_array = np.empty(len(values), dtype=object)
    as_array[:] = values
    mismatch = as_array[members] != np.repeat(as_array[order[starts]], sizes)
    if mismatch.any():  # two values with one hash: regroup those groups by value
        return _regroup(values, owners, members, offsets, sizes)
    group_values = [values[i] for i in order[starts].tolist()]
    return Groups(group_values, owners[members], offsets.astype(np.int64), sizes.astype(np.int64))


def _regroup(
    values: Sequence[str], owners: np.ndarray, members: np.ndarray, offsets: np.ndarray, sizes: np.ndarray
) -> Groups:
    exact: dict[str, list[int]] = {}
    for i in members.tolist():
        exact.setdefault(values[i], []).append(int(owners[i]))
    kept = sorted(((v, sorted(rows)) for v, rows in exact.items() if len(rows) > 1), key=lambda group: group[1][0])
    group_sizes = np.asarray([len(rows) for _, rows in kept], dtype=np.int64)
    rows = np.asarray([r for _, found in kept for r in found], dtype=np.int64)
    return Groups([v for v, _ in kept], rows, np.cumsum(group_sizes) - group_sizes, group_sizes)


def groups_of(frame: Frame, kind: str) -> dict[str, list[int]]:
    """Rows by key value (rows ascending), for values held by at least two rows of the frame."""
    groups = group_arrays(frame, kind)
    return {value: groups.members(i) for i, value in enumerate(groups.values)}


def compatible(frame: Frame, a: int, b: int, config: IdentityConfig) -> bool:
    """Two records that may be one person: names compatible and birth dates not in conflict."""
    return dob_compatible(frame.dob[a], frame.dob[b]) and names_compatible(
        frame.given[a], frame.family[a], frame.given[b], frame.family[b], config.given_name_conflict_below
    )


def _personas(frame: Frame, rows: Sequence[int], config: IdentityConfig) -> tuple[list[list[int]], list[int]]:
    """Split the rows of a key group into distinct people; rows with no name or birth date are set aside.

    Rows are taken in order; one with the same names and birth date as an earlier row joins that row's person.
    """
    personas: list[list[int]] = []
    anonymous: list[int] = []
    signatures: dict[tuple[str, str, int], int] = {}
    representatives: list[list[int]] = []
    for row in rows:
        signature = (frame.given[row], frame.family[row], frame.dob[row])
        if signature == ("", "", 0):
            anonymous.append(row)
            continue
        known = signatures.get(signature)
        if known is not None:
            personas[known].append(row)
            continue
        for index, people in enumerate(representatives):
            if all(compatible(frame, row, other, config) for other in people):
                personas[index].append(row)
                people.append(row)
                signatures[signature] = index
                break
        else:
            signatures[signature] = len(personas)
            personas.append([row])
            representatives.append([row])
    return personas, anonymous


def judge(
    frame: Frame, kind: str, value: str, rows: list[int], count: int, config: IdentityConfig, *, ordered: bool = False
) -> KeyGroup:
    """Decide whether a key value links its records: all of them, the ones that agree, or none.

    Rows are taken in record-key order (`ordered` says they already are).
    """
    if not ordered:
        rows = sorted(rows, key=frame.key.__getitem__)
    group = KeyGroup(kind, value, rows, count)
    if value in config.ignored_key_values.get(kind, ()):
        group.status, group.reason = DEMOTED, "ignored_value"
        return group
    if kind == "email" and value.rsplit("@", 1)[0].split("+", 1)[0] in config.role_email_local_parts:
        group.status, group.reason = DEMOTED, "role_address"
        return group
    if count > config.max_records_per_key:
        group.status, group.reason = DEMOTED, f"held_by_{count}_records"
        return group
    given, family, dob = frame.given, frame.family, frame.dob
    names = {(given[r], family[r]) for r in rows} - {("", "")}
    if len(names) == 1 and len({dob[r] for r in rows} - {0}) <= 1:
        group.personas = [rows]
        return group
    personas, anonymous = _personas(frame, rows, config)
    group.personas = personas
    if len(personas) > config.max_people_per_key:
        group.status, group.reason = DEMOTED, f"shared_by_{len(personas)}_people"
        group.ambiguous = anonymous
        return group
    if len(personas) <= 1:
        group.personas = [sorted((personas[0] if personas else []) + anonymous, key=frame.key.__getitem__)]
        return group
    group.status, group.reason = SHARED, f"shared_by_{len(personas)}_people"
    group.ambiguous = anonymous
    return group


def name_codes(frame: Frame) -> np.ndarray:
    """A code per (given, family) pair, from the names' hashes; -1 for records with neither."""
    n = len(frame)
    given = np.fromiter(map(hash, frame.given), dtype=np.int64, count=n)
    family = np.fromiter(map(hash, frame.family), dtype=np.int64, count=n)
    codes = (given * np.int64(1_000_003)) ^ family  # wraps around: a hash of the pair
    nameless = (given == 0) & (family == 0)
    codes[(codes == -1) & ~nameless] = -2
    codes[nameless] = -1
    return codes


def _uniform(values: np.ndarray, missing: int, rows: np.ndarray, starts: np.ndarray) -> np.ndarray:
    """Per group: at most one distinct value among its rows, ignoring `missing`."""
    taken = values[rows]
    low = np.where(taken == missing, np.iinfo(np.int64).max, taken)
    high = np.where(taken == missing, np.iinfo(np.int64).min, taken)
    lows = np.minimum.reduceat(low, starts)
    highs = np.maximum.reduceat(high, starts)
    return (lows == highs) | (highs == np.iinfo(np.int64).min)


def key_groups(
    frame: Frame,
    config: IdentityConfig,
    count: Callable[[str, str, int], int] | None = None,
    key_rank: np.ndarray | None = None,
) -> tuple[KeyGroups, np.ndarray, np.ndarray, np.ndarray]:
    """Judge every key value held by two or more records; `count` gives the value's size across all records.

    Returns the groups and the links they make: rows a, rows b and the index of the group behind each link
    (each person's records are linked to the first of them in record-key order).
    """
    rank = key_rank if key_rank is not None else np.arange(len(frame))
    in_key_order = bool(np.array_equal(rank, np.arange(len(frame))))
    names = name_codes(frame)
    dobs = frame.array("dob")
    groups = KeyGroups()
    parts_a: list[np.ndarray] = []
    parts_b: list[np.ndarray] = []
    parts_g: list[np.ndarray] = []
    extra_a: list[int] = []
    extra_b: list[int] = []
    extra_g: list[int] = []
    for kind in config.deterministic_keys:
        found = group_arrays(frame, kind)
        if not found.values:
            continue
        sizes = found.sizes
        totals = (
            np.asarray([count(kind, v, int(n)) for v, n in zip(found.values, sizes.tolist(), strict=True)])
            if count
            else sizes.copy()
        )
        group_of_member = np.repeat(np.arange(len(sizes)), sizes)
        by_key = found.rows if in_key_order else found.rows[np.lexsort((rank[found.rows], group_of_member))]
        sorted_rows = by_key
        base = groups.add(kind, found.values, sorted_rows, found.starts, sizes, totals)
        simple = _uniform(names, -1, sorted_rows, found.starts) & _uniform(dobs, 0, sorted_rows, found.starts)
        simple &= np.logical_or.reduceat(names[sorted_rows] != -1, found.starts)
        simple &= totals <= config.max_records_per_key
        ignored = config.ignored_key_values.get(kind, frozenset())
        roles = config.role_email_local_parts
        if ignored or kind == "email":
            simple &= ~np.fromiter(
                (v in ignored or (kind == "email" and v.rsplit("@", 1)[0].split("+", 1)[0] in roles)
                 for v in found.values),
                dtype=bool, count=len(found.values),
            )  # fmt: skip
        # Groups whose records plainly agree are one person: linked to its first record without more checks.
        is_anchor = np.zeros(len(sorted_rows), dtype=bool)
        is_anchor[found.starts] = True
        pick = simple[group_of_member] & ~is_anchor
        parts_a.append(np.repeat(sorted_rows[found.starts], sizes)[pick])
        parts_b.append(sorted_rows[pick])
        parts_g.append(base + group_of_member[pick])
        starts_list, sizes_list, totals_list = found.starts.tolist(), sizes.tolist(), totals.tolist()
        for i in np.flatnonzero(~simple).tolist():
            rows = sorted_rows[starts_list[i] : starts_list[i] + sizes_list[i]].tolist()
            group = judge(frame, kind, found.values[i], rows, int(totals_list[i]), config, ordered=True)
            groups.judged[base + i] = group
            if group.status == DEMOTED:
                continue
            for persona in group.personas:
                for other in persona[1:]:
                    extra_a.append(persona[0])
                    extra_b.append(other)
                    extra_g.append(base + i)
    tail = (
        [np.asarray(extra_a, dtype=np.int64)],
        [np.asarray(extra_b, dtype=np.int64)],
        [np.asarray(extra_g, dtype=np.int64)],
    )
    a = np.concatenate(parts_a + tail[0])
    b = np.concatenate(parts_b + tail[1])
    g = np.concatenate(parts_g + tail[2])
    return groups, a, b, g
