"""Deterministic links, probabilistic links and the guards against over-merging."""

from __future__ import annotations

from datetime import date

import pytest
from identity_synth import make_world, merged_traps, pairwise_quality

from canalis.identity import IdentityConfig, IdentityEngine, IdentityRecord


def rec(source: str, source_id: str, **fields: object) -> IdentityRecord:
    return IdentityRecord(source=source, source_id=source_id, **fields)


def background(n: int = 60) -> list[IdentityRecord]:
    """Unrelated people, so that the model has a population to learn u-probabilities from."""
    given = ["Paul", "Lucie", "Hugo", "Emma", "Louis", "Alice", "Nathan", "Jade", "Gabriel", "Louise"]
    family = [
        "Garnier",
        "Faure",
        "Rousseau",
        "Blanc",
        "Guerin",
        "Muller",
        "Henry",
        "Roussel",
        "Nicolas",
        "Perrin",
        "Morin",
        "Mathieu",
    ]
    return [
        rec(
            "crm",
            f"bg{i}",
            given_name=given[i % 10],
            family_name=family[i % 12] + ("" if i < 12 else str(i)),
            email=f"bg{i}@example.org",
            phone=f"06{i:08d}",
            postcode=f"{75000 + i % 20}",
            city="Paris",
            street=f"{i} rue des Lilas",
        )
        for i in range(n)
    ]


def resolve(records: list[IdentityRecord], config: IdentityConfig | None = None) -> IdentityEngine:
    engine = IdentityEngine(config)
    engine.resolve([*records, *background()])
    return engine


def same(engine: IdentityEngine, a: str, b: str) -> bool:
    return engine.customer_of(a) == engine.customer_of(b)


def test_email_phone_loyalty_and_external_ids_link_deterministically() -> None:
    engine = resolve(
        [
            rec("crm", "1", given_name="Jean", family_name="Dupont", email="Jean.Dupont@Gmail.com"),
            rec(
                "shop",
                "2",
                given_name="J.",
                family_name="DUPONT",
                email="jeandupont+promo@gmail.com",
                phone="06 11 22 33 44",
            ),
            rec("pos", "3", given_name="Jean", family_name="Dupond", phone="+33611223344", loyalty_id="FID-001"),
            rec("erp", "4", family_name="Dupont", loyalty_id="fid001"),
            rec("support", "5", given_name="Jean", family_name="Dupont", external_ids={"erp": "4"}),
        ]
    )
    customer = engine.customer_of("crm:1")
    assert customer is not None
    assert all(engine.customer_of(k) == customer for k in ("shop:2", "pos:3", "erp:4", "support:5"))
    assert engine.rule[engine.row_of["crm:1"]] == "email"
    assert engine.rule[engine.row_of["support:5"]] == "external_id"


def test_household_email_does_not_merge_partners() -> None:
    engine = resolve(
        [
            rec(
                "crm",
                "h1",
                given_name="Marc",
                family_name="Lemoine",
                email="famille.lemoine@free.fr",
                street="4 rue Pasteur",
                postcode="44000",
                city="Nantes",
            ),
            rec(
                "shop",
                "h2",
                given_name="Sylvie",
                family_name="Lemoine",
                email="famille.lemoine@free.fr",
                street="4 r. Pasteur",
                postcode="44000",
                city="Nantes",
            ),
            rec("pos", "h3", given_name="Marc", family_name="LEMOINE", email="famille.lemoine@free.fr"),
        ]
    )
    assert not same(engine, "crm:h1", "shop:h2")
    assert same(engine, "crm:h1", "pos:h3")
    links = engine.explain("crm:h1", "shop:h2")
    assert links["shared_keys"][0]["status"] == "shared"
    assert links["shared_keys"][0]["links_these_records"] is False


