"""Associations: the v4 per-object and batch read endpoints, and the links the v3 `associations` parameter shows."""

from __future__ import annotations

import threading
from collections import defaultdict
from typing import Any

from werkzeug.wrappers import Request, Response

from canalis.sandbox.emulators.hubspot.wire import (
    ASSOCIATION_TYPE_IDS,
    SINGULAR,
    SYSTEM,
    batch_error,
    batch_response,
    object_type,
    timestamp,
    validation_error,
)
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server.emulator import json_response, read_json

V4_MAX_LIMIT = 500
BATCH_MAX_INPUTS = 1000
# Directions the world stores inside the objects; the opposite directions are derived from them.
STORED_DIRECTIONS = frozenset(
    {
        ("contacts", "companies"),
        ("tickets", "contacts"),
        ("deals", "contacts"),
        ("deals", "line_items"),
        ("line_items", "deals"),
    }
)


class Associations:
    """Association handlers (mixed into the HubSpot emulator)."""

    store: ObjectStore

    routes_associations = [
        ("/crm/v4/objects/<object_type>/<object_id>/associations/<to_type>", ["GET"], "v4_associations"),
        ("/crm/v4/associations/<from_type>/<to_type>/batch/read", ["POST"], "v4_batch_read"),
        ("/crm/v3/objects/<object_type>/<object_id>/associations/<to_type>", ["GET"], "v3_associations"),
    ]

    def _init_associations(self) -> None:
        self._reverse: dict[tuple[str, str], dict[str, list[str]]] = {}
        self._reverse_lock = threading.Lock()

    def linked(self, from_type: str, payload: dict[str, Any], to_type: str) -> list[tuple[str, str]]:
        """(id, v3 label) of the objects of `to_type` associated with an object."""
        label = f"{SINGULAR[from_type]}_to_{SINGULAR[to_type]}".lower()
        if (from_type, to_type) in STORED_DIRECTIONS:
            results = ((payload.get("associations") or {}).get(to_type) or {}).get("results") or []
            return [(str(item["id"]), item.get("type") or label) for item in results]
        if (to_type, from_type) in STORED_DIRECTIONS:
            return [(other, label) for other in self._reverse_index(to_type, from_type).get(str(payload["id"]), [])]
        return []

    def _reverse_index(self, owner_type: str, target_type: str) -> dict[str, list[str]]:
        """For a stored direction owner -> target: owner ids by target id, built once from the store."""
        with self._reverse_lock:
            index = self._reverse.get((owner_type, target_type))
            if index is None:
                built: dict[str, list[str]] = defaultdict(list)
                for row in self.store.iter_all(SYSTEM, owner_type):
                    results = ((row.payload.get("associations") or {}).get(target_type) or {}).get("results") or []
                    for item in results:
                        built[str(item["id"])].append(row.object_id)
                index = self._reverse[(owner_type, target_type)] = dict(built)
            return index

    def _v4_item(self, from_type: str, to_type: str, to_id: str) -> dict[str, Any]:
        return {
            "toObjectId": int(to_id) if to_id.isdigit() else to_id,
            "associationTypes": [
                {
                    "category": "HUBSPOT_DEFINED",
                    "typeId": ASSOCIATION_TYPE_IDS.get((from_type, to_type), 0),
                    "label": None,
                }
            ],
        }

    def v4_associations(self, request: Request, object_type: str, object_id: str, to_type: str) -> Response:
        kinds = object_type_pair(object_type, to_type)
        if isinstance(kinds, Response):
            return kinds
        from_kind, to_kind = kinds
        limit = request.args.get("limit", str(V4_MAX_LIMIT))
        after = request.args.get("after", "0") or "0"
        if not limit.isdigit() or not 1 <= int(limit) <= V4_MAX_LIMIT or not after.isdigit():
            return validation_error(f"limit must be between 1 and {V4_MAX_LIMIT} and after a number")
        payload = self.store.get(SYSTEM, from_kind, object_id)
        linked = self.linked(from_kind, payload, to_kind) if payload else []
        start, end = int(after), int(after) + int(limit)
        body: dict[str, Any] = {"results": [self._v4_item(from_kind, to_kind, i) for i, _ in linked[start:end]]}
        if end < len(linked):
            body["paging"] = {"next": {"after": str(end), "link": f"{request.base_url}?after={end}&limit={limit}"}}
        return json_response(body)

    def v3_associations(self, request: Request, object_type: str, object_id: str, to_type: str) -> Response:
        kinds = object_type_pair(object_type, to_type)
        if isinstance(kinds, Response):
            return kinds
        from_kind, to_kind = kinds
        payload = self.store.get(SYSTEM, from_kind, object_id)
        linked = self.linked(from_kind, payload, to_kind) if payload else []
        return json_response({"results": [{"id": i, "type": label} for i, label in linked]})

    def v4_batch_read(self, request: Request, from_type: str, to_type: str) -> Response:
        kinds = object_type_pair(from_type, to_type)
        if isinstance(kinds, Response):
            return kinds
        from_kind, to_kind = kinds
        body = read_json(request)
        if not isinstance(body, dict) or not isinstance(body.get("inputs"), list):
            return validation_error('Invalid input JSON: expected {"inputs": [{"id": ...}]}')
        if len(body["inputs"]) > BATCH_MAX_INPUTS:
            return validation_error(f"Too many inputs: {len(body['inputs'])}, the limit is {BATCH_MAX_INPUTS}")
        started = timestamp()
        results, errors = [], []
        for item in body["inputs"]:
            object_id = str((item or {}).get("id", ""))
            payload = self.store.get(SYSTEM, from_kind, object_id) if object_id.isdigit() else None
            linked = self.linked(from_kind, payload, to_kind) if payload else []
            if not linked:
                errors.append(
                    batch_error(
                        f"No {SINGULAR[to_kind]} is associated with {SINGULAR[from_kind]} {object_id}.",
                        "OBJECT_NOT_FOUND",
                        [object_id],
                        sub_category="crm.associations.NO_ASSOCIATIONS_FOUND",
                    )
                )
                continue
            results.append({"from": {"id": object_id}, "to": [self._v4_item(from_kind, to_kind, i) for i, _ in linked]})
        return batch_response(results, errors, started)


def object_type_pair(from_name: str, to_name: str) -> tuple[str, str] | Response:
    from_kind, to_kind = object_type(from_name), object_type(to_name)
    if from_kind is None:
        return validation_error(f"Unable to infer object type from: {from_name}")
    if to_kind is None:
        return validation_error(f"Unable to infer object type from: {to_name}")
    return from_kind, to_kind
