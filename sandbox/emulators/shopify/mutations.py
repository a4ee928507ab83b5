"""Mutations: variant prices, inventory quantities, code discounts (bulk operations live in bulk.py)."""

from __future__ import annotations

import hashlib
import json
import re
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

from graphql import GraphQLError, GraphQLResolveInfo
from graphql.execution.values import get_directive_values

from canalis.sandbox.emulators.shopify.objects import SYSTEM, ObjectAccess, gid, now_z, parse_gid, seconds_z
from canalis.sandbox.emulators.shopify.resolvers import find_discount_by_code
from canalis.sandbox.objectstore import now_timestamp

MAX_QUANTITIES = 250
MAX_QUANTITY = 1_000_000_000
INVENTORY_REASONS = frozenset(
    {
        "correction",
        "cycle_count_available",
        "damaged",
        "movement_canceled",
        "movement_created",
        "movement_received",
        "movement_updated",
        "other",
        "promotion",
        "quality_control",
        "received",
        "reservation_created",
        "reservation_deleted",
        "reservation_updated",
        "restock",
        "safety_stock",
        "shrinkage",
    }
)
QUANTITY_NAMES = ("available", "on_hand")
_URI = re.compile(r"^[A-Za-z][A-Za-z0-9+.\-]*:.+$")
REQUIRED_SCOPES = {
    "productVariantsBulkUpdate": "write_products",
    "inventorySetQuantities": "write_inventory",
    "discountCodeBasicCreate": "write_discounts",
    "discountCodeBasicUpdate": "write_discounts",
    "discountCodeActivate": "write_discounts",
    "discountCodeDeactivate": "write_discounts",
    "customerEmailMarketingConsentUpdate": "write_customers",
    "bulkOperationRunQuery": None,
    "bulkOperationCancel": None,
}


def _access(info: GraphQLResolveInfo) -> ObjectAccess:
    return info.context["access"]


def check_scope(info: GraphQLResolveInfo) -> None:
    """Refuse a write with Shopify's ACCESS_DENIED error when the token is read-only."""
    scope = REQUIRED_SCOPES.get(info.field_name)
    if scope and info.context.get("read_only"):
        raise GraphQLError(
            f"Access denied for {info.field_name} field. Required access: `{scope}` access scope.",
            nodes=info.field_nodes,
            path=info.path.as_list(),
            extensions={
                "code": "ACCESS_DENIED",
                "documentation": "https://shopify.dev/api/usage/access-scopes",
                "requiredAccess": f"`{scope}` access scope.",
            },
        )


def idempotency_key(info: GraphQLResolveInfo) -> str | None:
    """The key of the `@idempotent` directive on this mutation field, if any."""
    directive = info.schema.get_directive("idempotent")
    if directive is None:
        return None
    values = get_directive_values(directive, info.field_nodes[0], info.variable_values)
    return str(values["key"]) if values else None


def idempotent(info: GraphQLResolveInfo, arguments: dict[str, Any], run: Any) -> Any:
    """Run a mutation once per idempotency key; a repeated key returns the stored answer."""
    key = idempotency_key(info)
    if key is None:
        return run()
    store = _access(info).store
    fingerprint = hashlib.sha256(
        json.dumps([info.field_name, arguments], sort_keys=True, default=str).encode()
    ).hexdigest()
    slot = f"shopify:idempotent:{hashlib.sha256(key.encode()).hexdigest()}"
    seen = store.kv_get(slot)
    if seen is not None:
        if seen["fingerprint"] != fingerprint:
            raise GraphQLError(
                "The idempotency key was already used with different arguments.",
                nodes=info.field_nodes,
                extensions={"code": "IDEMPOTENCY_KEY_PARAMETER_MISMATCH"},
            )
        return seen["result"]
    result = run()
    store.kv_put(slot, {"fingerprint": fingerprint, "result": _plain(result)})
    return result


