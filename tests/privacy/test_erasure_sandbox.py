"""Erasure and access requests on the sandbox: plan -> approve -> apply, the vendors' APIs confirm the erasure,
the store keeps nothing but hashes, a full re-import does not bring the person back; an export holds every record."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
import sqlalchemy as sa

from canalis.connectors.registry import discover
from canalis.privacy.erasure import apply_erase_plan, plan_erasure
from canalis.privacy.export import export_person
from canalis.privacy.person import contains, split_key
from canalis.privacy.tables import erased_subjects, privacy_requests
from canalis.publishing.plans import PlanError, approve_plan, load_plan, plan_changes
from canalis.sdk import ApiError
from canalis.store import tables
from canalis.store.schema import metadata
from canalis.sync import sync_all
from tests.publish.conftest import SandboxWorld

pytestmark = pytest.mark.slow
SALT = "a-salt-for-the-erasure-tests-only"
ERASABLE = ("crm_hubspot", "crm_salesforce", "erp_odoo", "store_square", "marketing_brevo")


@pytest.fixture
def world(sandbox_world: SandboxWorld, monkeypatch: pytest.MonkeyPatch) -> SandboxWorld:
    monkeypatch.setenv("CANALIS_ERASURE_SALT", SALT)
    sync_all(sandbox_world.store, sandbox_world.config)
    return sandbox_world


def _classes(world: SandboxWorld) -> dict[str, Any]:
    registry = discover()
    return {name: registry[c.connector].connector for name, c in world.config.connections.items()}


def _connectors(world: SandboxWorld) -> Iterator[dict[str, Any]]:
    from canalis.config.wiring import build_connector

    return {name: build_connector(name, world.config.connections[name]) for name in world.config.connections}


def _person_in_most_systems(world: SandboxWorld) -> tuple[str, str, list[str]]:
    """A customer held by the most erasable systems: their id, an email of theirs and their record keys."""
    si, cr = tables.source_identities, tables.customer_records
    with world.store.engine.connect() as conn:
        rows = conn.execute(sa.select(si.c.customer_id, si.c.record_key, si.c.source)).all()
        by_customer: dict[str, list[tuple[str, str]]] = {}
        for row in rows:
            by_customer.setdefault(row.customer_id, []).append((row.record_key, row.source))
        best = max(
            sorted(by_customer),
            key=lambda c: (len({s for _, s in by_customer[c] if s in ERASABLE}), len(by_customer[c])),
        )
        keys = sorted(key for key, _ in by_customer[best])
        emails = conn.execute(sa.select(cr.c.email).where(cr.c.record_key.in_(keys), cr.c.email.is_not(None)))
        email = sorted(set(emails.scalars()))[0]
    assert len({s for _, s in by_customer[best] if s in ERASABLE}) >= 3
    return best, email, keys


def _traces(world: SandboxWorld, values: list[str]) -> dict[str, int]:
    """Rows of any store table (the hashes and audits aside) whose text holds one of the values."""
    found: dict[str, int] = {}
    with world.store.engine.connect() as conn:
        for table in metadata.sorted_tables:
            if table.name not in sa.inspect(conn).get_table_names():
                continue
            columns = [c for c in table.columns if not isinstance(c.type, sa.Integer | sa.Float | sa.Boolean)]
            if not columns:
                continue
            condition = sa.or_(*(contains(column, value) for column in columns for value in values))
            count = conn.execute(sa.select(sa.func.count()).select_from(table).where(condition)).scalar_one()
            if count:
                found[table.name] = count
    return found


def test_erasure_through_the_plan_flow_reaches_every_vendor_and_leaves_only_hashes(world: SandboxWorld) -> None:
    customer, email, keys = _person_in_most_systems(world)
    with world.store.engine.connect() as conn:
        phones = sorted(
            set(
                conn.execute(
                    sa.select(tables.customer_records.c.phone).where(
                        tables.customer_records.c.record_key.in_(keys), tables.customer_records.c.phone.is_not(None)
                    )
                ).scalars()
            )
        )
    assert _traces(world, [email])  # the store holds the person before

    planned = plan_erasure(world.store, _classes(world), email=email, by="dpo")
    erasable = [split_key(key) for key in keys if split_key(key)[0] in ERASABLE]
    assert {source for source, _, _ in erasable} == set(ERASABLE)  # every vendor that can erase is asked
    assert sum(sum(e.values()) for e in planned.per_channel.values()) == len(erasable)
    connectors = _connectors(world)
    with pytest.raises(PlanError, match="only an approved erase plan"):
        apply_erase_plan(world.store, planned.plan_id, connectors, identity=world.config.identity, by="tests")
    with world.store.begin() as conn:
        approve_plan(conn, planned.plan_id, "dpo", expected_hash=planned.short_hash)

    report = apply_erase_plan(world.store, planned.plan_id, connectors, identity=world.config.identity, by="tests")
    assert report.status == "applied", report.errors
    assert report.calls["applied"] == len(erasable)
    assert report.purged["customer_records"] == len(keys)

    # the vendors confirm, each through its own API
    for source, _, source_id in erasable:
        connector = connectors[source]
        if source == "crm_hubspot":
            with pytest.raises(ApiError) as gone:
                connector.client.http.get_json(f"/crm/v3/objects/contacts/{source_id}", call="get contact")
            assert gone.value.status == 404
        elif source == "store_square":
            with pytest.raises(ApiError) as gone:
                connector.client.http.get_json(f"/v2/customers/{source_id}", call="RetrieveCustomer")
            assert gone.value.status == 404
        elif source == "marketing_brevo":
            with pytest.raises(ApiError) as gone:
                connector.client.http.get_json(f"/contacts/{source_id}", params={"identifierType": "contact_id"})
            assert gone.value.status == 404
        elif source == "crm_salesforce":
            soql = f"SELECT Id, IsDeleted FROM Contact WHERE Id = '{source_id}'"
            rows = [r for body in connector.client.query_pages(soql, include_deleted=True) for r in body["records"]]
            assert [r["IsDeleted"] for r in rows] == [True]
        else:
            client = connector.client
            (partner,) = client.search_read(
                "res.partner",
                [("id", "=", int(source_id))],
                ["email", "phone", "active"],
                context={"active_test": False},
            )
            # Odoo's false for an empty field arrives as None
            assert (partner["email"], partner["phone"], partner["active"]) == (None, None, False)

    # nothing left in the store but the hashes: no email, no phone, no record id, in any table
    assert _traces(world, [email, *phones]) == {}
    source_ids = [source_id for _, _, source_id in (split_key(key) for key in keys)]
    with world.store.engine.connect() as conn:
        assert (
            conn.execute(
                sa.select(sa.func.count())
                .select_from(tables.customers)
                .where(tables.customers.c.customer_id == customer)
            ).scalar_one()
            == 0
        )
        state = b"".join(bytes(row.data) for row in conn.execute(sa.select(metadata.tables["identity_state"])))
        assert email.encode() not in state
        assert conn.execute(sa.select(sa.func.count()).select_from(erased_subjects)).scalar_one() >= len(keys)
        audit = conn.execute(sa.select(tables.write_audit).where(tables.write_audit.c.field == "erase")).all()
        request = conn.execute(sa.select(privacy_requests)).one()
        changes = plan_changes(conn, planned.plan_id)
        plan = load_plan(conn, planned.plan_id)
    assert len(audit) == len(erasable) and {row.status for row in audit} == {"applied"}
    assert all(row.entity_key.startswith("erased:") for row in audit)
    assert request.status == "applied" and email not in str(request._mapping)
    assert plan.status == "applied" and "record_keys" not in plan.inputs
    assert not {change.record_key for change in changes} & set(source_ids)

    # a full re-import does not bring them back, wherever the vendors still hold them
    again = sync_all(world.store, world.config, full=True)
    assert sum(report.erased_skipped for report in again.ingest) >= len(erasable)
    assert _traces(world, [email, *phones]) == {}


def test_an_export_holds_every_record_of_the_person(world: SandboxWorld) -> None:
    customer, email, keys = _person_in_most_systems(world)
    document = export_person(world.store, email=email, by="dpo")
    assert sorted(row["record_key"] for row in document["customer_records"]) == keys
    assert [row["customer_id"] for row in document["customers"]] == [customer]
    refs = {(row["source"], row["stream"], row["record_id"]) for row in document["raw_records"]}
    assert {split_key(key) for key in keys} <= refs
    with world.store.engine.connect() as conn:
        orders = conn.execute(
            sa.select(sa.func.count()).select_from(tables.orders).where(tables.orders.c.customer_record_key.in_(keys))
        ).scalar_one()
        request = conn.execute(sa.select(privacy_requests)).one()
    assert len(document["orders"]) == orders
    assert request.kind == "export" and email not in str(request._mapping)


def test_erase_names_no_one_unknown(world: SandboxWorld) -> None:
    from canalis.privacy.person import PersonNotFound

    with pytest.raises(PersonNotFound):
        plan_erasure(world.store, _classes(world), email="nobody@nowhere.invalid", by="dpo")
