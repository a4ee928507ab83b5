"""Comparison features of records, held column by column (a `Frame`) so that bulk steps can vectorise."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import date, datetime
from typing import Any

import numpy as np

from canalis.identity.config import IdentityConfig
from canalis.identity.records import IdentityRecord
from canalis.mappings.normalize import (
    country_code,
    email_key,
    fold_name,
    fold_place,
    normalize_street,
    phone_key,
    phonetic_key,
    postcode_key,
)
from canalis.mappings.normalize.addresses import postcode_fits

_TODAY = date.today()

# Phone numbers of possible length that are allotted to no one carry this mark: they still compare, but never
# reach a golden record.
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
    """The record's own `source|source_id` key first, then those of the same person in other systems."""
    own = f"{record.source}|{record.source_id.strip()}"
    if not record.external_ids:
        return (own,)
    others = set()
    for system, value in record.external_ids.items():
        value = value.strip()
        if value:
            others.add(f"{config.external_id_systems.get(system, system)}|{value}")
    return (own, *sorted(others - {own}))


class Frame:
    """Features of a set of records, one list per column, row i describing record i."""

    __slots__ = (*COLUMNS, "region")

    def __init__(self, region: str | None = None) -> None:
        for name in COLUMNS:
            setattr(self, name, [])
        self.region = region

    def __len__(self) -> int:
        return len(self.key)

    @classmethod
    def from_records(
        cls, records: Iterable[IdentityRecord], config: IdentityConfig, region: str | None = None
    ) -> Frame:
        """Normalise and extract the features of every record.

        Records with no country are read in `region` (see `infer_region`; by default inferred from these records).
        Each column is computed once per distinct raw value: records of one person, and people of one town,
        repeat their names, emails, streets and postcodes.
        """
        records = list(records)
        frame = cls(infer_region(records, config) if region is None else region)
        if records:
            columns = Extractor(config, frame.region).columns(records)
            for name in COLUMNS:
                setattr(frame, name, columns[name])
        return frame

    def append(self, record: IdentityRecord, config: IdentityConfig, region: str | None = None) -> int:
        """Add one record and return its row."""
        row = len(self.key)
        for name, value in zip(COLUMNS, extract(record, config, region), strict=True):
            getattr(self, name).append(value)
        return row

    def replace(self, row: int, record: IdentityRecord, config: IdentityConfig, region: str | None = None) -> None:
        """Overwrite a row with a changed record."""
        for name, value in zip(COLUMNS, extract(record, config, region), strict=True):
            getattr(self, name)[row] = value

    def take(self, rows: Sequence[int] | np.ndarray) -> Frame:
        """A new frame with the given rows, in that order."""
        frame = Frame(self.region)
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


def _each(values: list, function: Callable[[Any], Any]) -> list:
    """function(value) for every value, computed once per distinct value."""
    table = {value: function(value) for value in set(values)}
    return list(map(table.__getitem__, values))


def _each_pair(first: list, second: list, function: Callable[[Any, Any], Any]) -> list:
    """function(a, b) for every pair of `first` and `second`, computed once per distinct pair."""
    pairs = list(zip(first, second, strict=True))
    table = {pair: function(*pair) for pair in set(pairs)}
    return list(map(table.__getitem__, pairs))


def phone_feature(raw: str, region: str) -> str:
    """The comparison form of a phone number typed in `region` ("": unknown, read by its digits): E.164, marked
    when not allotted, or ""."""
    if not raw:
        return ""
    if not region:
        digits = "".join(ch for ch in raw if ch.isdigit())
        value, valid = phone_key(raw, "ZZ") if raw.lstrip().startswith(("+", "00")) else (digits, True)
        return (value or "") if valid else INVALID_PHONE_MARK + (value or digits)
    value, valid = phone_key(raw, region)
    return "" if not value else value if valid else INVALID_PHONE_MARK + value


