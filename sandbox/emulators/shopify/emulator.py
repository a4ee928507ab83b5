"""The Shopify GraphQL Admin API emulator: one endpoint per API version, cost-based throttling, bulk results."""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from graphql import GraphQLError, OperationDefinitionNode, execute, parse, validate
from werkzeug.wrappers import Request, Response

from canalis.sandbox.emulators.shopify.bulk import BulkOperations
from canalis.sandbox.emulators.shopify.cost import (
    DEFAULT_MAXIMUM,
    DEFAULT_RESTORE_RATE,
    MAX_QUERY_COST,
    CostWalker,
    LeakyBucket,
)
from canalis.sandbox.emulators.shopify.objects import ObjectAccess
from canalis.sandbox.emulators.shopify.resolvers import SHOP
from canalis.sandbox.emulators.shopify.schema import SUPPORTED_VERSIONS, schema_for, served_version
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server.emulator import Emulator, json_response, read_json
from canalis.sandbox.server.faults import FaultPlan

ACCESS_TOKEN = "shpat_canalis_sandbox_0000000000000000"  # noqa: S105 - the sandbox's published token
READ_ONLY_ACCESS_TOKEN = "shpat_canalis_sandbox_readonly_00000000"  # noqa: S105
INVALID_TOKEN = "[API] Invalid API key or access token (unrecognized login or wrong password)"  # noqa: S105
THROTTLE_KEY = "shopify:throttle"
RATE_LIMIT_DOCS = "https://shopify.dev/api/usage/rate-limits"
CHUNK = 64 * 1024


class ShopifyEmulator(Emulator):
    """Shopify's GraphQL Admin API over the sandbox store.

    The cost bucket is 2,000 points refilled at 100 per second unless the store's `shopify:throttle` value
    ({"maximumAvailable": n, "restoreRate": r}) says otherwise; `clock` may be replaced in tests.
    """

    prefix = "shopify"
    system = "shopify"
    title = "Shopify GraphQL Admin API"
    routes = [
        ("/admin/api/<version>/graphql.json", ["POST"], "graphql"),
        ("/bulk-results/<name>", ["GET"], "bulk_result"),
    ]

    def __init__(self, store: ObjectStore, faults: FaultPlan | None = None) -> None:
        super().__init__(store, faults)
        self.access = ObjectAccess(store)
        self.clock: Callable[[], float] = time.monotonic
        self.bucket = LeakyBucket(clock=self._now)
        self.bulk = BulkOperations(self.access, schema_for, Path(store.path).parent / "shopify-bulk")

    def _now(self) -> float:
        return self.clock()

    def credentials(self) -> dict[str, str]:
        return {
            "shop": SHOP["myshopifyDomain"],
            "access_token": ACCESS_TOKEN,
            "read_only_access_token": READ_ONLY_ACCESS_TOKEN,
            "api_versions": ", ".join(SUPPORTED_VERSIONS),
        }

    def auth_error(self, request: Request) -> Response | None:
        if "/bulk-results/" in request.path:
            return None  # signed URLs carry their own authorisation
        token = request.headers.get("X-Shopify-Access-Token")
        if token not in (ACCESS_TOKEN, READ_ONLY_ACCESS_TOKEN):
            return json_response({"errors": INVALID_TOKEN}, 401)
        return None

    def fault_response(self, fault: str) -> Response:
        if fault == "429":
            message = (
                "Exceeded 2 calls per second for api client. Reduce request rates to resume uninterrupted service."
            )
            return json_response({"errors": message}, 429, headers={"Retry-After": "1.0"})
        messages = {"500": "Internal Server Error", "502": "Bad Gateway", "503": "Service Unavailable"}
        return json_response({"errors": messages.get(fault, "Internal Server Error")}, int(fault))

    def not_found(self, request: Request) -> Response:
        return json_response({"errors": "Not Found"}, 404)

    # --- GraphQL ----------------------------------------------------------------------------------

    def graphql(self, request: Request, version: str) -> Response:
        served = served_version(version)
        if served is None:
            return json_response({"errors": "Not Found"}, 404)
        headers = {"X-Shopify-API-Version": served, "X-Request-Id": str(uuid.uuid4())}
        query, variables, operation_name = _graphql_request(request)
        if not query:
            return json_response({"errors": {"query": "Required parameter missing or invalid"}}, 400, headers)
        schema = schema_for(served)
        try:
            document = parse(query)
        except GraphQLError as error:
            return json_response({"errors": [error.formatted]}, 200, headers)
        problems = validate(schema, document)
        if problems:
            return json_response({"errors": [problem.formatted for problem in problems]}, 200, headers)
        operation = _operation(document, operation_name)
        if operation is None:
            message = (
                "An operation name is required" if operation_name is None else f'No operation named "{operation_name}"'
            )
            return json_response({"errors": [{"message": message}]}, 200, headers)
        fragments = {d.name.value: d for d in document.definitions if d.__class__.__name__ == "FragmentDefinitionNode"}
        walker = CostWalker(schema, fragments, variables or {})  # type: ignore[arg-type]
        try:
            requested = walker.operation_cost(operation)
        except GraphQLError as error:
            return json_response({"errors": [error.formatted]}, 200, headers)
        if requested > MAX_QUERY_COST:
            return json_response(_max_cost_body(requested), 200, headers)
        self._configure_bucket()
        if not self.bucket.take(requested):
            return json_response(self._throttled_body(requested), 200, headers)
        context = {
            "access": self.access,
            "version": served,
            "read_only": request.headers.get("X-Shopify-Access-Token") == READ_ONLY_ACCESS_TOKEN,
            "faults": self.faults,
            "corrupt": set(),
            "cache": {},
            "bulk": None,
            "bulk_store": self.bulk,
            "request_root": f"{request.host_url}{self.prefix}/",
        }
        result = execute(
            schema, document, variable_values=variables, operation_name=operation_name, context_value=context
        )
        actual = walker.operation_cost(operation, result.data, actual=True) if result.data else 0
        self.bucket.give_back(requested - actual)
        body: dict[str, Any] = {}
        if result.errors:
            body["errors"] = [error.formatted for error in result.errors]
        if result.data is not None or not result.errors:
            body["data"] = _corrupted(result.data, context["corrupt"])
        body["extensions"] = {
            "cost": {
                "requestedQueryCost": requested,
                "actualQueryCost": actual,
                "throttleStatus": self.bucket.status(),
            }
        }
        return json_response(body, 200, headers)

    def _configure_bucket(self) -> None:
        settings = self.store.kv_get(THROTTLE_KEY) or {}
        self.bucket.configure(
            float(settings.get("maximumAvailable", DEFAULT_MAXIMUM)),
            float(settings.get("restoreRate", DEFAULT_RESTORE_RATE)),
        )

    def _throttled_body(self, requested: int) -> dict[str, Any]:
        return {
            "errors": [{"message": "Throttled", "extensions": {"code": "THROTTLED", "documentation": RATE_LIMIT_DOCS}}],
            "extensions": {
                "cost": {
                    "requestedQueryCost": requested,
                    "actualQueryCost": None,
                    "throttleStatus": self.bucket.status(),
                }
            },
        }

    # --- bulk results -----------------------------------------------------------------------------

    def bulk_result(self, request: Request, name: str) -> Response:
        path = self.bulk.result_file(name, request.args.get("X-Goog-Expires"), request.args.get("X-Goog-Signature"))
        if path is None:
            body = (
                "<?xml version='1.0' encoding='UTF-8'?><Error><Code>AccessDenied</Code>"
                "<Message>Access denied.</Message></Error>"
            )
            return Response(body, status=403, content_type="application/xml; charset=UTF-8")
        size = path.stat().st_size
        start = _range_start(request.headers.get("Range"))
        if start is not None and start >= size:
            return Response(status=416, headers={"Content-Range": f"bytes */{size}"})
        offset = start or 0
        response = Response(
            _chunks(path, offset), status=206 if start is not None else 200, content_type="application/jsonl"
        )
        response.headers["Content-Length"] = str(size - offset)
        response.headers["Accept-Ranges"] = "bytes"
        if start is not None:
            response.headers["Content-Range"] = f"bytes {offset}-{size - 1}/{size}"
        return response


