"""The ORM methods of the emulated Odoo (search, read, search_read, fields_get, create, write...) over the store."""

from __future__ import annotations

import bisect
import functools
import itertools
import sqlite3
import threading
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from canalis.sandbox.emulators.odoo.domain import (
    FieldValue,
    Node,
    evaluate,
    leaves,
    normalise_moment,
    parse_domain,
    top_level_and_leaves,
)
from canalis.sandbox.emulators.odoo.errors import (
    AccessError,
    MissingError,
    OdooTypeError,
    OdooValueError,
    UnknownMethod,
    UnknownModel,
    ValidationError,
)
from canalis.sandbox.emulators.odoo.schema import MODELS, READONLY_FIELDS, FieldDef, ModelDef, infer_field
from canalis.sandbox.objectstore import ObjectStore, StoredObject, format_timestamp
from canalis.sandbox.server.faults import FaultPlan

SYSTEM = "odoo"
SCAN_BATCH = 2000
WRITE_DATE_ORDER = [("write_date", False), ("id", False)]  # keyset paging's order, kept by the scan cache


@dataclass(frozen=True)
class Signature:
    """How a method takes its arguments: on records (ids first) or on the model, and its parameters in order."""

    on_records: bool
    params: tuple[str, ...]
    aliases: dict[str, str] = field(default_factory=dict)


SIGNATURES: dict[str, Signature] = {
    "search": Signature(False, ("domain", "offset", "limit", "order", "count"), {"args": "domain"}),
    "search_count": Signature(False, ("domain", "limit"), {"args": "domain"}),
    "search_read": Signature(False, ("domain", "fields", "offset", "limit", "order")),
    "read": Signature(True, ("fields", "load")),
    "fields_get": Signature(False, ("allfields", "attributes")),
    "create": Signature(False, ("vals_list",)),
    "write": Signature(True, ("vals",)),
    "unlink": Signature(True, ()),
    "name_search": Signature(False, ("name", "domain", "operator", "limit"), {"args": "domain"}),
}


@dataclass(frozen=True)
class Row:
    """A stored record with the exact (millisecond) timestamps the database orders and filters on."""

    payload: dict[str, Any]
    write_moment: str
    create_moment: str


@dataclass
class _ModelRows:
    """A model's stored records in (write_date, id) order with their write moments, and positions by linked id."""

    signature: tuple[Any, ...]
    rows: list[Row]
    moments: list[str]
    _links: dict[str, dict[int | None, list[int]]] = field(default_factory=dict)

    def linked(self, name: str, record_id: int) -> list[int]:
        """Positions of the rows whose many2one field `name` points at `record_id` (indexed on first use)."""
        index = self._links.get(name)
        if index is None:
            index = {}
            for position, row in enumerate(self.rows):
                index.setdefault(_linked_id(row.payload.get(name)), []).append(position)
            self._links[name] = index
        return index.get(record_id, [])


def store_moment(stamp: str) -> str:
    """The store's 'YYYY-MM-DDTHH:MM:SS.mmmZ' as the domain evaluator's 'YYYY-MM-DD HH:MM:SS.mmm'."""
    return stamp.replace("T", " ").removesuffix("Z")


def odoo_datetime(moment: datetime) -> str:
    """Odoo's wire form of a datetime: 'YYYY-MM-DD HH:MM:SS' in UTC."""
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S")


