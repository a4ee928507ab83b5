"""resolve_customers, overrides and unmerge against the store tables, on SQLite and PostgreSQL."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from pathlib import Path

import pytest
import sqlalchemy as sa

import canalis.identity.tables as identity_tables
from canalis.identity import IdentityConfig
from canalis.identity.engine import IdentityEngine
from canalis.identity.persistence import _load_state, _record_loader, apply_override, resolve_customers, unmerge
from canalis.store.schema import metadata
from canalis.store.tables import customer_records, customers, source_identities

T0 = datetime(2026, 1, 10, 8, 0, tzinfo=UTC)
CONFIG = IdentityConfig(source_priority={"*": ("crm",)})


def row(source: str, source_id: str, **fields: object) -> dict:
    values = {
        "record_key": f"{source}:customers:{source_id}", "source": source, "object": "customers",
        "source_id": source_id, "given_name": None, "family_name": None, "email": None, "phone": None,
        "birth_date": None, "street": None, "postcode": None, "city": None, "region": None, "country": None,
        "loyalty_id": None, "external_ids": None, "attributes": None, "source_updated_at": T0 - timedelta(days=5),
        "loaded_at": T0,
    }  # fmt: skip
    values.update(fields)
    content = json.dumps({k: v for k, v in values.items() if k != "loaded_at"}, default=str, sort_keys=True)
    values["content_hash"] = hashlib.sha256(content.encode()).hexdigest()
    return values


PEOPLE = [
    row("crm", "1", given_name="Claire", family_name="Fontaine", email="claire.fontaine@free.fr", phone="+33611111111",
        birth_date=date(1982, 3, 4), street="5 rue Nationale", postcode="59000", city="Lille", country="FR"),
    row("shop", "A", given_name="CLAIRE", family_name="FONTAINE", email="claire.fontaine@free.fr",
        street="5 r. Nationale", postcode="59000", city="Lille", source_updated_at=T0 - timedelta(days=1)),
    row("pos", "7", given_name="Claire", family_name="Fontaine", phone="+33611111111", loyalty_id="FID9"),
    row("crm", "2", given_name="Bruno", family_name="Lemaire", email="bruno.lemaire@orange.fr",
        phone="+33622222222", postcode="35000", city="Rennes"),
    row("shop", "B", given_name="Bruno", family_name="Lemaire", email="b.lemaire@gmail.com", phone="+33622222222"),
    row("pos", "8", given_name="Inès", family_name="Haddad", phone="+33633333333"),
    row("crm", "3", given_name="Marc", family_name="Fontaine", email="famille.fontaine@free.fr",
        street="9 rue Pasteur", postcode="44000", city="Nantes"),
    row("shop", "C", given_name="Sylvie", family_name="Fontaine", email="famille.fontaine@free.fr",
        street="9 rue Pasteur", postcode="44000", city="Nantes"),
]  # fmt: skip


def create(url: str) -> sa.Engine:
    engine = sa.create_engine(url)
    assert identity_tables.identity_links.metadata is metadata
    metadata.create_all(engine)
    return engine


@pytest.fixture
def sqlite_engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = create(f"sqlite:///{tmp_path / 'identity.db'}")
    yield engine
    engine.dispose()


def customer_of(engine: sa.Engine) -> dict[str, str]:
    with engine.connect() as connection:
        query = sa.select(source_identities.c.record_key, source_identities.c.customer_id)
        return {key: customer for key, customer in connection.execute(query)}


def exercise(engine: sa.Engine) -> None:
    with engine.begin() as connection:
        connection.execute(sa.insert(customer_records), PEOPLE)
    report = resolve_customers(engine, config=CONFIG, now=T0)
    assert report.mode == "full"
    assert report.records_read == len(PEOPLE)
    found = customer_of(engine)
    claire = found["crm:customers:1"]
    assert found["shop:customers:A"] == found["pos:customers:7"] == claire
    assert found["crm:customers:2"] == found["shop:customers:B"] != claire
    assert found["crm:customers:3"] != found["shop:customers:C"], "a household email is not a person"
    assert report.customers_total == len(set(found.values())) == 5
    with engine.connect() as connection:
        golden = connection.execute(sa.select(customers).where(customers.c.customer_id == claire)).one()
        identity = connection.execute(
            sa.select(source_identities).where(source_identities.c.record_key == "pos:customers:7")
        ).one()
        links = connection.execute(sa.select(identity_tables.identity_links)).all()
    assert golden.email == "claire.fontaine@free.fr" and golden.phone == "+33611111111"
    assert golden.record_count == 3 and golden.sources == ["crm", "pos", "shop"]
    assert golden.lineage["given_name"]["record_key"] == "crm:customers:1"
    assert golden.lineage["given_name"]["rule"] == "source_priority"
    assert golden.birth_date == date(1982, 3, 4) and golden.loyalty_id == "FID9"
    assert identity.match_rule in ("phone", "loyalty_id") and identity.confidence == 1.0
    # Key links store no evidence (no key value copied into them): explain rebuilds the key group on demand.
    email_links = [link for link in links if link.rule == "email"]
    assert email_links and all(link.evidence is None for link in email_links)
    assert all(link.evidence["rule"] == "probabilistic" for link in links if link.rule == "probabilistic")
    with engine.connect() as connection:
        restored = IdentityEngine.from_state(_load_state(connection), CONFIG)
        restored.record_loader = _record_loader(connection)
    accepted = next(link for link in email_links if link.status == "accepted")
    shared = restored.explain(accepted.record_a, accepted.record_b)["shared_keys"]
    assert any(key["key"] == "email" and key["links_these_records"] for key in shared)
    assert resolve_customers(engine, config=CONFIG, now=T0 + timedelta(hours=1)).records_read == 0

    # Incremental: a new record bridging Bruno's records, a changed one, a removed one.
    with engine.begin() as connection:
        connection.execute(sa.insert(customer_records), [
            row("erp", "E1", given_name="Inès", family_name="Haddad", phone="+33633333333", email="ines.h@sfr.fr"),
        ])  # fmt: skip
        changed = row("shop", "B", given_name="Bruno", family_name="Lemaire", email="b.lemaire@gmail.com")
        connection.execute(
            sa.update(customer_records)
            .where(customer_records.c.record_key == "shop:customers:B")
            .values(phone=None, content_hash=changed["content_hash"])
        )
        connection.execute(sa.delete(customer_records).where(customer_records.c.record_key == "crm:customers:3"))
    report = resolve_customers(engine, config=CONFIG, now=T0 + timedelta(days=1))
    assert report.mode == "incremental"
    assert report.records_read == 2 and report.records_removed == 1
    after = customer_of(engine)
    assert "crm:customers:3" not in after
    assert after["erp:customers:E1"] == after["pos:customers:8"] == found["pos:customers:8"]
    assert after["crm:customers:1"] == claire
    with engine.connect() as connection:
        assert (
            connection.execute(
                sa.select(sa.func.count())
                .select_from(customers)
                .where(customers.c.customer_id == found["crm:customers:3"])
            ).scalar_one()
            == 0
        )

    # Steward decisions.
    apply_override(engine, "never_merge", "crm:customers:1", "shop:customers:A", "ana@canalis", "twins",
                   config=CONFIG, now=T0 + timedelta(days=2))  # fmt: skip
    split = customer_of(engine)
    assert split["crm:customers:1"] != split["shop:customers:A"]
    apply_override(engine, "force_merge", "crm:customers:2", "pos:customers:8", "ana@canalis", "same person",
                   config=CONFIG, now=T0 + timedelta(days=3))  # fmt: skip
    merged = customer_of(engine)
    assert merged["crm:customers:2"] == merged["pos:customers:8"] == merged["erp:customers:E1"]
    with engine.connect() as connection:
        audit = connection.execute(sa.select(identity_tables.identity_overrides)).all()
        aliases = connection.execute(
            sa.select(identity_tables.identity_customer_ids).where(
                identity_tables.identity_customer_ids.c.status == "merged"
            )
        ).all()
    assert [(a.kind, a.who, a.why) for a in audit] == [
        ("never_merge", "ana@canalis", "twins"), ("force_merge", "ana@canalis", "same person")
    ]  # fmt: skip
    assert len(aliases) == 1 and aliases[0].merged_into == merged["crm:customers:2"]

    # Unmerge the loyalty record out of Claire's customer.
    cid = merged["crm:customers:1"]
    unmerge(engine, cid, ["pos:customers:7"], "ana@canalis", "card lent to a friend", config=CONFIG,
            now=T0 + timedelta(days=4))  # fmt: skip
    final = customer_of(engine)
    assert final["crm:customers:1"] == cid and final["pos:customers:7"] != cid
    with engine.connect() as connection:
        events = connection.execute(sa.select(identity_tables.identity_id_events)).all()
        runs = connection.execute(sa.select(identity_tables.identity_runs)).all()
    assert any(e.kind == "split" and e.other_id == cid for e in events)
    assert {r.mode for r in runs} >= {"full", "incremental", "override"}
    assert all(r.report is not None for r in runs)

    # A full rebuild keeps every id and decision.
    rebuilt = resolve_customers(engine, config=CONFIG, full=True, now=T0 + timedelta(days=5))
    assert rebuilt.mode == "full"
    assert customer_of(engine) == final


def test_round_trip_on_sqlite(sqlite_engine: sa.Engine) -> None:
    exercise(sqlite_engine)


@pytest.mark.postgres
def test_round_trip_on_postgres(postgres_url: str) -> None:
    engine = create(postgres_url)
    try:
        exercise(engine)
    finally:
        engine.dispose()


@pytest.mark.mariadb
def test_round_trip_on_mariadb(mariadb_url: str) -> None:
    """Bulk inserts as one prepared executemany, deletes through a temporary table, the state as LONGBLOB parts."""
    engine = create(mariadb_url)
    try:
        exercise(engine)
    finally:
        engine.dispose()