def _graphql_request(request: Request) -> tuple[str | None, dict[str, Any] | None, str | None]:
    """Query, variables and operation name from a JSON body or an application/graphql body."""
    if (request.mimetype or "") == "application/graphql":
        return request.get_data(as_text=True), None, None
    body = read_json(request)
    if not isinstance(body, dict):
        return None, None, None
    variables = body.get("variables")
    if isinstance(variables, str):
        try:
            variables = json.loads(variables)
        except json.JSONDecodeError:
            variables = None
    return body.get("query"), variables if isinstance(variables, dict) else None, body.get("operationName")


def _operation(document: Any, name: str | None) -> OperationDefinitionNode | None:
    operations = [d for d in document.definitions if isinstance(d, OperationDefinitionNode)]
    if name is None:
        return operations[0] if len(operations) == 1 else None
    return next((o for o in operations if o.name is not None and o.name.value == name), None)


def _max_cost_body(requested: int) -> dict[str, Any]:
    message = (
        f"Query cost is {requested}, which exceeds the single query max cost limit ({MAX_QUERY_COST}).\n\n"
        "See https://shopify.dev/concepts/about-apis/rate-limits for more information on how the\n"
        "cost of a query is calculated.\n\n"
        "To query larger amounts of data with fewer limits, bulk operations should be used instead.\n"
        "See https://shopify.dev/tutorials/perform-bulk-operations-with-admin-api for usage details.\n"
    )
    extensions = {
        "code": "MAX_COST_EXCEEDED",
        "cost": requested,
        "maxCost": MAX_QUERY_COST,
        "documentation": RATE_LIMIT_DOCS,
    }
    return {"errors": [{"message": message, "extensions": extensions}]}


def _corrupted(data: Any, ids: set[str]) -> Any:
    """Damage the records the fault plan picked: an unreadable updatedAt, or no id when updatedAt is absent."""
    if not ids or not isinstance(data, dict):
        return data
    for value in data.values():
        if not isinstance(value, dict):
            continue
        nodes = list(value.get("nodes") or []) + [edge.get("node") for edge in value.get("edges") or []]
        for node in nodes:
            if isinstance(node, dict) and node.get("id") in ids:
                if "updatedAt" in node:
                    node["updatedAt"] = "not-a-timestamp"
                else:
                    node["id"] = None
    return data


def _range_start(header: str | None) -> int | None:
    """The first byte of a `Range: bytes=N-` header (other range forms are served whole)."""
    if not header or not header.startswith("bytes="):
        return None
    first, _, last = header[6:].partition("-")
    return int(first) if first.isdigit() and not last else None


def _chunks(path: Path, offset: int) -> Iterator[bytes]:
    with path.open("rb") as handle:
        handle.seek(offset)
        while block := handle.read(CHUNK):
            yield block
