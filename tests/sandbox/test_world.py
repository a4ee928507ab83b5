"""The generated world: determinism, every system present, vendor payload formats and the support Maildir."""

from __future__ import annotations

import hashlib
import mailbox
import random
import re
import sqlite3
from collections.abc import Iterator
from datetime import UTC, datetime
from email import message_from_bytes, policy
from pathlib import Path

import pytest

from canalis.sandbox.objectstore import ObjectStore
from canalis.sandbox.world import SYSTEMS, WorldSpec, generate_world, store_path
from canalis.sandbox.world.ids import SALESFORCE_PREFIXES, salesforce_checksum
from canalis.sandbox.world.people import Weighted

PINNED = datetime(2026, 1, 15, 9, tzinfo=UTC)  # one clock for every generation compared here

SF_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0000$")
ISO_MS_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
ISO_S_Z = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$")
ODOO_DATETIME = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d$")
BREVO_DATETIME = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}\+0[12]:00$")
SQUARE_ID = re.compile(r"^[A-Z0-9]{20,30}$")


def _fingerprint(data_dir: Path) -> str:
    """A hash over every stored payload, truth row and Maildir file of a world."""
    digest = hashlib.sha256()
    with sqlite3.connect(store_path(data_dir)) as conn:
        for row in conn.execute(
            "SELECT system, object_type, object_id, seq, created_at, updated_at, payload FROM objects ORDER BY 1, 2, 3"
        ):
            digest.update(repr(row).encode())
        for row in conn.execute("SELECT * FROM truth_records ORDER BY 1, 2, 3"):
            digest.update(repr(row).encode())
        for row in conn.execute("SELECT * FROM truth_inconsistencies ORDER BY 1"):
            digest.update(repr(row).encode())
    for path in sorted((data_dir / "maildir").rglob("*")):
        if path.is_file():
            digest.update(path.relative_to(data_dir).as_posix().encode() + path.read_bytes())
    return digest.hexdigest()


@pytest.fixture(scope="module")
def world_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    data_dir = tmp_path_factory.mktemp("world")
    generate_world(WorldSpec(customers=300, now=PINNED), data_dir)
    return data_dir


@pytest.fixture(scope="module")
def world(world_dir: Path) -> Iterator[ObjectStore]:
    with ObjectStore(store_path(world_dir)) as store:
        yield store


def _all(store: ObjectStore, system: str, object_type: str) -> list[dict]:
    return [o.payload for o in store.iter_all(system, object_type)]


def test_same_seed_gives_the_same_world_and_another_seed_another(world_dir: Path, tmp_path: Path) -> None:
    again = generate_world(WorldSpec(customers=300, now=PINNED), tmp_path / "again")
    assert _fingerprint(world_dir) == _fingerprint(tmp_path / "again")
    assert again.customers == 300
    generate_world(WorldSpec(seed=43, customers=300, now=PINNED), tmp_path / "other")
    assert _fingerprint(world_dir) != _fingerprint(tmp_path / "other")


def test_a_world_of_many_chunks_is_the_same_from_one_process_or_several(tmp_path: Path) -> None:
    spec = WorldSpec(customers=150, chunk_size=40, now=PINNED)
    alone = generate_world(spec, tmp_path / "alone", workers=1)
    shared = generate_world(spec, tmp_path / "shared", workers=2)
    assert _fingerprint(tmp_path / "alone") == _fingerprint(tmp_path / "shared")
    assert alone.objects == shared.objects and alone.maildir_messages == shared.maildir_messages
    assert alone.inconsistencies == shared.inconsistencies
    with ObjectStore(store_path(tmp_path / "shared")) as store:
        # every chunk's persons are in the ground truth, the ids of later chunks never collide with earlier ones
        owners = {person for _, _, _, person in store.iter_truth_records()}
        assert {f"P{n:07d}" for n in (0, 39, 40, 149)} <= owners
        orders = [o.payload["name"] for o in store.iter_all("shopify", "orders")]
        assert len(orders) == len(set(orders)) == alone.objects["shopify"]["orders"]
        cases = [c.payload["CaseNumber"] for c in store.iter_all("salesforce", "Case")]
        assert len(cases) == len(set(cases))
        # the fault details filled in by later systems (duplicates' record ids) reach the ground truth
        duplicates = store.truth_inconsistencies("duplicate_in_channel")
        assert duplicates and all(len(item.details["record_ids"]) == 2 for item in duplicates)
    maildir_files = [p for p in (tmp_path / "shared" / "maildir").rglob("*") if p.is_file()]
    assert len(maildir_files) == shared.maildir_messages


