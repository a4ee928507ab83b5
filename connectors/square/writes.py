"""Writes to Square: variation prices, IN_STOCK physical counts and discounts with their pricing rules.

Each writer takes canonical records, sends them in Square's batch sizes with idempotency keys derived from
the request content, and yields exactly one WriteResult per record. A rejected multi-record request is
retried record by record so one bad record does not fail the others.
"""

from __future__ import annotations

import copy
import hashlib
import json
from collections.abc import Iterable, Iterator
from datetime import UTC, date, datetime
from decimal import Decimal, InvalidOperation
from itertools import islice
from typing import Any

from canalis.connectors.square.client import (
    INVENTORY_MAX_CHANGES,
    UPSERT_MAX_OBJECTS_PER_BATCH,
    SquareClient,
)
from canalis.connectors.square.locations import LocationDirectory
from canalis.sdk import ApiError, WriteResult, parse_cursor_datetime

ZERO_DECIMAL_CURRENCIES = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "ISK", "JPY", "KMF", "KRW", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
PROMOTIONS_PER_REQUEST = 100
PROMOTION_STATUSES = frozenset({"active", "scheduled", "expired", "disabled"})


class RecordError(ValueError):
    """A record that cannot be written as it is."""


def idempotency_key(kind: str, content: Any) -> str:
    """A key derived from the request content: the same change always gets the same key."""
    text = json.dumps(content, sort_keys=True, separators=(",", ":"), default=str)
    return f"canalis-{kind}-{hashlib.sha256(text.encode()).hexdigest()[:48]}"


def record_key(record: dict[str, Any]) -> str:
    return str(record.get("key") or "")


