"""Customer rules on hand-made records: real conflicts are found, natural variation is not."""

from __future__ import annotations

from datetime import date, timedelta

from canalis.consistency import RULES, ConsistencySettings, run_rule
from canalis.store import tables


def _run(store, code, now, settings=None):
    with store.engine.connect() as conn:
        return run_rule(conn, RULES[code], settings or ConsistencySettings(), now)


def test_natural_variation_is_not_a_conflict(cstore, canon, now) -> None:
    canon.customer(
        "cu_1", "crm", "1", given_name="Hélène", family_name="Dupont-Moreau", email="helene.dupont@gmail.com",
        phone="+33612345678", birth_date=date(1980, 5, 2), street="12 avenue Victor Hugo", postcode="75016",
    )  # fmt: skip
    canon.customer(
        "cu_1", "shop", "a", given_name="HELENE", family_name="dupont moreau", email="Helene.Dupont+shop@gmail.com",
        phone="+33612345678", birth_date=date(1980, 5, 2), street="12, av. Victor-Hugo", postcode="75016",
    )  # fmt: skip
    canon.customer(
        "cu_1", "pos", "x", given_name="Dupont", family_name="Helene", email="helene.dupont@gmial.com",
        street="12 av Victor Hugo", postcode="75016",
    )  # fmt: skip
    canon.customer("cu_1", "mail", "m", given_name="Lene", family_name="Dupond", email="helenedupont@gmail.fr")
    assert _run(cstore, "customer_attribute_conflict", now) == []


def test_conflicting_birth_date_email_phone_and_name_are_found(cstore, canon, now) -> None:
    canon.customer(
        "cu_1", "crm", "1", given_name="Marc", family_name="Petit", email="marc.petit@free.fr",
        phone="+33612345678", birth_date=date(1970, 1, 1),
    )  # fmt: skip
    canon.customer(
        "cu_1", "shop", "a", given_name="Marc", family_name="Lambert", email="jules.lambert@orange.fr",
        phone="+33698765432", birth_date=date(1971, 1, 1),
    )  # fmt: skip
    (finding,) = _run(cstore, "customer_attribute_conflict", now)
    assert finding.entity_key == "cu_1"
    assert finding.channels == ["crm", "shop"]
    assert finding.details["attributes"] == ["birth_date", "email", "name", "phone"]
    assert finding.details["values"]["birth_date"] == {"crm": ["1970-01-01"], "shop": ["1971-01-01"]}


def test_a_move_is_a_conflict_only_when_both_addresses_are_current(cstore, canon, now) -> None:
    settings = ConsistencySettings(compare_attributes=["address"], address_current_days=30)
    canon.customer(
        "cu_1", "crm", "1", street="3 rue Neuve", postcode="69002", source_updated_at=now - timedelta(days=400)
    )
    canon.customer("cu_1", "shop", "a", street="8 bd Voltaire", postcode="75011", source_updated_at=now)
    assert _run(cstore, "customer_attribute_conflict", now, settings) == []  # moved: the CRM was not told
    canon.customer(
        "cu_2", "crm", "2", street="3 rue Neuve", postcode="69002", source_updated_at=now - timedelta(days=3)
    )
    canon.customer("cu_2", "shop", "b", street="8 boulevard Voltaire", postcode="75011", source_updated_at=now)
    (finding,) = _run(cstore, "customer_attribute_conflict", now, settings)
    assert (finding.entity_key, finding.details["attributes"]) == ("cu_2", ["address"])


def test_a_phone_shared_by_several_customers_is_not_theirs(cstore, canon, now) -> None:
    canon.customer("cu_1", "crm", "1", phone="+33612345678")
    canon.customer("cu_1", "pos", "a", phone="+33142723100")  # the shop's number typed at the till
    canon.customer("cu_2", "crm", "2", phone="+33698765432")
    canon.customer("cu_2", "pos", "b", phone="+33142723100")
    assert _run(cstore, "customer_attribute_conflict", now) == []


def test_customers_kept_apart_by_their_birth_dates_are_a_conflict(cstore, canon, now) -> None:
    canon.customer(
        "cu_1", "crm", "1", given_name="Ana", family_name="Roy", email="ana.roy@free.fr", birth_date=date(1960, 3, 4)
    )
    canon.customer(
        "cu_2", "hub", "9", given_name="Ana", family_name="ROY", email="ANA.ROY@free.fr", birth_date=date(1951, 3, 4)
    )
    # a household sharing an email is not one person
    canon.customer(
        "cu_3", "crm", "3", given_name="Paul", family_name="Roy", email="ana.roy@free.fr", birth_date=date(1958, 1, 1)
    )
    (finding,) = _run(cstore, "customer_attribute_conflict", now)
    assert finding.entity_key == "cu_1"
    assert finding.details["split_customers"] == ["cu_1", "cu_2"]
    assert finding.channels == ["crm", "hub"]


def test_duplicates_in_one_channel(cstore, canon, now) -> None:
    canon.customer("cu_1", "shop", "a", email="x@y.fr")
    canon.customer("cu_1", "shop", "b", email="x+news@y.fr")
    canon.customer("cu_1", "crm", "1", email="x@y.fr")
    canon.customer("cu_2", "shop", "c", email="z@y.fr")
    (finding,) = _run(cstore, "duplicate_in_channel", now)
    assert (finding.entity_key, finding.channels) == ("cu_1", ["shop"])
    assert finding.details["source_ids"] == ["a", "b"]


