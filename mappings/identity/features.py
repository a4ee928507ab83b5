"""Comparison features of records, held column by column (a `Frame`) so that bulk steps can vectorise."""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from datetime import date

import numpy as np

from mappings.identity.config import IdentityConfig
from mappings.identity.records import IdentityRecord
from mappings.normalize import (
    country_code,
    email_key,
    fold_name,
    fold_place,
    normalize_street,
    phone_key,
    phonetic_key,
    postcode_key,
)

_TODAY = date.today()

# Phone numbers of possible length but allotted to no one keep this mark: they still compare, never reach a golden record.
INVALID_PHONE_MARK = "~"
# Columns of a frame: text columns hold "" when missing; `dob` holds yyyymmdd or 0; `updated` a timestamp or -1.
COLUMNS: tuple[str, ...] = (
    "key", "source", "email", "email_local", "phone", "loyalty", "ext", "given", "family", "family_sound",
    "dob", "postcode", "street", "city", "country", "updated", "record",
)  # fmt: skip


def loyalty_key(raw: str | None) -> str:
    """Comparison form of a loyalty number: upper-case, no spaces or dashes."""
    if not raw:
        return ""
    return "".join(ch for ch in raw.upper() if ch.isalnum())


def dob_int(value: date | None, config: IdentityConfig) -> int:
    """A birth date as yyyymmdd, or 0 when missing or implausible."""
    if value is None or value.year < config.min_birth_year or value >= _TODAY:
        return 0
    return value.year * 10000 + value.month * 100 + value.day


def external_keys(record: IdentityRecord, config: IdentityConfig) -> tuple[str, ...]:
    """The record's own `source|source_id` key and those of the same person in other systems."""
    own = f"{record.source}|{record.source_id.strip()}"
    if not record.external_ids:
        return (own,)
    keys = {own}
    for system, value in record.external_ids.items():
        value = value.strip()
        if value:
            keys.add(f"{config.external_id_systems.get(system, system)}|{value}")
    return tuple(sorted(keys))


class Frame:
    """Features of a set of records, one list per column, row i describing record i."""

    __slots__ = COLUMNS

    def __init__(self) -> None:
        for name in COLUMNS:
            setattr(self, name, [])

    def __len__(self) -> int:
        return len(self.key)

    @classmethod
    def from_records(cls, records: Iterable[IdentityRecord], config: IdentityConfig) -> Frame:
        """Normalise and extract the features of every record."""
        frame = cls()
        for record in records:
            frame.append(record, config)
        return frame

    def append(self, record: IdentityRecord, config: IdentityConfig) -> int:
        """Add one record and return its row."""
        row = len(self.key)
        for name, value in zip(COLUMNS, extract(record, config), strict=True):
            getattr(self, name).append(value)
        return row

    def replace(self, row: int, record: IdentityRecord, config: IdentityConfig) -> None:
        """Overwrite a row with a changed record."""
        for name, value in zip(COLUMNS, extract(record, config), strict=True):
            getattr(self, name)[row] = value

    def take(self, rows: Sequence[int] | np.ndarray) -> Frame:
        """A new frame with the given rows, in that order."""
        frame = Frame()
        for name in COLUMNS:
            column = getattr(self, name)
            setattr(frame, name, [column[i] for i in rows])
        return frame

    def array(self, name: str) -> np.ndarray:
        """A column as a numpy array (object dtype for text)."""
        column = getattr(self, name)
        if name == "dob":
            return np.asarray(column, dtype=np.int64)
        if name == "updated":
            return np.asarray(column, dtype=np.float64)
        out = np.empty(len(column), dtype=object)
        out[:] = column
        return out


def extract(record: IdentityRecord, config: IdentityConfig) -> tuple:
    """The feature values of one record, in COLUMNS order."""
    country = country_code(record.country) or ""
    region = country or config.default_region
    email = email_key(record.email) or ""
    local = email.rsplit("@", 1)[0].split("+", 1)[0] if email else ""
    phone = ""
    if record.phone:
        value, valid = phone_key(record.phone, region)
        if value:
            phone = value if valid else INVALID_PHONE_MARK + value
    postcode = postcode_key(record.postcode, region) or ""
    given = fold_name(record.given_name)
    family = fold_name(record.family_name)
    birth = record.birth_date
    dob = 0
    if birth is not None and birth.year >= config.min_birth_year and birth < _TODAY:
        dob = birth.year * 10000 + birth.month * 100 + birth.day
    updated = record.updated_at.timestamp() if record.updated_at else -1.0
    return (
        record.key,
        record.source,
        email,
        local,
        phone,
        loyalty_key(record.loyalty_id),
        external_keys(record, config),
        given,
        family,
        phonetic_key(family) if family else "",
        dob,
        postcode,
        normalize_street(record.street) if record.street else "",
        fold_place(record.city) if record.city else "",
        country,
        updated,
        record,
    )