class Orm:
    """Runs ORM methods against the object store, raising Odoo's exceptions."""

    def __init__(self, store: ObjectStore, faults: FaultPlan | None = None) -> None:
        self.store = store
        self.faults = faults or FaultPlan()
        self._cache: dict[str, _ModelRows] = {}
        self._generation = 0  # bumped by every write made through this ORM
        self._local = threading.local()

    # -- dispatch ----------------------------------------------------------------------------------

    def bind(
        self, method: str, args: list[Any], kwargs: dict[str, Any]
    ) -> tuple[list[int] | None, dict[str, Any], dict[str, Any]]:
        """Split positional/keyword arguments (XML-RPC, JSON-RPC) into ids, named parameters and context."""
        signature = self.signature(method)
        args = list(args or [])
        kwargs = dict(kwargs or {})
        context = kwargs.pop("context", None) or {}
        ids: list[int] | None = None
        if signature.on_records:
            if not args:
                raise OdooTypeError(f"{method}() missing 1 required positional argument: 'ids'")
            ids = _ids(args.pop(0))
        if len(args) > len(signature.params):
            raise OdooTypeError(f"{method}() takes {len(signature.params)} positional arguments but more were given")
        params = dict(zip(signature.params, args, strict=False))
        for name, value in kwargs.items():
            name = signature.aliases.get(name, name)
            if name not in signature.params:
                raise OdooTypeError(f"{method}() got an unexpected keyword argument '{name}'")
            if name in params:
                raise OdooTypeError(f"{method}() got multiple values for argument '{name}'")
            params[name] = value
        if not isinstance(context, dict):
            raise OdooTypeError("context must be a dictionary")
        return ids, params, context

    def signature(self, method: str) -> Signature:
        """The signature of a public method; AccessError for private ones, UnknownMethod for others."""
        if method.startswith("_"):
            raise AccessError(f"Private methods (such as '{method}') cannot be called remotely.")
        if method not in SIGNATURES:
            raise UnknownMethod(f"The method '{method}' does not exist on the model")
        return SIGNATURES[method]

    def call(
        self, model: str, method: str, ids: list[int] | None, params: dict[str, Any], context: dict[str, Any]
    ) -> Any:
        """Run one method on one model with named parameters."""
        definition = self.model(model)
        signature = self.signature(method)
        unknown = sorted(set(params) - set(signature.params) - set(signature.aliases))
        if unknown:
            raise OdooTypeError(f"{method}() got an unexpected keyword argument '{unknown[0]}'")
        params = {signature.aliases.get(name, name): value for name, value in params.items()}
        if signature.on_records and ids is None:
            ids = []
        handler = getattr(self, f"_m_{method}")
        if signature.on_records:
            return handler(definition, ids, context, **params)
        return handler(definition, context, **params)

    @functools.lru_cache(maxsize=64)  # noqa: B019 - one Orm per emulator, models are few
    def model(self, name: str) -> ModelDef:
        """The model's definition, with fields the stored records hold beyond the declared schema."""
        base = MODELS.get(name)
        if base is None:
            raise UnknownModel(f"Object {name} doesn't exist")
        sample = next(iter(self.store.page(SYSTEM, name, limit=1)), None)
        if sample is None:
            return base
        extra = {key: infer_field(key, value) for key, value in sample.payload.items() if key not in base.fields}
        if not extra:
            return base
        return ModelDef(base.name, base.description, {**base.fields, **extra}, base.order, base.rec_name, base.computed)

    # -- reading -----------------------------------------------------------------------------------

    def _scan(self, model: ModelDef, node: Node) -> Iterator[Row]:
        """Every stored record that may match, narrowed as a database's indexes would: by `id` leaves, by the
        write_date bounds (rows are kept in write_date order) and by a `many2one in [ids]` leaf."""
        wanted = _wanted_ids(node)
        if wanted is not None:
            for record_id in sorted(wanted):
                stored = self.store.get_object(SYSTEM, model.name, str(record_id))
                if stored is not None:
                    yield _row(stored)
            return
        cached = self._rows_of(model)
        start, end = _write_date_bounds(node, cached.moments)
        links = _many2one_ids(model, node)
        if links:
            name, ids = links[0]
            positions = sorted(p for i in ids for p in cached.linked(name, i) if start <= p < end)
            rows: Iterable[Row] = (cached.rows[p] for p in positions)
        else:
            rows = itertools.islice(cached.rows, start, end)
        for name, ids in links[1:]:
            rows = (row for row in rows if _linked_id(row.payload.get(name)) in ids)
        yield from rows

    def _rows_of(self, model: ModelDef) -> _ModelRows:
        """Every stored record of a model in (write_date, id) order, decoded and sorted once, kept until the
        store's copy changes."""
        signature = self._signature(model.name)
        cached = self._cache.get(model.name)
        if cached is not None and cached.signature == signature:
            return cached
        rows = [_row(stored) for stored in self.store.iter_all(SYSTEM, model.name, batch_size=SCAN_BATCH)]
        read = self._reader(model)
        for name, _ in reversed(WRITE_DATE_ORDER):  # the very sort `_search_rows` applies for that order
            rows.sort(key=lambda row, n=name: _sort_key(read(row, n)))
        cached = _ModelRows(signature, rows, [row.write_moment for row in rows])
        self._cache[model.name] = cached
        return cached

    def _signature(self, model: str) -> tuple[Any, ...]:
        """What changes whenever a record of the model is added, removed or written: count, last seq, last write."""
        connection: sqlite3.Connection | None = getattr(self._local, "connection", None)
        if connection is None:
            connection = sqlite3.connect(self.store.path, timeout=60.0, check_same_thread=False)
            self._local.connection = connection
        row = connection.execute(
            "SELECT COUNT(*), MAX(seq), MAX(updated_at) FROM objects WHERE system = ? AND object_type = ?",
            (SYSTEM, model),
        ).fetchone()
        return (*tuple(row), self._generation)

    def _reader(self, model: ModelDef) -> Any:
        """A function reading a (dotted) field path of a row for the domain evaluator."""
        blacklist = _Lazy(self._blacklisted_emails)
        related_cache: dict[tuple[str, int], dict[str, Any] | None] = {}

        def read(row: Row | dict[str, Any], path: str) -> FieldValue:
            current_model, payload = model, row.payload if isinstance(row, Row) else row
            parts = path.split(".")
            for depth, name in enumerate(parts):
                definition = current_model.fields.get(name)
                if definition is None:
                    raise OdooValueError(f"Invalid field {name!r} on model {current_model.name!r}")
                if depth == len(parts) - 1:
                    if isinstance(row, Row) and depth == 0 and name in ("write_date", "create_date"):
                        moment = row.write_moment if name == "write_date" else row.create_moment
                        return FieldValue(definition.type, moment)
                    return FieldValue(definition.type, self._value(current_model, definition, payload, blacklist))
                if definition.type != "many2one" or not definition.relation:
                    raise OdooValueError(f"Invalid field path {path!r}: {name!r} is not a many2one field")
                value = payload.get(name)
                if not isinstance(value, list) or not value:
                    return FieldValue("char", False)
                key = (definition.relation, int(value[0]))
                if key not in related_cache:
                    related_cache[key] = self.store.get(SYSTEM, key[0], str(key[1]))
                payload = related_cache[key] or {}
                current_model = self.model(definition.relation)
            raise OdooValueError(f"Invalid field path {path!r}")

        return read

    def _value(self, model: ModelDef, definition: FieldDef, payload: dict[str, Any], blacklist: _Lazy) -> Any:
        if model.name == "res.partner" and definition.name == "is_blacklisted":
            email = payload.get("email")
            return isinstance(email, str) and email.strip().lower() in blacklist.get()
        if definition.name in payload:
            return payload[definition.name]
        if definition.name == "active":
            return True
        return definition.empty()

    def _blacklisted_emails(self) -> set[str]:
        return {
            str(stored.payload.get("email", "")).strip().lower()
            for stored in self.store.iter_all(SYSTEM, "mail.blacklist")
            if stored.payload.get("active", True)
        }

    def _search_rows(
        self,
        model: ModelDef,
        context: dict[str, Any],
        domain: Any,
        offset: Any = 0,
        limit: Any = None,
        order: Any = None,
    ) -> list[Row]:
        node = parse_domain(domain)
        read = self._reader(model)
        for leaf in leaves(node):
            if isinstance(leaf[0], str) and leaf[0].split(".")[0] not in model.fields:
                raise OdooValueError(f"Invalid field {leaf[0].split('.')[0]!r} in leaf {list(leaf)!r}")
        if model.has_active and context.get("active_test", True) and not _mentions(node, "active"):
            node = Node("&", (Node("leaf", leaf=("active", "=", True)), node))
        offset = _non_negative(offset, "offset")
        limit = None if limit in (None, False) else _non_negative(limit, "limit")
        keys = self._order_keys(model, order or model.order)
        candidates = (row for row in self._scan(model, node) if evaluate(node, row, read))
        end = None if limit is None else offset + limit
        if keys == WRITE_DATE_ORDER and _wanted_ids(node) is None:
            # the scan yields rows in this order already: stop as soon as the page is full, as an index would
            return list(itertools.islice(candidates, offset, end))
        matches = list(candidates)
        for name, descending in reversed(keys):
            matches.sort(key=lambda row, n=name: _sort_key(read(row, n)), reverse=descending)
        return matches[offset:end]

    def _order_keys(self, model: ModelDef, order: Any) -> list[tuple[str, bool]]:
        if not isinstance(order, str):
            raise OdooValueError(f'Invalid "order" specified ({order!r})')
        keys: list[tuple[str, bool]] = []
        for part in filter(None, (chunk.strip() for chunk in order.split(","))):
            words = part.split()
            name = words[0]
            direction = words[1].lower() if len(words) > 1 else "asc"
            definition = model.fields.get(name)
            if definition is None or not definition.store or direction not in ("asc", "desc") or len(words) > 3:
                raise OdooValueError(
                    f'Invalid "order" specified ({order}). A valid "order" specification is a comma-separated '
                    "list of valid field names (optionally followed by asc/desc for the direction)"
                )
            keys.append((name, direction == "desc"))
        return keys

    def _records(self, model: ModelDef, rows: list[Row], fields: Any, corrupt: bool = True) -> list[dict[str, Any]]:
        names = self._field_names(model, fields)
        blacklist = _Lazy(self._blacklisted_emails)
        result = []
        for row in rows:
            record = {"id": row.payload.get("id")}
            for name in names:
                record[name] = self._value(model, model.fields[name], row.payload, blacklist)
            if corrupt and self.faults.corrupt_record(SYSTEM):
                record = _corrupted(record, model)
            result.append(record)
        return result

    def _field_names(self, model: ModelDef, fields: Any) -> list[str]:
        if fields in (None, False, []):
            return [name for name in model.fields if name != "id"]
        if not isinstance(fields, list) or not all(isinstance(name, str) for name in fields):
            raise OdooValueError("fields must be a list of field names")
        for name in fields:
            if name not in model.fields:
                raise OdooValueError(f"Invalid field {name!r} on model {model.name!r}")
        return [name for name in fields if name != "id"]

    def _rows_by_ids(self, model: ModelDef, ids: list[int]) -> list[Row]:
        rows: list[Row] = []
        missing: list[int] = []
        for record_id in ids:
            stored = self.store.get_object(SYSTEM, model.name, str(record_id))
            if stored is None:
                missing.append(record_id)
            else:
                rows.append(_row(stored))
        if missing:
            raise MissingError(
                f"Record does not exist or has been deleted.\n(Record: {model.name}({', '.join(map(str, missing))},),"
                " User: 2)"
            )
        return rows

    # -- methods -----------------------------------------------------------------------------------

    def _m_search(
        self, model: ModelDef, context: dict[str, Any], domain: Any = None, offset: Any = 0, limit: Any = None,
        order: Any = None, count: bool = False,
    ) -> list[int] | int:  # fmt: skip
        rows = self._search_rows(model, context, domain, offset, limit, order)
        return len(rows) if count else [row.payload["id"] for row in rows]

    def _m_search_count(self, model: ModelDef, context: dict[str, Any], domain: Any = None, limit: Any = None) -> int:
        return len(self._search_rows(model, context, domain, 0, limit, "id"))

    def _m_search_read(
        self, model: ModelDef, context: dict[str, Any], domain: Any = None, fields: Any = None, offset: Any = 0,
        limit: Any = None, order: Any = None,
    ) -> list[dict[str, Any]]:  # fmt: skip
        self._field_names(model, fields)
        rows = self._search_rows(model, context, domain, offset, limit, order)
        return self._records(model, rows, fields)

    def _m_read(
        self, model: ModelDef, ids: list[int], context: dict[str, Any], fields: Any = None, load: Any = None
    ) -> list[dict[str, Any]]:
        self._field_names(model, fields)
        return self._records(model, self._rows_by_ids(model, ids), fields)

    def _m_fields_get(
        self, model: ModelDef, context: dict[str, Any], allfields: Any = None, attributes: Any = None
    ) -> dict[str, Any]:
        names = list(model.fields) if not allfields else [name for name in allfields if name in model.fields]
        return {name: model.fields[name].describe(attributes) for name in names}

    def _m_name_search(
        self, model: ModelDef, context: dict[str, Any], name: Any = "", domain: Any = None, operator: Any = "ilike",
        limit: Any = 100,
    ) -> list[list[Any]]:  # fmt: skip
        full = list(domain or [])
        if name:
            full = ["&", [model.rec_name, operator, name], *full] if full else [[model.rec_name, operator, name]]
        rows = self._search_rows(model, context, full, 0, limit, None)
        return [[row.payload["id"], _display_name(model, row.payload)] for row in rows]

    def _m_create(self, model: ModelDef, context: dict[str, Any], vals_list: Any = None) -> int | list[int]:
        single = isinstance(vals_list, dict)
        items = [vals_list] if single else vals_list
        if not isinstance(items, list) or not all(isinstance(item, dict) for item in items):
            raise OdooTypeError("create() expects a dictionary of values or a list of dictionaries")
        ids = [self._create_one(model, values) for values in items]
        return ids[0] if single else ids

    def _create_one(self, model: ModelDef, values: dict[str, Any]) -> int:
        converted = self._convert_values(model, values)
        if model.name == "mail.blacklist":
            email = str(converted.get("email") or "").strip().lower()
            if not email:
                raise ValidationError("Invalid email address ''")
            converted["email"] = email
            for stored in self.store.iter_all(SYSTEM, model.name):
                if stored.payload.get("email") == email:
                    if stored.payload.get("active", True):
                        return int(stored.payload["id"])
                    raise ValidationError("Email address already exists!")
        rec_field = model.fields.get(model.rec_name)
        if rec_field is not None and rec_field.required and not converted.get(model.rec_name):
            raise ValidationError(f"The field '{rec_field.string}' is required on model {model.name!r}")
        now = datetime.now(UTC)
        record_id = self.store.next_numeric_id(SYSTEM, model.name)
        payload: dict[str, Any] = {"id": record_id}
        for name, definition in model.fields.items():
            if name in ("id", "display_name", "create_date", "write_date") or name in model.computed:
                continue
            payload[name] = True if name == "active" else definition.empty()
        payload.update(converted)
        payload["display_name"] = _display_name(model, payload)
        payload["create_date"] = payload["write_date"] = odoo_datetime(now)
        stamp = format_timestamp(now)
        self.store.put(SYSTEM, model.name, str(record_id), payload, updated_at=stamp)
        self._generation += 1
        return record_id

    def _m_write(self, model: ModelDef, ids: list[int], context: dict[str, Any], vals: Any = None) -> bool:
        if not isinstance(vals, dict):
            raise OdooTypeError("write() expects a dictionary of values")
        converted = self._convert_values(model, vals)
        rows = self._rows_by_ids(model, ids)
        now = datetime.now(UTC)
        for row in rows:
            payload = {**row.payload, **converted, "write_date": odoo_datetime(now)}
            payload["display_name"] = _display_name(model, payload)
            self.store.put(SYSTEM, model.name, str(payload["id"]), payload, updated_at=format_timestamp(now))
            self._generation += 1
        return True

    def _m_unlink(self, model: ModelDef, ids: list[int], context: dict[str, Any]) -> bool:
        self._rows_by_ids(model, ids)
        for record_id in ids:
            self.store.delete(SYSTEM, model.name, str(record_id))
            self._generation += 1
        return True

    def _convert_values(self, model: ModelDef, values: dict[str, Any]) -> dict[str, Any]:
        """Check and convert written values to their stored (read) form."""
        converted: dict[str, Any] = {}
        for name, value in values.items():
            definition = model.fields.get(name)
            if definition is None:
                raise OdooValueError(f"Invalid field {name!r} on model {model.name!r}")
            if name in READONLY_FIELDS or name in model.computed:
                continue
            converted[name] = self._convert_value(model, definition, value)
        return converted

    def _convert_value(self, model: ModelDef, definition: FieldDef, value: Any) -> Any:
        kind = definition.type
        if value is None:
            return definition.empty()
        if kind == "many2one":
            if value is False:
                return False
            if not isinstance(value, int) or isinstance(value, bool):
                raise ValidationError(f"Wrong value for {definition.name}: {value!r}")
            return [value, self._related_name(model, definition, value)]
        if kind in ("one2many", "many2many"):
            raise ValidationError(f"Writing {kind} field {definition.name!r} is not supported by the sandbox")
        if kind == "boolean":
            return bool(value)
        if kind == "integer":
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValidationError(f"Wrong value for {definition.name}: {value!r}")
            return int(value)
        if kind in ("float", "monetary"):
            if not isinstance(value, int | float) or isinstance(value, bool):
                raise ValidationError(f"Wrong value for {definition.name}: {value!r}")
            return float(value)
        if kind in ("datetime", "date") and value is not False:
            normalise_moment(str(value))
            return str(value)[:19] if kind == "datetime" else str(value)[:10]
        if value is not False and not isinstance(value, str):
            raise ValidationError(f"Wrong value for {definition.name}: {value!r}")
        return value

    def _related_name(self, model: ModelDef, definition: FieldDef, record_id: int) -> str:
        """The display name of a linked record; models the world does not store are named from existing links."""
        relation = definition.relation or ""
        payload = self.store.get(SYSTEM, relation, str(record_id))
        if payload is not None:
            return str(payload.get("display_name") or payload.get("name") or "")
        for stored in self.store.iter_all(SYSTEM, model.name):
            linked = stored.payload.get(definition.name)
            if isinstance(linked, list) and len(linked) == 2 and linked[0] == record_id:
                return str(linked[1])
        if relation in MODELS and self.store.count(SYSTEM, relation):
            raise MissingError(
                f"Record does not exist or has been deleted.\n(Record: {relation}({record_id},), User: 2)"
            )
        return f"{relation},{record_id}"


