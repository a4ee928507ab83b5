"""Golden records: per field, the value of the most trusted source, then the most recent, then the most complete."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import numpy as np

from canalis.identity.config import IdentityConfig
from canalis.identity.features import INVALID_PHONE_MARK, Frame

GOLDEN_FIELDS: tuple[str, ...] = (
    "given_name", "family_name", "email", "phone", "birth_date", "street", "postcode", "city", "region",
    "country", "loyalty_id",
)  # fmt: skip
# Fields chosen together from one record, so that a golden address or name is never stitched from several.
FIELD_GROUPS: dict[str, tuple[str, ...]] = {
    "name": ("given_name", "family_name"),
    "address": ("street", "postcode", "city", "region", "country"),
}
_GROUP_OF: dict[str, str] = {f: g for g, fields in FIELD_GROUPS.items() for f in fields}


@dataclass
class GoldenRecord:
    """The unified profile of one customer, with the origin of every field."""

    customer_id: str
    values: dict[str, object]
    lineage: dict[str, dict]
    record_keys: list[str]
    sources: list[str]
    flags: list[str] = field(default_factory=list)

    @property
    def record_count(self) -> int:
        """How many source records the customer has."""
        return len(self.record_keys)


def field_value(frame: Frame, row: int, name: str) -> object:
    """The value a golden record takes from a record: normalised for keys and codes, as typed for names."""
    return field_values(frame, [row], name)[0]


def field_values(frame: Frame, rows: Sequence[int], name: str) -> list[object]:
    """`field_value` of each of `rows` for one field (None for a row of -1), a field at a time."""
    match name:
        case "email" | "postcode" | "country":
            column = getattr(frame, name)
            return [(column[r] or None) if r >= 0 else None for r in rows]
        case "phone":
            phones = frame.phone
            return [_phone_value(phones[r]) if r >= 0 else None for r in rows]
        case "birth_date":
            dobs = frame.dob
            return [_date_value(dobs[r]) if r >= 0 else None for r in rows]
    records = frame.record
    if name == "loyalty_id":
        loyalty = frame.loyalty
        return [_loyalty_value(records[r].loyalty_id, loyalty[r]) if r >= 0 else None for r in rows]
    return [_typed_value(getattr(records[r], name)) if r >= 0 else None for r in rows]


def _phone_value(phone: str) -> str | None:
    return phone if phone and not phone.startswith(INVALID_PHONE_MARK) else None


def _date_value(d: int) -> date | None:
    return date(d // 10000, d // 100 % 100, d % 100) if d else None


def _loyalty_value(raw: str | None, key: str) -> str | None:
    return raw.strip() if raw and key else None


def _typed_value(value: object) -> object:
    """A value as typed, its spaces collapsed."""
    if isinstance(value, str):
        value = " ".join(value.split())
    return value or None


_PRESENCE_COLUMNS: dict[str, str] = {
    "given_name": "given", "family_name": "family", "email": "email", "phone": "phone", "street": "street",
    "postcode": "postcode", "city": "city", "country": "country", "loyalty_id": "loyalty",
}  # fmt: skip


def presence(frame: Frame) -> dict[str, np.ndarray]:
    """Per golden field, which rows have a usable value."""
    out = {name: frame.array(column) != "" for name, column in _PRESENCE_COLUMNS.items()}
    out["phone"] &= np.fromiter(
        (not p.startswith(INVALID_PHONE_MARK) for p in frame.phone), dtype=bool, count=len(frame)
    )
    out["birth_date"] = frame.array("dob") > 0
    out["region"] = np.fromiter(
        (bool(r.region and r.region.strip()) for r in frame.record), dtype=bool, count=len(frame)
    )
    return out


def _priority(config: IdentityConfig, name: str, sources: np.ndarray, cache: dict) -> np.ndarray:
    listed = tuple(
        config.source_priority.get(name)
        or config.source_priority.get(_GROUP_OF.get(name, ""))
        or config.source_priority.get("*")
        or ()
    )
    if listed not in cache:
        rank = {source: i for i, source in enumerate(listed)}
        cache[listed] = (
            np.fromiter((rank.get(s, len(listed)) for s in sources), dtype=np.int64, count=len(sources))
            if listed
            else np.zeros(len(sources), dtype=np.int64)
        )
    return cache[listed]


def _winners(
    label: np.ndarray, present: np.ndarray, prio: np.ndarray, base: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per cluster with a present value: the winning row and the runner-up row (-1 when none)."""
    rows = np.flatnonzero(present)
    if len(rows) == 0:
        nothing = np.zeros(0, dtype=np.int64)
        return nothing, nothing, nothing
    order = rows[np.lexsort((base[rows], prio[rows], label[rows]))]
    sorted_labels = label[order]
    first = np.flatnonzero(np.r_[True, sorted_labels[1:] != sorted_labels[:-1]])
    second = first + 1
    has_second = (second < len(order)) & (sorted_labels[np.minimum(second, len(order) - 1)] == sorted_labels[first])
    runner = np.where(has_second, order[np.minimum(second, len(order) - 1)], -1)
    return sorted_labels[first], order[first], runner


