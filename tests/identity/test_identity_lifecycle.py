"""Stable ids, incremental resolution, steward overrides, unmerge, explanations and golden records."""

from __future__ import annotations

import random
from dataclasses import replace
from datetime import UTC, date, datetime, timedelta

import pytest
from identity_synth import make_world

from canalis.identity import IdentityConfig, IdentityEngine, IdentityRecord, explain

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def rec(source: str, source_id: str, **fields: object) -> IdentityRecord:
    return IdentityRecord(source=source, source_id=source_id, **fields)


@pytest.fixture(scope="module")
def world():
    return make_world(people=300, seed=5)


def test_ids_are_stable_across_reruns_and_new_records(world) -> None:
    engine = IdentityEngine()
    engine.resolve(world.records, now=T0)
    before = {k: engine.customer_of(k) for k in world.truth}
    engine.resolve(list(world.records), now=T0 + timedelta(days=1))
    assert {k: engine.customer_of(k) for k in world.truth} == before
    extra = rec("newsletter", "fresh-1", given_name="Odile", family_name="Zerbib", email="odile.zerbib@laposte.net")
    result = engine.update([extra], now=T0 + timedelta(days=2))
    assert {k: engine.customer_of(k) for k in world.truth} == before
    assert result.report.customers_new == 1
    assert engine.customer_of(extra.key) not in set(before.values())


def test_ids_do_not_depend_on_input_order(world) -> None:
    shuffled = list(world.records)
    random.Random(3).shuffle(shuffled)
    first, second = IdentityEngine(), IdentityEngine()
    first.resolve(world.records, now=T0)
    second.resolve(shuffled, now=T0)
    assert {k: first.customer_of(k) for k in world.truth} == {k: second.customer_of(k) for k in world.truth}


def test_merge_keeps_the_oldest_id_and_records_the_alias() -> None:
    engine = IdentityEngine()
    engine.resolve([rec("crm", "a", given_name="Lise", family_name="Aubry", email="lise.aubry@free.fr")], now=T0)
    old = engine.customer_of("crm:a")
    engine.update([rec("shop", "b", given_name="Lise", family_name="Aubry", phone="0655443322")], now=T0 + timedelta(1))
    younger = engine.customer_of("shop:b")
    assert younger != old
    bridge = rec("pos", "c", given_name="Lise", family_name="Aubry", email="lise.aubry@free.fr", phone="06 55 44 33 22")
    result = engine.update([bridge], now=T0 + timedelta(2))
    assert engine.customer_of("crm:a") == engine.customer_of("shop:b") == engine.customer_of("pos:c") == old
    assert engine.aliases[younger] == old
    assert engine.resolve_alias(younger) == old
    assert [(e.kind, e.customer_id, e.other_id) for e in result.events] == [("merged", younger, old)]


def test_split_gives_a_new_id_to_the_part_that_leaves() -> None:
    engine = IdentityEngine()
    a = rec("crm", "a", given_name="Noé", family_name="Perrin", email="noe.perrin@free.fr")
    b = rec("shop", "b", given_name="Noé", family_name="Perrin", email="noe.perrin@free.fr", phone="0611002200")
    c = rec("pos", "c", given_name="Noé", family_name="Perrin", phone="0611002200")
    engine.resolve([a, b, c], now=T0)
    cid = engine.customer_of("crm:a")
    assert engine.customer_of("pos:c") == cid
    result = engine.update([replace(b, phone=None)], now=T0 + timedelta(1))
    assert engine.customer_of("crm:a") == engine.customer_of("shop:b") == cid
    assert engine.customer_of("pos:c") != cid
    assert ("split", engine.customer_of("pos:c"), cid) in [(e.kind, e.customer_id, e.other_id) for e in result.events]


def test_incremental_equals_full_rebuild(world) -> None:
    records = list(world.records)
    rng = random.Random(9)
    rng.shuffle(records)
    cut = int(len(records) * 0.7)
    engine = IdentityEngine()
    engine.resolve(records[:cut], now=T0)
    changed = [replace(r, email=None) for r in rng.sample(records[:cut], 25)]
    removed = [r.key for r in rng.sample(records[:cut], 10)]
    engine.update(records[cut:] + changed, removed, now=T0 + timedelta(1))
    final = {r.key: r for r in records}
    final.update({r.key: r for r in changed})
    for key in removed:
        final.pop(key)
    rebuild = IdentityEngine(model=engine.model)
    rebuild.resolve(final.values(), now=T0)
    assert engine.partition() == rebuild.partition()
    assert all(engine.customer_of(k) is None for k in removed)