class Extractor:
    """Extracts record features, remembering within a batch the values it already normalised.

    Records of one person repeat their email, street and city across systems; a batch-wide memory
    normalises each distinct spelling once and is dropped with the batch.
    """

    def __init__(self, config: IdentityConfig, region: str | None = None) -> None:
        self.config = config
        self.region = config.default_region if region is None else region
        self.emails: dict[str, tuple[str, str]] = {}
        self.phones: dict[tuple[str, str], str] = {}
        self.streets: dict[str, str] = {}

    def email(self, raw: str | None) -> tuple[str, str]:
        """(normalised email, local part without +tag), or ("", "")."""
        if not raw:
            return "", ""
        found = self.emails.get(raw)
        if found is None:
            email = email_key(raw) or ""
            found = (email, email.rsplit("@", 1)[0].split("+", 1)[0] if email else "")
            self.emails[raw] = found
        return found

    def phone(self, raw: str | None, region: str) -> str:
        """E.164 phone, marked when not allotted, or ""."""
        if not raw:
            return ""
        found = self.phones.get((raw, region))
        if found is None:
            found = self.phones[(raw, region)] = phone_feature(raw, region)
        return found

    def street(self, raw: str | None) -> str:
        """Street comparison key, or ""."""
        if not raw:
            return ""
        found = self.streets.get(raw)
        if found is None:
            found = self.streets[raw] = normalize_street(raw)
        return found

    def dob(self, birth: date | None) -> int:
        """A birth date as yyyymmdd, or 0 when missing or implausible."""
        return dob_int(birth, self.config)

    @staticmethod
    def country(raw: str | None) -> str:
        """ISO country code, or ""."""
        return country_code(raw) or "" if raw else ""

    @staticmethod
    def postcode(raw: str | None, region: str) -> str:
        """Postcode comparison key in the record's country, or ""."""
        return postcode_key(raw, region or None) or "" if raw else ""

    @staticmethod
    def city(raw: str | None) -> str:
        """City comparison key, or ""."""
        return fold_place(raw) if raw else ""

    @staticmethod
    def sound(family: str) -> str:
        """Sound-alike key of a folded family name, or ""."""
        return phonetic_key(family) if family else ""

    @staticmethod
    def updated(moment: datetime | None) -> float:
        """A timestamp, or -1."""
        return moment.timestamp() if moment else -1.0

    def __call__(self, record: IdentityRecord) -> tuple:
        """The feature values of one record, in COLUMNS order."""
        country = self.country(record.country)
        region = country or self.region
        email, local = self.email(record.email)
        family = fold_name(record.family_name)
        return (
            record.key,
            record.source,
            email,
            local,
            self.phone(record.phone, region),
            loyalty_key(record.loyalty_id),
            external_keys(record, self.config),
            fold_name(record.given_name),
            family,
            self.sound(family),
            self.dob(record.birth_date),
            self.postcode(record.postcode, region),
            self.street(record.street),
            self.city(record.city),
            country,
            self.updated(record.updated_at),
            record,
        )

    def columns(self, records: list[IdentityRecord]) -> dict[str, list]:
        """The feature columns of many records (as `__call__` row by row), each value normalised once."""
        config = self.config
        country = _each([r.country for r in records], self.country)
        region = [code or self.region for code in country]
        emails = _each([r.email for r in records], self.email)
        family = _each([r.family_name for r in records], fold_name)
        return {
            "key": [r.key for r in records],
            "source": [r.source for r in records],
            "email": [found[0] for found in emails],
            "email_local": [found[1] for found in emails],
            "phone": _each_pair([r.phone for r in records], region, phone_feature),
            "loyalty": _each([r.loyalty_id for r in records], loyalty_key),
            "ext": [external_keys(r, config) for r in records],
            "given": _each([r.given_name for r in records], fold_name),
            "family": family,
            "family_sound": _each(family, self.sound),
            "dob": _each([r.birth_date for r in records], self.dob),
            "postcode": _each_pair([r.postcode for r in records], region, self.postcode),
            "street": _each([r.street for r in records], self.street),
            "city": _each([r.city for r in records], self.city),
            "country": country,
            "updated": _each([r.updated_at for r in records], self.updated),
            "record": records,
        }  # fmt: skip


def extract(record: IdentityRecord, config: IdentityConfig, region: str | None = None) -> tuple:
    """The feature values of one record, in COLUMNS order."""
    return Extractor(config, region)(record)


_REGION_SAMPLE = 5000


def infer_region(records: list[IdentityRecord], config: IdentityConfig) -> str:
    """The country in which to read the postcodes and phones of records that name none.

    `default_region` unless `infer_region` is on and most postcodes of such records (a sample) are not valid
    postcodes of that country as written: then "" (unknown), and postcodes are compared as written, national
    phone numbers by their digits (international ones still in E.164). French data keeps reading in France;
    Australian or British data is not forced into French postcodes and numbers.
    """
    if not config.infer_region or not config.default_region:
        return config.default_region
    written = [r.postcode for r in records[: _REGION_SAMPLE * 4] if r.postcode and not r.country][:_REGION_SAMPLE]
    if len(written) < 20:
        return config.default_region
    fits = sum(1 for p in written if postcode_fits(p, config.default_region))
    return config.default_region if fits * 2 >= len(written) else ""
