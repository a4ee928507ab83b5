"""Square inventory in the sandbox: IN_STOCK counts per variation and location, physical counts and adjustments."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from canalis.sandbox.emulators.square.catalog import CatalogIndex
from canalis.sandbox.emulators.square.wire import (
    SYSTEM,
    format_quantity,
    invalid,
    new_id,
    parse_time,
    quantity_text,
    stamp_after,
)
from canalis.sandbox.objectstore import ObjectStore

OBJECT_TYPE = "inventory_counts"
MAX_CHANGES = 100
COUNTS_DEFAULT_LIMIT = 1000
COUNTS_MAX_LIMIT = 1000
TRACKED_STATE = "IN_STOCK"
STATES = frozenset(
    {
        "CUSTOM",
        "IN_STOCK",
        "SOLD",
        "RETURNED_BY_CUSTOMER",
        "RESERVED_FOR_SALE",
        "SOLD_ONLINE",
        "ORDERED_FROM_VENDOR",
        "RECEIVED_FROM_VENDOR",
        "IN_TRANSIT_TO",
        "NONE",
        "WASTE",
        "UNLINKED_RETURN",
        "COMPOSED",
        "DECOMPOSED",
        "SUPPORTED_BY_NEWER_VERSION",
        "IN_TRANSIT",
    }
)


def count_id(variation_id: str, location_id: str) -> str:
    """The store id of an IN_STOCK count."""
    return f"{variation_id}:{location_id}"


@dataclass(frozen=True)
class Delta:
    """One validated change: set (physical count) or add to (adjustment) the IN_STOCK count."""

    variation_id: str
    location_id: str
    quantity: Decimal
    absolute: bool
    echo: dict[str, Any]


class InventoryWriter:
    """Validates a whole batch of inventory changes, then applies them in order."""

    def __init__(self, store: ObjectStore, index: CatalogIndex) -> None:
        self.store = store
        self.index = index

    def apply(self, changes: Any, *, ignore_unchanged: bool = True) -> dict[str, Any]:
        """Apply changes all-or-nothing; the answer lists the changes made and the counts they touched."""
        if not isinstance(changes, list) or not changes:
            raise invalid("ARRAY_EMPTY", "At least one change is required.", "changes")
        if len(changes) > MAX_CHANGES:
            raise invalid("ARRAY_LENGTH_TOO_LONG", f"At most {MAX_CHANGES} changes may be sent at once.", "changes")
        deltas = [self._delta(change, f"changes[{position}]") for position, change in enumerate(changes)]
        touched: dict[str, dict[str, Any]] = {}
        made: list[dict[str, Any]] = []
        for delta in deltas:
            key = count_id(delta.variation_id, delta.location_id)
            current = touched.get(key) or self.store.get(SYSTEM, OBJECT_TYPE, key)
            before = Decimal(current["quantity"]) if current else Decimal(0)
            after = delta.quantity if delta.absolute else before + delta.quantity
            made.append(delta.echo)
            if current is not None and after == before and ignore_unchanged:
                touched.setdefault(key, current)
                continue
            previous = self.store.get_object(SYSTEM, OBJECT_TYPE, key)
            stamp = stamp_after(previous.updated_at if previous else None)
            count = {
                "catalog_object_id": delta.variation_id,
                "catalog_object_type": "ITEM_VARIATION",
                "state": TRACKED_STATE,
                "location_id": delta.location_id,
                "quantity": format_quantity(after),
                "calculated_at": stamp,
            }
            self.store.put(SYSTEM, OBJECT_TYPE, key, count, updated_at=stamp)
            touched[key] = count
        return {"counts": list(touched.values()), "changes": made}

    def _delta(self, change: Any, where: str) -> Delta:
        if not isinstance(change, dict):
            raise invalid("EXPECTED_OBJECT", "Expected an inventory change.", where)
        kind = change.get("type")
        if kind == "PHYSICAL_COUNT":
            data, field = change.get("physical_count"), "physical_count"
        elif kind == "ADJUSTMENT":
            data, field = change.get("adjustment"), "adjustment"
        elif kind == "TRANSFER":
            raise invalid("INVALID_VALUE", "The sandbox does not emulate TRANSFER changes.", f"{where}.type")
        else:
            raise invalid("INVALID_ENUM_VALUE", f"`{kind}` is not a valid InventoryChangeType.", f"{where}.type")
        where = f"{where}.{field}"
        if not isinstance(data, dict):
            raise invalid("MISSING_REQUIRED_PARAMETER", f"`{field}` is required for a {kind} change.", where)
        variation_id = self._variation(data.get("catalog_object_id"), f"{where}.catalog_object_id")
        location_id = self._location(data.get("location_id"), f"{where}.location_id")
        quantity = quantity_text(data.get("quantity"), f"{where}.quantity")
        occurred_at = parse_time(data.get("occurred_at"), f"{where}.occurred_at")
        echo = {
            **data,
            "id": new_id(26),
            "catalog_object_type": "ITEM_VARIATION",
            "occurred_at": occurred_at,
            "created_at": stamp_after(None),
        }
        if kind == "PHYSICAL_COUNT":
            if data.get("state") != TRACKED_STATE:
                raise invalid("INVALID_VALUE", "Physical counts are emulated for IN_STOCK only.", f"{where}.state")
            if quantity < 0:
                raise invalid("VALUE_TOO_LOW", "A physical count cannot be negative.", f"{where}.quantity")
            return Delta(variation_id, location_id, quantity, True, {"type": kind, field: echo})
        from_state, to_state = data.get("from_state"), data.get("to_state")
        for name, state in (("from_state", from_state), ("to_state", to_state)):
            if state not in STATES:
                raise invalid("INVALID_ENUM_VALUE", f"`{state}` is not a valid InventoryState.", f"{where}.{name}")
        if (from_state == TRACKED_STATE) == (to_state == TRACKED_STATE):
            raise invalid("INVALID_VALUE", "Adjustments must move stock into or out of IN_STOCK.", where)
        sign = Decimal(-1) if from_state == TRACKED_STATE else Decimal(1)
        return Delta(variation_id, location_id, sign * quantity, False, {"type": kind, field: echo})

    def _variation(self, value: Any, where: str) -> str:
        found = self.index.get(value) if isinstance(value, str) else None
        if found is None or found.get("type") != "ITEM_VARIATION":
            raise invalid("INVALID_VALUE", f"Catalog object `{value}` is not an item variation.", where)
        return value

    def _location(self, value: Any, where: str) -> str:
        if not isinstance(value, str) or self.store.get(SYSTEM, "locations", value) is None:
            raise invalid("INVALID_VALUE", f"Location `{value}` was not found.", where)
        return value