def test_incremental_batches_in_any_split_match_full(world) -> None:
    records = sorted(world.records, key=lambda r: r.key)
    engine = IdentityEngine()
    engine.resolve(records[::2], now=T0)
    for part in (records[1::4], records[3::4]):
        engine.update(part, now=T0 + timedelta(1))
    rebuild = IdentityEngine(model=engine.model)
    rebuild.resolve(records, now=T0)
    assert engine.partition() == rebuild.partition()


def two_people() -> list[IdentityRecord]:
    return [
        rec("crm", "x1", given_name="Hervé", family_name="Colin", email="herve.colin@orange.fr", phone="0600000011"),
        rec("shop", "x2", given_name="Hervé", family_name="Colin", email="herve.colin@orange.fr"),
        rec("pos", "y1", given_name="Anaïs", family_name="Giraud", phone="0600000022"),
    ]


def test_force_and_never_merge_are_applied_and_audited() -> None:
    engine = IdentityEngine()
    engine.resolve(two_people(), now=T0)
    assert engine.customer_of("crm:x1") == engine.customer_of("shop:x2")
    engine.add_override("never_merge", "crm:x1", "shop:x2", "steward@canalis", "father and son", now=T0)
    assert engine.customer_of("crm:x1") != engine.customer_of("shop:x2")
    engine.add_override("force_merge", "crm:x1", "pos:y1", "steward@canalis", "same person, new name", now=T0)
    assert engine.customer_of("crm:x1") == engine.customer_of("pos:y1")
    decision = engine.decisions[-1]
    assert (decision.who, decision.why, decision.kind) == ("steward@canalis", "same person, new name", "force_merge")
    engine.resolve(list(engine.frame.record), now=T0 + timedelta(1))
    assert engine.customer_of("crm:x1") == engine.customer_of("pos:y1") != engine.customer_of("shop:x2")
    explanation = engine.explain("crm:x1", "shop:x2")
    assert "never_merge" in explanation["summary"]


def test_unmerge_splits_and_keeps_history() -> None:
    engine = IdentityEngine()
    engine.resolve(two_people(), now=T0)
    cid = engine.customer_of("crm:x1")
    engine.unmerge(cid, ["shop:x2"], "steward@canalis", "two customers share the address", now=T0 + timedelta(1))
    assert engine.customer_of("crm:x1") == cid
    assert engine.customer_of("shop:x2") != cid
    assert any(e.kind == "split" and e.other_id == cid for _, e in engine.history)
    assert all(d.kind == "never_merge" and "unmerge" in d.why for d in engine.decisions)
    with pytest.raises(ValueError):
        engine.unmerge(cid, ["crm:x1"], "steward", "would empty the customer")


def test_explain_gives_rule_keys_and_field_evidence() -> None:
    engine = IdentityEngine()
    engine.resolve(two_people(), now=T0)
    same = engine.explain("crm:x1", "shop:x2")
    assert same["same_customer"] is True
    assert same["shared_keys"][0]["key"] == "email"
    assert same["path"] and same["path"][0]["rule"] == "email"
    fields = same["comparison"]["fields"]
    assert fields["given_name"]["level"] == "exact" and fields["family_name"]["level"] == "exact"
    assert fields["phone"]["level"] == "missing"
    other = engine.explain("crm:x1", "pos:y1")
    assert other["same_customer"] is False
    assert other["comparison"]["fields"]["given_name"]["level"] == "different"
    assert other["comparison"]["fields"]["given_name"]["weight"] < 0
    assert "below the threshold" in other["summary"]


def test_standalone_explain_of_two_records() -> None:
    a = rec("crm", "1", given_name="Jean", family_name="Dupont", birth_date=date(1980, 1, 2), email="jd@free.fr")
    b = rec("shop", "2", given_name="Jean", family_name="Dupont", birth_date=date(1991, 7, 8), email="jd@free.fr")
    result = explain(a, b)
    assert result["same_customer"] is False
    assert result["comparison"]["conflict"] == "birth_date"