def test_store_phone_typed_for_many_customers_is_not_a_key() -> None:
    names = [
        ("Paul", "Andre"),
        ("Lea", "Marchand"),
        ("Yves", "Collin"),
        ("Ines", "Barre"),
        ("Omar", "Haddad"),
        ("Rose", "Lucas"),
    ]
    records = [
        rec("pos", f"s{i}", given_name=g, family_name=f, phone="01 40 00 00 00") for i, (g, f) in enumerate(names)
    ]
    engine = resolve(records)
    assert len({engine.customer_of(f"pos:s{i}") for i in range(len(names))}) == len(names)
    explanation = engine.explain("pos:s0", "pos:s1")
    assert explanation["shared_keys"][0]["status"] == "demoted"


def test_count_limit_demotes_a_key_even_when_names_agree() -> None:
    records = [
        rec("pos", f"c{i}", given_name="Client", family_name="Magasin", phone="01 40 00 00 01") for i in range(6)
    ]
    engine = resolve(records, IdentityConfig(max_records_per_key=5))
    group = engine.explain("pos:c0", "pos:c1")["shared_keys"][0]
    assert group["status"] == "demoted" and group["reason"] == "held_by_6_records"


def test_role_address_is_not_a_key() -> None:
    engine = resolve(
        [
            rec("crm", "r1", given_name="Alain", family_name="Petit", email="contact@acme-industrie.fr"),
            rec("crm", "r2", given_name="Nadia", family_name="Benali", email="contact@acme-industrie.fr"),
            rec(
                "crm",
                "r3",
                given_name="Alain",
                family_name="Petit",
                email="CONTACT@acme-industrie.fr",
                phone="0611111111",
            ),
        ]
    )
    assert not same(engine, "crm:r1", "crm:r2")
    reason = engine.explain("crm:r1", "crm:r3")["shared_keys"][0]
    assert reason["reason"] == "role_address"


def test_conflicting_birth_dates_block_weak_merges() -> None:
    engine = resolve(
        [
            rec(
                "crm",
                "d1",
                given_name="Pierre",
                family_name="Marchal",
                birth_date=date(1970, 4, 2),
                phone="0622334455",
                street="9 avenue Foch",
                postcode="69006",
                city="Lyon",
            ),
            rec(
                "erp",
                "d2",
                given_name="Pierre",
                family_name="Marchal",
                birth_date=date(1998, 11, 23),
                phone="06 22 33 44 55",
                street="9 av. Foch",
                postcode="69006",
                city="Lyon",
            ),
            rec(
                "shop",
                "d3",
                given_name="Pierre",
                family_name="Marchal",
                birth_date=date(1970, 2, 4),
                phone="+33622334455",
            ),
        ]
    )
    assert not same(engine, "crm:d1", "erp:d2")
    assert same(engine, "crm:d1", "shop:d3"), "day and month swapped is a typo, not a conflict"
    explanation = engine.explain("crm:d1", "erp:d2")
    assert "birth dates conflict" in explanation["summary"]


def test_probabilistic_link_on_name_address_without_shared_keys() -> None:
    engine = resolve(
        [
            rec(
                "crm",
                "p1",
                given_name="Gwenaëlle",
                family_name="Kerhervé",
                email="gwen.k@orange.fr",
                street="17 boulevard Voltaire",
                postcode="75011",
                city="Paris",
                birth_date=date(1984, 6, 1),
            ),
            rec(
                "pos",
                "p2",
                given_name="GWENAELLE",
                family_name="KERHERVE",
                phone="0677889900",
                street="17 bd Voltaire",
                postcode="75011",
                city="PARIS",
                birth_date=date(1984, 6, 1),
            ),
        ]
    )
    assert same(engine, "crm:p1", "pos:p2")
    assert engine.rule[engine.row_of["pos:p2"]] == "probabilistic"
    assert 0.95 <= engine.confidence[engine.row_of["pos:p2"]] <= 1.0