def test_regenerating_into_the_same_dir_replaces_the_world(tmp_path: Path) -> None:
    generate_world(WorldSpec(customers=40, now=PINNED), tmp_path)
    first = _fingerprint(tmp_path)
    summary = generate_world(WorldSpec(customers=40, now=PINNED), tmp_path)
    assert _fingerprint(tmp_path) == first
    assert summary.customers == 40 and (tmp_path / "ground_truth.json").exists()


def test_every_system_holds_records(world: ObjectStore) -> None:
    types = {(system, object_type): n for system, object_type, n in world.object_types()}
    assert {system for system, _ in types} == set(SYSTEMS)
    expected = {
        "salesforce": ("Account", "Contact", "Case", "Task", "Product2", "PricebookEntry"),
        "hubspot": ("contacts", "companies", "deals", "tickets", "products", "line_items", "email_events"),
        "shopify": (
            "customers",
            "orders",
            "products",
            "productVariants",
            "locations",
            "inventoryLevels",
            "discountCodes",
        ),
        "square": ("customers", "orders", "catalog", "inventory_counts", "locations"),
        "odoo": (
            "res.partner",
            "product.product",
            "product.pricelist.item",
            "stock.quant",
            "sale.order",
            "loyalty.program",
        ),
        "brevo": ("contacts", "lists", "email_events", "email_campaigns"),
        "mailbox": ("messages",),
    }
    for system, object_types in expected.items():
        for object_type in object_types:
            assert types.get((system, object_type), 0) > 0, (system, object_type)


def test_salesforce_payloads(world: ObjectStore) -> None:
    for sobject in ("Account", "Contact", "Case", "Task", "Product2", "PricebookEntry"):
        for record in _all(world, "salesforce", sobject):
            record_id = record["Id"]
            assert len(record_id) == 18 and record_id.startswith(SALESFORCE_PREFIXES[sobject])
            assert salesforce_checksum(record_id[:15]) == record_id[15:]
            assert record["attributes"] == {
                "type": sobject,
                "url": f"/services/data/v60.0/sobjects/{sobject}/{record_id}",
            }
            assert SF_DATETIME.match(record["SystemModstamp"]) and SF_DATETIME.match(record["CreatedDate"])
    contacts = _all(world, "salesforce", "Contact")
    assert all("HasOptedOutOfEmail" in c and c["Canalis_Customer_Id__c"] is None for c in contacts)
    assert any(c["Birthdate"] for c in contacts) and any(c["Birthdate"] is None for c in contacts)
    cases = _all(world, "salesforce", "Case")
    assert {c["Origin"] for c in cases} == {"Phone", "Email", "Web"}
    assert "Complaint" in {c["Type"] for c in cases} and {True, False} == {c["IsClosed"] for c in cases}


def test_hubspot_payloads(world: ObjectStore) -> None:
    for object_type in ("contacts", "companies", "deals", "tickets", "products", "line_items"):
        for record in _all(world, "hubspot", object_type):
            assert record["id"].isdigit() and record["archived"] is False
            props = record["properties"]
            assert props["hs_object_id"] == record["id"]
            assert all(value is None or isinstance(value, str) for value in props.values())
            assert ISO_MS_Z.match(record["createdAt"]) and props["hs_lastmodifieddate"] == record["updatedAt"]
    categories = {t["properties"]["hs_ticket_category"] for t in _all(world, "hubspot", "tickets")}
    assert "COMPLAINT" in categories
    products = _all(world, "hubspot", "products")
    assert all(re.match(r"^\d+\.\d\d$", p["properties"]["price"]) and p["properties"]["hs_sku"] for p in products)
    events = {e["type"] for e in _all(world, "hubspot", "email_events")}
    assert {"SENT", "DELIVERED", "OPEN", "CLICK"} <= events


