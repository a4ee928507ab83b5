"""Deterministic keys (email, phone, loyalty number, cross-system ids) and the guard against shared values."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from mappings.identity.compare import dob_compatible, names_compatible
from mappings.identity.config import IdentityConfig
from mappings.identity.features import Frame

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


def row_values(frame: Frame, kind: str, row: int) -> tuple[str, ...]:
    """The key values of one row for a key kind (several for external ids)."""
    value = getattr(frame, KEY_COLUMNS[kind])[row]
    if kind == "external_id":
        return value
    return (value,) if value else ()


def groups_of(frame: Frame, kind: str) -> dict[str, list[int]]:
    """Rows by key value (rows ascending), for values held by at least two rows of the frame."""
    column = getattr(frame, KEY_COLUMNS[kind])
    if kind == "external_id":
        flat = [(value, row) for row, values in enumerate(column) for value in values]
        values = [v for v, _ in flat]
        owners = np.fromiter((r for _, r in flat), dtype=np.int64, count=len(flat))
    else:
        values = column
        owners = np.arange(len(column), dtype=np.int64)
    codes = np.fromiter((hash(v) if v else 0 for v in values), dtype=np.int64, count=len(values))
    present = np.flatnonzero(codes != 0)
    order = present[np.argsort(codes[present], kind="stable")]
    sorted_codes = codes[order]
    if len(order) < 2:
        return {}
    starts = np.flatnonzero(np.r_[True, sorted_codes[1:] != sorted_codes[:-1]])
    sizes = np.diff(np.r_[starts, len(order)])
    out: dict[str, list[int]] = {}
    for start, size in zip(starts[sizes > 1].tolist(), sizes[sizes > 1].tolist(), strict=True):
        for i in order[start : start + size].tolist():
            out.setdefault(values[i], []).append(int(owners[i]))
    return {value: sorted(set(rows)) for value, rows in out.items() if len(set(rows)) > 1}


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
    frame: Frame, kind: str, value: str, rows: list[int], count: int, config: IdentityConfig
) -> KeyGroup:
    """Decide whether a key value links its records: all of them, the ones that agree, or none."""
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
    first = rows[0]
    signature = (given[first], family[first], dob[first])
    if signature != ("", "", 0) and all((given[r], family[r], dob[r]) == signature for r in rows):
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


def key_groups(
    frame: Frame, config: IdentityConfig, count: Callable[[str, str, int], int] | None = None
) -> list[KeyGroup]:
    """Judge every key value held by two or more records; `count` gives the value's size across all records."""
    out: list[KeyGroup] = []
    for kind in config.deterministic_keys:
        for value, rows in groups_of(frame, kind).items():
            total = count(kind, value, len(rows)) if count else len(rows)
            out.append(judge(frame, kind, value, rows, total, config))
    return out
