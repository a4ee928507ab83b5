"""The sandbox's churn deletes and archives people the vendors' way, with ground truth; Canalis finds every one of
them (incremental sync for flagged and archived records, a full sync for records that simply vanish) and no other."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from canalis.sandbox.world.churn import churn, churned
from canalis.store import tables
from canalis.sync import sync_all
from tests.publish.conftest import SandboxWorld

pytestmark = pytest.mark.slow
CONNECTION = {
    ("salesforce", "Contact"): ("crm_salesforce", "contacts"),
    ("hubspot", "contacts"): ("crm_hubspot", "contacts"),
    ("odoo", "res.partner"): ("erp_odoo", "partners"),
    ("square", "customers"): ("store_square", "customers"),
}


def _tombstones(world: SandboxWorld) -> set[tuple[str, str, str]]:
    tomb = tables.source_deletions
    with world.store.engine.connect() as conn:
        rows = conn.execute(sa.select(tomb.c.source, tomb.c.stream, tomb.c.record_id).where(tomb.c.payload.is_(None)))
        applied = {tuple(row) for row in rows}
        pending = conn.execute(sa.select(sa.func.count()).select_from(tomb).where(tomb.c.applied_at.is_(None)))
        assert pending.scalar_one() == 0
    return applied


def test_churned_records_are_all_found_and_leave_the_golden_records(sandbox_world: SandboxWorld) -> None:
    world = sandbox_world
    sync_all(world.store, world.config)
    before = _tombstones(world)  # records a vendor already held as deleted when first read
    removed = churn(world.data_dir, seed=3, per_system=3)
    assert len(removed) == 12 and churned(world.data_dir) == removed
    expected = {(*CONNECTION[(r.system, r.object_type)], r.object_id) for r in removed}

    sync_all(world.store, world.config)  # flags and archive listings: all but Square's vanished customers
    found = _tombstones(world) - before
    assert found == {ref for ref in expected if ref[0] != "store_square"}
    sync_all(world.store, world.config, full=True)  # a complete read shows what vanished
    found = _tombstones(world) - before
    assert found == expected

    keys = [f"{source}:{stream}:{record_id}" for source, stream, record_id in expected]
    with world.store.engine.connect() as conn:
        for table in (tables.customer_records, tables.source_identities, tables.contact_points):
            left = conn.execute(sa.select(sa.func.count()).select_from(table).where(table.c.record_key.in_(keys)))
            assert left.scalar_one() == 0, table.name