RULE_NAMES: tuple[str, ...] = ("only_value", "source_priority", "recency", "completeness", "record_key")


@dataclass
class GoldenTable:
    """Golden records of many clusters, column by column; records are built when read.

    Per field: the frame row the value comes from (-1: none) and the rule that chose it.
    """

    frame: Frame
    clusters: Sequence[Sequence[int]]
    ids: Sequence[str]
    flags: Sequence[Sequence[str]]
    source_row: dict[str, np.ndarray]
    rule: dict[str, np.ndarray]
    filled: dict[str, np.ndarray]

    def __len__(self) -> int:
        return len(self.ids)

    def __iter__(self):
        for i in range(len(self.ids)):
            yield self[i]

    def __getitem__(self, i: int) -> GoldenRecord:
        customer_id, values, lineage, _, sources, flags = next(self.rows([i]))
        return GoldenRecord(
            customer_id=customer_id, values=dict(zip(GOLDEN_FIELDS, values, strict=True)), lineage=lineage,
            record_keys=sorted(self.frame.key[r] for r in self.clusters[i]), sources=sources, flags=flags,
        )  # fmt: skip

    def rows(self, order: Sequence[int] | None = None) -> Iterator[tuple]:
        """Per customer (the positions in `order`, else all in table order): (customer id, values in
        GOLDEN_FIELDS order, lineage, record count, sources, flags), as its GoldenRecord holds them."""
        for chunk in self.columns(order):
            values = zip(*(chunk[name] for name in GOLDEN_FIELDS), strict=True)
            yield from zip(chunk["customer_id"], values, chunk["lineage"], chunk["record_count"], chunk["sources"],
                           chunk["flags"], strict=True)  # fmt: skip

    def columns(self, order: Sequence[int] | None = None) -> Iterator[dict[str, list]]:
        """The same, column by column, a chunk of customers at a time: customer_id, each of GOLDEN_FIELDS,
        lineage, record_count, sources and flags.

        Made a field at a time, each record's lineage entry and timestamp once (not once per customer and
        field): a full run writes as many golden records as there are people.
        """
        chosen = np.arange(len(self.ids)) if order is None else np.asarray(order, dtype=np.int64)
        for start in range(0, len(chosen), _CHUNK):
            yield self._chunk_columns(chosen[start : start + _CHUNK])

    def _chunk_columns(self, chosen: np.ndarray) -> dict[str, list]:
        frame = self.frame
        rules = len(_LINEAGE_RULES)
        source_rows: dict[str, list[int]] = {}
        lineage_codes: dict[str, list[int]] = {}  # per field: the record's row and its lineage rule, one number
        for name in GOLDEN_FIELDS:
            rows = self.source_row[name][chosen]
            rule = self.rule[name][chosen].astype(np.int64) * 2 + self.filled[name][chosen]
            source_rows[name] = rows.tolist()
            lineage_codes[name] = np.where(rows >= 0, rows * rules + rule, -1).tolist()
        # A lineage entry per record and rule, shared by the fields and customers it describes.
        entries = {
            code: {"record_key": frame.key[code // rules], "source": frame.source[code // rules],
                   "rule": _LINEAGE_RULES[code % rules], "updated_at": _stamp(frame, code // rules)}
            for code in set().union(*lineage_codes.values()) if code >= 0
        }  # fmt: skip
        lineage_columns = [list(map(entries.get, codes)) for codes in lineage_codes.values()]
        ids, lineages, counts, sources, flags = [], [], [], [], []
        sources_of: dict[tuple[str, ...], list[str]] = {}  # one list per set of sources: encoded once when written
        for i, fields in zip(chosen.tolist(), zip(*lineage_columns, strict=True), strict=True):
            rows = self.clusters[i]
            ids.append(self.ids[i])
            lineages.append({name: e for name, e in zip(GOLDEN_FIELDS, fields, strict=True) if e is not None})
            counts.append(len(rows))
            found = tuple(sorted({frame.source[r] for r in rows}))
            sources.append(sources_of.setdefault(found, list(found)))
            flags.append(list(self.flags[i]) if self.flags else [])
        values = {name: field_values(frame, rows, name) for name, rows in source_rows.items()}
        return {"customer_id": ids, **values, "lineage": lineages, "record_count": counts, "sources": sources,
                "flags": flags}  # fmt: skip


_CHUNK = 20_000  # customers made at once: their columns and lineage documents are held until written
# The lineage rule of a field: the rule that chose its record, "_fill" when taken apart from its group's record.
_LINEAGE_RULES: tuple[str, ...] = tuple(rule + fill for rule in RULE_NAMES for fill in ("", "_fill"))


def _stamp(frame: Frame, row: int) -> str | None:
    stamp = frame.record[row].updated_at
    return stamp.astimezone(UTC).isoformat() if isinstance(stamp, datetime) else None


def _rules(winners: np.ndarray, runners: np.ndarray, prio: np.ndarray, updated: np.ndarray, complete: np.ndarray):
    safe = np.maximum(runners, 0)
    rule = np.full(len(winners), 4, dtype=np.int8)
    rule[complete[winners] != complete[safe]] = 3
    rule[updated[winners] != updated[safe]] = 2
    rule[prio[winners] != prio[safe]] = 1
    rule[runners < 0] = 0
    return rule


def golden_records(
    frame: Frame,
    clusters: Sequence[Sequence[int]],
    ids: Sequence[str],
    config: IdentityConfig,
    flags: Sequence[Sequence[str]] | None = None,
) -> GoldenTable:
    """Golden records of clusters (rows of `frame`): per field the most trusted source, then recency, then completeness.

    Fields of a group (name, address) come together from the group's best record; a field that record lacks
    is filled from the best record holding it (rule suffixed "_fill").
    """
    n = len(frame)
    count = len(clusters)
    label = np.full(n, -1, dtype=np.int64)
    for index, rows in enumerate(clusters):
        label[np.asarray(rows, dtype=np.int64)] = index
    in_cluster = label >= 0
    keys = frame.array("key")
    updated = frame.array("updated")
    sources = frame.array("source")
    values_present = presence(frame)
    complete = sum(values_present[name].astype(np.int64) for name in GOLDEN_FIELDS)
    key_rank = np.empty(n, dtype=np.int64)
    key_rank[np.argsort(keys, kind="stable")] = np.arange(n)
    base_order = np.lexsort((key_rank, -complete, -updated))
    base = np.empty(n, dtype=np.int64)
    base[base_order] = np.arange(n)
    source_row = {name: np.full(count, -1, dtype=np.int64) for name in GOLDEN_FIELDS}
    rule = {name: np.zeros(count, dtype=np.int8) for name in GOLDEN_FIELDS}
    filled = {name: np.zeros(count, dtype=bool) for name in GOLDEN_FIELDS}

    cache: dict = {}

    def pick(name: str, present: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        prio = _priority(config, name, sources, cache)
        labels, winners, runners = _winners(label, present & in_cluster, prio, base)
        return labels, winners, _rules(winners, runners, prio, updated, complete)

    for group, fields in FIELD_GROUPS.items():
        present = np.zeros(n, dtype=bool)
        for f in fields:
            present |= values_present[f]
        labels, winners, rules = pick(group, present)
        for f in fields:
            has = values_present[f][winners]
            source_row[f][labels[has]] = winners[has]
            rule[f][labels[has]] = rules[has]
    for name in GOLDEN_FIELDS:
        labels, winners, rules = pick(name, values_present[name])
        empty = source_row[name][labels] < 0
        source_row[name][labels[empty]] = winners[empty]
        rule[name][labels[empty]] = rules[empty]
        if name in _GROUP_OF:
            filled[name][labels[empty]] = True
    return GoldenTable(frame, clusters, ids, flags or [[] for _ in clusters], source_row, rule, filled)
