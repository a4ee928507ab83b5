"""sObject Collections: create, update, upsert by external id, retrieve and delete up to 200 records a call."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request, Response

from canalis.sandbox.emulators.salesforce.ids import is_record_id, sobject_of, to_18
from canalis.sandbox.emulators.salesforce.planning import Planned, WritePlanning
from canalis.sandbox.emulators.salesforce.records import BodyError, SaveError, render, updated_payload
from canalis.sandbox.emulators.salesforce.schema import FieldDef, SObjectDef, sobject
from canalis.sandbox.emulators.salesforce.wire import error, not_found, supported_version
from canalis.sandbox.server.emulator import json_response, read_json

MAX_COLLECTION_RECORDS = 200


class CollectionRoutes(WritePlanning):
    """The /composite/sobjects handlers; mixed into the emulator."""

    def _load(self, definition: SObjectDef, record_id: str, *, include_deleted: bool = False) -> dict[str, Any] | None:
        raise NotImplementedError

    def _matches(self, definition: SObjectDef, target: FieldDef, value: str) -> list[dict[str, Any]]:
        raise NotImplementedError

    def _collection_body(self, request: Request) -> tuple[list[Any], bool] | Response:
        body = read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("records"), list):
            return error("JSON_PARSER_ERROR", "The request body must be a JSON object with a records array", 400)
        records = body["records"]
        if len(records) > MAX_COLLECTION_RECORDS:
            return error(
                "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call", 400
            )
        return records, bool(body.get("allOrNone", False))

    def _record_type(self, record: Any) -> SObjectDef | SaveError:
        if not isinstance(record, dict):
            return SaveError("JSON_PARSER_ERROR", "Each record must be a JSON object")
        kind = (record.get("attributes") or {}).get("type") if isinstance(record.get("attributes"), dict) else None
        if not kind:
            return SaveError("INVALID_TYPE", "Must specify the sObject type in the attributes of each record")
        definition = sobject(str(kind))
        if definition is None:
            return SaveError("INVALID_TYPE", f"sObject type '{kind}' is not supported.")
        return definition

    def collections(self, request: Request, version: str) -> Response:
        if not supported_version(version):
            return not_found()
        if request.method == "DELETE":
            return self._collections_delete(request)
        parsed = self._collection_body(request)
        if isinstance(parsed, Response):
            return parsed
        records, all_or_none = parsed
        plans: list[Planned] = []
        try:
            for record in records:
                definition = self._record_type(record)
                if isinstance(definition, SaveError):
                    plans.append(Planned([definition]))
                    continue
                values = {k: v for k, v in record.items() if k != "attributes"}
                if request.method == "POST":
                    if any(k.lower() == "id" for k in values):
                        plans.append(
                            Planned(
                                [SaveError("INVALID_FIELD", "cannot specify Id in an insert call", ["Id"])], definition
                            )
                        )
                        continue
                    plans.append(self._plan_create(definition, values, version))
                    continue
                record_id = str(values.get("Id") or values.get("id") or "")
                if not record_id:
                    plans.append(
                        Planned(
                            [SaveError("MISSING_ARGUMENT", "Id not specified in an update call")],
                            definition,
                            created=False,
                        )
                    )
                    continue
                plans.append(self._plan_existing(definition, record_id, values))
        except BodyError as problem:
            return error(problem.code, problem.message, 400)
        return json_response(self._commit(plans, all_or_none))

    def _plan_existing(self, definition: SObjectDef, record_id: str, values: dict[str, Any]) -> Planned:
        if not is_record_id(record_id) or sobject_of(record_id) != definition.name:
            return Planned(
                [SaveError("MALFORMED_ID", f"{definition.name} ID: id value of incorrect type: {record_id}", ["Id"])],
                definition,
                record_id,
                created=False,
            )
        payload = self._load(definition, record_id, include_deleted=True)
        if payload is None:
            return Planned(
                [SaveError("INVALID_CROSS_REFERENCE_KEY", "invalid cross reference id")],
                definition,
                to_18(record_id),
                created=False,
            )
        if payload.get("IsDeleted"):
            return Planned(
                [SaveError("ENTITY_IS_DELETED", "entity is deleted")], definition, payload["Id"], created=False
            )
        return self._plan_update(definition, payload, values)

    def collections_upsert(self, request: Request, version: str, name: str, field: str) -> Response:
        definition = sobject(name)
        if definition is None or not supported_version(version):
            return not_found()
        target = definition.field(field)
        if target is None or target not in definition.external_id_fields():
            return not_found()
        parsed = self._collection_body(request)
        if isinstance(parsed, Response):
            return parsed
        records, all_or_none = parsed
        keys = [str(r.get(target.name) or "").lower() if isinstance(r, dict) else "" for r in records]
        repeated = {key for key in keys if key and keys.count(key) > 1}
        plans: list[Planned] = []
        try:
            for record, key in zip(records, keys, strict=True):
                kind = self._record_type(record)
                if isinstance(kind, SaveError):
                    plans.append(Planned([kind]))
                    continue
                if kind.name != definition.name:
                    plans.append(
                        Planned(
                            [SaveError("INVALID_TYPE", f"Record type {kind.name} does not match {definition.name}")]
                        )
                    )
                    continue
                if not key:
                    plans.append(Planned([SaveError("MISSING_ARGUMENT", f"{target.name} not specified")], definition))
                    continue
                if key in repeated:
                    plans.append(
                        Planned(
                            [
                                SaveError(
                                    "DUPLICATE_VALUE",
                                    f"Duplicate external id specified: {record[target.name]}",
                                    [target.name],
                                )
                            ],
                            definition,
                        )
                    )
                    continue
                values = {k: v for k, v in record.items() if k != "attributes"}
                matches = self._matches(definition, target, str(record[target.name]))
                if len(matches) > 1:
                    ids = ", ".join(m["Id"] for m in matches)
                    plans.append(
                        Planned(
                            [
                                SaveError(
                                    "DUPLICATE_EXTERNAL_ID",
                                    f"{target.name}: more than one record found for external id field: [{ids}]",
                                    [target.name],
                                )
                            ],
                            definition,
                        )
                    )
                elif matches:
                    plans.append(
                        self._plan_update(
                            definition,
                            matches[0],
                            {k: v for k, v in values.items() if k.lower() != target.name.lower()},
                        )
                    )
                elif target.name == "Id":
                    plans.append(Planned([SaveError("NOT_FOUND", "The requested resource does not exist")], definition))
                else:
                    plans.append(self._plan_create(definition, values, version))
        except BodyError as problem:
            return error(problem.code, problem.message, 400)
        results = self._commit(plans, all_or_none)
        for plan, result in zip(plans, results, strict=True):
            result["created"] = bool(result["success"] and plan.created)
        return json_response(results)

    def _collections_delete(self, request: Request) -> Response:
        ids = [i for i in request.args.get("ids", "").split(",") if i]
        if len(ids) > MAX_COLLECTION_RECORDS:
            return error(
                "EXCEEDED_ID_LIMIT", "record limit reached. cannot submit more than 200 records into this call", 400
            )
        all_or_none = request.args.get("allOrNone", "false").lower() == "true"
        plans: list[Planned] = []
        for record_id in ids:
            kind = sobject_of(record_id) if is_record_id(record_id) else None
            definition = sobject(kind) if kind else None
            payload = self._load(definition, record_id) if definition else None
            if definition is None or payload is None:
                plans.append(
                    Planned([SaveError("ENTITY_IS_DELETED", "entity is deleted")], record_id=record_id, created=False)
                )
                continue
            deleted = updated_payload(definition, {**payload, "IsDeleted": True}, {}, self._now())
            plans.append(Planned([], definition, payload["Id"], deleted, created=False))
        return json_response(self._commit(plans, all_or_none))

    def collections_named(self, request: Request, version: str, name: str) -> Response:
        """GET retrieves records of one sObject; PATCH and DELETE act as on /composite/sobjects."""
        if request.method == "GET":
            return self.collections_retrieve(request, version, name)
        if sobject(name) is None:
            return not_found()
        return self.collections(request, version)

    def collections_retrieve(self, request: Request, version: str, name: str) -> Response:
        definition = sobject(name)
        if definition is None or not supported_version(version):
            return not_found()
        ids = [i for i in request.args.get("ids", "").split(",") if i]
        names = [n.strip() for n in request.args.get("fields", "").split(",") if n.strip()]
        fields: list[FieldDef] = []
        for field_name in names:
            target = definition.field(field_name)
            if target is None:
                return error("INVALID_FIELD", f"No such column '{field_name}' on entity '{definition.name}'", 400)
            fields.append(target)
        if not ids or not fields:
            return error("MISSING_ARGUMENT", "ids and fields are required", 400)
        out: list[dict[str, Any] | None] = []
        for record_id in ids:
            payload = self._load(definition, record_id)
            out.append(render(definition, payload, fields, version) if payload else None)
        return json_response(out)
