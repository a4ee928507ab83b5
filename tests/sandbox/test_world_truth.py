"""Ground truth of the world: traps are different people, and injected inconsistencies are really in the payloads."""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterator
from datetime import date, datetime
from pathlib import Path

import pytest

from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.world import (
    INCONSISTENCY_KINDS,
    WorldSpec,
    generate_world,
    ground_truth_document,
    iter_identity_records,
    store_path,
)
from canalis.sandbox.world.catalog import STOCK_PLACES

Finding = tuple[str, str]


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    data_dir = tmp_path_factory.mktemp("world")
    generate_world(WorldSpec(seed=7, customers=400), data_dir)
    with ObjectStore(store_path(data_dir)) as store:
        yield store


@pytest.fixture(scope="module")
def clean_world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[ObjectStore]:
    data_dir = tmp_path_factory.mktemp("clean")
    generate_world(WorldSpec(seed=7, customers=400, inject_inconsistencies=False), data_dir)
    with ObjectStore(store_path(data_dir)) as store:
        yield store


def _all(store: ObjectStore, system: str, object_type: str) -> list[dict]:
    return [o.payload for o in store.iter_all(system, object_type)]


def find_catalog_inconsistencies(store: ObjectStore, today: date) -> set[Finding]:
    """An independent reading of the payloads, comparing every channel copy with Odoo."""
    found: set[Finding] = set()
    sku_of = {p["id"]: p["default_code"] for p in _all(store, "odoo", "product.product")}
    prices = {
        (i["pricelist_id"][1], sku_of[i["product_id"][0]]): i["fixed_price"]
        for i in _all(store, "odoo", "product.pricelist.item")
    }
    for variant in _all(store, "shopify", "productVariants"):
        if float(variant["price"]) != prices[("Public EUR", variant["sku"])]:
            found.add(("price_mismatch", variant["sku"]))
    for entry in _all(store, "salesforce", "PricebookEntry"):
        if entry["UnitPrice"] != prices[("Public EUR", entry["ProductCode"])]:
            found.add(("price_mismatch", entry["ProductCode"]))
    for product in _all(store, "hubspot", "products"):
        if float(product["properties"]["price"]) != prices[("Public EUR", product["properties"]["hs_sku"])]:
            found.add(("price_mismatch", product["properties"]["hs_sku"]))
    variation_sku = {}
    catalog = _all(store, "square", "catalog")
    for item in (o for o in catalog if o["type"] == "ITEM"):
        for variation in item["item_data"]["variations"]:
            data = variation["item_variation_data"]
            variation_sku[variation["id"]] = data["sku"]
            if data["price_money"]["amount"] != round(prices[("Store EUR", data["sku"])] * 100):
                found.add(("price_mismatch", data["sku"]))

    available = {
        (sku_of[q["product_id"][0]], q["location_id"][1]): q["quantity"] - q["reserved_quantity"]
        for q in _all(store, "odoo", "stock.quant")
    }
    for level in _all(store, "shopify", "inventoryLevels"):
        shown = next(q["quantity"] for q in level["quantities"] if q["name"] == "available")
        if shown > available[(level["item"]["sku"], "WH/Stock")]:
            found.add(("stock_oversell_risk", level["item"]["sku"]))
    odoo_location = {
        loc["id"]: next(p.odoo_name for p in STOCK_PLACES if p.name == loc["name"])
        for loc in _all(store, "square", "locations")
    }
    for count in _all(store, "square", "inventory_counts"):
        sku = variation_sku[count["catalog_object_id"]]
        if float(count["quantity"]) > available[(sku, odoo_location[count["location_id"]])]:
            found.add(("stock_oversell_risk", sku))

    rules = {r["program_id"][0]: r["code"] for r in _all(store, "odoo", "loyalty.rule")}
    rewards = {r["program_id"][0]: r for r in _all(store, "odoo", "loyalty.reward")}
    shopify_codes = {
        d["codeDiscount"]["codes"]["nodes"][0]["code"]: d["codeDiscount"]
        for d in _all(store, "shopify", "discountCodes")
    }
    square_discounts = {o["discount_data"]["name"]: o for o in catalog if o["type"] == "DISCOUNT"}
    square_rules = {
        o["pricing_rule_data"]["discount_id"]: o["pricing_rule_data"] for o in catalog if o["type"] == "PRICING_RULE"
    }
    for program in _all(store, "odoo", "loyalty.program"):
        code, reward = rules[program["id"]], rewards[program["id"]]
        active = date.fromisoformat(program["date_from"]) <= today <= date.fromisoformat(program["date_to"])
        expired = date.fromisoformat(program["date_to"]) < today
        percent = reward["discount_mode"] == "percent"
        if program["ecommerce_ok"]:
            copy = shopify_codes.get(code)
            if copy is None:
                if active:
                    found.add(("promo_missing", code))
            else:
                value = copy["customerGets"]["value"]
                shown = value["percentage"] * 100 if percent else float(value["amount"]["amount"])
                if abs(shown - reward["discount"]) > 1e-6:
                    found.add(("promo_value_mismatch", code))
                if expired and copy["status"] == "ACTIVE":
                    found.add(("promo_expired_but_active", code))
        if program["pos_ok"]:
            discount = square_discounts.get(code)
            if discount is None:
                if active:
                    found.add(("promo_missing", code))
            else:
                data = discount["discount_data"]
                shown = float(data["percentage"]) if percent else data["amount_money"]["amount"] / 100
                if abs(shown - reward["discount"]) > 1e-6:
                    found.add(("promo_value_mismatch", code))
                until = square_rules[discount["id"]]["valid_until_date"]
                if expired and (until is None or date.fromisoformat(until) > today):
                    found.add(("promo_expired_but_active", code))
    return found