def test_consent_conflict_needs_a_refusal_and_a_subscription(cstore, canon, now) -> None:
    a = canon.customer("cu_1", "shop", "a")
    b = canon.customer("cu_1", "news", "b")
    c = canon.customer("cu_1", "erp", "c")
    canon.consent(a, "granted")
    canon.consent(b, "denied")
    canon.consent(c, "unknown")
    d = canon.customer("cu_2", "shop", "d")
    e = canon.customer("cu_2", "news", "e")
    canon.consent(d, "denied")
    canon.consent(e, "unknown")
    canon.consent(e, "granted", channel="sms")  # another channel, another consent
    (finding,) = _run(cstore, "consent_conflict", now)
    assert (finding.entity_key, finding.channels) == ("cu_1", ["news", "shop"])
    assert finding.details["opted_out_in"] == ["news"] and finding.details["subscribed_in"] == ["shop"]
    assert finding.severity == "error"


def test_open_complaint_of_a_subscribed_customer(cstore, canon, now) -> None:
    a = canon.customer("cu_1", "crm", "a")
    b = canon.customer("cu_1", "shop", "b")
    canon.consent(b, "granted")
    canon.case(a, "c1", "Working")
    canon.case(a, "c2", "Closed")
    c = canon.customer("cu_2", "crm", "c")
    canon.consent(c, "granted")
    canon.case(c, "c3", "closed")  # closed: nothing to say
    canon.case(c, "c4", "new", complaint=False)  # a question, not a complaint
    d = canon.customer("cu_3", "crm", "d")
    canon.consent(d, "denied")
    canon.case(d, "c5", "new")  # opted out: not targeted
    (finding,) = _run(cstore, "complaint_targeted_by_promotion", now)
    assert (finding.entity_key, finding.channels) == ("cu_1", ["crm", "shop"])
    assert [case["id"] for case in finding.details["complaints"]] == ["c1"]


def test_severity_override(cstore, canon, now) -> None:
    canon.customer("cu_1", "shop", "a")
    canon.customer("cu_1", "shop", "b")
    (finding,) = _run(
        cstore, "duplicate_in_channel", now, ConsistencySettings(severities={"duplicate_in_channel": "error"})
    )
    assert finding.severity == "error"


def test_a_shop_phone_from_the_locations_stream_is_not_the_customer_s(cstore, canon, now) -> None:
    canon.customer("cu_1", "crm", "1", phone="+33612345678")
    canon.customer("cu_1", "pos", "a", phone="04 78 42 10 00")
    assert [f.details["attributes"] for f in _run(cstore, "customer_attribute_conflict", now)] == [["phone"]]
    with cstore.begin() as conn:
        conn.execute(
            tables.raw_records.insert().values(
                source="pos",
                stream="locations",
                record_id="L1",
                batch_id=1,
                payload={"id": "L1", "name": "Boutique Lyon", "phone_number": "04 78 42 10 00", "country": "FR"},
                content_hash="x",
                first_seen_at=now,
                last_seen_at=now,
            )
        )
    assert _run(cstore, "customer_attribute_conflict", now) == []


def test_a_refusal_canalis_wrote_to_pause_promotions_is_no_conflict(cstore, canon, now) -> None:
    from datetime import UTC, datetime

    from canalis.publishing.suppression import consent_pauses

    a = canon.customer("cu_1", "shop", "a")
    b = canon.customer("cu_1", "news", "b")
    canon.consent(a, "granted")
    canon.consent(b, "denied")
    assert len(_run(cstore, "consent_conflict", now)) == 1
    pause = {
        "channel": "news",
        "record_key": b,
        "purpose": "marketing",
        "medium": "email",
        "customer_id": "cu_1",
        "restore_status": "granted",
        "paused_at": datetime(2026, 1, 1, tzinfo=UTC),
    }
    with cstore.begin() as conn:
        conn.execute(consent_pauses.insert(), [pause])
    assert _run(cstore, "consent_conflict", now) == []


def test_consent_rules_read_only_the_customers_that_can_conflict(cstore, canon) -> None:
    from canalis.consistency.customers import consents_by_customer, open_complaint_customers

    for customer, statuses in {
        "cu_1": ["granted", "denied"],
        "cu_2": ["granted", "granted"],
        "cu_3": ["denied"],
    }.items():
        for n, status in enumerate(statuses):
            canon.consent(canon.customer(customer, f"s{n}", customer), status)
    canon.case(canon.customer("cu_3", "crm", "x"), "c1", "new")
    with cstore.engine.connect() as conn:
        assert sorted(consents_by_customer(conn, "marketing", "email")) == ["cu_1", "cu_2", "cu_3"]
        assert list(consents_by_customer(conn, "marketing", "email", mixed_only=True)) == ["cu_1"]
        complained = open_complaint_customers(["closed"])
        assert list(consents_by_customer(conn, "marketing", "email", customers=complained)) == ["cu_3"]