class _Lazy:
    """A value computed on first use."""

    def __init__(self, compute: Any) -> None:
        self._compute = compute
        self._value: Any = None
        self._done = False

    def get(self) -> Any:
        if not self._done:
            self._value, self._done = self._compute(), True
        return self._value


def _row(stored: StoredObject) -> Row:
    return Row(stored.payload, store_moment(stored.updated_at), store_moment(stored.created_at))


def _ids(value: Any) -> list[int]:
    if isinstance(value, int) and not isinstance(value, bool):
        return [value]
    if isinstance(value, list) and all(isinstance(item, int) and not isinstance(item, bool) for item in value):
        return list(value)
    raise OdooValueError(f"Invalid ids {value!r}: expected a list of integers")


def _non_negative(value: Any, name: str) -> int:
    if not isinstance(value, int) or isinstance(value, bool) or value < 0:
        raise OdooValueError(f"Invalid {name} {value!r}")
    return value


def _mentions(node: Node, field_name: str) -> bool:
    return any(isinstance(leaf[0], str) and leaf[0].split(".")[0] == field_name for leaf in leaves(node))


def _wanted_ids(node: Node) -> set[int] | None:
    """The only ids a match can have, from `&`-joined `id =` / `id in` leaves; None when unrestricted."""
    found: set[int] | None = None
    for left, operator, right in top_level_and_leaves(node):
        if left != "id" or operator not in ("=", "in"):
            continue
        values = right if isinstance(right, list | tuple) else [right]
        ids = {value for value in values if isinstance(value, int) and not isinstance(value, bool)}
        found = ids if found is None else found & ids
    return found