def find_customer_inconsistencies(store: ObjectStore) -> set[Finding]:
    """Duplicates, birth-date conflicts, consent conflicts and complaints of subscribed people."""
    found: set[Finding] = set()
    per_source: dict[tuple[str, str], int] = defaultdict(int)
    births: dict[str, set[str]] = defaultdict(set)
    for record in iter_identity_records(store):
        if record["source"] != "mailbox":
            per_source[(record["source"], record["truth_person_id"])] += 1
        if record["birth_date"]:
            births[record["truth_person_id"]].add(record["birth_date"])
    found |= {("duplicate_in_channel", person) for (_, person), n in per_source.items() if n > 1}
    found |= {("customer_attribute_conflict", person) for person, dates in births.items() if len(dates) > 1}

    opted_out: set[str] = set()
    subscribed: set[str] = set()

    def each(system: str, object_type: str) -> Iterator[tuple[dict, str]]:
        for stored, person in store.iter_with_truth(system, object_type):
            if person:
                yield stored.payload, person

    for contact, person in each("salesforce", "Contact"):
        if contact["HasOptedOutOfEmail"]:
            opted_out.add(person)
    for contact, person in each("hubspot", "contacts"):
        if contact["properties"]["hs_email_optout"] == "true":
            opted_out.add(person)
    for contact, person in each("brevo", "contacts"):
        (opted_out if contact["emailBlacklisted"] else subscribed).add(person)
    for customer, person in each("square", "customers"):
        if customer["preferences"]["email_unsubscribed"]:
            opted_out.add(person)
    for customer, person in each("shopify", "customers"):
        state = (customer["emailMarketingConsent"] or {}).get("marketingState")
        if state == "SUBSCRIBED":
            subscribed.add(person)
        elif state == "UNSUBSCRIBED":
            opted_out.add(person)
    found |= {("consent_conflict", person) for person in opted_out & subscribed}
    open_complaints = {
        person for case, person in each("salesforce", "Case") if case["Type"] == "Complaint" and not case["IsClosed"]
    }
    open_complaints |= {
        person
        for ticket, person in each("hubspot", "tickets")
        if ticket["properties"]["hs_ticket_category"] == "COMPLAINT"
        and ticket["properties"]["hs_pipeline_stage"] != "4"
    }
    found |= {("complaint_targeted_by_promotion", person) for person in open_complaints & subscribed}
    return found


def _found(store: ObjectStore) -> set[Finding]:
    today = datetime.fromisoformat(store.kv_get("world:spec")["now"]).date()  # the world's clock
    return find_catalog_inconsistencies(store, today) | find_customer_inconsistencies(store)