def test_shopify_payloads(world: ObjectStore) -> None:
    customers = _all(world, "shopify", "customers")
    assert all(re.match(r"^gid://shopify/Customer/\d+$", c["id"]) for c in customers)
    assert all(ISO_S_Z.match(c["createdAt"]) and ISO_S_Z.match(c["updatedAt"]) for c in customers)
    assert all(c["phone"] is None or re.match(r"^\+\d{10,14}$", c["phone"]) for c in customers)
    states = {c["emailMarketingConsent"]["marketingState"] for c in customers if c["emailMarketingConsent"]}
    assert states == {"SUBSCRIBED", "UNSUBSCRIBED", "NOT_SUBSCRIBED"}
    orders = _all(world, "shopify", "orders")
    ids = {c["id"] for c in customers}
    assert all(o["customer"]["id"] in ids and re.match(r"^#\d{4,}$", o["name"]) for o in orders)
    assert sum(int(c["numberOfOrders"]) for c in customers) == len(orders)
    line = orders[0]["lineItems"]["nodes"][0]
    assert set(line) >= {"sku", "quantity", "originalUnitPrice"} and re.match(r"^\d+\.\d\d$", line["originalUnitPrice"])
    variants = _all(world, "shopify", "productVariants")
    assert all(v["inventoryItem"]["id"].startswith("gid://shopify/InventoryItem/") for v in variants)
    statuses = {d["codeDiscount"]["status"] for d in _all(world, "shopify", "discountCodes")}
    assert statuses == {"ACTIVE", "EXPIRED", "SCHEDULED"}
    level = _all(world, "shopify", "inventoryLevels")[0]
    assert {q["name"] for q in level["quantities"]} >= {"available", "on_hand"}


def test_square_payloads(world: ObjectStore) -> None:
    customers = _all(world, "square", "customers")
    assert all(SQUARE_ID.match(c["id"]) and ISO_MS_Z.match(c["updated_at"]) for c in customers)
    assert all(isinstance(c["preferences"]["email_unsubscribed"], bool) for c in customers)
    for order in _all(world, "square", "orders"):
        assert SQUARE_ID.match(order["id"]) and isinstance(order["total_money"]["amount"], int)
        for line in order["line_items"]:
            assert isinstance(line["base_price_money"]["amount"], int) and line["base_price_money"]["currency"] == "EUR"
            assert isinstance(line["quantity"], str)
    catalog = _all(world, "square", "catalog")
    assert {o["type"] for o in catalog} == {"ITEM", "DISCOUNT", "PRICING_RULE"}
    variation = next(o for o in catalog if o["type"] == "ITEM")["item_data"]["variations"][0]
    assert variation["type"] == "ITEM_VARIATION" and isinstance(
        variation["item_variation_data"]["price_money"]["amount"], int
    )
    counts = _all(world, "square", "inventory_counts")
    assert all(c["state"] == "IN_STOCK" and c["quantity"].isdigit() for c in counts)


def test_odoo_payloads(world: ObjectStore) -> None:
    partners = _all(world, "odoo", "res.partner")
    assert all(ODOO_DATETIME.match(p["write_date"]) and ODOO_DATETIME.match(p["create_date"]) for p in partners)
    assert any(p["country_id"] == [75, "France"] for p in partners)
    assert any(p["phone"] is False for p in partners) and not any(p["phone"] is None for p in partners)
    assert any(isinstance(p["parent_id"], list) for p in partners)
    for order in _all(world, "odoo", "sale.order"):
        assert isinstance(order["partner_id"], list) and isinstance(order["partner_id"][0], int)
        assert isinstance(order["partner_id"][1], str) and re.match(r"^S\d{5}$", order["name"])
    quants = _all(world, "odoo", "stock.quant")
    assert {q["location_id"][1] for q in quants} == {"WH/Stock", "PAR/Stock", "LYO/Stock"}
    items = _all(world, "odoo", "product.pricelist.item")
    assert {i["pricelist_id"][1] for i in items} == {"Public EUR", "Store EUR"}
    assert all(p["default_code"] for p in _all(world, "odoo", "product.product"))