def test_golden_record_survivorship_with_lineage() -> None:
    config = IdentityConfig(source_priority={"email": ("crm",), "address": ("erp", "crm")})
    old, new = T0 - timedelta(days=300), T0 - timedelta(days=3)
    records = [
        rec("crm", "g1", given_name="Élise", family_name="Roche", email="elise.roche@orange.fr", phone="0612300001",
            street="1 rue Haute", postcode="35000", city="Rennes", updated_at=old),
        rec("shop", "g2", given_name="Elise", family_name="ROCHE", email="elise.roche@orange.fr",
            phone="06 12 30 00 02", street="8 av. Janvier", postcode="35000", city="Rennes", region="Bretagne",
            updated_at=new, loyalty_id="FID-77"),
        rec("erp", "g3", family_name="Roche", email="e.roche@orange.fr", phone="0612300001",
            street="12 quai Lamartine", postcode="35000", updated_at=old, birth_date=date(1979, 5, 4)),
    ]  # fmt: skip
    engine = IdentityEngine(config)
    result = engine.resolve(records, now=T0)
    cid = engine.customer_of("crm:g1")
    assert engine.customer_of("erp:g3") == cid == engine.customer_of("shop:g2")
    golden = engine.golden(cid)
    assert golden.values["email"] == "elise.roche@orange.fr"
    assert golden.lineage["email"] == {
        "record_key": "crm:g1", "source": "crm", "rule": "source_priority", "updated_at": old.isoformat()
    }  # fmt: skip
    assert golden.values["street"] == "12 quai Lamartine" and golden.values["postcode"] == "35000"
    assert golden.values["city"] is None or golden.lineage["city"]["rule"].endswith("_fill")
    assert golden.lineage["street"]["record_key"] == "erp:g3"
    assert golden.values["phone"] == "+33612300002"
    assert golden.lineage["phone"]["rule"] == "recency"
    assert golden.values["given_name"] == "Elise" and golden.lineage["given_name"]["record_key"] == "shop:g2"
    assert golden.values["birth_date"] == date(1979, 5, 4)
    assert golden.lineage["birth_date"]["rule"] == "only_value"
    assert golden.values["loyalty_id"] == "FID-77"
    assert golden.sources == ["crm", "erp", "shop"] and golden.record_count == 3
    assert [g.customer_id for g in result.golden] == [cid]


def test_golden_rows_match_each_golden_record_in_any_order_across_chunks(world, monkeypatch) -> None:
    import canalis.identity.survivorship as survivorship

    monkeypatch.setattr(survivorship, "_CHUNK", 7)  # several chunks, the last one short
    engine = IdentityEngine()
    golden = engine.resolve(world.records, now=T0).golden
    order = sorted(range(len(golden.ids)), key=lambda i: golden.ids[i], reverse=True)
    rows = list(golden.rows(order))
    assert [row[0] for row in rows] == [golden.ids[i] for i in order]
    key_of = {row: key for key, row in engine.row_of.items()}
    for customer_id, values, lineage, count, sources, flags in rows:
        alone = engine.golden(customer_id)  # resolved on its own, outside any chunk
        assert dict(zip(survivorship.GOLDEN_FIELDS, values, strict=True)) == alone.values
        assert lineage == alone.lineage
        assert (count, sources, flags) == (alone.record_count, alone.sources, alone.flags)
        members = [key_of[row] for row in engine.members[customer_id]]
        assert count == len(members) and sources == sorted({key.split(":")[0] for key in members})


def test_indexes_wait_for_the_first_update_and_give_what_eager_indexes_give(world, monkeypatch) -> None:
    built: list[int] = []
    build = IdentityEngine._build_key_index
    monkeypatch.setattr(IdentityEngine, "_build_key_index", lambda self: (built.append(1), build(self))[1])
    rng = random.Random(11)
    first, later = world.records[:-40], world.records[-40:]
    # Changed records: some take another record's email and phone (new links), some lose theirs (links undone).
    changed = [
        replace(r, email=other.email, phone=other.phone) if i % 2 else replace(r, email=None, phone=None)
        for i, (r, other) in enumerate(zip(rng.sample(first, 30), rng.sample(first, 30), strict=True))
    ]
    removed = [r.key for r in rng.sample(first, 10)]

    def run(eager: bool) -> IdentityEngine:
        engine = IdentityEngine()
        engine.resolve(first, now=T0)
        if eager:
            engine._ensure_indexes()
        engine.update([*later, *changed], removed, now=T0 + timedelta(days=1))
        return engine

    lazy = run(eager=False)
    assert built == [1]  # not by the full resolution: by the update
    eager = run(eager=True)
    keys = sorted(lazy.row_of)
    assert [lazy.customer_of(k) for k in keys] == [eager.customer_of(k) for k in keys]


def test_resolution_without_golden_records_assigns_the_same_customers(world) -> None:
    with_golden, without = IdentityEngine(), IdentityEngine()
    kept = with_golden.resolve(world.records, now=T0)
    left_out = without.resolve(world.records, now=T0, golden=False)
    assert len(kept.golden) == len(with_golden.members) > 0 and len(left_out.golden) == 0
    keys = sorted(with_golden.row_of)
    assert [without.customer_of(k) for k in keys] == [with_golden.customer_of(k) for k in keys]
    customer_id = with_golden.customer_of(keys[0])
    assert without.golden(customer_id) == with_golden.golden(customer_id)  # still built on demand
