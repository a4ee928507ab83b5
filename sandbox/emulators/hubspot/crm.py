"""CRM v3 object endpoints: list, get, create, update, search and the batch read/create/update/upsert calls."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request, Response

from canalis.sandbox.emulators.hubspot.search import (
    DEFAULT_LIMIT,
    MAX_LIMIT,
    MAX_RESULTS,
    SearchError,
    SearchPager,
    parse_query,
)
from canalis.sandbox.emulators.hubspot.wire import (
    CUSTOM_PROPERTIES,
    READ_ONLY_PROPERTIES,
    SINGULAR,
    SUBSCRIPTION_OPTOUT_PREFIX,
    SYSTEM,
    batch_error,
    batch_response,
    corrupted,
    error_response,
    object_type,
    public_object,
    requested_properties,
    timestamp,
    validation_error,
)
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server.emulator import json_response, read_json
from canalis.sandbox.server.faults import FaultPlan

LIST_MAX_LIMIT = 100
BATCH_MAX_INPUTS = 100
EMAIL_PATTERN = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")

# Properties the portal defines per type (the world's, plus custom ones); writing another one fails.
KNOWN_PROPERTIES: dict[str, frozenset[str]] = {
    "contacts": frozenset(
        {
            "firstname",
            "lastname",
            "email",
            "phone",
            "mobilephone",
            "address",
            "city",
            "zip",
            "state",
            "country",
            "company",
            "date_of_birth",
            "hs_email_optout",
            "hs_language",
            "lifecyclestage",
        }
    ),
    "companies": frozenset({"name", "domain", "country", "industry", "lifecyclestage"}),
    "deals": frozenset({"dealname", "amount", "pipeline", "dealstage", "closedate"}),
    "tickets": frozenset(
        {
            "subject",
            "content",
            "hs_pipeline",
            "hs_pipeline_stage",
            "hs_ticket_category",
            "hs_ticket_priority",
            "source_type",
            "closed_date",
        }
    ),
    "products": frozenset({"name", "hs_sku", "price", "description", "hs_cost_of_goods_sold"}),
    "line_items": frozenset({"name", "hs_product_id", "hs_sku", "quantity", "price", "amount"}),
}


class InvalidInput(ValueError):
    """An input HubSpot refuses; carries the answer's message and error code."""

    def __init__(self, message: str, code: str = "INVALID_INPUT") -> None:
        super().__init__(message)
        self.code = code


class EmailIndex:
    """Contact id by lower-cased email, built from the store on first use and kept up to date by writes."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._ids: dict[str, str] | None = None
        self._lock = threading.Lock()

    def _build(self) -> dict[str, str]:
        ids: dict[str, str] = {}
        for row in self.store.iter_all(SYSTEM, "contacts"):
            email = (row.payload.get("properties") or {}).get("email")
            if email:
                ids.setdefault(str(email).lower(), row.object_id)
        return ids

    def lookup(self, email: str) -> str | None:
        """The id of the contact with this email, checked against the store."""
        key = email.strip().lower()
        with self._lock:
            if self._ids is None:
                self._ids = self._build()
            found = self._ids.get(key)
        if found is None:
            return None
        payload = self.store.get(SYSTEM, "contacts", found)
        if payload and str((payload.get("properties") or {}).get("email") or "").lower() == key:
            return found
        with self._lock:  # the store changed under us: start again from it
            self._ids = self._build()
            return self._ids.get(key)

    def record(self, old_email: str | None, new_email: str | None, contact_id: str) -> None:
        """Note that a contact's email changed."""
        with self._lock:
            if self._ids is None:
                return
            if old_email and self._ids.get(old_email.lower()) == contact_id:
                del self._ids[old_email.lower()]
            if new_email:
                self._ids.setdefault(new_email.lower(), contact_id)