def _many2one_ids(model: ModelDef, node: Node) -> list[tuple[str, frozenset[int]]]:
    """(field, ids) for `&`-joined `many2one in [ids]` leaves: a cheap pre-filter before the full evaluation."""
    found = []
    for left, operator, right in top_level_and_leaves(node):
        definition = model.fields.get(left) if isinstance(left, str) else None
        if definition is None or definition.type != "many2one" or operator != "in":
            continue
        if isinstance(right, list | tuple) and right and all(type(value) is int for value in right):
            found.append((left, frozenset(right)))
    return found


def _linked_id(value: Any) -> int | None:
    return value[0] if isinstance(value, list) and value else None


def _write_date_bounds(node: Node, moments: list[str]) -> tuple[int, int]:
    """The slice of rows in write_date order (their `moments`) that `&`-joined write_date leaves leave open."""
    start, end = 0, len(moments)
    for left, operator, right in top_level_and_leaves(node):
        if left != "write_date" or not isinstance(right, str):
            continue
        moment = normalise_moment(right)
        if operator == ">=":
            start = max(start, bisect.bisect_left(moments, moment))
        elif operator == ">":
            start = max(start, bisect.bisect_right(moments, moment))
        elif operator == "<":
            end = min(end, bisect.bisect_left(moments, moment))
        elif operator == "<=":
            end = min(end, bisect.bisect_right(moments, moment))
    return start, max(start, end)


