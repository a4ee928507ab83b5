"""Shopify objects as the emulator serves them: stored payloads with their type name, metadata and indexes."""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from canalis.sandbox.objectstore import ObjectStore, StoredObject

SYSTEM = "shopify"
GID = re.compile(r"^gid://shopify/(?P<type>[A-Za-z]+)/(?P<number>\d+)(?:\?(?P<query>.*))?$")

# GraphQL type name -> object type in the store.
OBJECT_TYPES: dict[str, str] = {
    "Customer": "customers",
    "Order": "orders",
    "Product": "products",
    "ProductVariant": "productVariants",
    "InventoryLevel": "inventoryLevels",
    "Location": "locations",
    "DiscountCodeNode": "discountCodes",
}
TYPENAMES: dict[str, str] = {object_type: typename for typename, object_type in OBJECT_TYPES.items()}


@dataclass(frozen=True)
class Gid:
    """A parsed Shopify global id."""

    type: str
    number: int
    query: str | None = None


def parse_gid(value: Any) -> Gid | None:
    """The parts of a gid, or None when the text is not one."""
    match = GID.match(str(value or ""))
    if match is None:
        return None
    return Gid(match["type"], int(match["number"]), match["query"])


def gid(typename: str, number: int | str) -> str:
    """A global id."""
    return f"gid://shopify/{typename}/{number}"


def seconds_z(store_stamp: str) -> str:
    """The store's millisecond timestamp as Shopify's DateTime (to the second, with Z)."""
    return store_stamp[:19] + "Z"


def now_z() -> str:
    """The current time as a Shopify DateTime."""
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def served(stored: StoredObject, object_type: str) -> dict[str, Any]:
    """A stored object as the resolvers see it: its payload plus type name and store metadata."""
    payload = dict(stored.payload)
    payload["__typename"] = TYPENAMES[object_type]
    payload["__meta"] = {
        "object_id": stored.object_id,
        "seq": stored.seq,
        "created_at": stored.created_at,
        "updated_at": stored.updated_at,
    }
    return payload


@dataclass
class Indexes:
    """Inventory items by id, and inventory levels by location and by item (built from the stored objects)."""

    key: tuple[int, int]
    variant_of_item: dict[str, str] = field(default_factory=dict)
    levels_by_location: dict[str, list[str]] = field(default_factory=dict)
    levels_by_item: dict[str, list[str]] = field(default_factory=dict)
    item_order: list[str] = field(default_factory=list)


class ObjectAccess:
    """Reads (and writes) Shopify objects in the sandbox store, with a few cached indexes."""

    def __init__(self, store: ObjectStore) -> None:
        self.store = store
        self._indexes: Indexes | None = None
        self._lock = threading.Lock()

    def get(self, object_type: str, object_id: str) -> dict[str, Any] | None:
        """One served object, or None."""
        stored = self.store.get_object(SYSTEM, object_type, object_id)
        return served(stored, object_type) if stored else None

    def put(self, object_type: str, payload: dict[str, Any], *, updated_at: str | None = None) -> str:
        """Save a served object back (without its private keys); returns the store timestamp used."""
        clean = {key: value for key, value in payload.items() if not key.startswith("__")}
        meta = self.store.put(SYSTEM, object_type, clean["id"], clean, updated_at=updated_at)
        return str(meta["updated_at"])

    def indexes(self) -> Indexes:
        """Item and level indexes, rebuilt when variants or levels were added or removed."""
        key = (self.store.count(SYSTEM, "productVariants"), self.store.count(SYSTEM, "inventoryLevels"))
        with self._lock:
            if self._indexes is not None and self._indexes.key == key:
                return self._indexes
            built = Indexes(key=key)
            for variant in self.store.iter_all(SYSTEM, "productVariants"):
                item = (variant.payload.get("inventoryItem") or {}).get("id")
                if item:
                    built.variant_of_item[item] = variant.object_id
                    built.item_order.append(item)
            for level in self.store.iter_all(SYSTEM, "inventoryLevels"):
                location = (level.payload.get("location") or {}).get("id")
                item = (level.payload.get("item") or {}).get("id")
                built.levels_by_location.setdefault(location, []).append(level.object_id)
                built.levels_by_item.setdefault(item, []).append(level.object_id)
            self._indexes = built
            return built

    def inventory_item(self, item_id: str) -> dict[str, Any] | None:
        """An inventory item, served from the variant that holds it."""
        variant_id = self.indexes().variant_of_item.get(item_id)
        variant = self.get("productVariants", variant_id) if variant_id else None
        return item_of_variant(variant) if variant else None

    def level_at(self, item_id: str, location_id: str) -> dict[str, Any] | None:
        """The inventory level of an item at a location, or None when the item is not stocked there."""
        for level_id in self.indexes().levels_by_item.get(item_id, []):
            level = self.get("inventoryLevels", level_id)
            if level and (level.get("location") or {}).get("id") == location_id:
                return level
        return None

    def node(self, value: str) -> dict[str, Any] | None:
        """Any object by global id."""
        parsed = parse_gid(value)
        if parsed is None:
            return None
        if parsed.type in OBJECT_TYPES:
            return self.get(OBJECT_TYPES[parsed.type], value)
        if parsed.type == "InventoryItem":
            return self.inventory_item(value)
        if parsed.type == "DiscountNode":
            code_node = self.get("discountCodes", gid("DiscountCodeNode", parsed.number))
            return discount_node(code_node) if code_node else None
        return None


def item_of_variant(variant: dict[str, Any]) -> dict[str, Any]:
    """The InventoryItem of a variant, with the variant it belongs to."""
    item = dict(variant.get("inventoryItem") or {})
    item["__typename"] = "InventoryItem"
    item["__variant"] = variant
    item.setdefault("sku", variant.get("sku"))
    item.setdefault("tracked", True)
    item["createdAt"] = variant.get("createdAt")
    item["updatedAt"] = variant.get("updatedAt")
    return item


def discount_node(code_node: dict[str, Any]) -> dict[str, Any]:
    """The DiscountNode view of a code discount."""
    number = parse_gid(code_node["id"]).number  # type: ignore[union-attr]
    return {
        "__typename": "DiscountNode",
        "id": gid("DiscountNode", number),
        "discount": code_node.get("codeDiscount"),
        "__meta": code_node.get("__meta"),
    }