class CrmObjects:
    """Handlers of the CRM v3 object endpoints (mixed into the HubSpot emulator)."""

    store: ObjectStore
    faults: FaultPlan
    emails: EmailIndex
    pager: SearchPager
    linked: Callable[[str, dict[str, Any], str], list[tuple[str, str]]]  # from the Associations mixin

    routes_crm = [
        ("/crm/v3/objects/<object_type>", ["GET"], "list_objects"),
        ("/crm/v3/objects/<object_type>", ["POST"], "create_object"),
        ("/crm/v3/objects/<object_type>/search", ["POST"], "search_objects"),
        ("/crm/v3/objects/<object_type>/batch/read", ["POST"], "batch_read"),
        ("/crm/v3/objects/<object_type>/gdpr-delete", ["POST"], "gdpr_delete"),
        ("/crm/v3/objects/<object_type>/batch/create", ["POST"], "batch_create"),
        ("/crm/v3/objects/<object_type>/batch/update", ["POST"], "batch_update"),
        ("/crm/v3/objects/<object_type>/batch/upsert", ["POST"], "batch_upsert"),
        ("/crm/v3/objects/<object_type>/<object_id>", ["GET"], "get_object"),
        ("/crm/v3/objects/<object_type>/<object_id>", ["PATCH"], "update_object"),
        ("/crm/v3/objects/<object_type>/<object_id>", ["DELETE"], "archive_object"),
    ]

    # -- reads -------------------------------------------------------------------------------------

    def list_objects(self, request: Request, object_type: str) -> Response:
        kind = object_type_or_none(object_type)
        if kind is None:
            return unknown_type(object_type)
        limit = request.args.get("limit", DEFAULT_LIMIT)
        if not str(limit).isdigit() or not 1 <= int(limit) <= LIST_MAX_LIMIT:
            return validation_error(f"limit must be between 1 and {LIST_MAX_LIMIT}, got '{limit}'")
        after = request.args.get("after", "0") or "0"
        if not after.isdigit():
            return validation_error(f"Invalid after value '{after}'")
        properties = requested_properties(request.args.getlist("properties"))
        associations = self._association_names(request.args.getlist("associations"))
        archived = str(request.args.get("archived", "false")).lower() == "true"
        # archived objects are listed only with archived=true, as HubSpot does
        collection = archived_kind(kind) if archived else kind
        rows = self.store.page(SYSTEM, collection, after_seq=int(after), limit=int(limit) + 1)
        more = len(rows) > int(limit)
        rows = rows[: int(limit)]
        results = [self._served(kind, row.payload, properties, associations) for row in rows]
        body: dict[str, Any] = {"results": results}
        if more:
            token = str(rows[-1].seq)
            link = f"{request.base_url}?after={token}&limit={limit}"
            body["paging"] = {"next": {"after": token, "link": link}}
        return json_response(body)

    def get_object(self, request: Request, object_type: str, object_id: str) -> Response:
        kind = object_type_or_none(object_type)
        if kind is None:
            return unknown_type(object_type)
        found = self._find(kind, object_id, request.args.get("idProperty"))
        if isinstance(found, Response):
            return found
        if found is None:
            return not_found(kind, object_id)
        properties = requested_properties(request.args.getlist("properties"))
        associations = self._association_names(request.args.getlist("associations"))
        return json_response(self._served(kind, found, properties, associations, corrupt=False))

    def search_objects(self, request: Request, object_type: str) -> Response:
        kind = object_type_or_none(object_type)
        if kind is None:
            return unknown_type(object_type)
        body = read_json(request)
        if not isinstance(body, dict):
            return validation_error("Invalid input JSON on line 1: the body must be a JSON object")
        limit, after = body.get("limit", DEFAULT_LIMIT), body.get("after") or "0"
        if not isinstance(limit, int) or not 1 <= limit <= MAX_LIMIT:
            return validation_error(f"limit must be between 1 and {MAX_LIMIT}, got '{limit}'")
        if not str(after).isdigit():
            return validation_error(f"Invalid after value '{after}'")
        offset = int(after)
        if offset >= MAX_RESULTS:
            return validation_error(
                f"The search API returns at most {MAX_RESULTS} results per query; "
                f"after={offset} is past the end. Narrow the query (e.g. by hs_lastmodifieddate) instead.",
            )
        try:
            query = parse_query(kind, body)
        except SearchError as error:
            return validation_error(str(error))
        rows, total, more = self.pager.page(query, offset, min(limit, MAX_RESULTS - offset))
        properties = requested_properties(body.get("properties") or [])
        results = [self._served(kind, row.payload, properties, None) for row in rows]
        answer: dict[str, Any] = {"total": total, "results": results}
        if more:
            answer["paging"] = {"next": {"after": str(offset + len(rows))}}
        return json_response(answer)

    def archive_object(self, request: Request, object_type: str, object_id: str) -> Response:
        """Archive an object (HubSpot's delete): gone from lists, search and reads, listed with archived=true."""
        kind = object_type_or_none(object_type)
        if kind is None:
            return unknown_type(object_type)
        found = self.store.get(SYSTEM, kind, object_id)
        if found is None:
            # HubSpot answers 204 for an object already archived or unknown
            return Response(status=204)
        archive(self.store, kind, found, timestamp())
        if kind == "contacts":
            self.emails.record((found.get("properties") or {}).get("email"), None, object_id)
        return Response(status=204)

    def gdpr_delete(self, request: Request, object_type: str) -> Response:
        """Delete a contact for good (live or archived), as HubSpot's GDPR delete does; 204 either way."""
        kind = object_type_or_none(object_type)
        if kind != "contacts":
            return validation_error("GDPR delete applies to contacts only")
        body = read_json(request)
        object_id = str(body.get("objectId", "")) if isinstance(body, dict) else ""
        if not object_id:
            return validation_error("objectId is required")
        if body.get("idProperty") not in (None, "hs_object_id"):
            return validation_error("only idProperty hs_object_id is emulated")
        found = self.store.get(SYSTEM, kind, object_id)
        if found is not None:
            self.emails.record((found.get("properties") or {}).get("email"), None, object_id)
        self.store.delete(SYSTEM, kind, object_id)
        self.store.delete(SYSTEM, archived_kind(kind), object_id)
        return Response(status=204)

    def batch_read(self, request: Request, object_type: str) -> Response:
        kind, inputs, failure = self._batch_inputs(request, object_type)
        if failure is not None:
            return failure
        started = timestamp()
        body = read_json(request)
        properties = requested_properties(body.get("properties") or [])
        id_property = body.get("idProperty")
        results, missing = [], []
        for item in inputs:
            found = self._find(kind, str(item.get("id", "")), id_property)
            if isinstance(found, Response):
                return found
            if found is None:
                missing.append(str(item.get("id", "")))
            else:
                results.append(self._served(kind, found, properties, None))
        errors = []
        if missing:
            errors.append(
                batch_error(
                    f"Could not get some {SINGULAR[kind]} objects, they may be deleted or not exist. "
                    "Check that ids are valid.",
                    "OBJECT_NOT_FOUND",
                    missing,
                )
            )
        return batch_response(results, errors, started)

    # -- writes ------------------------------------------------------------------------------------

    def create_object(self, request: Request, object_type: str) -> Response:
        kind = object_type_or_none(object_type)
        if kind is None:
            return unknown_type(object_type)
        body = read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("properties", {}), dict):
            return validation_error('Invalid input JSON: expected {"properties": {...}}')
        try:
            properties = clean_properties(kind, body.get("properties") or {})
            conflict = self._email_conflict(kind, properties, None)
            if conflict:
                return error_response(409, f"Contact already exists. Existing ID: {conflict}", "CONFLICT")
            payload = self.write(kind, None, properties)
        except InvalidInput as error:
            return property_error(str(error), error.code)
        return json_response(public_object(kind, payload, list(properties)), 201)

    def update_object(self, request: Request, object_type: str, object_id: str) -> Response:
        kind = object_type_or_none(object_type)
        if kind is None:
            return unknown_type(object_type)
        body = read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("properties", {}), dict):
            return validation_error('Invalid input JSON: expected {"properties": {...}}')
        found = self._find(kind, object_id, request.args.get("idProperty"))
        if isinstance(found, Response):
            return found
        if found is None:
            return not_found(kind, object_id)
        try:
            properties = clean_properties(kind, body.get("properties") or {})
            conflict = self._email_conflict(kind, properties, found["id"])
            if conflict:
                return error_response(409, f"Contact already exists. Existing ID: {conflict}", "CONFLICT")
            payload = self.write(kind, found, properties)
        except InvalidInput as error:
            return property_error(str(error), error.code)
        return json_response(public_object(kind, payload, list(properties)))

    def batch_create(self, request: Request, object_type: str) -> Response:
        kind, inputs, failure = self._batch_inputs(request, object_type)
        if failure is not None:
            return failure
        started = timestamp()
        try:
            cleaned = [clean_properties(kind, item.get("properties") or {}) for item in inputs]
        except InvalidInput as error:
            return property_error(str(error), error.code)
        results, errors = [], []
        for properties in cleaned:
            conflict = self._email_conflict(kind, properties, None)
            if conflict:
                errors.append(batch_error(f"Contact already exists. Existing ID: {conflict}", "CONFLICT", [conflict]))
                continue
            results.append(public_object(kind, self.write(kind, None, properties), list(properties)))
        return batch_response(results, errors, started, created=True)

    def batch_update(self, request: Request, object_type: str) -> Response:
        kind, inputs, failure = self._batch_inputs(request, object_type)
        if failure is not None:
            return failure
        started = timestamp()
        duplicate = duplicates([str(item.get("id", "")) for item in inputs])
        if duplicate:
            return validation_error(f"Duplicate IDs found in batch input: [{duplicate}]. IDs must be unique")
        try:
            cleaned = [clean_properties(kind, item.get("properties") or {}) for item in inputs]
        except InvalidInput as error:
            return property_error(str(error), error.code)
        results, missing = [], []
        for item, properties in zip(inputs, cleaned, strict=True):
            found = self._find(kind, str(item.get("id", "")), item.get("idProperty"))
            if isinstance(found, Response):
                return found
            if found is None:
                missing.append(str(item.get("id", "")))
                continue
            results.append(public_object(kind, self.write(kind, found, properties), list(properties)))
        errors = [batch_error(f"Could not find some {SINGULAR[kind]} objects to update.", "OBJECT_NOT_FOUND", missing)]
        return batch_response(results, errors if missing else [], started)

    def batch_upsert(self, request: Request, object_type: str) -> Response:
        kind, inputs, failure = self._batch_inputs(request, object_type)
        if failure is not None:
            return failure
        started = timestamp()
        duplicate = duplicates([str(item.get("id", "")).lower() for item in inputs])
        if duplicate:
            return validation_error(f"Duplicate IDs found in batch input: [{duplicate}]. IDs must be unique")
        try:
            cleaned = [clean_properties(kind, item.get("properties") or {}) for item in inputs]
        except InvalidInput as error:
            return property_error(str(error), error.code)
        results, errors = [], []
        for item, properties in zip(inputs, cleaned, strict=True):
            key, id_property = str(item.get("id", "")).strip(), item.get("idProperty") or "hs_object_id"
            if id_property == "email" and kind == "contacts":
                if not EMAIL_PATTERN.match(key):
                    errors.append(batch_error(f"Email address {key} is invalid", "VALIDATION_ERROR", [key]))
                    continue
                properties = {**properties, "email": properties.get("email") or key.lower()}
            elif id_property != "hs_object_id":
                return validation_error(f"Property {id_property} is not a unique identifier for {kind}")
            found = self._find(kind, key, id_property)
            if isinstance(found, Response):
                return found
            if found is None and id_property == "hs_object_id":
                errors.append(batch_error(f"No {SINGULAR[kind]} with id {key}", "OBJECT_NOT_FOUND", [key]))
                continue
            payload = self.write(kind, found, properties)
            results.append({**public_object(kind, payload, list(properties)), "new": found is None})
        return batch_response(results, errors, started)

    def write(self, kind: str, existing: dict[str, Any] | None, properties: dict[str, Any]) -> dict[str, Any]:
        """Create or update one object, stamping its modification time so incremental reads see it."""
        now = timestamp()
        if existing is None:
            object_id = str(self.store.next_numeric_id(SYSTEM, kind))
            payload: dict[str, Any] = {
                "id": object_id,
                "properties": {"createdate": now, "hs_object_id": object_id},
                "createdAt": now,
                "archived": False,
            }
        else:
            payload = {**existing, "properties": dict(existing.get("properties") or {})}
        old_email = payload["properties"].get("email")
        payload["properties"].update(properties)
        payload["properties"]["hs_lastmodifieddate"] = now
        if kind == "contacts":
            payload["properties"]["lastmodifieddate"] = now
        payload["updatedAt"] = now
        self.store.put(SYSTEM, kind, payload["id"], payload, updated_at=now)
        if kind == "contacts" and old_email != payload["properties"].get("email"):
            self.emails.record(old_email, payload["properties"].get("email"), payload["id"])
        return payload

    # -- helpers -----------------------------------------------------------------------------------

    def _served(
        self,
        kind: str,
        payload: dict[str, Any],
        properties: list[str],
        associations: list[str] | None,
        corrupt: bool = True,
    ) -> dict[str, Any]:
        shaped = public_object(kind, payload, properties or None, None)
        if associations:
            found = {
                name: {"results": [{"id": i, "type": label} for i, label in self.linked(kind, payload, name)]}
                for name in associations
            }
            found = {name: value for name, value in found.items() if value["results"]}
            if found:
                shaped["associations"] = found
        if corrupt and self.faults.corrupt_record(SYSTEM):
            return corrupted(shaped)
        return shaped

    def _association_names(self, values: list[str]) -> list[str]:
        names = [object_type(name) for name in requested_properties(values)]
        return [name for name in names if name]

    def _find(self, kind: str, key: str, id_property: str | None) -> dict[str, Any] | Response | None:
        """An object by id, or by a unique property (email for contacts)."""
        if id_property in (None, "", "hs_object_id"):
            return self.store.get(SYSTEM, kind, key) if key.isdigit() else None
        if id_property == "email" and kind == "contacts":
            found = self.emails.lookup(key)
            return self.store.get(SYSTEM, kind, found) if found else None
        return validation_error(f"Property {id_property} is not a unique identifier for {kind}")

    def _email_conflict(self, kind: str, properties: dict[str, Any], own_id: str | None) -> str | None:
        email = properties.get("email")
        if kind != "contacts" or not email:
            return None
        found = self.emails.lookup(str(email))
        return found if found and found != own_id else None

    def _batch_inputs(
        self, request: Request, object_type_name: str
    ) -> tuple[str, list[dict[str, Any]], Response | None]:
        kind = object_type_or_none(object_type_name)
        if kind is None:
            return "", [], unknown_type(object_type_name)
        body = read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            return kind, [], validation_error('Invalid input JSON: expected {"inputs": [...]}')
        inputs = body["inputs"]
        if len(inputs) > BATCH_MAX_INPUTS:
            return kind, [], validation_error(f"Too many inputs: {len(inputs)}, the limit is {BATCH_MAX_INPUTS}")
        if not all(isinstance(item, dict) for item in inputs):
            return kind, [], validation_error("Invalid input JSON: every input must be an object")
        return kind, inputs, None