def _sort_key(field: FieldValue) -> tuple[int, Any]:
    value = field.value
    if field.type == "many2one":
        value = value[1] if isinstance(value, list) and len(value) > 1 else None
    elif field.type in ("one2many", "many2many"):
        value = len(value or [])
    if value is None or (value is False and field.type != "boolean"):
        return (1, 0)
    if isinstance(value, str):
        return (0, value.lower())
    return (0, value)


def _display_name(model: ModelDef, payload: dict[str, Any]) -> str:
    if model.name == "product.product" and payload.get("default_code"):
        return f"[{payload['default_code']}] {payload.get('name') or ''}"
    if model.name == "res.partner" and isinstance(payload.get("parent_id"), list):
        return f"{payload['parent_id'][1]}, {payload.get('name') or ''}"
    value = payload.get(model.rec_name)
    if isinstance(value, list) and len(value) > 1:
        return str(value[1])
    return str(value) if value not in (None, False) else f"{model.name},{payload.get('id')}"


def _corrupted(record: dict[str, Any], model: ModelDef) -> dict[str, Any]:
    """A record broken the way a faulty module or proxy might break it: wrongly typed relational values."""
    broken = dict(record)
    for name in list(broken):
        definition = model.fields.get(name)
        if definition is not None and definition.type == "many2one":
            broken[name] = "#corrupt"
        elif name in ("name", "default_code", "email"):
            broken[name] = {"corrupt": True}
    return broken
