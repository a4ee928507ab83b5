"""Erasure and tombstones in the store, on SQLite and on PostgreSQL: a file-drop person purged through an erase
plan (file drops cannot erase at the source), a re-import skipping them, and a vanished row buried."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
import yaml

from canalis.config.connections import CanalisConfig
from canalis.connectors.registry import discover
from canalis.identity import IdentityConfig
from canalis.privacy.erasure import apply_erase_plan, plan_erasure
from canalis.privacy.export import export_person
from canalis.privacy.person import contains
from canalis.publishing.plans import approve_plan
from canalis.store import Store, tables
from canalis.sync import sync_all

ROOT = Path(__file__).resolve().parents[2]
RECORD = "web_shop_export:customers:W1009"


@pytest.fixture(params=["sqlite", "postgres"])
def any_store(request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Store]:
    monkeypatch.setenv("CANALIS_ERASURE_SALT", "a-salt-for-the-store-tests-only")
    url = f"sqlite:///{tmp_path / 'c.db'}" if request.param == "sqlite" else request.getfixturevalue("postgres_url")
    store = Store(url)
    store.migrate()
    try:
        yield store
    finally:
        store.close()


def _config() -> CanalisConfig:
    demo = yaml.safe_load((ROOT / "dagster_home" / "canalis.yaml").read_text(encoding="utf-8"))
    connections = {name: c for name, c in demo["connections"].items() if c["connector"] == "file_drop"}
    return CanalisConfig.model_validate({"connections": connections})


def _rows_holding(store: Store, text: str) -> int:
    cr, raw = tables.customer_records, tables.raw_records
    with store.engine.connect() as conn:
        people = conn.execute(sa.select(sa.func.count()).select_from(cr).where(contains(cr.c.email, text)))
        landed = conn.execute(sa.select(sa.func.count()).select_from(raw).where(contains(raw.c.payload, text)))
        return people.scalar_one() + landed.scalar_one()


def test_a_person_is_purged_and_not_read_again(any_store: Store) -> None:
    config = _config()
    sync_all(any_store, config, full=True)
    with any_store.engine.connect() as conn:
        email = conn.execute(
            sa.select(tables.customer_records.c.email).where(tables.customer_records.c.record_key == RECORD)
        ).scalar_one()
    assert _rows_holding(any_store, email) > 0
    with any_store.engine.connect() as conn:
        si = tables.source_identities
        customer = conn.execute(sa.select(si.c.customer_id).where(si.c.record_key == RECORD)).scalar_one()
    by_customer = export_person(any_store, customer=customer, by="dpo")
    assert RECORD in {row["record_key"] for row in by_customer["customer_records"]}
    assert [row["customer_id"] for row in by_customer["customers"]] == [customer]
    classes = {name: discover()[c.connector].connector for name, c in config.connections.items()}
    planned = plan_erasure(any_store, classes, email=email, by="dpo")
    assert planned.not_supported and not planned.per_channel.get("web_shop_export")
    with any_store.begin() as conn:
        approve_plan(conn, planned.plan_id, "dpo", expected_hash=planned.short_hash)
    report = apply_erase_plan(any_store, planned.plan_id, {}, identity=IdentityConfig(), by="tests")
    assert report.status == "applied" and report.hashes > 0
    assert _rows_holding(any_store, email) == 0
    again = sync_all(any_store, config, full=True)
    assert sum(r.erased_skipped for r in again.ingest) > 0
    assert _rows_holding(any_store, email) == 0
