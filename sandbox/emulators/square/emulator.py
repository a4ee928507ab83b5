"""The Square v2 REST emulator: customers, orders, catalog, inventory and locations in Square's wire format."""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from typing import Any, ClassVar

from werkzeug.wrappers import Request, Response

from canalis.sandbox.emulators.square import catalog as cat
from canalis.sandbox.emulators.square import inventory as inv
from canalis.sandbox.emulators.square.queries import Filter, Found, Ordering, StoreQueries
from canalis.sandbox.emulators.square.wire import (
    SYSTEM,
    SquareError,
    body_fingerprint,
    decode_cursor,
    encode_cursor,
    errors_response,
    invalid,
    parse_time,
)
from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.server.emulator import Emulator, json_response, read_json
from canalis.sandbox.server.faults import FaultPlan

ACCESS_TOKEN = "EAAAsandbox-canalis-square-access-token"  # noqa: S105 - the sandbox's published test token
READ_ONLY_TOKEN = "EAAAsandbox-canalis-square-read-only-token"  # noqa: S105 - token without write scopes
VERSION_FORMAT = re.compile(r"^\d{4}-\d{2}-\d{2}$")
CUSTOMERS_MAX_LIMIT = 100
ORDERS_DEFAULT_LIMIT = 500
ORDERS_MAX_LIMIT = 1000
ORDERS_MAX_LOCATIONS = 10
CATALOG_LIST_PAGE = 100
IDEMPOTENCY_KEY_MAX = 128
TIMESTAMP_FIELDS = ("updated_at", "calculated_at", "created_at")
ORDER_SORT_FIELDS = {"CREATED_AT": "created_at", "UPDATED_AT": "updated_at", "CLOSED_AT": "closed_at"}
ORDER_STATES = frozenset({"OPEN", "COMPLETED", "CANCELED", "DRAFT"})
CREATION_SOURCES_RULES = frozenset({"INCLUDE", "EXCLUDE"})

Handler = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


