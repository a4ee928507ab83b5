"""Records deleted or archived in the vendors' systems leave Canalis at the next incremental sync: HubSpot archived
contacts, Salesforce deleted contacts and Odoo archived partners become tombstones, and their golden records go."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from canalis.config.wiring import build_connector
from canalis.store import tables
from canalis.sync import sync_all
from tests.publish.conftest import SandboxWorld

pytestmark = pytest.mark.slow
STREAM_OF = {"crm_hubspot": "contacts", "crm_salesforce": "contacts", "erp_odoo": "partners"}


def _one_record_each(world: SandboxWorld) -> dict[str, str]:
    """A customer record id of each connection, held by a golden record of its own source records."""
    cr = tables.customer_records
    chosen: dict[str, str] = {}
    with world.store.engine.connect() as conn:
        for source, stream in STREAM_OF.items():
            ids = conn.execute(
                sa.select(cr.c.source_id).where(cr.c.source == source, cr.c.object == stream).order_by(cr.c.source_id)
            ).scalars()
            chosen[source] = sorted(ids)[0]
    return chosen


def _tombstones(world: SandboxWorld) -> dict[tuple[str, str], str]:
    tomb = tables.source_deletions
    with world.store.engine.connect() as conn:
        return {(row.source, row.record_id): row.kind for row in conn.execute(sa.select(tomb))}


def test_vendor_deletes_and_archives_reach_the_golden_records(sandbox_world: SandboxWorld) -> None:
    world = sandbox_world
    sync_all(world.store, world.config)
    chosen = _one_record_each(world)
    keys = {f"{source}:{STREAM_OF[source]}:{source_id}" for source, source_id in chosen.items()}
    si = tables.source_identities
    with world.store.engine.connect() as conn:
        linked = set(conn.execute(sa.select(si.c.record_key).where(si.c.record_key.in_(keys))).scalars())
    assert linked == keys

    config = world.config.connections
    with build_connector("crm_hubspot", config["crm_hubspot"]) as hubspot:
        hubspot.client.http.request("DELETE", f"/crm/v3/objects/contacts/{chosen['crm_hubspot']}", call="archive")
    with build_connector("crm_salesforce", config["crm_salesforce"]) as salesforce:
        assert salesforce.client.delete_record("Contact", chosen["crm_salesforce"])
    with build_connector("erp_odoo", config["erp_odoo"]) as odoo:
        odoo.client.execute("res.partner", "write", ids=[int(chosen["erp_odoo"])], vals={"active": False})

    report = sync_all(world.store, world.config)
    deleted = {(r.connection, r.stream): r.deleted for r in report.ingest if r.deleted}
    assert deleted == {(source, stream): 1 for source, stream in STREAM_OF.items()}
    assert report.canonical["customer_record"].deleted == 3
    assert _tombstones(world) == {
        ("crm_hubspot", chosen["crm_hubspot"]): "archived",
        ("crm_salesforce", chosen["crm_salesforce"]): "deleted",
        ("erp_odoo", chosen["erp_odoo"]): "archived",
    }
    cr = tables.customer_records
    with world.store.engine.connect() as conn:
        left = set(conn.execute(sa.select(cr.c.record_key).where(cr.c.record_key.in_(keys))).scalars())
        linked = set(conn.execute(sa.select(si.c.record_key).where(si.c.record_key.in_(keys))).scalars())
        raw = conn.execute(
            sa.select(sa.func.count())
            .select_from(tables.raw_records)
            .where(
                sa.or_(
                    *(
                        sa.and_(
                            tables.raw_records.c.source == s,
                            tables.raw_records.c.stream == STREAM_OF[s],
                            tables.raw_records.c.record_id == i,
                        )
                        for s, i in chosen.items()
                    )
                )
            )
        ).scalar_one()
    assert left == set() and linked == set() and raw == 0

    # the next sync finds nothing new to bury
    again = sync_all(world.store, world.config)
    assert sum(r.deleted for r in again.ingest) == 0
