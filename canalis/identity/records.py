"""The input of identity resolution: one person as one source system holds them."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from canalis.mappings.normalize import parse_date

PERSON_FIELDS: tuple[str, ...] = (
    "given_name", "family_name", "email", "phone", "birth_date", "street", "postcode", "city", "region",
    "country", "loyalty_id",
)  # fmt: skip


# Other names under which input files commonly carry the person fields (case and spaces ignored): the first
# present wins. A street may also arrive in parts (number and address lines): see STREET_PARTS.
FIELD_ALIASES: dict[str, tuple[str, ...]] = {
    "given_name": ("first_name", "firstname", "given", "forename", "prenom"),
    "family_name": ("surname", "last_name", "lastname", "family", "nom"),
    "email": ("email_address", "mail", "e_mail"),
    "phone": ("phone_number", "telephone", "tel", "mobile", "mobile_phone"),
    "birth_date": ("date_of_birth", "dob", "birthdate", "birthday", "date_naissance"),
    "street": ("address", "street_address", "address_line"),
    "postcode": ("postal_code", "postalcode", "post_code", "zip", "zipcode", "zip_code", "code_postal"),
    "city": ("suburb", "town", "locality", "ville"),
    "region": ("state", "province", "county"),
    "country": ("country_code",),
    "loyalty_id": ("loyalty_number", "loyalty_card"),
}
# When no street is given: the street number and the address lines, joined in this order.
STREET_PARTS: tuple[tuple[str, ...], ...] = (
    ("street_number", "house_number", "number"),
    ("address_1", "address1", "address_line_1", "address_line1", "street_1"),
    ("address_2", "address2", "address_line_2", "address_line2", "street_2"),
)


def _lookup(data: Mapping[str, Any], names: tuple[str, ...]) -> Any:
    for name in names:
        value = data.get(name)
        if value is not None and value != "":
            return value
    return None


def _canonical_keys(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The mapping with its keys lower-cased and spaces or dashes made underscores, when any key needs it."""
    if all(isinstance(k, str) and k.islower() and " " not in k and "-" not in k for k in data):
        return data
    return {str(k).strip().lower().replace(" ", "_").replace("-", "_"): v for k, v in data.items()}


def _street_from_parts(data: Mapping[str, Any]) -> str | None:
    parts = [str(value).strip() for names in STREET_PARTS if (value := _lookup(data, names)) is not None]
    text = " ".join(part for part in parts if part)
    return text or None


def record_key(source: str, source_id: str, object: str | None = None) -> str:
    """The record key: `source:object:source_id` when the object is known, else `source:source_id`."""
    return f"{source}:{object}:{source_id}" if object else f"{source}:{source_id}"