def archived_kind(kind: str) -> str:
    """Where the emulator keeps a type's archived objects."""
    return f"{kind}:archived"


def archive(store: ObjectStore, kind: str, payload: dict[str, Any], now: str) -> dict[str, Any]:
    """Move an object to its type's archive, marked archived with the time."""
    archived = {**payload, "archived": True, "archivedAt": now, "updatedAt": now}
    store.delete(SYSTEM, kind, payload["id"])
    store.put(SYSTEM, archived_kind(kind), payload["id"], archived, updated_at=now)
    return archived


def object_type_or_none(name: str) -> str | None:
    return object_type(name)


def unknown_type(name: str) -> Response:
    return validation_error(f"Unable to infer object type from: {name}")


def not_found(kind: str, object_id: str) -> Response:
    return error_response(404, f"No {SINGULAR[kind]} with id {object_id} exists", "OBJECT_NOT_FOUND")


def property_error(message: str, code: str) -> Response:
    detail = [{"message": message, "code": code}]
    return validation_error(f"Property values were not valid: {message}", errors=detail)


def duplicates(ids: list[str]) -> str | None:
    seen: set[str] = set()
    for value in ids:
        if value in seen:
            return value
        seen.add(value)
    return None


def clean_properties(kind: str, properties: dict[str, Any]) -> dict[str, Any]:
    """Property values as HubSpot stores them (text), refusing unknown, read-only or invalid ones."""
    if not isinstance(properties, dict):
        raise InvalidInput("properties must be an object")
    known = KNOWN_PROPERTIES[kind] | CUSTOM_PROPERTIES.get(kind, frozenset())
    cleaned: dict[str, Any] = {}
    for name, value in properties.items():
        if name in READ_ONLY_PROPERTIES:
            raise InvalidInput(f'Property "{name}" is read-only', "READ_ONLY_VALUE")
        subscription_flag = kind == "contacts" and name.startswith(SUBSCRIPTION_OPTOUT_PREFIX)
        if name not in known and not subscription_flag:
            raise InvalidInput(f'Property "{name}" does not exist', "PROPERTY_DOESNT_EXIST")
        text = None if value is None or value == "" else str(value).lower() if isinstance(value, bool) else str(value)
        if name == "email" and text is not None:
            if not EMAIL_PATTERN.match(text.strip()):
                raise InvalidInput(f"Email address {text} is invalid", "INVALID_EMAIL")
            text = text.strip().lower()
        cleaned[name] = text
    return cleaned