def test_namesakes_are_not_merged() -> None:
    engine = resolve(
        [
            rec(
                "crm",
                "n1",
                given_name="Marie",
                family_name="Martin",
                email="marie.martin@free.fr",
                phone="0612121212",
                street="3 rue Nationale",
                postcode="59000",
                city="Lille",
            ),
            rec(
                "shop",
                "n2",
                given_name="Marie",
                family_name="Martin",
                email="mmartin@gmail.com",
                phone="0798989898",
                street="40 cours Mirabeau",
                postcode="13100",
                city="Aix-en-Provence",
            ),
        ]
    )
    assert not same(engine, "crm:n1", "shop:n2")


@pytest.fixture(scope="module")
def synthetic() -> tuple:
    world = make_world(people=350, seed=11)
    engine = IdentityEngine()
    engine.resolve(world.records)
    return world, engine


def test_quality_on_a_synthetic_population(synthetic: tuple) -> None:
    world, engine = synthetic
    quality = pairwise_quality(engine.clusters(), world)
    assert quality["precision"] >= 0.95, quality
    assert quality["recall"] >= 0.9, quality


def test_no_trap_is_merged(synthetic: tuple) -> None:
    world, engine = synthetic
    merged = [t for t in merged_traps(engine, world) if t[0] in ("household", "store_phone", "role_address")]
    assert merged == []
    assert any(t[0] == "household" for t in world.traps)


def test_cluster_size_limit_flags_instead_of_merging() -> None:
    records = [
        rec(
            "src",
            f"z{i}",
            given_name="Zoé",
            family_name="Vidal",
            external_ids={"crm": "Z"} if i % 2 else {},
            loyalty_id="L1" if i % 2 == 0 else None,
            email=f"zoe{i}@vidal.fr",
        )
        for i in range(8)
    ]
    engine = resolve(records, IdentityConfig(max_cluster_size=3))
    sizes = [len(v) for v in engine.clusters().values() if any(k.startswith("src:") for k in v)]
    assert max(sizes) <= 3
    flagged = [cid for cid, flags in engine.flags.items() if "size_limit" in flags]
    assert flagged


def test_vectorised_name_relations_agree_with_the_scalar_rule() -> None:
    import numpy as np

    from canalis.identity.compare import given_related, related_names, score_columns
    from canalis.identity.features import Frame

    names = [
        "jean",
        "jean pierre",
        "jp",
        "j",
        "alex",
        "alexandre",
        "alexis",
        "max",
        "maxime",
        "bob",
        "robert",
        "marie",
        "mario",
        "anne sophie",
        "sophie",
        "kate",
        "katherine",
        "chris",
        "christophe",
        "christine",
        "jo",
        "joseph",
        "jb",
        "jean baptiste",
        "ed",
        "edward",
        "ma",
        "manon",
    ]
    records = [IdentityRecord("s", str(i), given_name=n, family_name=n) for i, n in enumerate(names)]
    frame = Frame.from_records(records, IdentityConfig())
    columns = score_columns(frame)
    pairs = [(i, j) for i in range(len(names)) for j in range(len(names)) if i != j]
    a = np.array([p[0] for p in pairs])
    b = np.array([p[1] for p in pairs])
    vector = related_names(columns, "given", a, "family", b, np.ones(len(pairs), dtype=bool))
    scalar = [given_related(frame.given[i], frame.family[j]) for i, j in pairs]
    assert vector.tolist() == scalar


@pytest.mark.parametrize(
    ("x", "y", "typo"),
    [
        ("philippinegilbert", "philippinegilebrt", True),
        ("gregoire_hebert", "gregoir_ehebert", True),
        ("jean.martin", "jean.martn", True),
        ("p.boutin18", "p.boutin21", False),
        ("j.laroche76", "j.laroche67", False),
        ("alphonse.albert", "alphonse_albert", False),
        ("alexandredelmas", "alexandre.delmas", False),
    ],
)
def test_email_typo_rule(x: str, y: str, typo: bool) -> None:
    from canalis.identity.compare import email_typo

    assert email_typo(x, y) is typo