def _plain(value: Any) -> Any:
    """A JSON-able copy of a resolver result (served objects lose their private keys)."""
    if isinstance(value, dict):
        return {key: _plain(item) for key, item in value.items() if key == "__typename" or not key.startswith("__")}
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _error(field: list[Any], message: str, code: str | None) -> dict[str, Any]:
    return {"field": [str(part) for part in field], "message": message, "code": code}


def _money(value: Any) -> str:
    """A decimal amount in Shopify's money form, e.g. 19.9 -> "19.90"."""
    return str(Decimal(str(value)).quantize(Decimal("0.01")))


# --- productVariantsBulkUpdate ---------------------------------------------------------------------------------


def product_variants_bulk_update(
    _root: Any,
    info: GraphQLResolveInfo,
    productId: str,
    variants: list[dict[str, Any]],
    allowPartialUpdates: bool = False,
) -> dict[str, Any]:
    """Update prices (and barcodes) of variants of one product."""
    check_scope(info)
    access = _access(info)
    product = access.get("products", productId)
    if product is None:
        error = _error(["productId"], "Product does not exist", "PRODUCT_DOES_NOT_EXIST")
        return {"product": None, "productVariants": None, "userErrors": [error]}
    known = {ref["id"] for ref in (product.get("variants") or {}).get("nodes") or []}
    errors: list[dict[str, Any]] = []
    valid: list[dict[str, Any]] = []
    for index, update in enumerate(variants):
        where = ["variants", index]
        if not update.get("id"):
            errors.append(
                _error([*where, "id"], "Product variant is missing ID attribute", "PRODUCT_VARIANT_ID_MISSING")
            )
            continue
        if update["id"] not in known:
            errors.append(_error([*where, "id"], "Product variant does not exist", "PRODUCT_VARIANT_DOES_NOT_EXIST"))
            continue
        bad = False
        for name in ("price", "compareAtPrice"):
            if update.get(name) is not None and Decimal(update[name]) < 0:
                label = "Price" if name == "price" else "Compare at price"
                message = f"{label} must be greater than or equal to 0"
                errors.append(_error([*where, name], message, "GREATER_THAN_OR_EQUAL_TO"))
                bad = True
        if not bad:
            valid.append(update)
    if errors and not allowPartialUpdates:
        return {"product": product, "productVariants": None, "userErrors": errors}
    stamp = now_timestamp()
    saved: list[dict[str, Any]] = []
    changed_any = False
    for update in valid:
        variant = access.get("productVariants", update["id"])
        assert variant is not None
        changed = False
        for name in ("price", "compareAtPrice", "barcode"):
            if name not in update:
                continue
            value = update[name]
            new = _money(value) if value is not None and name != "barcode" else value
            if variant.get(name) != new:
                variant[name] = new
                changed = True
        if changed:
            variant["updatedAt"] = seconds_z(stamp)
            access.put("productVariants", variant, updated_at=stamp)
            changed_any = True
        saved.append(variant)
    if changed_any:
        product["updatedAt"] = seconds_z(stamp)
        access.put("products", product, updated_at=stamp)
    return {"product": product, "productVariants": saved, "userErrors": errors}


# --- inventorySetQuantities -----------------------------------------------------------------------------------


