"""Records on the wire and on write: rendering selected fields, checking written values, filling system fields."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime
from typing import Any

from canalis.sandbox.emulators.salesforce.ids import is_record_id, to_18
from canalis.sandbox.emulators.salesforce.schema import TEXT_TYPES, FieldDef, SObjectDef
from canalis.sandbox.emulators.salesforce.soql import stored_datetime
from canalis.sandbox.world.ids import salesforce_id

OWNER_ID = salesforce_id("User", 1)
_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def wire_datetime(moment: datetime) -> str:
    """Salesforce's REST datetime form: 2026-01-05T10:00:00.000+0000."""
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}+0000"


def record_url(version: str, sobject: str, record_id: str) -> str:
    return f"/services/data/v{version}/sobjects/{sobject}/{record_id}"


def attributes(version: str, sobject: str, record_id: str | None) -> dict[str, str]:
    """The `attributes` entry every REST record starts with."""
    result = {"type": sobject}
    if record_id:
        result["url"] = record_url(version, sobject, record_id)
    return result


def field_value(definition: SObjectDef, target: FieldDef, payload: dict[str, Any]) -> Any:
    """A field's value in a stored payload; compound address fields are assembled from their parts."""
    if target.type == "address":
        prefix = target.name.removesuffix("Address")
        parts = {
            "street": payload.get(f"{prefix}Street"),
            "city": payload.get(f"{prefix}City"),
            "state": payload.get(f"{prefix}State"),
            "postalCode": payload.get(f"{prefix}PostalCode"),
            "country": payload.get(f"{prefix}Country"),
        }
        if not any(parts.values()):
            return None
        return {
            **parts,
            "countryCode": None,
            "stateCode": None,
            "geocodeAccuracy": None,
            "latitude": None,
            "longitude": None,
        }
    return payload.get(target.name)


def render(definition: SObjectDef, payload: dict[str, Any], fields: list[FieldDef], version: str) -> dict[str, Any]:
    """A record as the query resource returns it: attributes, then the selected fields in order."""
    record: dict[str, Any] = {"attributes": attributes(version, definition.name, payload.get("Id"))}
    for target in fields:
        record[target.name] = field_value(definition, target, payload)
    return record


def render_all(definition: SObjectDef, payload: dict[str, Any], version: str) -> dict[str, Any]:
    """A record as the sObject rows resource returns it: every field."""
    return render(definition, payload, list(definition.fields), version)


@dataclass
class SaveError:
    """One entry of a SaveResult's `errors`."""

    status_code: str
    message: str
    fields: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, Any]:
        return {"statusCode": self.status_code, "message": self.message, "fields": self.fields}

    def as_rest_error(self) -> dict[str, Any]:
        """The same error in the REST error array shape (errorCode instead of statusCode)."""
        return {"message": self.message, "errorCode": self.status_code, "fields": self.fields}


class BodyError(Exception):
    """A request body Salesforce refuses as a whole (400 JSON_PARSER_ERROR and the like)."""

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


def check_values(
    definition: SObjectDef, values: dict[str, Any], *, creating: bool
) -> tuple[dict[str, Any], list[SaveError]]:
    """Validate written values; returns the values keyed by canonical field names and the record's errors.

    Raises BodyError when a value has the wrong JSON type, as Salesforce fails the whole request then.
    """
    cleaned: dict[str, Any] = {}
    errors: list[SaveError] = []
    locked: list[str] = []
    for name, value in values.items():
        if name == "attributes":
            continue
        target = definition.field(name)
        if target is None:
            errors.append(
                SaveError("INVALID_FIELD", f"No such column '{name}' on sobject of type {definition.name}", [name])
            )
            continue
        allowed = target.createable if creating else target.updateable
        if not allowed:
            locked.append(target.name)
            continue
        cleaned[target.name] = _typed(definition, target, value)
    if locked:
        verb = "create" if creating else "update"
        errors.append(
            SaveError(
                "INVALID_FIELD_FOR_INSERT_UPDATE",
                f"Unable to {verb} fields: {', '.join(locked)}. Please check the security settings of this field and "
                "verify that it is read/write for your profile or permission set.",
                locked,
            )
        )
    for name, value in cleaned.items():
        target = definition.field(name)
        assert target is not None
        error = _value_error(target, value)
        if error is not None:
            errors.append(error)
    missing = [
        f.name
        for f in definition.fields
        if (f.required and creating and cleaned.get(f.name) in (None, ""))
        or (not f.nillable and f.name in cleaned and cleaned[f.name] in (None, "") and f.type != "boolean")
    ]
    if missing:
        errors.append(
            SaveError("REQUIRED_FIELD_MISSING", f"Required fields are missing: [{', '.join(missing)}]", missing)
        )
    return cleaned, errors