def test_brevo_payloads(world: ObjectStore) -> None:
    contacts = _all(world, "brevo", "contacts")
    assert all(isinstance(c["id"], int) and BREVO_DATETIME.match(c["modifiedAt"]) for c in contacts)
    assert all({"FIRSTNAME", "LASTNAME"} <= set(c["attributes"]) for c in contacts)
    assert {True, False} == {c["emailBlacklisted"] for c in contacts}
    events = _all(world, "brevo", "email_events")
    assert {"delivered", "opened", "clicked"} <= {e["event"] for e in events}
    assert all(e["messageId"].startswith("<") and BREVO_DATETIME.match(e["date"]) for e in events)


def test_maildir_parses_with_threads_and_attachments(world_dir: Path, world: ObjectStore) -> None:
    box = mailbox.Maildir(world_dir / "maildir", factory=None, create=False)
    messages = [message_from_bytes(box.get_bytes(key), policy=policy.default) for key in box.iterkeys()]
    assert len(messages) == world.count("mailbox", "messages") > 20
    ids = {m["Message-ID"] for m in messages}
    replies = [m for m in messages if m["In-Reply-To"]]
    assert replies and all(m["In-Reply-To"] in ids for m in replies)
    assert all(set(m["References"].split()) <= ids for m in replies)
    assert any(m["From"].addresses[0].addr_spec == "support@canalis-maison.fr" for m in replies)
    assert all(m["Date"].datetime is not None and m["Subject"] for m in messages)
    attachments = [part for m in messages for part in m.iter_attachments()]
    assert attachments and {a.get_content_type() for a in attachments} <= {"application/pdf", "image/png"}
    bodies = " ".join(m.get_body(("plain",)).get_content() for m in messages)
    assert "Bonjour" in bodies
    assert any(m["From"].addresses[0].display_name for m in messages if not m["In-Reply-To"])


def test_some_customers_phone_again_about_an_open_case(world: ObjectStore) -> None:
    from canalis.sdk.state import parse_cursor_datetime

    cases = {case["Id"]: case for case in _all(world, "salesforce", "Case")}
    follow_ups = [task for task in _all(world, "salesforce", "Task") if task["WhatId"] in cases]
    assert follow_ups, "the world should hold repeat contacts for the service KPIs"
    for task in follow_ups:
        case = cases[task["WhatId"]]
        assert task["WhoId"] == case["ContactId"]
        assert case["Subject"] in task["Subject"]
        delay = parse_cursor_datetime(task["CreatedDate"]) - parse_cursor_datetime(case["CreatedDate"])
        assert 0 < delay.total_seconds() <= 6 * 24 * 3600
        assert world.truth_person("salesforce", "Task", task["Id"]) == world.truth_person(
            "salesforce", "Case", case["Id"]
        )


def test_weighted_draws_what_random_choices_draws() -> None:
    options, weights = ("a", "b", "c", "d"), (25, 0, 60, 15)
    table = Weighted(options, weights)
    mine, theirs = random.Random(7), random.Random(7)
    drawn = [table.draw(mine) for _ in range(2000)]
    assert drawn == [theirs.choices(options, weights=weights)[0] for _ in range(2000)]
    assert "b" not in drawn and {"a", "c", "d"} <= set(drawn)
    with pytest.raises(ValueError):
        Weighted(options, weights[:2])


@pytest.mark.parametrize("workers", [1, 2])
def test_persons_are_made_only_a_few_chunks_ahead_of_the_chunks_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    from canalis.sandbox.world import generate

    made: list[int] = []
    ahead_when_written: list[int] = []
    chunk_tasks, put_encoded = generate._chunk_tasks, ObjectStore.put_encoded

    def counted_tasks(*args, **kwargs):  # type: ignore[no-untyped-def]
        for task in chunk_tasks(*args, **kwargs):
            made.append(task.number)
            yield task

    def counted_put(self, *args, **kwargs):  # type: ignore[no-untyped-def]
        ahead_when_written.append(len(made) - len(ahead_when_written))
        return put_encoded(self, *args, **kwargs)

    monkeypatch.setattr(generate, "_chunk_tasks", counted_tasks)
    monkeypatch.setattr(ObjectStore, "put_encoded", counted_put)
    generate_world(WorldSpec(customers=240, chunk_size=20, now=PINNED), tmp_path, workers=workers)
    assert len(made) == len(ahead_when_written) == 12
    assert max(ahead_when_written) <= workers + 2