def inventory_set_quantities(_root: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> Any:
    """Set available or on-hand quantities (all or nothing), once per idempotency key."""
    check_scope(info)
    version = info.context["version"]
    if version >= "2026-04" and idempotency_key(info) is None:
        raise GraphQLError(
            "The @idempotent directive is required for this mutation.",
            nodes=info.field_nodes,
            extensions={"code": "BAD_REQUEST"},
        )
    quantities = input.get("quantities") or []
    if len(quantities) > MAX_QUANTITIES:
        raise GraphQLError(
            f"The input array size of {len(quantities)} is greater than the maximum allowed of {MAX_QUANTITIES}.",
            nodes=info.field_nodes,
            path=["inventorySetQuantities", "input", "quantities"],
            extensions={"code": "MAX_INPUT_SIZE_EXCEEDED"},
        )
    return idempotent(info, {"input": input}, lambda: _set_quantities(info, input, version))


def _set_quantities(info: GraphQLResolveInfo, data: dict[str, Any], version: str) -> dict[str, Any]:
    access = _access(info)
    errors: list[dict[str, Any]] = []
    name = data["name"]
    if name not in QUANTITY_NAMES:
        errors.append(
            _error(["input", "name"], "The quantity name must be either 'available' or 'on_hand'.", "INVALID_NAME")
        )
    if data["reason"] not in INVENTORY_REASONS:
        errors.append(_error(["input", "reason"], "The specified reason is invalid.", "INVALID_REASON"))
    uri = data.get("referenceDocumentUri")
    if uri is not None and not _URI.match(uri):
        errors.append(
            _error(
                ["input", "referenceDocumentUri"],
                "The reference document URI is invalid.",
                "INVALID_REFERENCE_DOCUMENT",
            )
        )
    ignore_compare = bool(data.get("ignoreCompareQuantity"))
    levels: list[tuple[dict[str, Any], dict[str, Any]]] = []
    seen: set[tuple[str, str]] = set()
    for index, quantity in enumerate(data.get("quantities") or []):
        where = ["input", "quantities", index]
        item, location = quantity["inventoryItemId"], quantity["locationId"]
        if access.inventory_item(item) is None:
            errors.append(
                _error(
                    [*where, "inventoryItemId"],
                    "The specified inventory item could not be found.",
                    "INVALID_INVENTORY_ITEM",
                )
            )
            continue
        if access.get("locations", location) is None:
            errors.append(
                _error([*where, "locationId"], "The specified location could not be found.", "INVALID_LOCATION")
            )
            continue
        if (item, location) in seen:
            message = "The combination of inventoryItemId and locationId must be unique."
            errors.append(_error(where, message, "NO_DUPLICATE_INVENTORY_ITEM_ID_GROUP_ID_PAIR"))
            continue
        seen.add((item, location))
        level = access.level_at(item, location)
        if level is None:
            message = "The specified inventory item is not stocked at the location."
            errors.append(_error([*where, "locationId"], message, "ITEM_NOT_STOCKED_AT_LOCATION"))
            continue
        target = int(quantity["quantity"])
        if target > MAX_QUANTITY:
            errors.append(
                _error(
                    [*where, "quantity"],
                    "The quantity can't be higher than 1,000,000,000.",
                    "INVALID_QUANTITY_TOO_HIGH",
                )
            )
            continue
        if name == "on_hand" and target < 0:
            errors.append(_error([*where, "quantity"], "The quantity can't be negative.", "INVALID_QUANTITY_NEGATIVE"))
            continue
        current = _held(level).get(name, 0)
        stale = _compare_error(quantity, current, ignore_compare, version, where)
        if stale is not None:
            errors.append(stale)
            continue
        levels.append((level, quantity))
    if errors:
        return {"inventoryAdjustmentGroup": None, "userErrors": errors}
    stamp = now_timestamp()
    changes: list[dict[str, Any]] = []
    for level, quantity in levels:
        changes.extend(_apply_quantity(access, level, name, int(quantity["quantity"]), stamp))
    if not changes:
        return {"inventoryAdjustmentGroup": None, "userErrors": []}
    group = {
        "__typename": "InventoryAdjustmentGroup",
        "id": gid("InventoryAdjustmentGroup", access.store.next_numeric_id(SYSTEM, "inventoryAdjustmentGroups")),
        "createdAt": seconds_z(stamp),
        "reason": data["reason"],
        "referenceDocumentUri": uri,
        "changes": changes,
    }
    return {"inventoryAdjustmentGroup": group, "userErrors": []}


def _compare_error(
    quantity: dict[str, Any], current: int, ignore_compare: bool, version: str, where: list[Any]
) -> dict[str, Any] | None:
    """The compare-and-set error of one quantity, by API version; None when it may be applied."""
    if "changeFromQuantity" in quantity:
        expected = quantity["changeFromQuantity"]
        if expected is not None and int(expected) != current:
            message = "The specified compare quantity does not match the current quantity."
            return _error([*where, "changeFromQuantity"], message, "CHANGE_FROM_QUANTITY_STALE")
        return None
    if version >= "2026-04":
        message = "changeFromQuantity is required: pass the current quantity, or null to skip the check."
        return _error([*where, "changeFromQuantity"], message, None)
    if ignore_compare:
        return None
    if quantity.get("compareQuantity") is None:
        message = "The compareQuantity argument must be given to each quantity or ignored using ignoreCompareQuantity."
        return _error([*where, "compareQuantity"], message, "COMPARE_QUANTITY_REQUIRED")
    if int(quantity["compareQuantity"]) != current:
        message = "The specified compare quantity does not match the current quantity."
        return _error([*where, "compareQuantity"], message, "COMPARE_QUANTITY_STALE")
    return None


def _held(level: dict[str, Any]) -> dict[str, int]:
    return {entry["name"]: int(entry["quantity"]) for entry in level.get("quantities") or []}


def _apply_quantity(
    access: ObjectAccess, level: dict[str, Any], name: str, target: int, stamp: str
) -> list[dict[str, Any]]:
    """Set one quantity of a level (the other of available/on_hand moves by the same delta)."""
    held = _held(level)
    delta = target - held.get(name, 0)
    if delta == 0:
        return []
    other = "on_hand" if name == "available" else "available"
    held[name] = target
    held[other] = held.get(other, 0) + delta
    level["quantities"] = [{"name": key, "quantity": value} for key, value in held.items()]
    level["updatedAt"] = seconds_z(stamp)
    access.put("inventoryLevels", level, updated_at=stamp)
    _refresh_variant_quantity(access, level["item"]["id"])
    refs = {"item": {"id": level["item"]["id"]}, "location": {"id": level["location"]["id"]}}
    return [
        {"name": name, "delta": delta, "quantityAfterChange": target, **refs},
        {"name": other, "delta": delta, "quantityAfterChange": held[other], **refs},
    ]


def _refresh_variant_quantity(access: ObjectAccess, item_id: str) -> None:
    """Keep the variant's inventoryQuantity (the sum of available) in step, without touching its updatedAt."""
    variant_id = access.indexes().variant_of_item.get(item_id)
    stored = access.store.get_object(SYSTEM, "productVariants", variant_id) if variant_id else None
    if stored is None:
        return
    total = 0
    for level_id in access.indexes().levels_by_item.get(item_id, []):
        level = access.store.get(SYSTEM, "inventoryLevels", level_id) or {}
        total += _held(level).get("available", 0)
    payload = dict(stored.payload)
    payload["inventoryQuantity"] = total
    access.store.put(SYSTEM, "productVariants", stored.object_id, payload, updated_at=stored.updated_at)


def adjustment_changes(
    group: dict[str, Any],
    _info: GraphQLResolveInfo,
    inventoryItemIds: list[str] | None = None,
    locationIds: list[str] | None = None,
    quantityNames: list[str] | None = None,
) -> list[dict[str, Any]]:
    """The changes of an adjustment group, filtered like Shopify's `changes` arguments."""
    found = []
    for change in group.get("changes") or []:
        if inventoryItemIds is not None and change["item"]["id"] not in inventoryItemIds:
            continue
        if locationIds is not None and change["location"]["id"] not in locationIds:
            continue
        if quantityNames is not None and change["name"] not in quantityNames:
            continue
        found.append(change)
    return found


# --- code discounts -------------------------------------------------------------------------------------------


def _parse_time(value: str | None) -> datetime | None:
    if value is None:
        return None
    return datetime.fromisoformat(value.replace("Z", "+00:00")).astimezone(UTC)


def _status(starts_at: str | None, ends_at: str | None) -> str:
    now = datetime.now(UTC)
    start, end = _parse_time(starts_at), _parse_time(ends_at)
    if end is not None and end <= now:
        return "EXPIRED"
    if start is not None and start > now:
        return "SCHEDULED"
    return "ACTIVE"


def _value(data: dict[str, Any], where: list[str]) -> tuple[dict[str, Any] | None, list[dict[str, Any]]]:
    """The stored customerGets.value from the input, or errors."""
    value = data.get("value") or {}
    percentage, amount = value.get("percentage"), value.get("discountAmount")
    if (percentage is None) == (amount is None):
        message = "Exactly one of percentage or discountAmount must be given."
        return None, [_error([*where, "value"], message, "INVALID")]
    if percentage is not None:
        if not 0 < float(percentage) <= 1:
            message = "Value must be between 0.0 and 1.0"
            return None, [_error([*where, "value", "percentage"], message, "VALUE_OUTSIDE_RANGE")]
        return {"__typename": "DiscountPercentage", "percentage": float(percentage)}, []
    figure = Decimal(str(amount.get("amount") or "0"))
    if figure <= 0:
        message = "Value must be greater than 0"
        return None, [_error([*where, "value", "discountAmount", "amount"], message, "GREATER_THAN")]
    currency = "EUR"
    stored = {"amount": _money(figure), "currencyCode": currency}
    each = bool(amount.get("appliesOnEachItem"))
    return {"__typename": "DiscountAmount", "amount": stored, "appliesOnEachItem": each}, []


def _discount_errors(
    access: ObjectAccess, data: dict[str, Any], existing: dict[str, Any] | None
) -> tuple[list[dict[str, Any]], dict[str, Any] | None]:
    """Validation errors of a DiscountCodeBasicInput, and the parsed value when one was given."""
    root = "basicCodeDiscount"
    errors: list[dict[str, Any]] = []
    creating = existing is None
    for name in ("title", "code", "startsAt"):
        if (creating or name in data) and not (data.get(name) or "").strip():
            errors.append(_error([root, name], f"{name[0].upper()}{name[1:]} can't be blank", "BLANK"))
    if creating and data.get("customerGets") is None:
        errors.append(_error([root, "customerGets"], "Customer gets must be provided", "MISSING_ARGUMENT"))
    if creating and data.get("context") is None and data.get("customerSelection") is None:
        errors.append(_error([root, "context"], "Context must be provided", "MISSING_ARGUMENT"))
    code = (data.get("code") or "").strip()
    if len(code) > 255:
        errors.append(_error([root, "code"], "Code is too long (maximum is 255 characters)", "TOO_LONG"))
    if code:
        holder = find_discount_by_code(access, code)
        if holder is not None and (existing is None or holder != existing["id"]):
            errors.append(_error([root, "code"], "Code must be unique. Please try a different code.", "TAKEN"))
    current = (existing or {}).get("codeDiscount") or {}
    starts = data.get("startsAt", current.get("startsAt"))
    ends = data.get("endsAt", current.get("endsAt"))
    if starts and ends and _parse_time(ends) <= _parse_time(starts):  # type: ignore[operator]
        errors.append(_error([root, "endsAt"], "Ends at needs to be after starts_at", "INVALID"))
    value = None
    if data.get("customerGets") is not None and (creating or "value" in data["customerGets"]):
        value, value_errors = _value(data["customerGets"], [root, "customerGets"])
        errors.extend(value_errors)
    return errors, value


def discount_code_basic_create(_root: Any, info: GraphQLResolveInfo, basicCodeDiscount: dict[str, Any]) -> Any:
    """Create an amount-off code discount."""
    check_scope(info)
    return idempotent(info, {"basicCodeDiscount": basicCodeDiscount}, lambda: _create(info, basicCodeDiscount))


def _create(info: GraphQLResolveInfo, data: dict[str, Any]) -> dict[str, Any]:
    access = _access(info)
    errors, value = _discount_errors(access, data, None)
    if errors:
        return {"codeDiscountNode": None, "userErrors": errors}
    stamp = now_timestamp()
    number = access.store.next_numeric_id(SYSTEM, "discountCodes")
    node_id = gid("DiscountCodeNode", number)
    starts, ends = _z(data["startsAt"]), _z(data.get("endsAt"))
    payload = {
        "id": node_id,
        "codeDiscount": {
            "__typename": "DiscountCodeBasic",
            "title": data["title"].strip(),
            "status": _status(starts, ends),
            "startsAt": starts,
            "endsAt": ends,
            "appliesOncePerCustomer": bool(data.get("appliesOncePerCustomer")),
            "usageLimit": data.get("usageLimit"),
            "codes": {"nodes": [{"code": data["code"].strip()}]},
            "customerGets": {"value": value, "items": {"allItems": True}},
            "createdAt": seconds_z(stamp),
            "updatedAt": seconds_z(stamp),
        },
    }
    access.store.put(SYSTEM, "discountCodes", node_id, payload, updated_at=stamp)
    return {"codeDiscountNode": access.get("discountCodes", node_id), "userErrors": []}


def _z(value: str | None) -> str | None:
    moment = _parse_time(value)
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ") if moment else None


def discount_code_basic_update(
    _root: Any,
    info: GraphQLResolveInfo,
    id: str,
    basicCodeDiscount: dict[str, Any],
) -> Any:
    """Update an amount-off code discount; only the given fields change."""
    check_scope(info)
    return idempotent(
        info, {"id": id, "basicCodeDiscount": basicCodeDiscount}, lambda: _update(info, id, basicCodeDiscount)
    )


def _missing(node_id: str) -> dict[str, Any]:
    return {"codeDiscountNode": None, "userErrors": [_error(["id"], "Discount does not exist", "INVALID")]}


def _update(info: GraphQLResolveInfo, node_id: str, data: dict[str, Any]) -> dict[str, Any]:
    access = _access(info)
    existing = access.get("discountCodes", node_id) if parse_gid(node_id) else None
    if existing is None or (existing.get("codeDiscount") or {}).get("__typename") != "DiscountCodeBasic":
        return _missing(node_id)
    errors, value = _discount_errors(access, data, existing)
    if errors:
        return {"codeDiscountNode": None, "userErrors": errors}
    discount = dict(existing["codeDiscount"])
    if data.get("title") is not None:
        discount["title"] = data["title"].strip()
    if data.get("code") is not None:
        discount["codes"] = {"nodes": [{"code": data["code"].strip()}]}
    for name in ("startsAt", "endsAt"):
        if name in data:
            discount[name] = _z(data[name])
    for name in ("appliesOncePerCustomer", "usageLimit"):
        if name in data:
            discount[name] = data[name]
    if value is not None:
        discount["customerGets"] = {**(discount.get("customerGets") or {}), "value": value}
    discount["status"] = _status(discount.get("startsAt"), discount.get("endsAt"))
    return _save_discount(access, existing, discount)


def _save_discount(access: ObjectAccess, existing: dict[str, Any], discount: dict[str, Any]) -> dict[str, Any]:
    stamp = now_timestamp()
    discount["updatedAt"] = seconds_z(stamp)
    payload = {"id": existing["id"], "codeDiscount": discount}
    access.store.put(SYSTEM, "discountCodes", existing["id"], payload, updated_at=stamp)
    return {"codeDiscountNode": access.get("discountCodes", existing["id"]), "userErrors": []}


def discount_code_deactivate(_root: Any, info: GraphQLResolveInfo, id: str) -> dict[str, Any]:
    """End a code discount now."""
    check_scope(info)
    access = _access(info)
    existing = access.get("discountCodes", id) if parse_gid(id) else None
    if existing is None:
        return _missing(id)
    discount = dict(existing["codeDiscount"])
    if discount.get("status") == "EXPIRED":
        return {"codeDiscountNode": existing, "userErrors": []}
    discount["endsAt"], discount["status"] = now_z(), "EXPIRED"
    return _save_discount(access, existing, discount)


def discount_code_activate(_root: Any, info: GraphQLResolveInfo, id: str) -> dict[str, Any]:
    """Make an expired code discount usable again (it no longer ends)."""
    check_scope(info)
    access = _access(info)
    existing = access.get("discountCodes", id) if parse_gid(id) else None
    if existing is None:
        return _missing(id)
    discount = dict(existing["codeDiscount"])
    if discount.get("status") != "EXPIRED":
        return {"codeDiscountNode": existing, "userErrors": []}
    discount["endsAt"] = None
    discount["status"] = _status(discount.get("startsAt"), None)
    return _save_discount(access, existing, discount)


# --- customerEmailMarketingConsentUpdate ----------------------------------------------------------------------

SETTABLE_MARKETING_STATES = ("SUBSCRIBED", "UNSUBSCRIBED", "PENDING")
LOCKED_MARKETING_STATES = ("REDACTED", "INVALID")
CLOCK_SKEW_SECONDS = 60


def customer_email_marketing_consent_update(_root: Any, info: GraphQLResolveInfo, input: dict[str, Any]) -> Any:
    """Set a customer's email marketing state; updatedAt moves only when the state or opt-in level changes."""
    check_scope(info)
    access = _access(info)
    where = ["input", "emailMarketingConsent"]
    parsed = parse_gid(input["customerId"])
    customer = access.get("customers", input["customerId"]) if parsed and parsed.type == "Customer" else None
    if customer is None:
        return _consent_errors(None, _error(["input", "customerId"], "Customer not found", "INVALID"))
    wanted = input["emailMarketingConsent"]
    state = wanted["marketingState"]
    current = dict(customer.get("emailMarketingConsent") or {})
    if state not in SETTABLE_MARKETING_STATES:
        message = f"Marketing state must be one of {', '.join(SETTABLE_MARKETING_STATES)}"
        return _consent_errors(customer, _error([*where, "marketingState"], message, "INCLUSION"))
    if not customer.get("email"):
        message = "An email address is required to set email marketing consent"
        return _consent_errors(customer, _error(where, message, "INVALID"))
    if current.get("marketingState") in LOCKED_MARKETING_STATES:
        message = f"Email marketing consent can't be changed while the email is {current['marketingState']}"
        return _consent_errors(customer, _error([*where, "marketingState"], message, "INVALID"))
    updated_at = wanted.get("consentUpdatedAt")
    moment = _parse_time(updated_at) if updated_at else None
    if moment is not None and (moment - datetime.now(UTC)).total_seconds() > CLOCK_SKEW_SECONDS:
        message = "Consent updated at can't be in the future"
        return _consent_errors(customer, _error([*where, "consentUpdatedAt"], message, "INVALID"))
    level = wanted.get("marketingOptInLevel") or current.get("marketingOptInLevel")
    if state == "SUBSCRIBED" and level in (None, "UNKNOWN"):
        level = "SINGLE_OPT_IN"
    if (current.get("marketingState"), current.get("marketingOptInLevel")) == (state, level):
        return {"customer": customer, "userErrors": []}
    stamp = now_timestamp()
    customer["emailMarketingConsent"] = {
        "marketingState": state,
        "marketingOptInLevel": level,
        "consentUpdatedAt": _z(updated_at) if updated_at else seconds_z(stamp),
    }
    customer["updatedAt"] = seconds_z(stamp)
    access.put("customers", customer, updated_at=stamp)
    return {"customer": access.get("customers", customer["id"]), "userErrors": []}


def _consent_errors(customer: dict[str, Any] | None, error: dict[str, Any]) -> dict[str, Any]:
    return {"customer": customer, "userErrors": [error]}


MUTATION_RESOLVERS = {
    "productVariantsBulkUpdate": product_variants_bulk_update,
    "inventorySetQuantities": inventory_set_quantities,
    "discountCodeBasicCreate": discount_code_basic_create,
    "discountCodeBasicUpdate": discount_code_basic_update,
    "discountCodeActivate": discount_code_activate,
    "discountCodeDeactivate": discount_code_deactivate,
    "customerEmailMarketingConsentUpdate": customer_email_marketing_consent_update,
}