def _typed(definition: SObjectDef, target: FieldDef, value: Any) -> Any:
    """The value in its stored form; wrong JSON types fail the request like Salesforce's JSON parser."""
    if value is None:
        return None
    kind = target.type
    ok = True
    if kind == "boolean":
        ok = isinstance(value, bool)
    elif kind in ("double", "currency", "percent", "int"):
        if isinstance(value, str):
            try:
                value = float(value)
            except ValueError:
                ok = False
        ok = ok and isinstance(value, int | float) and not isinstance(value, bool)
        if ok and kind == "int":
            value = int(value)
        elif ok:
            value = float(value)
    elif kind == "datetime":
        ok = isinstance(value, str) and stored_datetime(value) is not None
        if ok:
            value = wire_datetime(stored_datetime(value))  # type: ignore[arg-type]
    elif kind == "date":
        ok = isinstance(value, str) and bool(_DATE.match(value))
        if ok:
            try:
                date.fromisoformat(value)
            except ValueError:
                ok = False
    elif kind in TEXT_TYPES or kind in ("id", "reference"):
        if isinstance(value, int | float) and not isinstance(value, bool):
            value = str(value)
        ok = isinstance(value, str)
    if not ok:
        json_type = {bool: "VALUE_TRUE" if value is True else "VALUE_FALSE", str: "VALUE_STRING"}.get(
            type(value), "VALUE_NUMBER_INT" if isinstance(value, int) else "START_OBJECT"
        )
        wanted = {"boolean": "boolean", "datetime": "Datetime", "date": "Date", "int": "int"}.get(kind, "String")
        if kind in ("double", "currency", "percent"):
            wanted = "double"
        raise BodyError(
            "JSON_PARSER_ERROR",
            f"Cannot deserialize instance of {wanted} from {json_type} value {value} or request may be missing a "
            f"required field at [line:1, column:1] ({definition.name}.{target.name})",
        )
    return value


def _value_error(target: FieldDef, value: Any) -> SaveError | None:
    if value is None or value == "":
        return None
    label = target.describe()["label"]
    if target.type in ("id", "reference"):
        if not is_record_id(str(value)):
            return SaveError("MALFORMED_ID", f"{label}: id value of incorrect type: {value}", [target.name])
        return None
    if target.type == "email" and not _EMAIL.match(str(value)):
        return SaveError("INVALID_EMAIL_ADDRESS", f"{label}: invalid email address: {value}", [target.name])
    if target.type in TEXT_TYPES and len(str(value)) > target.max_length:
        return SaveError(
            "STRING_TOO_LONG",
            f"{label}: data value too large: {str(value)[:40]} (max length={target.max_length})",
            [target.name],
        )
    return None


def normalised_references(definition: SObjectDef, values: dict[str, Any]) -> dict[str, Any]:
    """Reference values in their 18-character form."""
    out = dict(values)
    for name, value in values.items():
        target = definition.field(name)
        if target is not None and target.type == "reference" and isinstance(value, str) and is_record_id(value):
            out[name] = to_18(value)
    return out


def new_payload(
    definition: SObjectDef,
    record_id: str,
    values: dict[str, Any],
    stamp: datetime,
    version: str,
    extra: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """A freshly created record: every field present, defaults and system fields filled."""
    payload: dict[str, Any] = {"attributes": attributes(version, definition.name, record_id), "Id": record_id}
    for target in definition.fields:
        if target.type != "address" and target.name != "Id":
            payload[target.name] = None
    defaults: dict[str, Any] = {"IsDeleted": False, "OwnerId": OWNER_ID}
    for target in definition.fields:
        if target.type == "boolean" and target.name != "IsDeleted":
            defaults[target.name] = target.name in ("IsActive",)
    if definition.name == "Case":
        defaults.update(Status="New", Priority="Medium")
    if definition.name == "Task":
        defaults.update(Status="Not Started", Priority="Normal")
    for name, value in defaults.items():
        if name in payload:
            payload[name] = value
    payload.update(normalised_references(definition, values))
    payload.update(extra or {})
    written = wire_datetime(stamp)
    payload.update(
        CreatedDate=written,
        CreatedById=OWNER_ID,
        LastModifiedDate=written,
        LastModifiedById=OWNER_ID,
        SystemModstamp=written,
    )
    derive(definition, payload, stamp)
    return payload


def updated_payload(
    definition: SObjectDef, payload: dict[str, Any], values: dict[str, Any], stamp: datetime
) -> dict[str, Any]:
    """A record after an update: the values applied, derived fields recomputed, modification stamps bumped."""
    result = {**payload, **normalised_references(definition, values)}
    written = wire_datetime(stamp)
    result.update(LastModifiedDate=written, LastModifiedById=OWNER_ID, SystemModstamp=written)
    derive(definition, result, stamp)
    return result


def derive(definition: SObjectDef, payload: dict[str, Any], stamp: datetime) -> None:
    """Recompute fields Salesforce derives from others (full name, case closure)."""
    if definition.name == "Contact":
        payload["Name"] = " ".join(p for p in (payload.get("FirstName"), payload.get("LastName")) if p) or None
    if definition.name == "Case":
        closed = payload.get("Status") == "Closed"
        if closed and not payload.get("IsClosed"):
            payload["ClosedDate"] = wire_datetime(stamp)
        if not closed:
            payload["ClosedDate"] = None
        payload["IsClosed"] = closed