def chunked(records: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(records)
    while chunk := list(islice(iterator, size)):
        yield chunk


def to_minor_units(amount: Any, currency: str) -> int:
    """An amount in the currency's smallest unit; RecordError when it is not a whole number of them."""
    try:
        value = Decimal(str(amount))
    except InvalidOperation:
        raise RecordError(f"amount {amount!r} is not a number") from None
    exponent = 0 if currency in ZERO_DECIMAL_CURRENCIES else 2
    minor = value.scaleb(exponent)
    if not minor.is_finite() or minor != minor.to_integral_value():
        raise RecordError(f"amount {amount} has more decimals than {currency} allows")
    return int(minor)


def currency_of(record: dict[str, Any]) -> str:
    currency = str(record.get("currency") or "").strip().upper()
    if len(currency) != 3 or not currency.isalpha():
        raise RecordError(f"currency {record.get('currency')!r} is not an ISO 4217 code")
    return currency


def failed(record: dict[str, Any], error: str, *, retryable: bool = False, vendor_id: str | None = None) -> WriteResult:
    return WriteResult(record_key(record), "failed", vendor_id=vendor_id, error=error, retryable=retryable)


def superseded(earlier: dict[str, Any], later: dict[str, Any], what: str) -> WriteResult:
    """The result of a record replaced by a later one for the same target in the same call."""
    return WriteResult(
        record_key(earlier), "skipped", error=f"superseded by record {record_key(later)!r} for the same {what}"
    )


def api_failure(record: dict[str, Any], error: ApiError) -> WriteResult:
    return failed(record, str(error), retryable=error.retryable or error.status is None)


def rfc3339(moment: datetime) -> str:
    moment = moment.astimezone(UTC)
    return moment.strftime("%Y-%m-%dT%H:%M:%S.") + f"{moment.microsecond // 1000:03d}Z"


# --- prices -------------------------------------------------------------------------------------------------


class PriceWriter:
    """Sets `price_money` of item variations found by SKU, sending the version read just before."""

    def __init__(self, client: SquareClient) -> None:
        self.client = client

    def write(self, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        for chunk in chunked(records, UPSERT_MAX_OBJECTS_PER_BATCH):
            yield from self._write_chunk(chunk)

    def _write_chunk(self, chunk: list[dict[str, Any]], *, alone: bool = False) -> Iterator[WriteResult]:
        wanted: dict[str, tuple[int, int, str]] = {}
        results: dict[int, WriteResult] = {}
        for position, record in enumerate(chunk):
            try:
                sku = str(record.get("sku") or "").strip()
                if not sku:
                    raise RecordError("sku is empty")
                currency = currency_of(record)
                amount = to_minor_units(record.get("amount"), currency)
                if amount < 0:
                    raise RecordError(f"amount {record.get('amount')} is negative")
            except RecordError as error:
                results[position] = failed(record, str(error))
                continue
            if sku in wanted:
                earlier = wanted[sku][0]
                results[earlier] = superseded(chunk[earlier], record, "SKU")
            wanted[sku] = (position, amount, currency)
        try:
            variations = self.client.variations_by_sku(list(wanted)) if wanted else {}
        except ApiError as error:
            for position, _, _ in wanted.values():
                results[position] = api_failure(chunk[position], error)
            wanted, variations = {}, {}
        objects: list[dict[str, Any]] = []
        sent: list[int] = []
        for sku, (position, amount, currency) in wanted.items():
            record, variation = chunk[position], variations.get(sku)
            if variation is None:
                results[position] = failed(record, f"no item variation with SKU {sku!r}")
                continue
            data = variation.get("item_variation_data") or {}
            price = data.get("price_money") or {}
            if price.get("currency") not in (None, currency):
                message = f"SKU {sku!r} is priced in {price.get('currency')}, not {currency}"
                results[position] = failed(record, message, vendor_id=variation["id"])
                continue
            if price.get("amount") == amount and data.get("pricing_type") == "FIXED_PRICING":
                results[position] = WriteResult(record_key(record), "unchanged", vendor_id=variation["id"])
                continue
            changed = copy.deepcopy(variation)
            changed["item_variation_data"]["pricing_type"] = "FIXED_PRICING"
            changed["item_variation_data"]["price_money"] = {"amount": amount, "currency": currency}
            objects.append(changed)
            sent.append(position)
        if objects:
            try:
                answer = self.client.upsert_catalog(idempotency_key("prices", objects), [objects])
            except ApiError as error:
                for position in sent:
                    if error.status == 400 and len(objects) > 1 and not alone:
                        results[position] = next(self._write_chunk([chunk[position]], alone=True))
                    else:
                        results[position] = api_failure(chunk[position], error)
            else:
                saved = {obj.get("id") for obj in answer.get("objects") or []}
                for position, obj in zip(sent, objects, strict=True):
                    results[position] = (
                        WriteResult(record_key(chunk[position]), "applied", vendor_id=obj["id"])
                        if obj["id"] in saved
                        else failed(
                            chunk[position], "Square did not return the variation it was sent", vendor_id=obj["id"]
                        )
                    )
        for position in range(len(chunk)):
            yield results[position]


# --- stock --------------------------------------------------------------------------------------------------


class StockWriter:
    """Sets IN_STOCK quantities with PHYSICAL_COUNT changes, 100 per call, skipping counts already right."""

    def __init__(self, client: SquareClient, directory: LocationDirectory) -> None:
        self.client = client
        self.directory = directory

    def write(self, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        for chunk in chunked(records, INVENTORY_MAX_CHANGES):
            yield from self._write_chunk(chunk)

    def _write_chunk(self, chunk: list[dict[str, Any]], *, alone: bool = False) -> Iterator[WriteResult]:
        results: dict[int, WriteResult] = {}
        wanted: dict[tuple[str, str], tuple[int, Decimal]] = {}
        for position, record in enumerate(chunk):
            try:
                sku = str(record.get("sku") or "").strip()
                if not sku:
                    raise RecordError("sku is empty")
                location_id = self.directory.id_for(record.get("location"))
                if location_id is None:
                    raise RecordError(f"location {record.get('location')!r} is not a Square location")
                quantity = _quantity(record.get("available"))
            except RecordError as error:
                results[position] = failed(record, str(error))
                continue
            key = (sku, location_id)
            if key in wanted:
                results[wanted[key][0]] = superseded(chunk[wanted[key][0]], record, "SKU and location")
            wanted[key] = (position, quantity)
        try:
            variations = self.client.variations_by_sku(sorted({sku for sku, _ in wanted})) if wanted else {}
            current = self._current_counts(variations, wanted)
        except ApiError as error:
            for position, _ in wanted.values():
                results[position] = api_failure(chunk[position], error)
            wanted, variations, current = {}, {}, {}
        changes: list[dict[str, Any]] = []
        sent: list[int] = []
        occurred_at = rfc3339(datetime.now(UTC))
        for (sku, location_id), (position, quantity) in wanted.items():
            record = chunk[position]
            variation = variations.get(sku)
            if variation is None:
                results[position] = failed(record, f"no item variation with SKU {sku!r}")
                continue
            if current.get((variation["id"], location_id)) == quantity:
                results[position] = WriteResult(record_key(record), "unchanged", vendor_id=variation["id"])
                continue
            count = {
                "reference_id": record_key(record)[:255] or None,
                "catalog_object_id": variation["id"],
                "location_id": location_id,
                "state": "IN_STOCK",
                "quantity": _quantity_text(quantity),
                "occurred_at": occurred_at,
            }
            changes.append(
                {"type": "PHYSICAL_COUNT", "physical_count": {k: v for k, v in count.items() if v is not None}}
            )
            sent.append(position)
        if changes:
            try:
                self.client.change_inventory(idempotency_key("stock", changes), changes)
            except ApiError as error:
                if error.status == 400 and len(changes) > 1 and not alone:
                    for position in sent:
                        results[position] = next(self._write_chunk([chunk[position]], alone=True))
                else:
                    for position in sent:
                        results[position] = api_failure(chunk[position], error)
            else:
                for position, change in zip(sent, changes, strict=True):
                    vendor_id = change["physical_count"]["catalog_object_id"]
                    results[position] = WriteResult(record_key(chunk[position]), "applied", vendor_id=vendor_id)
        for position in range(len(chunk)):
            yield results[position]

    def _current_counts(
        self, variations: dict[str, dict[str, Any]], wanted: dict[tuple[str, str], Any]
    ) -> dict[tuple[str, str], Decimal]:
        ids = sorted({v["id"] for v in variations.values()})
        locations = sorted({location for _, location in wanted})
        counts: dict[tuple[str, str], Decimal] = {}
        if not ids:
            return counts
        for page in self.client.count_pages(
            updated_after=None, location_ids=locations, catalog_object_ids=ids, states=["IN_STOCK"]
        ):
            for count in page.get("counts") or []:
                if count.get("state") == "IN_STOCK":
                    try:
                        counts[(count["catalog_object_id"], count["location_id"])] = Decimal(str(count["quantity"]))
                    except (KeyError, InvalidOperation):
                        continue
        return counts


def _quantity(value: Any) -> Decimal:
    try:
        quantity = Decimal(str(value))
    except InvalidOperation:
        raise RecordError(f"available {value!r} is not a number") from None
    if not quantity.is_finite() or quantity < 0:
        raise RecordError(f"available {value!r} must be zero or more")
    if quantity != quantity.quantize(Decimal("0.00001")):
        raise RecordError(f"available {value!r} has more than 5 decimals")
    return quantity


def _quantity_text(quantity: Decimal) -> str:
    text = format(quantity.normalize(), "f")
    return "0" if text in ("-0", "") else text


# --- promotions ---------------------------------------------------------------------------------------------


class PromotionWriter:
    """Creates or updates one DISCOUNT per code (its `name`) and the PRICING_RULE holding its dates."""

    def __init__(self, client: SquareClient) -> None:
        self.client = client

    def write(self, records: Iterable[dict[str, Any]]) -> Iterator[WriteResult]:
        for chunk in chunked(records, PROMOTIONS_PER_REQUEST):
            yield from self._write_chunk(chunk)

    def _write_chunk(self, chunk: list[dict[str, Any]], *, alone: bool = False) -> Iterator[WriteResult]:
        results: dict[int, WriteResult] = {}
        codes: dict[str, int] = {}
        for position, record in enumerate(chunk):
            code = str(record.get("code") or "").strip()
            if not code:
                results[position] = failed(record, "code is empty")
                continue
            if code in codes:
                results[codes[code]] = superseded(chunk[codes[code]], record, "code")
            codes[code] = position
        try:
            existing = self._discounts(list(codes)) if codes else {}
            rules = self._rules() if codes else {}
        except ApiError as error:
            for position in codes.values():
                results[position] = api_failure(chunk[position], error)
            codes, existing, rules = {}, {}, {}
        batches: list[list[dict[str, Any]]] = []
        sent: list[tuple[int, str, list[str]]] = []
        for code, position in codes.items():
            record = chunk[position]
            discount = existing.get(code)
            try:
                objects = _promotion_objects(record, code, discount, rules.get(discount["id"]) if discount else None)
            except RecordError as error:
                results[position] = failed(record, str(error))
                continue
            if not objects:
                results[position] = WriteResult(
                    record_key(record), "unchanged", vendor_id=discount["id"] if discount else None
                )
                continue
            batches.append(objects)
            object_ids = [str(obj.get("id")) for obj in objects]
            sent.append((position, discount["id"] if discount else f"#{code}", object_ids))
        if batches:
            try:
                answer = self.client.upsert_catalog(idempotency_key("promotions", batches), batches)
            except ApiError as error:
                if error.status == 400 and len(batches) > 1 and not alone:
                    for position, _, _ in sent:
                        results[position] = next(self._write_chunk([chunk[position]], alone=True))
                else:
                    for position, _, _ in sent:
                        results[position] = api_failure(chunk[position], error)
            else:
                mapped = {m.get("client_object_id"): m.get("object_id") for m in answer.get("id_mappings") or []}
                saved = {obj.get("id") for obj in answer.get("objects") or []}
                problems = "; ".join(str(e.get("detail")) for e in answer.get("errors") or []) or "not saved by Square"
                for position, discount_id, object_ids in sent:
                    real = mapped.get(discount_id, discount_id)
                    # a date change may send only the pricing rule: what was sent came back saved
                    stuck = any(mapped.get(object_id, object_id) in saved for object_id in object_ids)
                    results[position] = (
                        WriteResult(record_key(chunk[position]), "applied", vendor_id=real)
                        if stuck
                        else failed(chunk[position], problems)
                    )
        for position in range(len(chunk)):
            yield results[position]

    def _discounts(self, codes: list[str]) -> dict[str, dict[str, Any]]:
        found: dict[str, dict[str, Any]] = {}
        for start in range(0, len(codes), 250):
            query = {"set_query": {"attribute_name": "name", "attribute_values": codes[start : start + 250]}}
            for obj in self.client.catalog_search(["DISCOUNT"], query):
                name = (obj.get("discount_data") or {}).get("name")
                if name in codes and not obj.get("is_deleted"):
                    found.setdefault(name, obj)
        return found

    def _rules(self) -> dict[str, dict[str, Any]]:
        rules: dict[str, dict[str, Any]] = {}
        for page in self.client.catalog_pages(["PRICING_RULE"], begin_time=None):
            for rule in page.get("objects") or []:
                discount_id = (rule.get("pricing_rule_data") or {}).get("discount_id")
                if discount_id:
                    rules.setdefault(discount_id, rule)
        return rules


def _promotion_objects(
    record: dict[str, Any], code: str, discount: dict[str, Any] | None, rule: dict[str, Any] | None
) -> list[dict[str, Any]]:
    """The DISCOUNT and PRICING_RULE objects to upsert for a record; empty when Square already matches."""
    kind = record.get("discount_type")
    try:
        value = Decimal(str(record.get("discount_value")))
    except InvalidOperation:
        raise RecordError(f"discount_value {record.get('discount_value')!r} is not a number") from None
    if not value.is_finite() or value <= 0:
        raise RecordError(f"discount_value {record.get('discount_value')!r} must be positive")
    data: dict[str, Any] = {k: v for k, v in ((discount or {}).get("discount_data") or {}).items()}
    data["name"] = code
    if kind == "percentage":
        if value > 100:
            raise RecordError(f"percentage {value} is above 100")
        data["discount_type"] = "FIXED_PERCENTAGE"
        data["percentage"] = _quantity_text(value)
        data.pop("amount_money", None)
    elif kind == "fixed_amount":
        currency = currency_of(record)
        data["discount_type"] = "FIXED_AMOUNT"
        data["amount_money"] = {"amount": to_minor_units(value, currency), "currency": currency}
        data.pop("percentage", None)
    else:
        raise RecordError(f"discount_type {kind!r} is neither 'percentage' nor 'fixed_amount'")
    status = str(record.get("status") or "active").lower()
    if status not in PROMOTION_STATUSES:
        raise RecordError(f"status {record.get('status')!r} is not one of {', '.join(sorted(PROMOTION_STATUSES))}")
    starts, ends = _day(record.get("starts_at"), "starts_at"), _day(record.get("ends_at"), "ends_at")
    if status == "disabled":
        today = datetime.now(UTC).date()
        ends = min(ends, today) if ends else today
    objects: list[dict[str, Any]] = []
    discount_id = discount["id"] if discount else f"#{code}"
    if discount is None or not _same_discount(discount.get("discount_data") or {}, data):
        obj = {"type": "DISCOUNT", "id": discount_id, "present_at_all_locations": True, "discount_data": data}
        if discount is not None:
            obj["version"] = discount.get("version")
        objects.append(obj)
    if starts or ends or rule is not None:
        rule_data = dict((rule or {}).get("pricing_rule_data") or {})
        desired = {
            **rule_data,
            "name": str(record.get("name") or rule_data.get("name") or code),
            "discount_id": discount_id,
            "valid_from_date": starts.isoformat() if starts else None,
            "valid_until_date": ends.isoformat() if ends else None,
        }
        desired = {k: v for k, v in desired.items() if v is not None}
        if rule is None or desired != rule_data:
            obj = {"type": "PRICING_RULE", "id": rule["id"] if rule else f"#rule-{code}", "pricing_rule_data": desired}
            if rule is not None:
                obj["version"] = rule.get("version")
            objects.append(obj)
    return objects


def _same_discount(current: dict[str, Any], desired: dict[str, Any]) -> bool:
    if current.get("discount_type") != desired.get("discount_type") or current.get("name") != desired.get("name"):
        return False
    if desired["discount_type"] == "FIXED_PERCENTAGE":
        try:
            return Decimal(str(current.get("percentage"))) == Decimal(desired["percentage"])
        except InvalidOperation:
            return False
    return current.get("amount_money") == desired.get("amount_money")


def _day(value: Any, field: str) -> date | None:
    if value in (None, ""):
        return None
    if isinstance(value, datetime):
        return value.astimezone(UTC).date() if value.tzinfo else value.date()
    if isinstance(value, date):
        return value
    try:
        return parse_cursor_datetime(str(value)).date()
    except ValueError:
        raise RecordError(f"{field} {value!r} is not a date") from None
