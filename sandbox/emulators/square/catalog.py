"""Square's catalog in the sandbox: items with nested variations, discounts, pricing rules; search and upsert."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from canalis.sandbox.emulators.square.queries import StoreQueries
from canalis.sandbox.emulators.square.wire import SYSTEM, invalid, new_id, stamp_after, version_after
from canalis.sandbox.objectstore import ObjectStore

OBJECT_TYPE = "catalog"
CATALOG_TYPES = frozenset(
    {
        "ITEM",
        "IMAGE",
        "CATEGORY",
        "ITEM_VARIATION",
        "TAX",
        "DISCOUNT",
        "MODIFIER_LIST",
        "MODIFIER",
        "PRICING_RULE",
        "PRODUCT_SET",
        "TIME_PERIOD",
        "MEASUREMENT_UNIT",
        "SUBSCRIPTION_PLAN_VARIATION",
        "ITEM_OPTION",
        "ITEM_OPTION_VAL",
        "CUSTOM_ATTRIBUTE_DEFINITION",
        "QUICK_AMOUNTS_SETTINGS",
        "SUBSCRIPTION_PLAN",
        "AVAILABILITY_PERIOD",
    }
)
TOP_LEVEL_TYPES = CATALOG_TYPES - {"ITEM_VARIATION"}
DISCOUNT_TYPES = frozenset({"FIXED_PERCENTAGE", "FIXED_AMOUNT", "VARIABLE_PERCENTAGE", "VARIABLE_AMOUNT"})
MAX_OBJECTS_PER_BATCH = 1000
MAX_OBJECTS_PER_REQUEST = 10_000
MAX_RETRIEVE_IDS = 1000
SEARCH_DEFAULT_LIMIT = 100
SEARCH_MAX_LIMIT = 1000
SET_QUERY_MAX_VALUES = 250


def data_key(object_type: str) -> str:
    """The field holding a catalog object's type-specific data (ITEM -> item_data)."""
    return f"{object_type.lower()}_data"


def parse_types(value: Any, field: str) -> set[str]:
    """A list (or comma-separated text) of catalog object types; INVALID_ENUM_VALUE for unknown ones."""
    items = value.split(",") if isinstance(value, str) else value
    if not isinstance(items, list):
        raise invalid("EXPECTED_ARRAY", f"Expected an array for `{field}`.", field)
    types = {str(item).strip().upper() for item in items if str(item).strip()}
    unknown = sorted(types - CATALOG_TYPES)
    if unknown:
        raise invalid("INVALID_ENUM_VALUE", f"`{unknown[0]}` is not a valid CatalogObjectType.", field)
    return types


def expander(types: set[str], *, include_deleted: bool = False) -> Any:
    """A function showing one stored catalog row as the objects of the requested types.

    An ITEM row shows the item (variations nested) and, when ITEM_VARIATION is asked for, each variation
    on its own, as Square's list and search endpoints do.
    """

    def expand(payload: dict[str, Any]) -> list[dict[str, Any]]:
        shown: list[dict[str, Any]] = []
        if payload.get("is_deleted") and not include_deleted:
            return shown
        if payload.get("type") in types:
            shown.append(payload)
        if payload.get("type") == "ITEM" and "ITEM_VARIATION" in types:
            for variation in (payload.get("item_data") or {}).get("variations") or []:
                if include_deleted or not variation.get("is_deleted"):
                    shown.append(variation)
        return shown

    return expand


def attribute(obj: dict[str, Any], name: str) -> Any:
    """A searchable attribute of a catalog object (`name`, `sku`, `item_id`, ... inside its data)."""
    data = obj.get(data_key(str(obj.get("type", "")))) or {}
    return data.get(name, obj.get(name))