@dataclass(slots=True)
class IdentityRecord:
    """One source record of a person; values may be raw (they are normalised by the engine)."""

    source: str
    source_id: str
    object: str | None = None
    given_name: str | None = None
    family_name: str | None = None
    email: str | None = None
    phone: str | None = None
    birth_date: date | None = None
    street: str | None = None
    postcode: str | None = None
    city: str | None = None
    region: str | None = None
    country: str | None = None
    loyalty_id: str | None = None
    external_ids: dict[str, str] = field(default_factory=dict)
    updated_at: datetime | None = None

    @property
    def key(self) -> str:
        """The record key, unique across sources."""
        return record_key(self.source, self.source_id, self.object)

    def fingerprint(self) -> int:
        """A hash of every field, to notice a changed record within one process."""
        return hash(
            (self.given_name, self.family_name, self.email, self.phone, self.birth_date, self.street,
             self.postcode, self.city, self.region, self.country, self.loyalty_id,
             tuple(sorted(self.external_ids.items())), self.updated_at)
        )  # fmt: skip

    @classmethod
    def from_mapping(cls, data: Mapping[str, Any]) -> IdentityRecord:
        """A record from a dict (JSON line, database row); unknown keys are ignored, text dates are parsed.

        Fields may also come under common other names (FIELD_ALIASES: surname, first_name, date_of_birth,
        suburb, state, zip...), and a street as its number and address lines (STREET_PARTS).

        Raises ValueError when `source` or `source_id` is missing.
        """
        plan = _PLANS.get(tuple(data))
        if plan is None:
            plan = _plan(data)
        source, source_id = _pick(data, plan.source), _pick(data, plan.source_id)
        if source is None or source_id is None:
            raise ValueError("a record needs `source` and `source_id`")
        # The person fields in PERSON_FIELDS order, which is the order of the constructor's arguments.
        values: list[Any] = []
        for name, keys in plan.fields:
            value = None
            for key in keys:  # the first key holding neither None nor empty text
                value = data[key]
                if value is not None and value != "":
                    break
            else:
                value = None
            if value is None and name == "street":
                parts = [str(part).strip() for names in plan.street_parts if (part := _pick(data, names)) is not None]
                value = " ".join(part for part in parts if part) or None
            if isinstance(value, str):
                value = value.strip() or None
            if value is None:
                values.append(None)
            elif name == "birth_date":
                values.append(_date(value))
            else:
                values.append(value if isinstance(value, str) else str(value))
        external = _pick(data, plan.external_ids) or {}
        if not isinstance(external, Mapping):
            raise ValueError("`external_ids` must be an object of {system: id}")
        obj = _pick(data, plan.object)
        updated = next((data[k] for k in plan.updated_at if data[k]), None)
        return cls(
            str(source),
            str(source_id),
            str(obj) if obj else None,
            *values,
            external_ids={str(k): str(v) for k, v in external.items() if v not in (None, "")} if external else {},
            updated_at=None if updated is None else _timestamp(updated),
        )


@dataclass(frozen=True, slots=True)
class _Plan:
    """Where the fields of mappings with one set of keys are: per field, the keys to try in order."""

    source: tuple[str, ...]
    source_id: tuple[str, ...]
    object: tuple[str, ...]
    external_ids: tuple[str, ...]
    updated_at: tuple[str, ...]
    fields: tuple[tuple[str, tuple[str, ...]], ...]
    street_parts: tuple[tuple[str, ...], ...]


# Plans by the keys of a mapping, in order: the lines of one file share theirs, so each is worked out once.
_PLANS: dict[tuple, _Plan] = {}
_MAX_PLANS = 1024


def _plan(data: Mapping[str, Any]) -> _Plan:
    keys = tuple(data)
    # The key each canonical name comes from (lower-case, underscores; the last of several wins).
    named = {str(k).strip().lower().replace(" ", "_").replace("-", "_"): k for k in keys}

    def found(*names: str) -> tuple[str, ...]:
        return tuple(named[name] for name in names if name in named)

    plan = _Plan(
        source=found("source"), source_id=found("source_id"), object=found("object"),
        external_ids=found("external_ids"), updated_at=found("updated_at", "source_updated_at"),
        fields=tuple((name, found(name, *FIELD_ALIASES.get(name, ()))) for name in PERSON_FIELDS),
        street_parts=tuple(found(*names) for names in STREET_PARTS),
    )  # fmt: skip
    if len(_PLANS) >= _MAX_PLANS:
        _PLANS.clear()
    _PLANS[keys] = plan
    return plan


def _pick(data: Mapping[str, Any], keys: tuple[str, ...]) -> Any:
    """The first of these keys' values that is neither None nor empty text, or None."""
    for key in keys:
        value = data[key]
        if value is not None and value != "":
            return value
    return None


def _date(value: Any) -> date | None:
    if value is None or value == "":
        return None
    if isinstance(value, str) and len(value) == 10:
        try:
            return date.fromisoformat(value)
        except ValueError:
            pass
    parsed = parse_date(value)
    return parsed.value if parsed.valid else None


def _timestamp(value: Any) -> datetime | None:
    if value is None or value == "":
        return None
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    else:
        try:
            moment = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
        except ValueError:
            return None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)