class SquareEmulator(Emulator):
    """Square's v2 API under /square: bearer auth, cursor paging, idempotency keys and Square's error bodies."""

    prefix = "square"
    system = SYSTEM
    title = "Square (v2 REST: customers, orders, catalog, inventory, locations)"
    routes: ClassVar[list[tuple[str, list[str], str]]] = [
        ("/v2/customers", ["GET"], "list_customers"),
        ("/v2/customers/search", ["POST"], "search_customers"),
        ("/v2/customers/<customer_id>", ["GET"], "retrieve_customer"),
        ("/v2/customers/<customer_id>", ["DELETE"], "delete_customer"),
        ("/v2/orders/search", ["POST"], "search_orders"),
        ("/v2/catalog/list", ["GET"], "list_catalog"),
        ("/v2/catalog/search", ["POST"], "search_catalog"),
        ("/v2/catalog/batch-retrieve", ["POST"], "batch_retrieve_catalog"),
        ("/v2/catalog/batch-upsert", ["POST"], "batch_upsert_catalog"),
        ("/v2/catalog/info", ["GET"], "catalog_info"),
        ("/v2/inventory/counts/batch-retrieve", ["POST"], "batch_retrieve_counts"),
        ("/v2/inventory/batch-retrieve-counts", ["POST"], "batch_retrieve_counts"),
        ("/v2/inventory/changes/batch-create", ["POST"], "batch_create_changes"),
        ("/v2/inventory/batch-change", ["POST"], "batch_create_changes"),
        ("/v2/locations", ["GET"], "list_locations"),
    ]

    def __init__(self, store: ObjectStore, faults: FaultPlan | None = None) -> None:
        super().__init__(store, faults)
        self.queries = StoreQueries(store.path)
        self._catalog_write = threading.Lock()
        self._idempotency = threading.Lock()

    # --- framework hooks ------------------------------------------------------------------------

    def credentials(self) -> dict[str, str]:
        return {"access_token": ACCESS_TOKEN, "read_only_access_token": READ_ONLY_TOKEN}

    def auth_error(self, request: Request) -> Response | None:
        header = request.headers.get("Authorization", "")
        if not header:
            return _unauthorized(
                "Your request did not include an `Authorization` http header with an access token. "
                'The header value is expected to be of the format "Bearer TOKEN" (without quotation marks).'
            )
        scheme, _, token = header.partition(" ")
        if scheme.lower() != "bearer" or not token.strip():
            return _unauthorized(
                "The `Authorization` http header of your request was malformed. "
                'The header value is expected to be of the format "Bearer TOKEN" (without quotation marks).'
            )
        if token.strip() not in (ACCESS_TOKEN, READ_ONLY_TOKEN):
            return _unauthorized("This request could not be authorized.")
        version = request.headers.get("Square-Version")
        if version is not None and not VERSION_FORMAT.match(version.strip()):
            return invalid(
                "INVALID_SQUARE_VERSION_FORMAT", f"Invalid Square-Version `{version}`; expected YYYY-MM-DD."
            ).response()
        return None

    def fault_response(self, fault: str) -> Response:
        if fault == "429":
            return errors_response(
                [{"category": "RATE_LIMIT_ERROR", "code": "RATE_LIMITED", "detail": "Rate limit exceeded."}], 429
            )
        codes = {"500": "INTERNAL_SERVER_ERROR", "502": "BAD_GATEWAY", "503": "SERVICE_UNAVAILABLE"}
        code = codes.get(fault, "INTERNAL_SERVER_ERROR")
        return errors_response(
            [{"category": "API_ERROR", "code": code, "detail": "An internal error occurred."}], int(fault)
        )

    def not_found(self, request: Request) -> Response:
        return errors_response(
            [
                {
                    "category": "INVALID_REQUEST_ERROR",
                    "code": "NOT_FOUND",
                    "detail": f"Resource not found: {request.path}",
                }
            ],
            404,
        )

    def dispatch(self, request: Request, path: str) -> Response:
        try:
            return super().dispatch(request, path)
        except SquareError as error:
            return error.response()

    # --- customers ------------------------------------------------------------------------------

    def list_customers(self, request: Request) -> Response:
        args = request.args
        limit = _limit(args.get("limit"), "limit", CUSTOMERS_MAX_LIMIT, CUSTOMERS_MAX_LIMIT)
        ordering = _customer_ordering(args.get("sort_field"), args.get("sort_order"), "")
        query = body_fingerprint(["list_customers", ordering.expression, ordering.descending])
        found = self._page("customers", Filter(), ordering, limit, args.get("cursor"), query)
        body: dict[str, Any] = {"customers": found.objects} if found.objects else {}
        if _truthy(args.get("count")):
            body["count"] = self.queries.count("customers", Filter())
        return self._answer(body, found, query)

    def search_customers(self, request: Request) -> Response:
        body = _json_body(request)
        limit = _limit(body.get("limit"), "limit", CUSTOMERS_MAX_LIMIT, CUSTOMERS_MAX_LIMIT)
        query = _object(body.get("query"), "query")
        sort = _object(query.get("sort"), "query.sort")
        ordering = _customer_ordering(sort.get("field"), sort.get("order"), "query.sort.")
        where = _customer_filter(_object(query.get("filter"), "query.filter"))
        fingerprint = body_fingerprint(["search_customers", query])
        found = self._page("customers", where, ordering, limit, body.get("cursor"), fingerprint)
        answer: dict[str, Any] = {"customers": found.objects} if found.objects else {}
        if body.get("count") is True:
            answer["count"] = self.queries.count("customers", where)
        return self._answer(answer, found, fingerprint)

    def retrieve_customer(self, request: Request, customer_id: str) -> Response:
        customer = self.store.get(SYSTEM, "customers", customer_id)
        if customer is None:
            raise SquareError(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", f"Customer `{customer_id}` not found.")
        return json_response({"customer": self._served(customer)})

    def delete_customer(self, request: Request, customer_id: str) -> Response:
        """DeleteCustomer: the profile is gone from lists, searches and reads."""
        if not self.store.delete(SYSTEM, "customers", customer_id):
            raise SquareError(404, "INVALID_REQUEST_ERROR", "NOT_FOUND", f"Customer `{customer_id}` not found.")
        return json_response({})

    # --- orders ---------------------------------------------------------------------------------

    def search_orders(self, request: Request) -> Response:
        body = _json_body(request)
        locations = body.get("location_ids")
        if not isinstance(locations, list) or not locations:
            raise invalid(
                "MISSING_REQUIRED_PARAMETER", "`location_ids` must list at least one location.", "location_ids"
            )
        if len(locations) > ORDERS_MAX_LOCATIONS:
            raise invalid(
                "ARRAY_LENGTH_TOO_LONG", f"At most {ORDERS_MAX_LOCATIONS} location ids may be given.", "location_ids"
            )
        limit = _limit(body.get("limit"), "limit", ORDERS_MAX_LIMIT, ORDERS_DEFAULT_LIMIT)
        query = _object(body.get("query"), "query")
        where, time_field = _order_filter(_object(query.get("filter"), "query.filter"))
        where.add_in("json_extract(payload, '$.location_id')", [str(x) for x in locations])
        sort = _object(query.get("sort"), "query.sort")
        ordering = _order_ordering(sort, time_field)
        fingerprint = body_fingerprint(["search_orders", sorted(map(str, locations)), query])
        found = self._page("orders", where, ordering, limit, body.get("cursor"), fingerprint)
        answer: dict[str, Any] = {}
        if body.get("return_entries") is True:
            entries = [
                {"order_id": o["id"], "version": o.get("version"), "location_id": o["location_id"]}
                for o in found.objects
            ]
            answer["order_entries"] = entries
        elif found.objects:
            answer["orders"] = found.objects
        return self._answer(answer, found, fingerprint)

    # --- catalog --------------------------------------------------------------------------------

    def list_catalog(self, request: Request) -> Response:
        raw_types = request.args.get("types")
        types = cat.parse_types(raw_types, "types") if raw_types else set(cat.TOP_LEVEL_TYPES)
        query = body_fingerprint(["list_catalog", sorted(types)])
        found = self._page(
            cat.OBJECT_TYPE,
            Filter(),
            Ordering(),
            CATALOG_LIST_PAGE,
            request.args.get("cursor"),
            query,
            expand=cat.expander(types),
        )
        return self._answer({"objects": found.objects} if found.objects else {}, found, query)

    def search_catalog(self, request: Request) -> Response:
        body = _json_body(request)
        types = cat.parse_types(body.get("object_types") or sorted(cat.CATALOG_TYPES), "object_types")
        include_deleted = body.get("include_deleted_objects") is True
        matches = cat.query_matcher(body.get("query"))
        base = cat.expander(types, include_deleted=include_deleted)
        where = Filter()
        if body.get("begin_time") is not None:
            where.add("updated_at > ?", parse_time(body["begin_time"], "begin_time"))
        limit = body.get("limit")
        limit = limit if isinstance(limit, int) and 0 < limit <= cat.SEARCH_MAX_LIMIT else cat.SEARCH_DEFAULT_LIMIT
        fingerprint = body_fingerprint(
            ["search_catalog", {k: v for k, v in body.items() if k not in ("cursor", "limit")}]
        )
        found = self._page(
            cat.OBJECT_TYPE,
            where,
            Ordering("updated_at"),
            limit,
            body.get("cursor"),
            fingerprint,
            expand=lambda payload: [obj for obj in base(payload) if matches(obj)],
        )
        answer: dict[str, Any] = {"objects": found.objects} if found.objects else {}
        if body.get("include_related_objects") is True and found.objects:
            index = cat.CatalogIndex.load(self.queries)
            answer["related_objects"] = _unique(rel for obj in found.objects for rel in index.related(obj))
        answer["latest_time"] = self.queries.latest_update(cat.OBJECT_TYPE)
        return self._answer(answer, found, fingerprint)

    def batch_retrieve_catalog(self, request: Request) -> Response:
        body = _json_body(request)
        ids = body.get("object_ids")
        if not isinstance(ids, list) or not ids:
            raise invalid("MISSING_REQUIRED_PARAMETER", "`object_ids` is required.", "object_ids")
        if len(ids) > cat.MAX_RETRIEVE_IDS:
            raise invalid("ARRAY_LENGTH_TOO_LONG", f"At most {cat.MAX_RETRIEVE_IDS} ids may be given.", "object_ids")
        index = cat.CatalogIndex.load(self.queries)
        include_deleted = body.get("include_deleted_objects") is True
        objects = [obj for i in dict.fromkeys(map(str, ids)) if (obj := index.get(i)) is not None]
        objects = [self._served(obj) for obj in objects if include_deleted or not obj.get("is_deleted")]
        answer: dict[str, Any] = {"objects": objects} if objects else {}
        if body.get("include_related_objects") is True and objects:
            answer["related_objects"] = _unique(rel for obj in objects for rel in index.related(obj))
        return json_response(answer)

    def batch_upsert_catalog(self, request: Request) -> Response:
        self._require_write_scope(request, "ITEMS_WRITE")
        body = _json_body(request)
        return self._idempotent("catalog/batch-upsert", body, self._upsert)

    def _upsert(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        batches = body.get("batches")
        if not isinstance(batches, list) or not batches:
            raise invalid("ARRAY_EMPTY", "`batches` must hold at least one batch.", "batches")
        total = sum(len(b.get("objects") or []) for b in batches if isinstance(b, dict))
        if total > cat.MAX_OBJECTS_PER_REQUEST:
            raise invalid(
                "ARRAY_LENGTH_TOO_LONG", f"At most {cat.MAX_OBJECTS_PER_REQUEST} objects per request.", "batches"
            )
        if not self._catalog_write.acquire(blocking=False):
            raise SquareError(429, "RATE_LIMIT_ERROR", "RATE_LIMITED", "Another catalog write is in progress.")
        try:
            index = cat.CatalogIndex.load(self.queries)
            writer = cat.CatalogWriter(self.store, index)
            objects: list[dict[str, Any]] = []
            mappings: list[dict[str, str]] = []
            errors: list[dict[str, Any]] = []
            for position, batch in enumerate(batches):
                try:
                    outcome = writer.upsert_batch(
                        _object(batch, f"batches[{position}]").get("objects"), f"batches[{position}]"
                    )
                except SquareError as error:
                    errors.append(error.entry())
                    continue
                objects.extend(outcome.objects)
                mappings.extend(outcome.id_mappings)
        finally:
            self._catalog_write.release()
        if errors and not objects:
            return 400, {"errors": errors}
        answer: dict[str, Any] = {"objects": objects, "updated_at": max(o["updated_at"] for o in objects)}
        if mappings:
            answer["id_mappings"] = mappings
        if errors:
            answer["errors"] = errors
        return 200, answer

    def catalog_info(self, request: Request) -> Response:
        limits = {
            "batch_upsert_max_objects_per_batch": cat.MAX_OBJECTS_PER_BATCH,
            "batch_upsert_max_total_objects": cat.MAX_OBJECTS_PER_REQUEST,
            "batch_retrieve_max_object_ids": cat.MAX_RETRIEVE_IDS,
            "search_max_page_limit": cat.SEARCH_MAX_LIMIT,
            "batch_delete_max_object_ids": 200,
        }
        return json_response({"limits": limits})

    # --- inventory ------------------------------------------------------------------------------

    def batch_retrieve_counts(self, request: Request) -> Response:
        body = _json_body(request)
        limit = _limit(body.get("limit"), "limit", inv.COUNTS_MAX_LIMIT, inv.COUNTS_DEFAULT_LIMIT)
        where = Filter()
        for field, expression in (("catalog_object_ids", "catalog_object_id"), ("location_ids", "location_id")):
            values = body.get(field)
            if values is not None:
                if not isinstance(values, list):
                    raise invalid("EXPECTED_ARRAY", f"Expected an array for `{field}`.", field)
                where.add_in(f"json_extract(payload, '$.{expression}')", [str(v) for v in values])
        states = body.get("states")
        if states is not None:
            where.add_in("json_extract(payload, '$.state')", [str(s) for s in states])
        if body.get("updated_after") is not None:
            where.add("updated_at > ?", parse_time(body["updated_after"], "updated_after"))
        fingerprint = body_fingerprint(["counts", {k: v for k, v in body.items() if k not in ("cursor", "limit")}])
        found = self._page(inv.OBJECT_TYPE, where, Ordering("updated_at"), limit, body.get("cursor"), fingerprint)
        return self._answer({"counts": found.objects} if found.objects else {}, found, fingerprint)

    def batch_create_changes(self, request: Request) -> Response:
        self._require_write_scope(request, "INVENTORY_WRITE")
        body = _json_body(request)
        return self._idempotent("inventory/changes", body, self._change_inventory)

    def _change_inventory(self, body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        writer = inv.InventoryWriter(self.store, cat.CatalogIndex.load(self.queries))
        return 200, writer.apply(body.get("changes"), ignore_unchanged=body.get("ignore_unchanged_counts") is not False)

    # --- locations ------------------------------------------------------------------------------

    def list_locations(self, request: Request) -> Response:
        found = self.queries.page("locations", Filter(), Ordering(), limit=10_000)
        return json_response({"locations": [self._served(loc) for loc in found.objects]})

    # --- shared ---------------------------------------------------------------------------------

    def _page(
        self,
        object_type: str,
        where: Filter,
        ordering: Ordering,
        limit: int,
        cursor: Any,
        fingerprint: str,
        *,
        expand: Any = None,
    ) -> Found:
        position = decode_cursor(str(cursor), fingerprint) if cursor else None
        found = self.queries.page(object_type, where, ordering, limit=limit, position=position, expand=expand)
        return Found([self._served(obj) for obj in found.objects], found.next_position)

    def _answer(self, body: dict[str, Any], found: Found, fingerprint: str) -> Response:
        if found.next_position is not None:
            body["cursor"] = encode_cursor(fingerprint, found.next_position)
        return json_response(body)

    def _served(self, obj: dict[str, Any]) -> dict[str, Any]:
        """The object as sent, malformed on purpose when the fault plan says so."""
        if not self.faults.corrupt_record(self.system):
            return obj
        broken = dict(obj)
        for name in TIMESTAMP_FIELDS:
            if name in broken:
                broken[name] = "2025-13-45T99:99:99Z"
                break
        else:
            broken["id"] = None
        return broken

    def _require_write_scope(self, request: Request, scope: str) -> None:
        token = request.headers.get("Authorization", "").partition(" ")[2].strip()
        if token == READ_ONLY_TOKEN:
            raise SquareError(
                403,
                "AUTHENTICATION_ERROR",
                "INSUFFICIENT_SCOPES",
                f"The merchant has not given your application sufficient permissions to do that. "
                f"The accepted scopes are {scope}.",
            )

    def _idempotent(self, route: str, body: dict[str, Any], handler: Handler) -> Response:
        """Run a write once per idempotency key; the same key with another body is IDEMPOTENCY_KEY_REUSED."""
        key = body.get("idempotency_key")
        if not isinstance(key, str) or not key:
            raise invalid("MISSING_REQUIRED_PARAMETER", "`idempotency_key` is required.", "idempotency_key")
        if len(key) > IDEMPOTENCY_KEY_MAX:
            raise invalid(
                "VALUE_TOO_LONG",
                f"`idempotency_key` must be at most {IDEMPOTENCY_KEY_MAX} characters.",
                "idempotency_key",
            )
        fingerprint = body_fingerprint(body)
        slot = f"square:idempotency:{route}:{key}"
        with self._idempotency:
            seen = self.store.kv_get(slot)
            if seen is not None:
                if seen["fingerprint"] != fingerprint:
                    raise invalid(
                        "IDEMPOTENCY_KEY_REUSED",
                        "The idempotency key can only be retried with the same request data.",
                        "idempotency_key",
                    )
                return json_response(seen["body"], seen["status"])
            try:
                status, answer = handler(body)
            except SquareError as error:
                if error.status >= 429:
                    raise
                status, answer = error.status, {"errors": [error.entry()]}
            self.store.kv_put(slot, {"fingerprint": fingerprint, "status": status, "body": answer})
        return json_response(answer, status)


# --- request parsing ------------------------------------------------------------------------------


def _unauthorized(detail: str) -> Response:
    return errors_response([{"category": "AUTHENTICATION_ERROR", "code": "UNAUTHORIZED", "detail": detail}], 401)


def _json_body(request: Request) -> dict[str, Any]:
    body = read_json(request)
    if request.get_data(cache=True) and body is None:
        raise invalid("EXPECTED_JSON_BODY", "The request body is not valid JSON.")
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise invalid("EXPECTED_OBJECT", "The request body must be a JSON object.")
    return body


def _object(value: Any, field: str) -> dict[str, Any]:
    if value is None:
        return {}
    if not isinstance(value, dict):
        raise invalid("EXPECTED_OBJECT", f"Expected an object for `{field}`.", field)
    return value


def _truthy(value: str | None) -> bool:
    return (value or "").lower() == "true"


def _limit(value: Any, field: str, maximum: int, default: int) -> int:
    if value is None or value == "":
        return default
    try:
        number = int(value)
    except (TypeError, ValueError):
        raise invalid("EXPECTED_INTEGER", f"Expected an integer for `{field}`.", field) from None
    if number < 1:
        raise invalid("VALUE_TOO_LOW", f"`{field}` must be at least 1.", field)
    if number > maximum:
        raise invalid("VALUE_TOO_HIGH", f"`{field}` must be at most {maximum}.", field)
    return number


def _sort_order(value: Any, field: str, default: str = "ASC") -> bool:
    order = (value or default).upper() if isinstance(value, str) or value is None else value
    if order not in ("ASC", "DESC"):
        raise invalid("INVALID_ENUM_VALUE", f"`{value}` is not a valid SortOrder.", field)
    return order == "DESC"


def _customer_ordering(field: Any, order: Any, where: str) -> Ordering:
    name = (field or "DEFAULT").upper() if isinstance(field, str) or field is None else field
    if name not in ("DEFAULT", "CREATED_AT"):
        raise invalid(
            "INVALID_ENUM_VALUE",
            f"`{field}` is not a valid CustomerSortField.",
            f"{where}sort_field" if not where else f"{where}field",
        )
    descending = _sort_order(order, f"{where}sort_order" if not where else f"{where}order")
    return Ordering("created_at" if name == "CREATED_AT" else "seq", descending)


def _time_range(value: Any, column: str, field: str, where: Filter) -> None:
    span = _object(value, field)
    if span.get("start_at") is not None:
        where.add(f"{column} >= ?", parse_time(span["start_at"], f"{field}.start_at"))
    if span.get("end_at") is not None:
        where.add(f"{column} <= ?", parse_time(span["end_at"], f"{field}.end_at"))


def _customer_filter(spec: dict[str, Any]) -> Filter:
    where = Filter()
    _time_range(spec.get("created_at"), "created_at", "query.filter.created_at", where)
    _time_range(spec.get("updated_at"), "updated_at", "query.filter.updated_at", where)
    for field in ("email_address", "phone_number", "reference_id"):
        text = _object(spec.get(field), f"query.filter.{field}")
        column = f"lower(json_extract(payload, '$.{field}'))"
        if text.get("exact") is not None:
            where.add(f"{column} = lower(?)", str(text["exact"]))
        elif text.get("fuzzy") is not None:
            where.add(f"{column} LIKE ?", f"%{str(text['fuzzy']).lower()}%")
    sources = _object(spec.get("creation_source"), "query.filter.creation_source")
    if sources.get("values"):
        rule = sources.get("rule", "INCLUDE")
        if rule not in CREATION_SOURCES_RULES:
            raise invalid("INVALID_ENUM_VALUE", f"`{rule}` is not a valid rule.", "query.filter.creation_source.rule")
        marks = ", ".join("?" for _ in sources["values"])
        negate = "NOT " if rule == "EXCLUDE" else ""
        where.add(f"COALESCE(json_extract(payload, '$.creation_source'), '') {negate}IN ({marks})", *sources["values"])
    return where


def _order_filter(spec: dict[str, Any]) -> tuple[Filter, str | None]:
    where = Filter()
    states = _object(spec.get("state_filter"), "query.filter.state_filter").get("states")
    if states:
        unknown = [s for s in states if s not in ORDER_STATES]
        if unknown:
            raise invalid(
                "INVALID_ENUM_VALUE", f"`{unknown[0]}` is not a valid OrderState.", "query.filter.state_filter.states"
            )
        where.add_in("json_extract(payload, '$.state')", list(states))
    customers = _object(spec.get("customer_filter"), "query.filter.customer_filter").get("customer_ids")
    if customers:
        where.add_in("json_extract(payload, '$.customer_id')", [str(c) for c in customers])
    times = _object(spec.get("date_time_filter"), "query.filter.date_time_filter")
    used = [name for name in ("created_at", "updated_at", "closed_at") if times.get(name)]
    if len(used) > 1:
        raise invalid("INVALID_VALUE", "Only one date_time_filter field may be set.", "query.filter.date_time_filter")
    for name in used:
        column = name if name != "closed_at" else "json_extract(payload, '$.closed_at')"
        _time_range(times[name], column, f"query.filter.date_time_filter.{name}", where)
    return where, (used[0] if used else None)


def _order_ordering(sort: dict[str, Any], time_field: str | None) -> Ordering:
    field = sort.get("sort_field", "CREATED_AT")
    if field not in ORDER_SORT_FIELDS:
        raise invalid("INVALID_ENUM_VALUE", f"`{field}` is not a valid SearchOrdersSortField.", "query.sort.sort_field")
    column = ORDER_SORT_FIELDS[field]
    if time_field is not None and time_field != column:
        raise invalid(
            "INVALID_VALUE",
            f"The sort_field must match the date_time_filter field ({time_field.upper()}).",
            "query.sort.sort_field",
        )
    expression = column if column != "closed_at" else "json_extract(payload, '$.closed_at')"
    return Ordering(expression, _sort_order(sort.get("sort_order"), "query.sort.sort_order", default="DESC"))


def _unique(objects: Any) -> list[dict[str, Any]]:
    seen: dict[str, dict[str, Any]] = {}
    for obj in objects:
        seen.setdefault(obj["id"], obj)
    return list(seen.values())
