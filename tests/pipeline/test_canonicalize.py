"""The canonical pass: one read per stream, per-entity progress, child rows replaced only when a parent changes."""

from __future__ import annotations

from pathlib import Path

import sqlalchemy as sa

from assets.pipeline.canonicalize import canonicalize, canonicalize_entities
from assets.pipeline.ingest import ingest_stream
from connectors.file_drop import FileDropConnector
from mappings.declarative import Mapper, load_mapping
from mappings.store import Store, tables

HEADER = "id,first_name,last_name,email,phone,birth_date,street,postcode,city,country,accepts_marketing,updated_at\n"


def _row(n: int, email: str) -> str:
    return f"C{n},Ann,Lee,{email},+33612345{n:03d},1990-01-01,1 rue A,75001,Paris,France,yes,2026-01-01T00:00:00Z\n"


def _setup(tmp_path: Path, store: Store, rows: list[str]) -> tuple[FileDropConnector, Mapper]:
    folder = tmp_path / "drop"
    folder.mkdir(exist_ok=True)
    (folder / "customers.csv").write_text(HEADER + "".join(rows), encoding="utf-8")
    connector = FileDropConnector.from_config({"path": str(folder)}, connection="shop")
    return connector, Mapper(load_mapping("file_drop"), connection="shop", channel="web")


def _contact_points(store: Store) -> set[tuple[str, str, str]]:
    cp = tables.contact_points
    with store.engine.connect() as conn:
        return {tuple(row) for row in conn.execute(sa.select(cp.c.record_key, cp.c.kind, cp.c.value))}


def test_changed_record_replaces_its_contact_points_only(tmp_path: Path, store: Store) -> None:
    connector, mapper = _setup(tmp_path, store, [_row(1, "a@example.org"), _row(2, "b@example.org")])
    ingest_stream(store, connector, "customers")
    reports = canonicalize_entities(store, {"shop": mapper}, ["customer_record", "consent"])
    assert reports["customer_record"].counts.inserted == 2 and reports["consent"].counts.inserted == 2
    before = _contact_points(store)
    assert ("shop:customers:C1", "email", "a@example.org") in before

    connector, _ = _setup(tmp_path, store, [_row(1, "new@example.org"), _row(2, "b@example.org")])
    ingest_stream(store, connector, "customers")
    reports = canonicalize_entities(store, {"shop": mapper}, ["customer_record", "consent"])
    assert reports["customer_record"].raw_records == 1  # only the changed raw record is read again
    after = _contact_points(store)
    assert ("shop:customers:C1", "email", "new@example.org") in after
    assert ("shop:customers:C1", "email", "a@example.org") not in after
    assert {p for p in before if p[0] == "shop:customers:C2"} == {p for p in after if p[0] == "shop:customers:C2"}


def test_a_pass_over_one_entity_does_not_make_another_skip_records(tmp_path: Path, store: Store) -> None:
    connector, mapper = _setup(tmp_path, store, [_row(1, "a@example.org")])
    ingest_stream(store, connector, "customers")
    assert canonicalize(store, {"shop": mapper}, "customer_record").mapped == 1
    consent = canonicalize(store, {"shop": mapper}, "consent")
    assert consent.mapped == 1
    assert store.count(tables.consents) == 1
    assert canonicalize(store, {"shop": mapper}, "consent").raw_records == 0


def test_a_record_fixed_at_the_source_leaves_quarantine(tmp_path: Path, store: Store) -> None:
    bad = _row(1, "a@example.org").replace("1990-01-01", "1990-02-31")
    connector, mapper = _setup(tmp_path, store, [bad])
    ingest_stream(store, connector, "customers")
    report = canonicalize(store, {"shop": mapper}, "customer_record")
    assert report.quarantined == 1 and "birth_date" in report.quarantine_reasons[0]
    assert store.open_quarantine_count() == 1
    connector, _ = _setup(tmp_path, store, [_row(1, "a@example.org")])
    ingest_stream(store, connector, "customers")
    assert canonicalize(store, {"shop": mapper}, "customer_record").mapped == 1
    assert store.open_quarantine_count() == 0
