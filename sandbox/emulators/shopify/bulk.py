"""Bulk operations: a query run in the background whose result is a JSONL file served from a signed URL.

As on Shopify, each line is one object; objects of nested connections get their own lines with `__parentId`
(the id of the nearest enclosing object), written after their parent. With `groupObjects: true` the children
follow their parent directly; otherwise they follow the page of parents they belong to.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from graphql import (
    FieldNode,
    GraphQLError,
    GraphQLResolveInfo,
    GraphQLSchema,
    InlineFragmentNode,
    OperationDefinitionNode,
    SelectionSetNode,
    get_named_type,
    is_interface_type,
    parse,
    validate,
)

from canalis.sandbox.emulators.shopify.bulkquery import BulkQuery, BulkQueryError
from canalis.sandbox.emulators.shopify.mutations import check_scope
from canalis.sandbox.emulators.shopify.objects import SYSTEM, ObjectAccess, gid, now_z, parse_gid
from canalis.sandbox.emulators.shopify.paging import BulkPager
from canalis.sandbox.server.faults import FaultPlan

log = logging.getLogger("canalis.sandbox.shopify")

MAX_CONNECTIONS = 5
MAX_NESTING = 2
URL_LIFETIME = 7 * 24 * 3600
STATE_KEY = "shopify:bulk:{number}"
CURRENT_KEY = "shopify:bulk:current"


class BulkOperations:
    """Runs bulk queries in background threads and keeps their state in the sandbox store."""

    def __init__(self, access: ObjectAccess, schema_for: Callable[[str], GraphQLSchema], results_dir: Path) -> None:
        self.access = access
        self.schema_for = schema_for
        self.results_dir = results_dir
        self._lock = threading.Lock()
        self._cancelled: set[int] = set()

    # --- state ------------------------------------------------------------------------------------

    def _state(self, number: int) -> dict[str, Any] | None:
        return self.access.store.kv_get(STATE_KEY.format(number=number))

    def _save(self, state: dict[str, Any]) -> None:
        number = parse_gid(state["id"]).number  # type: ignore[union-attr]
        self.access.store.kv_put(STATE_KEY.format(number=number), state)

    def _running(self) -> list[dict[str, Any]]:
        numbers = self.access.store.kv_get(CURRENT_KEY, [])
        states = [self._state(number) for number in numbers]
        return [state for state in states if state and state["status"] in ("CREATED", "RUNNING", "CANCELING")]

    def secret(self) -> bytes:
        """The key that signs result URLs (made once per sandbox store)."""
        stored = self.access.store.kv_get("shopify:bulk:secret")
        if stored is None:
            stored = hashlib.sha256(f"{time.time_ns()}:{id(self)}".encode()).hexdigest()
            self.access.store.kv_put("shopify:bulk:secret", stored)
        return stored.encode()

    def signature(self, name: str, expires: int) -> str:
        """The signature of a result file name valid until `expires` (Unix time)."""
        return hmac.new(self.secret(), f"{name}:{expires}".encode(), hashlib.sha256).hexdigest()

    def result_file(self, name: str, expires: str | None, signature: str | None) -> Path | None:
        """The result file a signed URL names, or None when the signature is wrong or expired."""
        if not expires or not signature or not expires.isdigit() or int(expires) < time.time():
            return None
        if not hmac.compare_digest(self.signature(name, int(expires)), signature):
            return None
        path = self.results_dir / name
        return path if path.is_file() else None

    def served(self, operation_id: str, root_url: str) -> dict[str, Any] | None:
        """A bulk operation as the schema serves it, with a fresh signed URL when it completed."""
        parsed = parse_gid(operation_id)
        state = self._state(parsed.number) if parsed and parsed.type == "BulkOperation" else None
        if state is None:
            return None
        served = {key: value for key, value in state.items() if key not in ("file", "version", "groupObjects")}
        served["__typename"] = "BulkOperation"
        served["url"] = served["partialDataUrl"] = None
        if state.get("file") and state["objectCount"] > 0:
            expires = int(time.time()) + URL_LIFETIME
            name = state["file"]
            url = (
                f"{root_url}bulk-results/{name}?X-Goog-Algorithm=GOOG4-HMAC-SHA256"
                f"&X-Goog-Expires={expires}&X-Goog-Signature={self.signature(name, expires)}"
            )
            served["url" if state["status"] == "COMPLETED" else "partialDataUrl"] = url
        return served

    def current(self, kind: str, root_url: str) -> dict[str, Any] | None:
        """The most recent bulk operation of a type."""
        numbers = self.access.store.kv_get(CURRENT_KEY, [])
        for number in reversed(numbers):
            state = self._state(number)
            if state and state["type"] == kind:
                return self.served(state["id"], root_url)
        return None

    # --- mutations --------------------------------------------------------------------------------

    def run_query(self, _root: Any, info: GraphQLResolveInfo, query: str, groupObjects: bool = False) -> dict:
        """Start a bulk query after checking it the way Shopify does."""
        check_scope(info)
        version = info.context["version"]
        schema = self.schema_for(version)
        problem = check_bulk_query(schema, query)
        if problem is not None:
            return {"bulkOperation": None, "userErrors": [{"field": ["query"], "message": problem, "code": "INVALID"}]}
        with self._lock:
            running = self._running()
            limit = 1 if version < "2026-01" else 5
            if len(running) >= limit:
                code = "OPERATION_IN_PROGRESS" if limit == 1 else "LIMIT_REACHED"
                message = (
                    f"A bulk query operation for this app and shop is already in progress: {running[0]['id']}."
                    if limit == 1
                    else f"The maximum of {limit} concurrent bulk query operations is reached."
                )
                return {"bulkOperation": None, "userErrors": [{"field": None, "message": message, "code": code}]}
            number = self.access.store.next_numeric_id(SYSTEM, "bulkOperations")
            state = {
                "id": gid("BulkOperation", number),
                "type": "QUERY",
                "status": "CREATED",
                "errorCode": None,
                "query": query,
                "createdAt": now_z(),
                "completedAt": None,
                "objectCount": 0,
                "rootObjectCount": 0,
                "fileSize": None,
                "file": None,
                "version": version,
                "groupObjects": bool(groupObjects),
            }
            self._save(state)
            numbers = [*self.access.store.kv_get(CURRENT_KEY, [])[-20:], number]
            self.access.store.kv_put(CURRENT_KEY, numbers)
        thread = threading.Thread(target=self._run, args=(number,), name=f"shopify-bulk-{number}", daemon=True)
        thread.start()
        return {"bulkOperation": self.served(state["id"], info.context["request_root"]), "userErrors": []}

    def cancel(self, _root: Any, info: GraphQLResolveInfo, id: str) -> dict[str, Any]:
        """Ask a running bulk operation to stop."""
        check_scope(info)
        parsed = parse_gid(id)
        state = self._state(parsed.number) if parsed and parsed.type == "BulkOperation" else None
        if state is None:
            return {
                "bulkOperation": None,
                "userErrors": [{"field": ["id"], "message": "Bulk operation does not exist"}],
            }
        if state["status"] not in ("CREATED", "RUNNING"):
            message = f"A bulk operation cannot be canceled when it is {state['status'].lower()}"
            return {
                "bulkOperation": self.served(id, info.context["request_root"]),
                "userErrors": [{"message": message}],
            }
        with self._lock:
            self._cancelled.add(parsed.number)  # type: ignore[union-attr]
            state = self._state(parsed.number) or state  # type: ignore[union-attr]
            if state["status"] in ("CREATED", "RUNNING"):
                state["status"] = "CANCELING"
                self._save(state)
        return {"bulkOperation": self.served(id, info.context["request_root"]), "userErrors": []}

    # --- execution --------------------------------------------------------------------------------

    def _run(self, number: int) -> None:
        state = self._state(number)
        if state is None:
            return
        try:
            self._export(number, state)
        except Exception:  # a failed export is reported as FAILED, like Shopify does
            log.exception("bulk operation %s failed", number)
            state = self._state(number) or state
            state.update(status="FAILED", errorCode="INTERNAL_SERVER_ERROR", completedAt=now_z())
            self._save(state)

    def _export(self, number: int, state: dict[str, Any]) -> None:
        schema = self.schema_for(state["version"])
        document = parse(state["query"])
        self.results_dir.mkdir(parents=True, exist_ok=True)
        name = f"bulk-{number}.jsonl"
        partial = self.results_dir / f"{name}.part"
        state.update(status="RUNNING")
        self._save(state)
        pager = BulkPager()
        query = BulkQuery(schema, document)
        objects = roots = 0
        with partial.open("w", encoding="utf-8") as out:
            while True:
                if number in self._cancelled:
                    state.update(status="CANCELED", completedAt=now_z(), objectCount=objects, rootObjectCount=roots)
                    self._save(state)
                    return
                context = {
                    "access": self.access,
                    "bulk": pager,
                    "version": state["version"],
                    "faults": FaultPlan(),
                    "corrupt": set(),
                    "cache": {},
                    "bulk_store": self,
                    "request_root": "",
                }
                try:
                    data = query.run(context)
                except BulkQueryError as error:
                    raise RuntimeError(f"bulk query failed: {error}") from error
                top = next(iter(data.values()))
                for line in flatten(top, group=state["groupObjects"]):
                    out.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
                    objects += 1
                    roots += "__parentId" not in line
                state.update(objectCount=objects, rootObjectCount=roots)
                self._save(state)
                if not pager.has_next:
                    break
                pager.after, pager.next_after = pager.next_after, None
        path = self.results_dir / name
        partial.replace(path)
        state.update(
            status="COMPLETED", completedAt=now_z(), file=name, fileSize=path.stat().st_size, objectCount=objects
        )
        self._save(state)


_CONNECTION_KEYS = frozenset(("edges", "nodes", "pageInfo"))


def _connection_items(value: Any) -> list[Any] | None:
    """The nodes of a connection value, or None when the value is not a connection."""
    if not isinstance(value, dict) or not value or not value.keys() <= _CONNECTION_KEYS:
        return None
    if isinstance(value.get("nodes"), list):
        return value["nodes"]
    if isinstance(value.get("edges"), list):
        return [edge.get("node") for edge in value["edges"] if isinstance(edge, dict)]
    return None


def _split(obj: dict[str, Any], parent: str | None) -> tuple[dict[str, Any], list[tuple[str | None, Any]]]:
    """An object without its nested connections, and the nested nodes with their parent id."""
    line: dict[str, Any] = {}
    children: list[tuple[str | None, Any]] = []
    owner = obj.get("id") or parent
    for key, value in obj.items():
        items = _connection_items(value)
        if items is not None:
            children.extend((owner, item) for item in items)
        elif isinstance(value, dict):
            inner, nested = _split(value, owner)
            line[key] = inner
            children.extend(nested)
        else:
            line[key] = value
    return line, children


def _lines(node: dict[str, Any], parent: str | None) -> Iterator[dict[str, Any]]:
    line, children = _split(node, parent)
    if parent is not None:
        line["__parentId"] = parent
    yield line
    for owner, child in children:
        if isinstance(child, dict):
            yield from _lines(child, owner)


def flatten(top: Any, *, group: bool) -> list[dict[str, Any]]:
    """The JSONL lines of one page of the top-level connection."""
    roots = [node for node in _connection_items(top) or [] if isinstance(node, dict)]
    if group:
        return [line for node in roots for line in _lines(node, None)]
    heads: list[dict[str, Any]] = []
    tails: list[dict[str, Any]] = []
    for node in roots:
        produced = list(_lines(node, None))
        heads.append(produced[0])
        tails.extend(produced[1:])
    return heads + tails


def check_bulk_query(schema: GraphQLSchema, query: str) -> str | None:
    """Why Shopify would refuse this bulk query, or None when it is acceptable."""
    try:
        document = parse(query)
    except GraphQLError as error:
        return f"Invalid bulk query: {error.message}"
    errors = validate(schema, document)
    if errors:
        return f"Invalid bulk query: {errors[0].message}"
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if len(operations) != 1 or operations[0].operation.value != "query":
        return "Bulk queries must contain exactly one query operation."
    root = schema.query_type
    assert root is not None
    top = [s for s in operations[0].selection_set.selections if isinstance(s, FieldNode)]
    if len(top) != 1 or not get_named_type(root.fields[top[0].name.value].type).name.endswith("Connection"):
        return "Bulk queries must contain at least one connection, as their single top-level field."
    counts = {"connections": 0}
    problem = _check_selection(schema, operations[0].selection_set, root, 0, counts, has_id=True)
    if problem is None and counts["connections"] > MAX_CONNECTIONS:
        problem = f"Bulk queries cannot contain more than {MAX_CONNECTIONS} connections."
    return problem


def _check_selection(
    schema: GraphQLSchema,
    selection_set: SelectionSetNode,
    parent: Any,
    depth: int,
    counts: dict[str, int],
    has_id: bool,
) -> str | None:
    fields = _plain_fields(selection_set)
    selects_id = has_id or any(field.name.value == "id" for field in fields)
    for field in fields:
        definition = _field(schema, parent, field.name.value)
        if definition is None or field.selection_set is None:
            continue
        named = get_named_type(definition.type)
        if named.name.endswith("Connection"):
            counts["connections"] += 1
            if depth + 1 > MAX_NESTING:
                return f"Bulk queries cannot contain connections with a nesting depth greater than {MAX_NESTING}."
            if depth > 0 and not selects_id:
                return f"The parent 'node' field for a nested connection must select the 'id' field: {field.name.value}"
            for part in _plain_fields(field.selection_set):
                if part.name.value in ("nodes", "edges") and part.selection_set is not None:
                    item = get_named_type(named.fields[part.name.value].type)
                    inner = part.selection_set
                    if part.name.value == "edges":
                        node = next((f for f in _plain_fields(inner) if f.name.value == "node"), None)
                        if node is None or node.selection_set is None:
                            continue
                        item, inner = get_named_type(item.fields["node"].type), node.selection_set
                    problem = _check_selection(schema, inner, item, depth + 1, counts, has_id=False)
                    if problem:
                        return problem
        else:
            problem = _check_selection(schema, field.selection_set, named, depth, counts, has_id=selects_id)
            if problem:
                return problem
    return None


def _plain_fields(selection_set: SelectionSetNode) -> list[FieldNode]:
    fields: list[FieldNode] = []
    for selection in selection_set.selections:
        if isinstance(selection, FieldNode):
            fields.append(selection)
        elif isinstance(selection, InlineFragmentNode):
            fields.extend(_plain_fields(selection.selection_set))
    return fields


def _field(schema: GraphQLSchema, parent: Any, name: str) -> Any:
    """The definition of a field on an object, interface or union (looking into the possible types)."""
    fields = getattr(parent, "fields", None)
    if fields is not None and name in fields:
        return fields[name]
    candidates = list(getattr(parent, "types", None) or [])
    if is_interface_type(parent):
        candidates = list(schema.get_implementations(parent).objects)
    return next((candidate.fields[name] for candidate in candidates if name in candidate.fields), None)