def query_matcher(query: Any) -> Any:
    """A predicate for Square's catalog query filters: exact, set, prefix and text queries."""
    if query is None:
        return lambda obj: True
    if not isinstance(query, dict) or len(query) != 1:
        raise invalid("INVALID_VALUE", "Exactly one query filter must be set.", "query")
    kind, spec = next(iter(query.items()))
    if not isinstance(spec, dict):
        raise invalid("EXPECTED_OBJECT", f"Expected an object for `query.{kind}`.", f"query.{kind}")
    if kind == "exact_query":
        name, wanted = spec.get("attribute_name"), str(spec.get("attribute_value", "")).lower()
        return lambda obj: wanted in str(attribute(obj, name) or "").lower()
    if kind == "set_query":
        name, values = spec.get("attribute_name"), spec.get("attribute_values") or []
        if len(values) > SET_QUERY_MAX_VALUES:
            raise invalid(
                "ARRAY_LENGTH_TOO_LONG",
                f"At most {SET_QUERY_MAX_VALUES} values may be searched.",
                "query.set_query.attribute_values",
            )
        wanted_set = {str(value).lower() for value in values}
        return lambda obj: str(attribute(obj, name) or "").lower() in wanted_set
    if kind == "prefix_query":
        name, prefix = spec.get("attribute_name"), str(spec.get("attribute_prefix", "")).lower()
        return lambda obj: str(attribute(obj, name) or "").lower().startswith(prefix)
    if kind == "text_query":
        keywords = [str(word).lower() for word in spec.get("keywords") or []]

        def matches(obj: dict[str, Any]) -> bool:
            text = " ".join(str(attribute(obj, name) or "") for name in ("name", "sku", "description")).lower()
            return all(word in text for word in keywords)

        return matches
    raise invalid("INVALID_VALUE", f"The sandbox does not emulate `{kind}`.", f"query.{kind}")


@dataclass
class CatalogIndex:
    """Every catalog object by id, with the row that holds it (variations live inside their item's row)."""

    rows: dict[str, dict[str, Any]] = field(default_factory=dict)
    row_of: dict[str, str] = field(default_factory=dict)

    @classmethod
    def load(cls, queries: StoreQueries) -> CatalogIndex:
        from canalis.sandbox.emulators.square.queries import Filter, Ordering

        index = cls()
        for _, payload in queries.rows(OBJECT_TYPE, Filter(), Ordering(), None):
            index.rows[payload["id"]] = payload
            index.row_of[payload["id"]] = payload["id"]
            for variation in (payload.get("item_data") or {}).get("variations") or []:
                index.row_of[variation["id"]] = payload["id"]
        return index

    def get(self, object_id: str) -> dict[str, Any] | None:
        """The current object with this id (a variation is found inside its item)."""
        row_id = self.row_of.get(object_id)
        if row_id is None:
            return None
        row = self.rows[row_id]
        if row_id == object_id:
            return row
        return next(v for v in row["item_data"]["variations"] if v["id"] == object_id)

    def related(self, obj: dict[str, Any]) -> list[dict[str, Any]]:
        """Objects an object refers to: a variation's item, a pricing rule's discount."""
        refs = [attribute(obj, "item_id"), attribute(obj, "discount_id")]
        return [found for ref in refs if isinstance(ref, str) and (found := self.get(ref)) is not None]


@dataclass
class UpsertOutcome:
    """What a successful batch wrote."""

    objects: list[dict[str, Any]]
    id_mappings: list[dict[str, str]]