def test_every_injected_inconsistency_is_in_the_payloads_and_nothing_else(world: ObjectStore) -> None:
    truth = world.truth_inconsistencies()
    assert {item.kind for item in truth} == set(INCONSISTENCY_KINDS)
    assert all(len([i for i in truth if i.kind == kind]) >= 2 for kind in INCONSISTENCY_KINDS)
    assert _found(world) == {(item.kind, item.entity) for item in truth}


def test_a_world_without_injection_has_no_inconsistency(clean_world: ObjectStore) -> None:
    assert clean_world.truth_inconsistencies() == []
    assert _found(clean_world) == set()


def test_price_mismatch_details_match_the_channel_payload(world: ObjectStore) -> None:
    for item in world.truth_inconsistencies("price_mismatch"):
        if "shopify" in item.channels:
            variant = next(v for v in _all(world, "shopify", "productVariants") if v["sku"] == item.entity)
            assert variant["price"] == item.details["channel_price"] != item.details["odoo_price"]


def test_duplicates_and_complaints_name_real_records(world: ObjectStore) -> None:
    for item in world.truth_inconsistencies("duplicate_in_channel"):
        ids = item.details["record_ids"]
        assert len(set(ids)) == 2
        assert {
            world.truth_person(item.channels[0], "customers" if item.channels[0] != "hubspot" else "contacts", i)
            for i in ids
        } == {item.entity}
    for item in world.truth_inconsistencies("complaint_targeted_by_promotion"):
        object_type = "Case" if item.details["complaint_system"] == "salesforce" else "tickets"
        assert world.truth_person(item.details["complaint_system"], object_type, item.details["case_id"]) == item.entity


def test_traps_are_different_people(world: ObjectStore) -> None:
    records = list(iter_identity_records(world))
    by_email: dict[str, set[str]] = defaultdict(set)
    by_name: dict[tuple[str, str, str], set[str]] = defaultdict(set)
    for record in records:
        if record["email"]:
            by_email[record["email"].lower()].add(record["truth_person_id"])
        if record["given_name"] and record["family_name"]:
            by_name[(record["source"], record["given_name"], record["family_name"])].add(record["truth_person_id"])
    shared = {email: people for email, people in by_email.items() if len(people) > 1}
    assert any(email.startswith("contact@") for email in shared), "contact@company shared by colleagues"
    households = [people for email, people in shared.items() if not email.startswith("contact@")]
    assert households, "households sharing one email"
    births = {(r["truth_person_id"], r["birth_date"]) for r in records if r["birth_date"]}
    assert len({p for p, _ in births}) == len(births) - len(world.truth_inconsistencies("customer_attribute_conflict"))
    assert any(len(people) > 1 for people in by_name.values()), "namesakes"
    store_phones = {p["phone_number"] for p in _all(world, "square", "locations")}
    phone_people = {r["truth_person_id"] for r in records if r["source"] == "square" and r["phone"] in store_phones}
    assert len(phone_people) >= 2, "a store's phone typed into several customers"


def test_identity_records_have_the_resolver_format(world: ObjectStore) -> None:
    records = list(iter_identity_records(world))
    keys = {
        "source",
        "source_id",
        "given_name",
        "family_name",
        "email",
        "phone",
        "birth_date",
        "street",
        "postcode",
        "city",
        "region",
        "country",
        "loyalty_id",
        "truth_person_id",
    }
    assert all(set(r) == keys for r in records)
    assert {r["source"] for r in records} == {
        "salesforce",
        "hubspot",
        "shopify",
        "square",
        "odoo",
        "brevo",
        "mailbox",
        "freshdesk",
        "mailchimp",
    }
    people = defaultdict(set)
    for r in records:
        people[r["truth_person_id"]].add(r["source"])
    assert sum(len(sources) > 2 for sources in people.values()) > len(people) / 3
    assert any(r["loyalty_id"] for r in records if r["source"] == "square")
    phones = {r["phone"] for r in records if r["phone"]}
    assert any(p.startswith("0033") for p in phones) and any("." in p for p in phones)
    assert any(p.startswith("+33 ") for p in phones) and any(p.startswith("33") for p in phones)


def test_ground_truth_document(world: ObjectStore, tmp_path: Path) -> None:
    document = ground_truth_document(world, limit=10)
    assert len(document["records"]) == 10 and document["records_truncated"]
    assert document["records_total"] == world.count_truth_records()
    assert len(document["inconsistencies"]) == len(world.truth_inconsistencies())
    assert document["world"]["seed"] == 7
