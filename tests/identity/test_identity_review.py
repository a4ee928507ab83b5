"""Proposed merges: put up for review instead of applied, decided from the CLI or by policy, kept across rebuilds."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
import sqlalchemy as sa

from canalis.identity import IdentityConfig, IdentityEngine, IdentityRecord
from canalis.identity.persistence import resolve_customers
from canalis.identity.review import apply_policy, decide, list_proposals, proposal_counts
from canalis.identity.tables import identity_overrides, identity_proposed_merges
from canalis.store.tables import customer_records
from tests.identity.identity_synth import make_world
from tests.identity.test_identity_persistence import T0, create, customer_of, row

# Two pairs of records that a score links with high probability: with match_probability at its maximum and a
# low review threshold, neither is linked and both are proposed.
PAIRS = [
    row("crm", "1", given_name="Gwenaëlle", family_name="Kerhervé", birth_date=date(1984, 6, 2),
        street="17 boulevard Voltaire", postcode="75011", city="Paris"),
    row("shop", "1", given_name="Gwenaelle", family_name="KERHERVE", birth_date=date(1984, 6, 2),
        street="17 bd Voltaire", postcode="75011", city="Paris"),
    row("crm", "2", given_name="Tristan", family_name="Le Goff", birth_date=date(1990, 1, 30),
        street="3 quai Duguay-Trouin", postcode="35000", city="Rennes"),
    row("shop", "2", given_name="Tristan", family_name="Le Goff", birth_date=date(1990, 1, 30),
        street="3 quai Duguay Trouin", postcode="35000", city="Rennes"),
]  # fmt: skip
BACKGROUND = [
    row("erp", str(i), given_name=g, family_name=f, birth_date=date(1950 + i, 1 + i % 12, 1 + i % 27),
        street=f"{i} rue {f}", postcode=f"{10000 + 131 * i}", city=f"Ville {i}")
    for i, (g, f) in enumerate((g, f) for g in ("Paul", "Lucie", "Hugo", "Emma", "Louis", "Alice")
                               for f in ("Garnier", "Roux", "Blanc", "Guerin", "Muller", "Henry", "Perrin"))
]  # fmt: skip
REVIEW_ALL = IdentityConfig(match_probability=0.999999999, review_probability=0.5)


@pytest.fixture
def engine(tmp_path: Path) -> Iterator[sa.Engine]:
    engine = create(f"sqlite:///{tmp_path / 'review.db'}")
    with engine.begin() as connection:
        connection.execute(sa.insert(customer_records), PAIRS + BACKGROUND)
    yield engine
    engine.dispose()


def pending_pairs(engine: sa.Engine) -> dict[tuple[str, str], int]:
    return {(p["record_a"], p["record_b"]): p["proposal_id"] for p in list_proposals(engine)}


def test_uncertain_links_are_proposed_and_decisions_survive_full_rebuilds(engine: sa.Engine) -> None:
    report = resolve_customers(engine, config=REVIEW_ALL, full=True, now=T0)
    assert report.proposed_merges.get("uncertain", 0) >= 2
    found = customer_of(engine)
    assert found["crm:customers:1"] != found["shop:customers:1"], "a proposed merge is not applied"
    pending = pending_pairs(engine)
    gwen, tristan = pending[("crm:customers:1", "shop:customers:1")], pending[("crm:customers:2", "shop:customers:2")]
    proposal = next(p for p in list_proposals(engine) if p["proposal_id"] == gwen)
    assert proposal["reason"] == "uncertain" and 0.5 <= proposal["probability"] < 1.0
    assert proposal["customer_a"] == found["crm:customers:1"]

    decide(engine, [gwen], True, "steward@example.org", "same person, checked by phone", config=REVIEW_ALL, now=T0)
    decide(engine, [tristan], False, "steward@example.org", "two cousins", config=REVIEW_ALL, now=T0)
    with pytest.raises(ValueError, match="already accepted"):
        decide(engine, [gwen], False, "someone", "again", config=REVIEW_ALL)
    with pytest.raises(KeyError):
        decide(engine, [999_999], True, "someone", "unknown")

    for _ in range(2):  # after the decision, and after a full rebuild that learns a new model
        found = customer_of(engine)
        assert found["crm:customers:1"] == found["shop:customers:1"]
        assert found["crm:customers:2"] != found["shop:customers:2"]
        assert ("crm:customers:1", "shop:customers:1") not in pending_pairs(engine)
        assert ("crm:customers:2", "shop:customers:2") not in pending_pairs(engine), (
            "a rejected pair is not re-proposed"
        )
        resolve_customers(engine, config=REVIEW_ALL, full=True, now=T0)
    counts = proposal_counts(engine)
    assert counts["accepted"] == {"uncertain": 1} and counts["rejected"] == {"uncertain": 1}
    with engine.connect() as connection:
        audit = connection.execute(
            sa.select(identity_proposed_merges.c.decided_by, identity_proposed_merges.c.note).where(
                identity_proposed_merges.c.proposal_id == tristan
            )
        ).one()
        kinds = sorted(k for (k,) in connection.execute(sa.select(identity_overrides.c.kind)))
    assert audit == ("steward@example.org", "two cousins")
    assert kinds == ["force_merge", "never_merge"]


def test_review_policy_decides_by_probability(engine: sa.Engine) -> None:
    config = REVIEW_ALL.model_copy(update={"auto_accept_probability": 0.5})
    report = resolve_customers(engine, config=config, full=True, now=T0)
    assert report.policy_decisions["accepted"] >= 2
    found = customer_of(engine)
    assert found["crm:customers:1"] == found["shop:customers:1"]
    assert found["crm:customers:2"] == found["shop:customers:2"]
    assert not list_proposals(engine)
    assert {p["decided_by"] for p in list_proposals(engine, status="accepted")} == {"policy"}
    assert apply_policy(engine, config) == {"accepted": 0, "rejected": 0}


def test_review_from_the_command_line(store, capsys: pytest.CaptureFixture[str], monkeypatch) -> None:
    """On a store migrated by Alembic (0006 creates the table), as the command sees it."""
    from canalis.cli.main import main

    with store.engine.begin() as connection:
        connection.execute(sa.insert(customer_records), PAIRS + BACKGROUND)
    resolve_customers(store.engine, config=REVIEW_ALL, full=True, now=T0)
    monkeypatch.setenv("CANALIS_DATABASE_URL", str(store.engine.url))
    assert main(["identity", "review", "list"]) == 0
    listed = json.loads(capsys.readouterr().out)
    assert listed["counts"]["pending"]["uncertain"] >= 2
    first = listed["proposals"][0]["proposal_id"]
    assert main(["identity", "review", "accept", str(first), "--who", "ana", "--why", "same card"]) == 0
    capsys.readouterr()
    assert main(["identity", "review", "list", "--status", "accepted"]) == 0
    accepted = json.loads(capsys.readouterr().out)["proposals"]
    assert [p["proposal_id"] for p in accepted] == [first] and accepted[0]["decided_by"] == "ana"
    assert main(["identity", "review", "reject", str(first), "--who", "ana", "--why", "oops"]) != 0


def person(source: str, source_id: str, **fields: object) -> IdentityRecord:
    return IdentityRecord(source=source, source_id=source_id, **fields)


def test_one_record_per_source_keeps_its_records_apart() -> None:
    twins = [
        person("register", "1", given_name="Jeanne", family_name="Morel", birth_date=date(1970, 5, 5),
               street="4 rue Vauban", postcode="21000", city="Dijon"),
        person("register", "2", given_name="Jeanne", family_name="Morel", birth_date=date(1970, 5, 5),
               street="4 rue Vauban", postcode="21000", city="Dijon"),
        person("shop", "1", given_name="Jeanne", family_name="Morel", birth_date=date(1970, 5, 5),
               street="4 r. Vauban", postcode="21000", city="Dijon"),
    ]  # fmt: skip
    background = [person("erp", str(r["source_id"]), given_name=r["given_name"], family_name=r["family_name"],
                         birth_date=r["birth_date"], street=r["street"], postcode=r["postcode"], city=r["city"])
                  for r in BACKGROUND]  # fmt: skip
    plain = IdentityEngine()
    plain.resolve(twins + background)
    assert plain.customer_of("register:1") == plain.customer_of("register:2")
    strict = IdentityEngine(IdentityConfig(one_record_per_source=("register",)))
    result = strict.resolve(twins + background)
    assert strict.customer_of("register:1") != strict.customer_of("register:2")
    assert result.report.refused_links.get("same_source", 0) >= 1


def _two_pairs_and_a_bridge() -> list[IdentityRecord]:
    """Two pairs of records held by shared emails, and a record of each pair matching by name, birth date and
    address only."""
    address = {"street": "12 rue des Lilas", "postcode": "31000", "city": "Toulouse"}
    return [
        person("crm", "a1", given_name="Solène", family_name="Abadie", email="solene.abadie@free.fr"),
        person("shop", "a2", given_name="Solène", family_name="Abadie", email="solene.abadie@free.fr",
               birth_date=date(1988, 8, 8), **address),
        person("pos", "b1", given_name="Solene", family_name="ABADIE", email="s.abadie@orange.fr",
               birth_date=date(1988, 8, 8), **address),
        person("erp", "b2", given_name="Solene", family_name="Abadie", email="s.abadie@orange.fr"),
    ]  # fmt: skip


def _background_people() -> list[IdentityRecord]:
    return [
        person("erp", f"bg{r['source_id']}", given_name=r["given_name"], family_name=r["family_name"],
               birth_date=r["birth_date"], street=r["street"], postcode=r["postcode"], city=r["city"])
        for r in BACKGROUND
    ]  # fmt: skip


def test_a_single_weak_link_between_two_groups_is_split_and_proposed() -> None:
    records = _two_pairs_and_a_bridge() + _background_people()
    joined = IdentityEngine(IdentityConfig(split_weak_bridges=False, large_profile_records=0))
    joined.resolve(records)
    assert joined.customer_of("crm:a1") == joined.customer_of("erp:b2"), "the scored link joins the two pairs"
    strict = IdentityEngine(IdentityConfig(bridge_probability=1.0, large_profile_records=0))
    result = strict.resolve(records)
    assert strict.customer_of("crm:a1") == strict.customer_of("shop:a2")
    assert strict.customer_of("pos:b1") == strict.customer_of("erp:b2")
    assert strict.customer_of("crm:a1") != strict.customer_of("erp:b2")
    assert result.report.proposed_merges.get("weak_bridge") == 1
    assert result.report.refused_links.get("weak_bridge") == 1


def test_a_scored_link_between_two_large_profiles_is_proposed() -> None:
    records = _two_pairs_and_a_bridge() + _background_people()
    engine = IdentityEngine(IdentityConfig(large_profile_records=2, split_weak_bridges=False))
    result = engine.resolve(records)
    assert engine.customer_of("crm:a1") != engine.customer_of("erp:b2")
    assert result.report.proposed_merges.get("large_profiles") == 1
    small = IdentityEngine(IdentityConfig(large_profile_records=3, split_weak_bridges=False))
    small.resolve(records)
    assert small.customer_of("crm:a1") == small.customer_of("erp:b2")


def test_a_record_known_by_name_only_is_not_given_to_one_of_two_namesakes() -> None:
    namesakes = [
        person("crm", "n1", given_name="Aurèle", family_name="Quéméner", birth_date=date(1961, 2, 3),
               street="4 rue de Siam", postcode="29200", city="Brest"),
        person("shop", "n1", given_name="Aurele", family_name="Quemener", birth_date=date(1961, 2, 3),
               street="4 r. de Siam", postcode="29200", city="Brest"),
        person("crm", "n2", given_name="Aurèle", family_name="Quéméner", birth_date=date(1994, 9, 30),
               street="70 cours Lafayette", postcode="69003", city="Lyon"),
    ]  # fmt: skip
    name_only = person("pos", "n3", given_name="Aurèle", family_name="QUÉMÉNER")
    background = make_world(120, seed=5).records  # enough people for a rare name to weigh what it should
    engine = IdentityEngine()
    result = engine.resolve([*namesakes, name_only, *background])
    assert engine.customer_of("crm:n1") == engine.customer_of("shop:n1") != engine.customer_of("crm:n2")
    assert engine.customer_of("pos:n3") not in {engine.customer_of("crm:n1"), engine.customer_of("crm:n2")}
    assert result.report.proposed_merges.get("names_only", 0) >= 2
    single = IdentityEngine()
    single.resolve([*namesakes[:2], name_only, *background])
    assert single.customer_of("pos:n3") == single.customer_of("crm:n1"), "one group met by name only: linked"