class CatalogWriter:
    """Applies batch-upsert batches: each all-or-nothing, versions checked, temporary `#` ids replaced."""

    def __init__(self, store: ObjectStore, index: CatalogIndex) -> None:
        self.store = store
        self.index = index

    def upsert_batch(self, objects: list[Any], where: str) -> UpsertOutcome:
        """Validate every object of a batch, then store them all; raises SquareError and stores nothing on error."""
        if not isinstance(objects, list) or not objects:
            raise invalid("ARRAY_EMPTY", "A batch must hold at least one object.", f"{where}.objects")
        if len(objects) > MAX_OBJECTS_PER_BATCH:
            raise invalid(
                "ARRAY_LENGTH_TOO_LONG",
                f"A batch may hold at most {MAX_OBJECTS_PER_BATCH} objects.",
                f"{where}.objects",
            )
        temp_ids: dict[str, str] = {}
        for position, obj in enumerate(objects):
            self._check_object(obj, f"{where}.objects[{position}]", temp_ids)
            for nested in _nested_variations(obj):
                self._check_object(nested, f"{where}.objects[{position}].item_data.variations", temp_ids)
        for position, obj in enumerate(objects):
            self._check_references(obj, f"{where}.objects[{position}]", temp_ids)
        ordered = sorted(objects, key=lambda obj: obj["type"] == "ITEM_VARIATION")  # items before their variations
        written = [self._write(_with_ids(obj, temp_ids)) for obj in ordered]
        mappings = [{"client_object_id": temp, "object_id": real} for temp, real in temp_ids.items()]
        return UpsertOutcome(written, mappings)

    def _check_object(self, obj: Any, where: str, temp_ids: dict[str, str]) -> None:
        if not isinstance(obj, dict):
            raise invalid("EXPECTED_OBJECT", "Expected a catalog object.", where)
        kind, object_id = obj.get("type"), obj.get("id")
        if kind not in CATALOG_TYPES:
            raise invalid("INVALID_ENUM_VALUE", f"`{kind}` is not a valid CatalogObjectType.", f"{where}.type")
        if not isinstance(object_id, str) or not object_id:
            raise invalid("MISSING_REQUIRED_PARAMETER", "Every object needs an `id`.", f"{where}.id")
        if obj.get("is_deleted"):
            raise invalid("INVALID_VALUE", "`is_deleted` must not be set to true on upsert.", f"{where}.is_deleted")
        if object_id.startswith("#"):
            if object_id in temp_ids:
                raise invalid("INVALID_VALUE", f"Duplicate client object id `{object_id}`.", f"{where}.id")
            temp_ids[object_id] = new_id()
        else:
            current = self.index.get(object_id)
            if current is None:
                raise invalid("INVALID_VALUE", f"Object `{object_id}` was not found.", f"{where}.id")
            if current.get("type") != kind:
                raise invalid("INVALID_VALUE", f"Object `{object_id}` is a {current.get('type')}.", f"{where}.type")
            version = obj.get("version")
            if version is not None and version != current.get("version"):
                raise invalid(
                    "VERSION_MISMATCH",
                    f"Object version does not match latest database version (object `{object_id}`).",
                    f"{where}.version",
                )
        if kind == "DISCOUNT":
            _check_discount(obj.get("discount_data") or {}, f"{where}.discount_data")

    def _check_references(self, obj: dict[str, Any], where: str, temp_ids: dict[str, str]) -> None:
        if obj["type"] == "ITEM_VARIATION":
            item_id = attribute(obj, "item_id")
            parent = temp_ids.get(item_id) if isinstance(item_id, str) and item_id.startswith("#") else None
            if parent is None and (
                not isinstance(item_id, str) or (self.index.get(item_id) or {}).get("type") != "ITEM"
            ):
                raise invalid(
                    "INVALID_VALUE",
                    f"Item `{item_id}` of the variation was not found.",
                    f"{where}.item_variation_data.item_id",
                )
        if obj["type"] == "PRICING_RULE":
            discount_id = attribute(obj, "discount_id")
            if discount_id is not None and discount_id not in temp_ids and self.index.get(discount_id) is None:
                raise invalid(
                    "INVALID_VALUE",
                    f"Discount `{discount_id}` was not found.",
                    f"{where}.pricing_rule_data.discount_id",
                )

    def _write(self, obj: dict[str, Any]) -> dict[str, Any]:
        if obj["type"] == "ITEM_VARIATION":
            return self._write_variation(obj)
        current = self.index.get(obj["id"])
        stored = self._stamped(obj, current)
        if obj["type"] == "ITEM":
            variations = []
            for nested in stored.get("item_data", {}).get("variations") or []:
                nested = {
                    **nested,
                    "item_variation_data": {**nested.get("item_variation_data", {}), "item_id": obj["id"]},
                }
                variations.append(self._stamped(nested, self.index.get(nested["id"]), stamp=stored["updated_at"]))
            stored["item_data"] = {**stored.get("item_data", {}), "variations": variations}
        self._save(stored)
        return stored

    def _write_variation(self, obj: dict[str, Any]) -> dict[str, Any]:
        item_id = attribute(obj, "item_id")
        item = copy.deepcopy(self.index.rows[item_id])
        variations = item["item_data"].setdefault("variations", [])
        current = next((v for v in variations if v["id"] == obj["id"]), None)
        stored = self._stamped(obj, current, previous_stamp=item.get("updated_at"))
        if current is None:
            stored["item_variation_data"].setdefault("ordinal", len(variations))
            variations.append(stored)
        else:
            variations[variations.index(current)] = stored
        item["updated_at"] = stored["updated_at"]
        item["version"] = version_after(item.get("version"))
        self._save(item)
        return stored

    def _stamped(
        self,
        obj: dict[str, Any],
        current: dict[str, Any] | None,
        *,
        stamp: str | None = None,
        previous_stamp: str | None = None,
    ) -> dict[str, Any]:
        stored = copy.deepcopy(obj)
        stored["updated_at"] = stamp or stamp_after(
            max(filter(None, [previous_stamp, (current or {}).get("updated_at")]), default=None)
        )
        stored["created_at"] = (current or {}).get("created_at", stored["updated_at"])
        stored["version"] = version_after((current or {}).get("version"))
        stored["is_deleted"] = False
        stored.setdefault("present_at_all_locations", True)
        return stored

    def _save(self, row: dict[str, Any]) -> None:
        self.store.put(SYSTEM, OBJECT_TYPE, row["id"], row, updated_at=row["updated_at"])
        self.index.rows[row["id"]] = row
        self.index.row_of[row["id"]] = row["id"]
        for variation in (row.get("item_data") or {}).get("variations") or []:
            self.index.row_of[variation["id"]] = row["id"]


def _check_discount(data: dict[str, Any], where: str) -> None:
    kind = data.get("discount_type")
    if kind not in DISCOUNT_TYPES:
        raise invalid("INVALID_ENUM_VALUE", f"`{kind}` is not a valid CatalogDiscountType.", f"{where}.discount_type")
    if kind == "FIXED_PERCENTAGE":
        try:
            float(str(data.get("percentage")))
        except ValueError:
            raise invalid(
                "INVALID_VALUE", "A FIXED_PERCENTAGE discount needs a `percentage`.", f"{where}.percentage"
            ) from None
    if kind == "FIXED_AMOUNT":
        money = data.get("amount_money") or {}
        if not isinstance(money.get("amount"), int) or not money.get("currency"):
            raise invalid("INVALID_VALUE", "A FIXED_AMOUNT discount needs `amount_money`.", f"{where}.amount_money")


def _nested_variations(obj: Any) -> Iterable[dict[str, Any]]:
    if isinstance(obj, dict) and obj.get("type") == "ITEM":
        yield from (obj.get("item_data") or {}).get("variations") or []


def _with_ids(value: Any, temp_ids: dict[str, str]) -> Any:
    """A copy of a value with every temporary `#` id replaced by its server id."""
    if isinstance(value, dict):
        return {key: _with_ids(item, temp_ids) for key, item in value.items()}
    if isinstance(value, list):
        return [_with_ids(item, temp_ids) for item in value]
    if isinstance(value, str) and value in temp_ids:
        return temp_ids[value]
    return value
